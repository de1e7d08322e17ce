import AsyncHTTPClient
import NIOCore
import Synchronization
import TallyAnalytics
import TallyQuery
import TallyStore

#if canImport(Glibc)
import Glibc
#endif

/// The record store of a deployment past one machine: cost records in a ClickHouse cluster (a `MergeTree` table per
/// shard, a `Distributed` table over them; see `ClickHouseSchema`), reached over ClickHouse's HTTP interface.
///
/// **Appends.** A batch is checked for duplicates, then its new records go to the Distributed table in one
/// TabSeparated insert with `insert_distributed_sync=1`, which returns once every shard concerned has written its
/// part. Durable then means: in the shard's data directory, surviving a ClickHouse or `tally` crash; ClickHouse 18.16
/// does not fsync a new part (nor does a current release by default: `fsync_after_insert`), so a power loss can
/// still take the last seconds, and with one replica per shard a lost disk loses its shard (`insert_quorum` needs
/// replicated tables, which need ZooKeeper).
///
/// **Deduplication** on `(tenant_id, request_id)` within `dedupWindowMillis` of `created_at` (the embedded store's
/// seven days): a check before the insert, one `SELECT` per batch (per 2,000 request ids) on the primary key's
/// prefix and the batch's time span plus the window. The check is what gives per-record receipts, and it makes a
/// retried batch (after a timeout whose insert did land) insert nothing twice. Appends of one store are serialized,
/// so its checks and inserts never interleave. Across nodes, an append holds the deployment's lock of each tenant of
/// its batch (`DeploymentLock`, given by `tally serve` from the PostgreSQL catalog: a session advisory lock, freed
/// by PostgreSQL when a node dies) from before its check until ClickHouse acknowledged its insert, so two nodes never
/// both find a request id new. The cost: a primary-key range read per batch, appends of one node one at a time, and
/// per batch two to four round trips to PostgreSQL (lock, unlock) during which other nodes' appends of the same
/// tenant wait; appends of different tenants do not wait for each other. What it does not cover: an insert still
/// running inside ClickHouse after its node died (the lock is gone, the rows may land after a retry's check), a
/// window of milliseconds. `ReplacingMergeTree` + `FINAL` was not taken: it deduplicates on the sorting key, which would then
/// have to be `(tenant_id, request_id)` rather than time (every time-range read would scan the tenant), it merges
/// only eventually (every read needs `FINAL`, single-threaded per partition in 18.16, or `argMin` tricks), it keeps
/// duplicates outside any window, and it gives no receipts. A current release could add insert deduplication
/// tokens (`insert_deduplication_token`, 22.2+, on replicated tables or `non_replicated_deduplication_window`) for
/// retries across nodes.
///
/// **Reads.** Every `Query` is one statement (`ClickHouseQuery`): ClickHouse filters, groups, fills, orders and cuts;
/// only the answer's rows come back. A reader is a snapshot by `insert_seq`: rows appended after it was made (by
/// this node) are not seen. Rows of another node's append that was in flight when the reader was made may appear
/// later (its sequence comes from its own clock).
public final class ClickHouseRecordStore: RecordStore {
    /// Where the cluster is and what to call things.
    public struct Configuration: Sendable {
        /// The HTTP URL statements go to (`http://host:8123`): any node of the cluster.
        public var url: String
        /// The `remote_servers` cluster the Distributed table spans.
        public var cluster: String
        /// The database of the tables (created by `migrate()`).
        public var database: String
        /// Every shard's HTTP URL, for the schema statements (which run on each shard); `[url]` when empty.
        public var shardURLs: [String]
        /// Two records with the same `(tenant_id, request_id)` this close in `created_at` are one.
        public var dedupWindowMillis: Int64 = 7 * TimeUnit.dayMillis
        /// Most records per piece handed to `forEachRecordBatch`'s body.
        public var pieceRows = 8_192
        /// How long one statement may take.
        public var timeout: TimeAmount = .seconds(120)

        public init(url: String, cluster: String, database: String = "tally", shardURLs: [String] = []) {
            self.url = url
            self.cluster = cluster
            self.database = database
            self.shardURLs = shardURLs
        }
    }

