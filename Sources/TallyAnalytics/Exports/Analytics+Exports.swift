import Synchronization
import TallyStore

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
        let (lease, node, ttl) = (Self.exportLease(id), options.nodeID, options.exportLeaseMillis)
        try await blocking { [self] in
            _ = try sweepExports(now: now)
            // Held while this node writes it, so another node's sweep leaves it alone (a lease never taken is free,
            // so a node that dies before this export runs has it failed by the next sweep after the lease expires).
            _ = try catalog.acquireLease(lease, owner: node, now: now, ttlMillis: ttl)
            try catalog.insertExport(export)
        }
        exportJobs.withLock { jobs in
            jobs[id] = Task { [self] in
                let renewal = Task { [self] in
                    while !Task.isCancelled {
                        do { try await Task.sleep(for: .milliseconds(ttl / 3)) } catch { return }
                        let at = self.now
                        _ = try? await blocking { try catalog.acquireLease(lease, owner: node, now: at, ttlMillis: ttl) }
                    }
                }
                await runExport(export)
                renewal.cancel()
                _ = try? await blocking { try catalog.releaseLease(lease, owner: node) }
                _ = exportJobs.withLock { $0.removeValue(forKey: id) }
            }
        }
        return export
    }

    /// The lease a node holds while it writes export `id`.
    static func exportLease(_ id: String) -> String { "export:" + id }

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
    /// running by an earlier process as failed (one whose lease no node holds: a node writing an export renews it).
    /// Returns the exports expired.
    @discardableResult
    public func sweepExports(now: Int64) throws -> Int {
        let running = exportJobs.withLock { Set($0.keys) }
        var expired = 0
        for e in try catalog.exportsDue(now: now) where !running.contains(e.id) {
            try? FileIO.remove(exportPath(e))
            try? FileIO.remove(exportPath(e) + ".partial")
            try catalog.updateExport(id: e.id, status: .expired, rows: nil, bytes: nil, completedAt: nil, error: nil)
            expired += 1
        }
        for e in try catalog.exportsInProgress() where !running.contains(e.id) {
            // Another node writing it holds its lease; one that stopped (or died) lets it expire.
            let lease = Self.exportLease(e.id)
            guard try catalog.acquireLease(lease, owner: options.nodeID, now: now, ttlMillis: options.exportLeaseMillis) else { continue }
            defer { try? catalog.releaseLease(lease, owner: options.nodeID) }
            try? FileIO.remove(exportPath(e) + ".partial")
            try catalog.updateExport(id: e.id, status: .failed, rows: nil, bytes: nil, completedAt: nil, error: "interrupted: the server stopped while writing it")
        }
        return expired
    }

    /// Writes an export's file and records the outcome. The file is published atomically (`FileIO.publish`: a
    /// `.partial` name, fsynced, renamed, the directory fsynced): a download never sees part of one, and a failed
    /// export leaves no file behind.
    func runExport(_ e: Export) async {
        let catalog = self.catalog
        let final = exportPath(e)
        let partial = final + ".partial"
        do {
            let file = try await blocking { [self] in
                try catalog.updateExport(id: e.id, status: .running, rows: nil, bytes: nil, completedAt: nil, error: nil)
                try FileIO.makeDirectory(exportsDirectory)
                return try FileIO.PendingFile(final, directory: exportsDirectory, temporary: partial, mode: 0o600)
            }
            let rows: Int64, bytes: Int64
            do {
                rows = try await writeExport(e.spec, tenant: e.tenant, to: file.fd, path: file.temporaryPath)
                bytes = try await pool.runToEnd { _ in Int64(try FileIO.fileSize(file.fd, path: file.temporaryPath)) }
            } catch {
                file.abandon()
                throw error
            }
            try await blocking { [self] in
                try file.publish()
                try catalog.updateExport(id: e.id, status: .ready, rows: rows, bytes: bytes, completedAt: now, error: nil)
            }
        } catch {
            try? FileIO.remove(partial)
            // Published but not marked ready (the directory fsync or the catalog failed): no one may download it.
            try? FileIO.remove(final)
            let reason = String(describing: error)
            try? await blocking { try catalog.updateExport(id: e.id, status: .failed, rows: nil, bytes: nil, completedAt: self.now, error: reason) }
        }
    }
}
