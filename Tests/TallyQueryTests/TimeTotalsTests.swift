import Testing
import TallyStore
import TallySynthetic
import TallyTestSupport
@testable import TallyQuery

/// Series without a dimension answered from hour totals (`TimeTotals`): against the reference aggregator, on stores
/// with compacted, delta and head rows, over every shape it takes (hour and day buckets, org-wide and per tenant,
/// filled or not, trailing windows with and without the previous one, a `from` that cuts its day, orders, limits).
@Suite struct TimeTotalsTests {
    @Test(arguments: 0..<6)
    func seriesMatchTheReference(seed: Int) throws {
        let f = try QueryFixture(seed: UInt64(seed), dense: seed % 2 == 0)
        var rng = Xoshiro256(seed: UInt64(seed), stream: 11)
        func pick<T>(_ a: [T]) -> T { a[rng.below(a.count)] }
        var answered = 0, cutDays = 0, trailing = 0
        let hours = Int((f.window.upperBound - f.window.lowerBound) / QueryFixture.hour)
        for i in 0..<250 {
            let tenants: Query.Tenants = pick([.all, .all, .one(pick(f.tenants)), .some([f.tenants[0], "no-such-tenant"])])
            let bucket = pick([Query.Bucket.hour, .day, .day])
            // Whole hours, sometimes past the data, sometimes open.
            let hour = { (k: Int) in f.window.lowerBound + Int64(k) * QueryFixture.hour }
            var from: Int64? = rng.below(4) == 0 ? nil : hour(rng.below(hours + 8) - 4)
            var to: Int64? = rng.below(4) == 0 ? nil : hour(rng.below(hours + 8) - 4)
            if let a = from, let b = to, a >= b { (from, to) = (b, a + QueryFixture.hour) }
            let window: Query.Trailing? = bucket == .day && rng.below(2) == 0
                ? Query.Trailing(days: 1 + rng.below(4), previous: rng.below(2) == 0) : nil
            let query = try Query(
                tenants: tenants, from: from, to: to, bucket: bucket, groupBy: rng.below(2) == 0 ? [] : [.tenant],
                aggregates: rng.below(2) == 0 ? Set(Query.Aggregate.allCases) : [.count, .cost], order: pick(Query.Order.allCases),
                limit: rng.below(3) == 0 ? 1 + rng.below(10) : nil, trailing: window, fillEmptyBuckets: rng.below(3) != 0)
            let expected = f.reference.run(query)
            let got = try QueryEngine(threads: 1).run(query, on: f.snapshot)
            #expect(got == expected, "seed \(seed) query \(i): \(query)\ngot \(got)\nexpected \(expected)")
            if let direct = try TimeTotals.answer(query, f.snapshot) {
                answered += 1
                #expect(direct == expected && direct.statistics.rowsScanned == 0)
                if window != nil { trailing += 1 }
                if window != nil, let from, TimeUnit.dayStart(from) != from { cutDays += 1 }
            }
        }
        // Every query here has the shape (whole hours, no filter), so every one is answered from the totals.
        #expect(answered == 250 && trailing > 40 && cutDays > 20, "answered \(answered) trailing \(trailing) cut \(cutDays)")
    }

    /// A range end inside an hour, a filter or a dimension key leaves the query to the general plan.
    @Test func otherShapesAreLeftToTheGeneralPlan() throws {
        let f = try QueryFixture(seed: 3, dense: false)
        let start = f.window.lowerBound
        for query in [
            try Query(tenants: .all, from: start + 1, bucket: .day),
            try Query(tenants: .all, to: start + QueryFixture.hour + 5, bucket: .hour),
            try Query(tenants: .all, filters: [.model: [f.values[.model]![0]]], bucket: .day),
            try Query(tenants: .all, bucket: .day, groupBy: [.dimension(.feature)]),
            try Query(tenants: .all, bucket: .none, groupBy: [.tenant]),
            try Query(tenants: .all, bucket: .day, useRollups: false),
        ] {
            #expect(try TimeTotals.answer(query, f.snapshot) == nil, "\(query)")
            #expect(try QueryEngine().run(query, on: f.snapshot) == f.reference.run(query))
        }
    }

