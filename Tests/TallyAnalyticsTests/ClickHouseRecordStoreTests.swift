#if canImport(Glibc)
import Glibc
#endif
import TallyAnalytics
import TallyClickHouse
import TallyQuery
import TallyStore
import TallyTestSupport
import Testing

/// What only the ClickHouse store has: its schema on every shard, rows spread over the shards by tenant, bytes that
/// survive the text formats, a retried batch. Runs when `scripts/clickhouse.sh start` has exported
/// TALLY_CLICKHOUSE_URL (`make test-cluster`); the contract suite covers the rest.
@Suite("ClickHouse record store", .enabled(if: RecordStoreSubject.clickHouse != nil))
struct ClickHouseRecordStoreTests {
    static var shards: [String] {
        (getenv("TALLY_CLICKHOUSE_SHARDS") ?? getenv("TALLY_CLICKHOUSE_URL")).map { String(cString: $0) }?.split(separator: ",").map(String.init) ?? []
    }

    static func store() async throws -> ClickHouseRecordStore {
        try await RecordStoreSubject.clickHouse!.make(try TemporaryDirectory(prefix: "tally-ch"), BlockingPool(maxThreads: 2))
            as! ClickHouseRecordStore
    }

    /// The answer of `sql` on `url`, trimmed.
    static func ask(_ store: ClickHouseRecordStore, _ url: String, _ sql: String) async throws -> String {
        var text = Substring(try await store.text(of: sql, on: url))
        while text.last?.isWhitespace == true { text.removeLast() }
        return String(text)
    }

    @Test("migrating twice applies each migration once on every shard; the tables are a MergeTree and a Distributed table")
    func migrationsAreVersioned() async throws {
        let store = try await Self.store()
        defer { Task { try? await store.dropDatabase() } }
        #expect(try await store.migrate() == 1)
        let db = store.configuration.database
        #expect(Self.shards.count == 2)
        for shard in Self.shards {
            #expect(try await Self.ask(store, shard, "SELECT count(), max(version) FROM \(db).schema_version") == "1\t1")
            #expect(try await Self.ask(store, shard, "SELECT engine FROM system.tables WHERE database = '\(db)' AND name LIKE 'records%' ORDER BY name")
                == "Distributed\nMergeTree")
            let key = try await Self.ask(store, shard, "SELECT partition_key, sorting_key FROM system.tables WHERE database = '\(db)' AND name = 'records_local'")
            #expect(key == "toYYYYMM(created_at)\ttenant_id, created_at")
        }
    }

    @Test("rows are spread over both shards by tenant, each tenant whole on one shard")
    func rowsAreShardedByTenant() async throws {
        let store = try await Self.store()
        defer { Task { try? await store.dropDatabase() } }
        let t = RecordStoreContractTests.june
        let records = (0..<40).flatMap { n in
            (0..<5).map { i in RecordStoreContractTests.record("tenant-\(n)", "r\(i)", t + Int64(i)) }
        }
        #expect(try await store.append(RecordBatch(records)).inserted == 200)
        let db = store.configuration.database
        var total = 0
        var tenants = 0
        for shard in Self.shards {
            let rows = Int(try await Self.ask(store, shard, "SELECT count() FROM \(db).records_local")) ?? -1
            #expect(rows > 0, "every shard holds some tenants")
            total += rows
            tenants += Int(try await Self.ask(store, shard, "SELECT uniqExact(tenant_id) FROM \(db).records_local")) ?? -1
        }
        #expect(total == 200)
        #expect(tenants == 40, "no tenant is split between shards")
        let metrics = try await store.metrics()
        #expect(metrics.rows == 200)
        #expect(metrics.tenants == 40)
        #expect(metrics.newestRecord == t + 4)
        #expect(await store.health().ok)
    }

    @Test("every byte of a string survives: as a value, a filter and a group key")
    func awkwardStrings() async throws {
        let store = try await Self.store()
        defer { Task { try? await store.dropDatabase() } }
        let t = RecordStoreContractTests.june
        let awkward = ["tab\there", "line\nbreak", "back\\slash", "quote'\"", "nul\u{0}byte", "e\u{301}", "\u{e9}", "cr\r", "\\N", ""]
        let records = awkward.enumerated().map { i, s in
            RecordStoreContractTests.record("acme", "id-\(s)-\(i)", t + Int64(i), feature: s, model: s, cost: Int64(i + 1))
        }
        #expect(try await store.append(RecordBatch(records)).inserted == awkward.count)
        let streamed = try await store.reader().streamedRecords(tenant: "acme")
        #expect(streamed.canonical == records.canonical)
        let reader = try await store.reader()
        for (i, s) in awkward.enumerated() {
            let answer = try await reader.aggregate(try Query(tenants: .one("acme"), filters: [.feature: [s]], groupBy: [.dimension(.model)]))
            #expect(answer.keyColumns == [[s]], "\(s.debugDescription)")
            #expect(answer.cost == [Int64(i + 1)])
        }
    }

    @Test("a batch sent again (a retry after a lost acknowledgement) stores nothing twice")
    func retriedBatch() async throws {
        let store = try await Self.store()
        defer { Task { try? await store.dropDatabase() } }
        let t = RecordStoreContractTests.june
        let batch = RecordBatch((0..<3_000).map { RecordStoreContractTests.record("acme", "r\($0)", t + Int64($0) * 1_000) })
        #expect(try await store.append(batch) == AppendReceipt(inserted: 3_000, duplicates: []))
        #expect(try await store.append(batch) == AppendReceipt(inserted: 0, duplicates: Array(0..<3_000)))
        let later = RecordStoreContractTests.record("acme", "r0", t + 8 * RecordStoreContractTests.day)
        #expect(try await store.append(RecordBatch([later])).inserted == 1, "past the dedup window, a request id is new")
        #expect(try await store.reader().aggregate(try Query(tenants: .one("acme"))).count == [3_001])
    }
}

extension RecordReader {
    func streamedRecords(tenant: String) async throws -> [CostRecord] {
        var out: [CostRecord] = []
        try await forEachRecordBatch(tenant: tenant, from: .min, to: .max, filters: [:]) { batch in
            out += batch.records
        }
        return out
    }
}
