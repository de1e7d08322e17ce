import Benchmark
import TallyQuery
import TallyStore
import TallySynthetic

// The query kernels over a 1M-row store of ~200 tenants (bulk-loaded and compacted in `setup:`):
// raw scans (rollups off) on one thread, so the `Rows/s` metric is rows per second per core, and the
// same questions answered from the hour index and rollups.

func queryBenchmarks() {
    let cases: [(name: String, rows: (QueryFixture) -> Int, query: (QueryFixture) throws -> Query)] = [
        ("Scan grouped sum of cost by model, all tenants", { $0.rows }, { _ in
            try Query(tenants: .all, groupBy: [.dimension(.model)], aggregates: [.cost], useRollups: false)
        }),
        ("Scan filtered sum (one model), all tenants", { $0.rows }, { f in
            try Query(tenants: .all, filters: [.model: [f.model]], aggregates: [.cost], useRollups: false)
        }),
        ("Scan group by user, largest tenant (top 20)", { $0.largestRows }, { f in
            try Query(tenants: .one(f.largest), groupBy: [.dimension(.user)], aggregates: [.cost, .count], order: .cost, limit: 20, useRollups: false)
        }),
        ("Scan daily series per tenant (merge of groups)", { $0.rows }, { _ in
            try Query(tenants: .all, bucket: .day, groupBy: [.tenant], aggregates: [.cost], useRollups: false, fillEmptyBuckets: false)
        }),
        ("Index hourly series, largest tenant", { $0.largestRows }, { f in
            try Query(tenants: .one(f.largest), bucket: .hour)
        }),
        ("Index cost by model, largest tenant", { $0.largestRows }, { f in
            try Query(tenants: .one(f.largest), groupBy: [.dimension(.model)], order: .cost)
        }),
    ]
    for c in cases {
        Benchmark("Query \(c.name)", configuration: unitConfiguration) { benchmark, f in
            let query = try c.query(f)
            let engine = QueryEngine(threads: 1)
            var groups = 0
            try measuringRows(benchmark, c.rows(f)) {
                groups = try engine.run(query, on: f.store.snapshot()).count.count
            }
            blackHole(groups)
        } setup: {
            try queryFixture.get()
        }
    }
}

/// A compacted 1M-row store and what the queries need to know about it.
final class QueryFixture: @unchecked Sendable {
    // @unchecked: immutable after init; the store is thread-safe.
    let store: Store
    let rows: Int
    let largest: String
    let largestRows: Int
    let model: String

    init() throws {
        let dir = try TemporaryDirectory("tally-bench-query")
        var options = StoreOptions()
        options.background = false
        store = try Store(path: dir.path, options: options)
        let generator = SyntheticGenerator(.init(rows: 1_000_000))
        try store.bulkLoad { load in
            try generator.generate(chunkSize: 65_536) { _ = try load.add($0) }
        }
        _ = try store.compact()
        let snapshot = store.snapshot()
        rows = snapshot.rowCount
        largest = generator.tenantIDs[0]
        largestRows = snapshot.parts.filter { $0.tenant == generator.tenantIDs[0] }.reduce(0) { $0 + $1.rows }
        model = "gpt-4o"
    }
}

let queryFixture = Result { try QueryFixture() }
