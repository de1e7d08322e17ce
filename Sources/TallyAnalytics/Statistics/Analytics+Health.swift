import TallyStore
import TallyText

/// The result of the health checks: each check with its state, and whether all passed.
///
/// `status` is `failing` (503) when a check fails: the store cannot do its job (closed, writes refused, disk
/// full). It is `degraded` (still 200: the store serves and takes writes) when a check passed but found
/// acknowledged data lost, which stays until an operator clears it.
public struct HealthReport: Sendable {
    /// One check.
    public struct Check: Sendable {
        /// `store_open`, `wal_writable`, `disk_space`, `wal_intact`.
        public var name: String
        /// Whether it passed.
        public var ok: Bool
        /// What was found.
        public var detail: String
        /// Passed, but the store answers with less than it holds (quarantined parts): the status is `degraded`.
        public var degraded = false

        public init(name: String, ok: Bool, detail: String, degraded: Bool = false) {
            self.name = name
            self.ok = ok
            self.detail = detail
            self.degraded = degraded
        }
    }

    /// Every check.
    public var checks: [Check]
    /// WAL damage still recorded: each range, and what it cost.
    public var walLosses: [WALLoss] = []
    /// Whether every check passed.
    public var ok: Bool { checks.allSatisfy(\.ok) }
    /// Whether a check found data lost.
    public var degraded: Bool { checks.contains(where: \.degraded) }
    /// `ok`, `degraded` or `failing`.
    public var status: String { !ok ? "failing" : degraded ? "degraded" : "ok" }
}

extension Analytics {
    /// Checks that the store is open, its WAL directory writable and its disk not full.
    public func health() -> HealthReport {
        var checks: [HealthReport.Check] = []
        checks.append(.init(name: "store_open", ok: !isClosed, detail: isClosed ? "the store is closed" : "open"))
        let wal = store.path + "/wal"
        let writable = FileIO.isWritable(wal)
        let condition = store.condition()
        if let failure = condition.walFailure {
            checks.append(.init(name: "wal_writable", ok: false, detail: "writes are refused since \(failure); they resume by themselves "
                + "once the cause is fixed (free disk space): the log is reopened on the next write and every second. Nothing "
                + "acknowledged is lost. If this check keeps failing after the cause is fixed, restart the server."))
        } else {
            checks.append(.init(name: "wal_writable", ok: writable, detail: writable ? "writable" : "the WAL directory is not writable"))
        }
        checks.append(Self.partsCheck(store.missingParts))
        do throws(StoreError) {
            let free = try FileIO.availableBytes(store.path)
            checks.append(.init(name: "disk_space", ok: free >= options.minFreeDiskBytes,
                                detail: "\(free) bytes free (at least \(options.minFreeDiskBytes) needed)"))
        } catch {
            checks.append(.init(name: "disk_space", ok: false, detail: "statvfs failed (errno \(error.errno ?? 0))"))
        }
        if condition.degraded {
            let bound = condition.walLosses.allSatisfy(\.exact) ? "" : "at least "
            checks.append(.init(name: "wal_intact", ok: true,
                                detail: "WAL damage lost \(bound)\(condition.lostBatches) acknowledged batch(es), \(bound)\(condition.lostRecords) "
                                    + "record(s) in \(condition.walLosses.count) range(s): "
                                    + condition.walLosses.map(\.description).joined(separator: "; ")
                                    + ". Remove the quarantine/wal-*.loss records once handled (docs/RELIABILITY.md).",
                                degraded: true))
        } else {
            checks.append(.init(name: "wal_intact", ok: true, detail: "no WAL damage recorded"))
        }
        return HealthReport(checks: checks, walLosses: condition.walLosses)
    }

    /// `parts_readable`: degraded while parts are quarantined. `health` needs no key, so it names parts, rows
    /// and hours but never tenants; each tenant's answers list their own missing hours in their provenance.
    static func partsCheck(_ missing: [MissingPart]) -> HealthReport.Check {
        guard !missing.isEmpty else { return .init(name: "parts_readable", ok: true, detail: "every part is readable") }
        let rows = missing.reduce(0) { $0 + $1.rows }
        let names = missing.prefix(20).map { m in
            m.tenant.isEmpty ? m.fileName + " (hours unknown)"
                : "\(m.fileName) (\(Timestamp.formatSeconds(m.firstHour)) to \(Timestamp.formatSeconds(m.endHour)))"
        }
        return .init(name: "parts_readable", ok: true,
                     detail: "\(missing.count) part(s) quarantined, \(rows) rows unreadable: " + names.joined(separator: ", ")
                         + (missing.count > 20 ? ", ..." : "") + "; answers that need them say complete: false",
                     degraded: true)
    }

    /// The health checks, run off the cooperative pool (they make system calls).
    public func checkHealth() async -> HealthReport {
        (try? await blocking { [self] in health() })
            ?? HealthReport(checks: [.init(name: "store_open", ok: false, detail: "the checks could not run")])
    }
}

extension Analytics {
    /// Bytes of the write-ahead log segments on disk (a few files: one `stat` each).
    public func walBytes() -> Int {
        let wal = store.path + "/wal"
        var total = 0
        for name in FileIO.list(wal) { total += FileIO.fileSize(wal + "/" + name) ?? 0 }
        return total
    }
}
