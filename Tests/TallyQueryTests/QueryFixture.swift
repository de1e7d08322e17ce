import TallyQuery
import TallyStore
import TallyTestSupport

/// Options for tests: no background thread and small granules, so a few thousand rows make many granules.
func queryTestOptions(granuleRows: Int = 64) -> StoreOptions {
    var o = StoreOptions()
    o.background = false
    o.granuleRows = granuleRows
    o.durability = .buffered
    return o
}

/// A store holding random records in every shape a query meets: sealed parts, a compacted part, delta
/// parts with late rows for hours already sealed, and head rows; plus its oracle.
final class QueryFixture {
    let directory: TemporaryDirectory
    let store: Store
    let snapshot: StoreSnapshot
    let reference: ReferenceAggregator
    let stored: [CostRecord]
    let window: Range<Int64>
    let tenants: [String]
    /// Values present per dimension (for filters).
    let values: [Dimension: [String]]

    /// 2025-06-01T00:00:00Z: windows cross it, so parts split by month.
    static let june: Int64 = 1_748_736_000_000
    static let hour: Int64 = 3_600_000
    static let day: Int64 = 86_400_000

    /// `dense`: 12 hours with 100+ rows per tenant and hour (so the store keeps rollups of its
    /// low-cardinality dimensions); else 10 sparse days (for trailing windows), with fewer users and models, so
    /// its parts keep part rollups of some dimensions (32 rows per value) and not of others.
    init(seed: UInt64, dense: Bool) throws {
        directory = try TemporaryDirectory(prefix: "tally-query")
        let window = dense
            ? (Self.june - 6 * Self.hour)..<(Self.june + 6 * Self.hour)
            : (Self.june - 6 * Self.day)..<(Self.june + 4 * Self.day)
        self.window = window
        let gen = RandomRecords(seed: seed, options: .init(
            tenants: 3, usersPerTenant: dense ? 6 : 12, models: dense ? 13 : 4, window: window,
            lateFraction: 0.15, lateBy: dense ? 3 * Self.hour : 3 * Self.day,
            duplicateFraction: 0.04, exactDuplicates: seed % 2 == 0,
            edgeFraction: 0.03,
            edgeCases: [.emptyUser, .emptyWorkflowAndSkill, .unicode, .zeroCost, .oneNanoCost, .maxTokens, .nonUUIDRequestID, .csvSpecials]))
        let records = gen.records(dense ? 5000 : 3000)
        store = try Store(path: directory.path, options: queryTestOptions())
        // Sealed parts, merged by compaction; then a delta part; then head rows (new and late).
        let cuts = [0, 900, 1700, 2300, 2600, 2800, records.count].map { min($0 * records.count / 3000, records.count) }
        for i in 0..<(cuts.count - 1) {
            _ = try store.append(RecordBatch(records[cuts[i]..<cuts[i + 1]]))
            if i < 3 { try store.flush() }
            if i == 2 { _ = try store.compact() }
            if i == 3 { try store.flush() }
        }
        snapshot = store.snapshot()
        stored = try snapshot.records()
        reference = ReferenceAggregator(records: stored)
        tenants = gen.tenantIDs
        var values: [Dimension: [String]] = [:]
        for d in Dimension.allCases {
            var seen = Set<[UInt8]>()
            var list: [String] = []
            for r in stored where seen.insert(Array(r[d].utf8)).inserted { list.append(r[d]) }
            values[d] = list.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
        }
        self.values = values
    }

    deinit {
        try? store.close()
        directory.remove()
    }
}