    public let configuration: Configuration
    let http: ClickHouseClient
    let pool: BlockingPool
    /// Held by an append around its dedup check and insert, one name per tenant of the batch: with a lock every node
    /// sees (the PostgreSQL catalog's), two nodes never both find a request id new and both insert it. Nil: this
    /// process is the only writer (the in-process `gate` suffices).
    let lock: (any DeploymentLock)?
    let gate = AppendGate()
    let state = Mutex(State())

    struct State {
        var open = true
        var lastSeq: UInt64 = 0
        var inFlight: UInt64?
    }

    var table: String { "\(configuration.database).records" }
    var shards: [String] { configuration.shardURLs.isEmpty ? [configuration.url] : configuration.shardURLs }

    /// A store over the cluster of `configuration`, bodies of `forEachRecordBatch` on `pool`. Call `migrate()` before
    /// the first append on a new database. With several writing nodes, pass the deployment's `lock` (the catalog).
    public init(configuration: Configuration, pool: BlockingPool, client: HTTPClient? = nil, lock: (any DeploymentLock)? = nil) throws {
        for (name, value) in [("database", configuration.database), ("cluster", configuration.cluster)]
        where !ClickHouseSchema.isIdentifier(value) {
            throw AnalyticsError.invalidParameter(name: name, reason: "must be letters, digits and underscores: \(value)")
        }
        self.configuration = configuration
        self.http = ClickHouseClient(client: client ?? ClickHouseClient.shared, timeout: configuration.timeout)
        self.pool = pool
        self.lock = lock
    }

    /// Creates the database and applies the migrations each shard lacks; returns the schema version.
    @discardableResult
    public func migrate() async throws -> Int {
        let schema = ClickHouseSchema(database: configuration.database, cluster: configuration.cluster)
        let db = configuration.database
        for shard in shards {
            _ = try await http.execute("CREATE DATABASE IF NOT EXISTS \(db)", on: shard)
            _ = try await http.execute(
                "CREATE TABLE IF NOT EXISTS \(db).schema_version (version UInt32, applied_at DateTime('UTC')) ENGINE = TinyLog",
                on: shard)
            let current = try ClickHouseText.rows(
                try await http.execute("SELECT max(version) FROM \(db).schema_version FORMAT TabSeparated", on: shard), columns: 1)
            var version = Int(try ClickHouseText.int(current.first?.first ?? "0"))
            for (i, statements) in schema.migrations.enumerated() where i + 1 > version {
                for statement in statements { _ = try await http.execute(statement, on: shard) }
                _ = try await http.execute("INSERT INTO \(db).schema_version VALUES (\(i + 1), now())", on: shard)
                version = i + 1
            }
        }
        return schema.migrations.count
    }

    // MARK: - Appends

    public func append(_ batch: RecordBatch) async throws -> AppendReceipt {
        try await append(batch, checkDuplicates: true)
    }

    /// Appends records that are already free of duplicates under the same rule (`(tenant_id, request_id)` within the
    /// window) to tenants the cluster holds no record of: `tally migrate` copying an embedded store, whose appends
    /// then skip the per-batch check (a primary-key range read that grows with the tenant). The caller answers for
    /// both conditions; the migration's final count check catches a breach.
    public func appendCopy(_ batch: RecordBatch) async throws -> AppendReceipt {
        try await append(batch, checkDuplicates: false)
    }

