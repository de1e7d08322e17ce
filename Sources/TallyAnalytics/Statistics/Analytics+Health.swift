import TallyStore

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

    /// A report of `checks` (and the WAL damage recorded, for the embedded store).
    public init(checks: [Check], walLosses: [WALLoss] = []) {
        self.checks = checks
        self.walLosses = walLosses
    }
}

extension Analytics {
    /// The health checks: `store_open`, then the record store's own (the embedded store: its WAL writable, its
    /// parts readable, its disk not full, its WAL intact), run off the cooperative pool.
    public func checkHealth() async -> HealthReport {
        let open = HealthReport.Check(name: "store_open", ok: !isClosed, detail: isClosed ? "the store is closed" : "open")
        var report = await records.health()
        report.checks.insert(open, at: 0)
        return report
    }
}
