#if canImport(Glibc)
import Glibc
#endif
import TallyAnalytics
import TallyClickHouse
import TallyQuery
import TallyStore
import TallySynthetic
import TallyTestSupport
import Testing

/// One implementation of `RecordStore` under the contract suite: how to make an empty one, and the hooks the suite
/// needs that only an implementation knows (moving appended rows to long-term storage, making rows unreadable).
///
/// The next implementation (a server database) adds its subject to `all`; every test of `RecordStoreContractTests`
/// then runs against it too.
struct RecordStoreSubject: Sendable, CustomTestStringConvertible {
    /// Shown in test names.
    let name: String
    /// An empty store kept in `directory`, its blocking work on `pool`.
    let make: @Sendable (_ directory: TemporaryDirectory, _ pool: BlockingPool) async throws -> any RecordStore
    /// Moves every appended row to long-term storage (the embedded store: seals its head into parts), so that
    /// reads meet rows in every shape the store keeps; nil when the store has one shape only.
    let settle: (@Sendable (any RecordStore) async throws -> Void)?
    /// Makes the stored rows of `tenant` in the hours around `time` unreadable; nil when the implementation
    /// cannot lose rows that way (the missing-row tests then skip it).
    let damage: (@Sendable (any RecordStore, _ tenant: String, _ time: Int64) async throws -> Void)?

    var testDescription: String { name }

    static let all: [RecordStoreSubject] = [embedded] + (clickHouse.map { [$0] } ?? [])

    /// `ClickHouseRecordStore` over the cluster `scripts/clickhouse.sh start` exported (TALLY_CLICKHOUSE_URL,
    /// TALLY_CLICKHOUSE_CLUSTER, TALLY_CLICKHOUSE_SHARDS), in a fresh database per test; settled by merging every
    /// shard's parts. Absent without TALLY_CLICKHOUSE_URL.
    static let clickHouse: RecordStoreSubject? = {
        func environment(_ name: String) -> String? { getenv(name).map { String(cString: $0) } }
        guard let url = environment("TALLY_CLICKHOUSE_URL"), !url.isEmpty else { return nil }
        let cluster = environment("TALLY_CLICKHOUSE_CLUSTER") ?? "tally_cluster"
        let shards = (environment("TALLY_CLICKHOUSE_SHARDS") ?? url).split(separator: ",").map(String.init)
        return RecordStoreSubject(
            name: "clickhouse",
            make: { _, pool in
                let database = "tally_test_" + String(UInt64.random(in: 0...UInt64.max), radix: 16)
                let store = try ClickHouseRecordStore(
                    configuration: .init(url: url, cluster: cluster, database: database, shardURLs: shards), pool: pool)
                try await store.migrate()
                return store
            },
            settle: { records in
                guard let store = records as? ClickHouseRecordStore else { throw ContractError.notClickHouse }
                try await store.optimize()
            },
            damage: nil)
    }()

    /// `EmbeddedRecordStore` over a `Store` without background threads, sealed by `flush`, damaged by flipping a bit
    /// of a part and quarantining it as a failed read would.
    static let embedded = RecordStoreSubject(
        name: "embedded",
        make: { directory, pool in
            var options = StoreOptions()
            options.background = false
            options.durability = .buffered
            options.granuleRows = 64
            return EmbeddedRecordStore(store: try Store(path: directory.appending("store"), options: options), pool: pool)
        },
        settle: { records in
            try embeddedStore(records).flush()
        },
        damage: { records, tenant, time in
            let store = try embeddedStore(records)
            try store.flush()
            guard let part = store.snapshot().parts.first(where: { $0.meta.tenant == tenant && $0.meta.minTime <= time && $0.meta.maxTime >= time })
            else { throw ContractError.noPart(tenant: tenant) }
            try DamageFixture.flip(part.path, at: PartFormat.headerSize + 40)
            try store.quarantine(partPath: part.path, because: .corrupt(path: part.path, offset: PartFormat.headerSize + 40, reason: "contract test"))
        })

    static func embeddedStore(_ records: any RecordStore) throws -> Store {
        guard let embedded = records as? EmbeddedRecordStore else { throw ContractError.notEmbedded }
        return embedded.store
    }

    enum ContractError: Error {
        case notEmbedded
        case notClickHouse
        case noPart(tenant: String)
    }
}

/// A store of the subject in a fresh directory with its own pool, closed and removed by `close()`.
struct ContractStore {
    let directory: TemporaryDirectory
    let records: any RecordStore

    init(_ subject: RecordStoreSubject) async throws {
        directory = try TemporaryDirectory(prefix: "tally-contract")
        records = try await subject.make(directory, BlockingPool(maxThreads: 4))
    }

    func close() {
        try? records.close()
        directory.remove()
    }

    /// Every record of `tenant` in `from ..< to` matching `filters`, streamed; and the largest piece seen.
    func streamed(tenant: String, from: Int64 = .min, to: Int64 = .max, filters: [Dimension: [String]] = [:]) async throws
        -> (records: [CostRecord], largestPiece: Int)
    {
        var out: [CostRecord] = []
        var largest = 0
        try await records.reader().forEachRecordBatch(tenant: tenant, from: from, to: to, filters: filters) { batch in
            largest = max(largest, batch.count)
            for i in 0..<batch.count { out.append(batch[i]) }
        }
        return (out, largest)
    }
}

extension Array where Element == CostRecord {
    /// The records the store keeps of these, appended in this order: the first of each `(tenant_id, request_id)`.
    var firstOfEachRequest: [CostRecord] {
        var seen = Set<[UInt8]>()
        return filter { r in seen.insert([UInt8](r.tenantID.utf8) + [0] + [UInt8](r.requestID.utf8)).inserted }
    }

    /// In a fixed order (tenant, request id), to compare multisets.
    var canonical: [CostRecord] {
        sorted {
            ($0.tenantID, $0.requestID, $0.createdAtMillis) < ($1.tenantID, $1.requestID, $1.createdAtMillis)
        }
    }
}