    /// Every tenant grouped: the parts come in the part list's tenant order (byte order, whatever their ids) and the
    /// heads are merged in, before, between, into and after the parts' tenants.
    @Test func partsInTenantOrderAndHeadsMergedIn() throws {
        let dir = try TemporaryDirectory(prefix: "tally-time-totals")
        defer { dir.remove() }
        let store = try Store(path: dir.path, options: queryTestOptions())
        defer { try? store.close() }
        let gen = RandomRecords(seed: 9, options: .init(tenants: 1, usersPerTenant: 3, models: 3,
                                                       window: (QueryFixture.june - 5 * QueryFixture.day)..<QueryFixture.june))
        var source = gen.records(1400).makeIterator()
        func batch(_ tenant: String, _ n: Int) -> RecordBatch {
            RecordBatch((0..<n).map { _ in
                var r = source.next()!
                r.tenantID = tenant
                return r
            })
        }
        // Parts made against their tenants' byte order ("T-x" sorts first: upper case comes before lower).
        for tenant in ["t-f", "t-d", "t-b", "T-x"] {
            _ = try store.append(batch(tenant, 200))
            try store.flush()
        }
        for tenant in ["t-z", "t-d", "t-c", "t-a", "A-0"] { _ = try store.append(batch(tenant, 100)) }
        let snapshot = store.snapshot()
        #expect(!snapshot.heads.isEmpty && snapshot.parts.map(\.tenant) == ["t-f", "t-d", "t-b", "T-x"])
        #expect(snapshot.partsInTenantOrder.tenants == ["T-x", "t-b", "t-d", "t-f"])
        let reference = ReferenceAggregator(records: try snapshot.records())
        for bucket in [Query.Bucket.day, .hour] {
            for fill in [true, false] {
                let query = try Query(tenants: .all, bucket: bucket, groupBy: [.tenant], aggregates: [.count, .cost],
                                      trailing: bucket == .day ? Query.Trailing(days: 2, previous: true) : nil,
                                      fillEmptyBuckets: fill)
                let got = try #require(try TimeTotals.answer(query, snapshot))
                #expect(got == reference.run(query), "\(query)")
                #expect(Set(got.keyColumns[0]) == ["A-0", "T-x", "t-a", "t-b", "t-c", "t-d", "t-f", "t-z"])
            }
        }
    }

    /// One tenant's series or totals over whole hours, its footers read: answered from them alone (no part is mapped,
    /// no row scanned), as the server then runs them in place; otherwise not claimed.
    @Test func oneTenantsWholeHoursAreAnsweredFromFootersInMemory() throws {
        let dir = try TemporaryDirectory(prefix: "tally-in-memory")
        defer { dir.remove() }
        let window = (QueryFixture.june - 3 * QueryFixture.day)..<(QueryFixture.june + 2 * QueryFixture.day)
        let records = RandomRecords(seed: 4, options: .init(tenants: 2, window: window, lateFraction: 0.2,
                                                           lateBy: QueryFixture.day)).records(3000)
        let stored: [CostRecord]
        do {
            let store = try Store(path: dir.path, options: queryTestOptions())
            for chunk in stride(from: 0, to: records.count, by: 1000) {
                _ = try store.append(RecordBatch(records[chunk..<min(chunk + 1000, records.count)]))
                try store.flush()
            }
            stored = try store.snapshot().records()
            try store.close()
        }
        var options = queryTestOptions()
        options.readOnly = true
        let store = try Store(path: dir.path, options: options)
        defer { try? store.close() }
        let reference = ReferenceAggregator(records: stored)
        let tenant = records[0].tenantID
        let hour = { (k: Int) in window.lowerBound + Int64(k) * QueryFixture.hour }
        var rng = Xoshiro256(seed: 4, stream: 3)
        let engine = QueryEngine(threads: 1)
        // Before any footer is read, nothing is claimed.
        #expect(!engine.answersFromMemory(try Query(tenants: .one(tenant), bucket: .day), on: store.snapshot()))
        store.loadFooters()
        let snapshot = store.snapshot()
        #expect(snapshot.heads.isEmpty && snapshot.parts.count > 3)
        for _ in 0..<60 {
            var (a, b) = (rng.below(130), rng.below(130))
            if a > b { swap(&a, &b) }
            let query = try Query(tenants: .one(tenant), from: hour(a), to: hour(b + 1),
                                  bucket: [Query.Bucket.none, .hour, .day][rng.below(3)], groupBy: rng.below(2) == 0 ? [] : [.tenant])
            #expect(engine.answersFromMemory(query, on: snapshot))
            let got = try engine.run(query, on: snapshot)
            #expect(got == reference.run(query) && got.statistics.rowsScanned == 0, "\(query)")
        }
        #expect(snapshot.parts.allSatisfy { !$0.isMapped })
        // A range end inside an hour, a filter, a dimension key or every tenant: not claimed.
        for query in [
            try Query(tenants: .one(tenant), from: hour(3) + 1, bucket: .day),
            try Query(tenants: .one(tenant), filters: [.model: [records[0].model]], bucket: .day),
            try Query(tenants: .one(tenant), bucket: .none, groupBy: [.dimension(.feature)]),
            try Query(tenants: .all, bucket: .day),
            try Query(tenants: .one(tenant), bucket: .day, useRollups: false),
        ] {
            #expect(!engine.answersFromMemory(query, on: snapshot), "\(query)")
        }
    }
}