    private func append(_ batch: RecordBatch, checkDuplicates: Bool) async throws -> AppendReceipt {
        guard isOpen else { throw AnalyticsError.storage("the record store is closed") }
        let maxMillis = Int64(UInt32.max) * 1_000
        for i in 0..<batch.count {
            let t = batch[i].createdAtMillis
            guard t >= 0 && t < maxMillis else {
                throw AnalyticsError.invalidParameter(
                    name: "created_at", reason: "ClickHouse keeps times from 1970 to 2106 (record \(i): \(t) ms)")
            }
        }
        guard batch.count > 0 else { return AppendReceipt(inserted: 0, duplicates: []) }
        await gate.acquire()
        let seq = state.withLock { s in
            let seq = Self.nextSeq(&s)
            s.inFlight = seq
            return seq
        }
        do {
            let receipt: AppendReceipt
            if let lock {
                let tenants = Set(batch.records.map(\.tenantID)).map { "records:" + $0 }
                receipt = try await lock.withExclusiveLocks(tenants) {
                    try await self.appendSerialized(batch, seq: seq, checkDuplicates: checkDuplicates)
                }
            } else {
                receipt = try await appendSerialized(batch, seq: seq, checkDuplicates: checkDuplicates)
            }
            state.withLock { $0.inFlight = nil }
            await gate.release()
            return receipt
        } catch {
            state.withLock { $0.inFlight = nil }
            await gate.release()
            throw error
        }
    }

    private func appendSerialized(_ batch: RecordBatch, seq: UInt64, checkDuplicates: Bool) async throws -> AppendReceipt {
        let window = configuration.dedupWindowMillis
        let records = batch.records
        var stored = checkDuplicates ? try await storedTimes(of: records) : [:]
        var duplicates: [Int] = []
        var accepted: [CostRecord] = []
        for (i, r) in records.enumerated() {
            let key = RequestKey(tenant: r.tenantID, request: r.requestID)
            if let times = stored[key], times.contains(where: { abs($0 - r.createdAtMillis) <= window }) {
                duplicates.append(i)
            } else {
                stored[key, default: []].append(r.createdAtMillis)
                accepted.append(r)
            }
        }
        if !accepted.isEmpty {
            var body: [UInt8] = []
            body.reserveCapacity(accepted.count * 160)
            for r in accepted { Self.appendRow(r, seq: seq, to: &body) }
            let columns = ClickHouseSchema.columns.joined(separator: ", ")
            _ = try await http.execute("INSERT INTO \(table) (\(columns)) FORMAT TabSeparated", on: configuration.url,
                                       settings: ["insert_distributed_sync": "1"], body: ByteBuffer(bytes: body))
        }
        return AppendReceipt(inserted: accepted.count, duplicates: duplicates)
    }

    struct RequestKey: Hashable {
        var tenant: String
        var request: String
    }

    /// The `created_at` of stored records sharing a `(tenant_id, request_id)` with `records`, within the window of
    /// the batch's times.
    private func storedTimes(of records: [CostRecord]) async throws -> [RequestKey: [Int64]] {
        let window = configuration.dedupWindowMillis
        var byTenant: [String: [CostRecord]] = [:]
        for r in records { byTenant[r.tenantID, default: []].append(r) }
        var found: [RequestKey: [Int64]] = [:]
        for (tenant, rs) in byTenant.sorted(by: { $0.key < $1.key }) {
            let times = rs.map(\.createdAtMillis)
            let range = ClickHouseQuery.range(from: times.min()! - window, to: times.max()! + window + 1)
            let ids = Array(Set(rs.map(\.requestID)))
            for start in stride(from: 0, to: ids.count, by: 2_000) {
                let chunk = Array(ids[start..<min(start + 2_000, ids.count)])
                let sql = "SELECT request_id, created_at_ms FROM \(table) WHERE tenant_id = \(ClickHouseText.literal(tenant)) AND "
                    + (["request_id IN \(ClickHouseText.list(chunk))"] + range).joined(separator: " AND ") + " FORMAT TabSeparated"
                let rows = try ClickHouseText.rows(
                    try await http.execute(sql, on: configuration.url, settings: ["max_query_size": "67108864"]), columns: 2)
                for row in rows {
                    found[RequestKey(tenant: tenant, request: row[0]), default: []].append(try ClickHouseText.int(row[1]))
                }
            }
        }
        return found
    }

    static func appendRow(_ r: CostRecord, seq: UInt64, to out: inout [UInt8]) {
        let tab = UInt8(ascii: "\t")
        for s in [r.tenantID, r.projectID, r.environment, r.userID, r.featureTag, r.requestID, r.workflowID, r.skillID, r.model] {
            ClickHouseText.appendField(s, to: &out)
            out.append(tab)
        }
        for v in [r.inputTokens, r.outputTokens, r.costNanos, TimeUnit.floorDiv(r.createdAtMillis, 1_000), r.createdAtMillis] {
            ClickHouseText.appendField(v, to: &out)
            out.append(tab)
        }
        ClickHouseText.appendField(seq, to: &out)
        out.append(UInt8(ascii: "\n"))
    }

