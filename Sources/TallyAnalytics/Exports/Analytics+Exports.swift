import Synchronization
import TallyStore

#if canImport(Glibc)
import Glibc
#endif

extension Analytics {
    /// The directory export files are written to.
    public var exportsDirectory: String {
        if let d = options.exportsDirectory { return d }
        return (catalog.directory ?? ".") + "/exports"
    }

    /// The path of an export's file.
    public func exportPath(_ e: Export) -> String { exportsDirectory + "/" + e.file }

    /// Accepts an export of the principal's tenant (an admin names it) and starts writing it in the background.
    ///
    /// Reader and admin keys. The answer is the pending export; poll `export(id:)` until it is `ready`.
    /// Expired exports are swept first, so a busy server keeps its exports directory clean without a timer.
    public func createExport(_ spec: ExportSpec, tenantID: String?, principal: Principal) async throws -> Export {
        let tenant = try AccessPolicy.check(.exportData, principal, tenant: tenantID)
        let spec = try spec.validated()
        let now = self.now
        if spec.kind == .usage {
            // Refuse a series too long now, not in the background.
            _ = try seriesWindow(from: spec.from, to: spec.to, resolution: spec.resolution ?? .day, now: now)
        }
        let id = "exp_" + hex(randomBytes(12))
        let export = Export(
            id: id, tenant: tenant, spec: spec, status: .pending, file: id + "." + spec.format.fileExtension, rows: 0, bytes: 0,
            error: nil, createdBy: principal.keyID, createdAt: now, completedAt: nil, expiresAt: now + options.exportTTLMillis)
        let catalog = self.catalog
        try await blocking { [self] in
            _ = try sweepExports(now: now)
            try catalog.insertExport(export)
        }
        exportJobs.withLock { jobs in
            jobs[id] = Task { [self] in
                await runExport(export)
                _ = exportJobs.withLock { $0.removeValue(forKey: id) }
            }
        }
        return export
    }

    /// The export `id`, when the principal reaches its tenant (another tenant's export is "not found").
    public func export(id: String, principal: Principal) async throws -> Export {
        try AccessPolicy.check(.exportData, principal)
        let catalog = self.catalog
        guard let e = try await blocking({ try catalog.export(id: id) }), AccessPolicy.reaches(principal, tenant: e.tenant) else {
            throw AnalyticsError.notFound(reason: "no export \(id) for this key")
        }
        return e
    }

    /// The exports of the principal's tenant (an admin: the one named, or all), newest first.
    public func exports(tenantID: String?, principal: Principal) async throws -> [Export] {
        let tenants = try AccessPolicy.check(.exportData, principal, tenants: tenantID)
        let catalog = self.catalog
        return try await blocking { try catalog.exports(tenant: tenants.scopeTenant, limit: 100) }
    }

    /// Waits until the background job of export `id` (if any) has finished.
    public func waitForExport(id: String) async {
        let task = exportJobs.withLock { $0[id] }
        await task?.value
    }

    /// Deletes the files of exports past their expiry and marks them expired; marks exports left pending or
    /// running by an earlier process as failed. Returns the exports expired.
    @discardableResult
    public func sweepExports(now: Int64) throws -> Int {
        let running = exportJobs.withLock { Set($0.keys) }
        var expired = 0
        for e in try catalog.exportsDue(now: now) where !running.contains(e.id) {
            unlink(exportPath(e))
            unlink(exportPath(e) + ".partial")
            try catalog.updateExport(id: e.id, status: .expired, rows: nil, bytes: nil, completedAt: nil, error: nil)
            expired += 1
        }
        for e in try catalog.exportsInProgress() where !running.contains(e.id) {
            unlink(exportPath(e) + ".partial")
            try catalog.updateExport(id: e.id, status: .failed, rows: nil, bytes: nil, completedAt: nil, error: "interrupted: the server stopped while writing it")
        }
        return expired
    }

    /// Writes an export's file (to a `.partial` name, fsynced, then renamed) and records the outcome.
    func runExport(_ e: Export) async {
        let catalog = self.catalog
        let final = exportPath(e)
        let partial = final + ".partial"
        do {
            try await blocking { [self] in
                try catalog.updateExport(id: e.id, status: .running, rows: nil, bytes: nil, completedAt: nil, error: nil)
                if mkdir(exportsDirectory, 0o755) != 0 && errno != EEXIST {
                    throw StoreError.io(path: exportsDirectory, operation: "mkdir", errno: errno)
                }
                let fd = Glibc.open(partial, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
                guard fd >= 0 else { throw StoreError.io(path: partial, operation: "open", errno: errno) }
                let rows: Int64
                do {
                    rows = try writeExport(e.spec, tenant: e.tenant, to: fd)
                    guard fsync(fd) == 0 else { throw StoreError.io(path: partial, operation: "fsync", errno: errno) }
                } catch {
                    Glibc.close(fd)
                    throw error
                }
                var st = stat()
                let bytes = fstat(fd, &st) == 0 ? Int64(st.st_size) : 0
                Glibc.close(fd)
                guard rename(partial, final) == 0 else { throw StoreError.io(path: final, operation: "rename", errno: errno) }
                try catalog.updateExport(id: e.id, status: .ready, rows: rows, bytes: bytes, completedAt: now, error: nil)
            }
        } catch {
            unlink(partial)
            let reason = String(describing: error)
            try? await blocking { try catalog.updateExport(id: e.id, status: .failed, rows: nil, bytes: nil, completedAt: self.now, error: reason) }
        }
    }
}
