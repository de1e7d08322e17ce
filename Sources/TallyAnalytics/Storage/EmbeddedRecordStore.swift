import TallyQuery
import TallyStore

#if canImport(Glibc)
import Glibc
import TallyText
#endif

/// The record store of one `tally serve` process: the embedded `Store` (WAL, head, part files) answered by the
/// `QueryEngine`, every blocking call on the services' `BlockingPool`.
///
/// A reader is one `StoreSnapshot`, so the queries of one answer read the same parts and head rows; holding it
/// keeps those parts mapped while compaction replaces them.
public struct EmbeddedRecordStore: RecordStore {
    /// The store, for what only it does (the CLI's verify, repair, compaction, bulk import; tests).
    public let store: Store
    let engine: QueryEngine
    let pool: BlockingPool
    let minFreeDiskBytes: Int64

    /// `store` answered with up to `queryThreads` scan threads per query, blocking work on `pool`; the disk check
    /// of `health()` fails below `minFreeDiskBytes` free.
    public init(store: Store, pool: BlockingPool, queryThreads: Int = 2, minFreeDiskBytes: Int64 = 64 << 20) {
        self.store = store
        self.engine = QueryEngine(threads: max(1, queryThreads))
        self.pool = pool
        self.minFreeDiskBytes = minFreeDiskBytes
    }

    public func append(_ batch: RecordBatch) async throws -> AppendReceipt {
        let store = self.store
        return try await pool.run {
            do {
                return try store.append(batch)
            } catch let e as StoreError {
                throw AnalyticsError.storage(e.description)
            }
        }
    }

    public func reader() async throws -> any RecordReader {
        Reader(snapshot: store.snapshot(), engine: engine, pool: pool)
    }

    public var isOpen: Bool { store.isOpen }

    public func close() throws { try store.close() }

    public func metrics() async throws -> StoreMetrics {
        let store = self.store
        return try await pool.run { store.metrics() }
    }

    public func health() async -> HealthReport {
        let (store, minFree) = (self.store, minFreeDiskBytes)
        return (try? await pool.run { Self.health(of: store, minFreeDiskBytes: minFree) })
            ?? HealthReport(checks: [.init(name: "wal_writable", ok: false, detail: "the checks could not run")])
    }

    /// `wal_writable`, `parts_readable`, `disk_space` and `wal_intact` (system calls: run on the pool).
    static func health(of store: Store, minFreeDiskBytes: Int64) -> HealthReport {
        var checks: [HealthReport.Check] = []
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
        checks.append(partsCheck(store.missingParts))
        do throws(StoreError) {
            let free = try FileIO.availableBytes(store.path)
            checks.append(.init(name: "disk_space", ok: free >= minFreeDiskBytes,
                                detail: "\(free) bytes free (at least \(minFreeDiskBytes) needed)"))
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
}

extension EmbeddedRecordStore {
    /// One snapshot of the store; queries scan it on the pool.
    struct Reader: RecordReader {
        let snapshot: StoreSnapshot
        let engine: QueryEngine
        let pool: BlockingPool

        var sourceName: String { "tally-store" }
        var generation: UInt64 { snapshot.generation }

        func aggregate(_ query: Query) async throws -> QueryResult {
            try await aggregate([query])[0]
        }

        /// All of `queries` in one job on the pool: a usage answer's series and previous totals cost one thread hop.
        /// One tenant's series or totals from footers in memory take microseconds: they run in place, as the hop to a
        /// pool thread and back would cost more than the answer.
        func aggregate(_ queries: [Query]) async throws -> [QueryResult] {
            let (snapshot, engine) = (self.snapshot, self.engine)
            @Sendable func answers() throws -> [QueryResult] {
                do throws(QueryError) {
                    var results: [QueryResult] = []
                    results.reserveCapacity(queries.count)
                    for q in queries { results.append(try engine.run(q, on: snapshot)) }
                    return results
                } catch {
                    throw AnalyticsError(error)
                }
            }
            if queries.allSatisfy({ engine.answersFromMemory($0, on: snapshot) }) { return try answers() }
            return try await pool.run(answers)
        }

        /// From part metadata and head bounds: no row is read, so it runs in place.
        func newestRecord(of tenants: Query.Tenants) async throws -> Int64? {
            var newest: Int64?
            for p in tenants.parts(of: snapshot) {
                newest = max(newest ?? .min, p.maxTime)
            }
            for h in snapshot.heads where h.rows > 0 && tenants.contains(h.tenant) {
                newest = max(newest ?? .min, h.maxTime)
            }
            return newest
        }

        func missing(tenants: [String]?, from: Int64, to: Int64) async throws -> [MissingPart] {
            snapshot.missing(tenants: tenants, from: from, to: to)
        }

        func forEachRecordBatch(
            tenant: String, from: Int64, to: Int64, filters: [Dimension: [String]], _ body: (RecordBatch) throws -> Void
        ) async throws {
            let snapshot = self.snapshot
            try await pool.runToEnd { isCancelled in
                do {
                    try snapshot.forEachBatch(tenant: tenant, from: from, to: to, filters: filters) { batch in
                        if isCancelled() { throw CancellationError() }
                        try body(batch)
                    }
                } catch let e as StoreError {
                    throw AnalyticsError.storage(e.description)
                }
            }
        }
    }
}