    /// A sequence number above every one this store handed out: the wall clock in microseconds, or one more than
    /// the last.
    static func nextSeq(_ s: inout State) -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        let now = UInt64(ts.tv_sec) * 1_000_000 + UInt64(ts.tv_nsec / 1_000)
        s.lastSeq = max(s.lastSeq + 1, now)
        return s.lastSeq
    }

    // MARK: - Reads

    public func reader() async throws -> any RecordReader {
        guard isOpen else { throw AnalyticsError.storage("the record store is closed") }
        // Below the append in flight, if any (its rows may land any moment), else below every later append.
        let seq = state.withLock { s in s.inFlight.map { $0 - 1 } ?? Self.nextSeq(&s) }
        return Reader(store: self, seq: seq)
    }

    public var isOpen: Bool { state.withLock(\.open) }

    public func close() throws {
        state.withLock { $0.open = false }
    }

    public func health() async -> HealthReport {
        var checks: [HealthReport.Check] = []
        for (i, shard) in shards.enumerated() {
            do {
                _ = try await http.execute("SELECT 1", on: shard)
                checks.append(.init(name: "clickhouse_shard_\(i + 1)", ok: true, detail: "\(shard) answers"))
            } catch {
                checks.append(.init(name: "clickhouse_shard_\(i + 1)", ok: false, detail: "\(error)"))
            }
        }
        return HealthReport(checks: checks)
    }

    public func metrics() async throws -> StoreMetrics {
        let totals = try ClickHouseText.rows(try await http.execute(
            "SELECT count(), uniqExact(tenant_id), max(created_at_ms) FROM \(table) FORMAT TabSeparated", on: configuration.url),
            columns: 3)
        var parts = 0, bytes = 0
        for shard in shards {
            let row = try ClickHouseText.rows(try await http.execute(
                "SELECT count(), sum(bytes) FROM system.parts WHERE active AND database = \(ClickHouseText.literal(configuration.database)) "
                    + "AND table = 'records_local' FORMAT TabSeparated", on: shard), columns: 2)
            parts += Int(try ClickHouseText.int(row[0][0]))
            bytes += Int(try ClickHouseText.int(row[0][1]))
        }
        let rows = Int(try ClickHouseText.int(totals[0][0]))
        return StoreMetrics(parts: parts, rows: rows, partBytes: bytes, tenants: Int(try ClickHouseText.int(totals[0][1])),
                            newestRecord: rows == 0 ? nil : try ClickHouseText.int(totals[0][2]))
    }

    /// Merges each shard's parts (`OPTIMIZE ... FINAL`): tests read rows after merges too.
    public func optimize() async throws {
        for shard in shards {
            _ = try await http.execute("OPTIMIZE TABLE \(configuration.database).records_local FINAL", on: shard)
        }
    }

    /// The TabSeparated answer of `sql` on `url` (a shard's; nil: the configured URL), for operators and tests.
    public func text(of sql: String, on url: String? = nil) async throws -> String {
        String(decoding: try await http.execute(sql, on: url ?? configuration.url), as: UTF8.self)
    }

    /// Drops the database on every shard (tests).
    public func dropDatabase() async throws {
        for shard in shards {
            _ = try await http.execute("DROP DATABASE IF EXISTS \(configuration.database)", on: shard)
        }
    }
}

extension ClickHouseRecordStore {
    /// One snapshot: rows with `insert_seq <= seq`.
    struct Reader: RecordReader {
        let store: ClickHouseRecordStore
        let seq: UInt64

        var sourceName: String { "clickhouse" }
        var generation: UInt64 { seq }

        func aggregate(_ query: Query) async throws -> QueryResult {
            let q = ClickHouseQuery(query: query, table: store.table, maxSeq: seq)
            return try q.result(try await store.http.execute(q.sql, on: store.configuration.url,
                                                             settings: ["max_query_size": "67108864"]))
        }

        func newestRecord(of tenants: Query.Tenants) async throws -> Int64? {
            var conditions = ["insert_seq <= \(seq)"]
            switch tenants {
            case let .one(t): conditions.append("tenant_id = \(ClickHouseText.literal(t))")
            case let .some(list): conditions.append("tenant_id IN \(ClickHouseText.list(list))")
            case .all: break
            }
            let rows = try ClickHouseText.rows(try await store.http.execute(
                "SELECT count(), max(created_at_ms) FROM \(store.table) WHERE \(conditions.joined(separator: " AND ")) FORMAT TabSeparated",
                on: store.configuration.url), columns: 2)
            return try ClickHouseText.int(rows[0][0]) == 0 ? nil : ClickHouseText.int(rows[0][1])
        }

        /// ClickHouse keeps no unreadable rows Tally could name: a damaged part fails the query that reads it.
        func missing(tenants: [String]?, from: Int64, to: Int64) async throws -> [MissingPart] { [] }

        func forEachRecordBatch(
            tenant: String, from: Int64, to: Int64, filters: [Dimension: [String]], _ body: (RecordBatch) throws -> Void
        ) async throws {
            var conditions = ["tenant_id = \(ClickHouseText.literal(tenant))", "insert_seq <= \(seq)"]
            for (d, values) in filters.sorted(by: { $0.key < $1.key }) {
                conditions.append("\(d.fieldName) IN \(ClickHouseText.list(values))")
            }
            conditions += ClickHouseQuery.range(from: from == .min ? nil : from, to: to == .max ? nil : to)
            let columns = Array(ClickHouseSchema.columns.filter { $0 != "created_at" && $0 != "insert_seq" })
            let sql = "SELECT \(columns.joined(separator: ", ")) FROM \(store.table) WHERE \(conditions.joined(separator: " AND ")) "
                + "FORMAT TabSeparated"
            let stream = try await store.http.stream(sql, on: store.configuration.url, settings: ["max_query_size": "67108864"])
            let pieceRows = store.configuration.pieceRows
            var pending: [UInt8] = []
            var piece = RecordBatch()
            for try await chunk in stream {
                try Task.checkCancellation()
                pending += chunk.readableBytesView
                var start = 0
                while let end = pending[start...].firstIndex(of: UInt8(ascii: "\n")) {
                    piece.append(try Self.record(pending[start..<end], columns: columns.count), line: 0)
                    start = end + 1
                    if piece.count >= pieceRows {
                        let full = piece
                        piece = RecordBatch()
                        try await store.pool.runToEnd { _ in try body(full) }
                    }
                }
                pending.removeFirst(start)
            }
            guard pending.isEmpty else { throw ClickHouseText.malformed(pending[...], columns.count) }
            if piece.count > 0 {
                let last = piece
                try await store.pool.runToEnd { _ in try body(last) }
            }
        }

        static func record(_ line: ArraySlice<UInt8>, columns: Int) throws -> CostRecord {
            let f = try ClickHouseText.fields(line)
            guard f.count == columns else { throw ClickHouseText.malformed(line, columns) }
            return CostRecord(tenantID: f[0], projectID: f[1], environment: f[2], userID: f[3], featureTag: f[4], requestID: f[5],
                              workflowID: f[6], skillID: f[7], model: f[8], inputTokens: try ClickHouseText.int(f[9]),
                              outputTokens: try ClickHouseText.int(f[10]), costNanos: try ClickHouseText.int(f[11]),
                              createdAtMillis: try ClickHouseText.int(f[12]))
        }
    }
}

/// Lets one append at a time through (in arrival order); an actor alone would interleave appends at their awaits.
actor AppendGate {
    private var busy = false
    private var waiters: [CheckedContinuation<Void, Never>] = []

    func acquire() async {
        guard busy else {
            busy = true
            return
        }
        await withCheckedContinuation { waiters.append($0) }
    }

    func release() {
        if waiters.isEmpty { busy = false } else { waiters.removeFirst().resume() }
    }
}
