import Testing
import TallyStore
import TallyTestSupport
@testable import TallyQuery

/// The parameters of a random query, so the same query can be made with rollups on and off.
struct QueryParameters: CustomStringConvertible {
    var tenants: Query.Tenants = .all
    var from: Int64?
    var to: Int64?
    var filters: [Dimension: [String]] = [:]
    var bucket: Query.Bucket = .none
    var groupBy: [Query.Key] = []
    var aggregates: Set<Query.Aggregate> = Set(Query.Aggregate.allCases)
    var order: Query.Order = .key
    var limit: Int?
    var trailing: Query.Trailing?
    var fill = true

    func query(useRollups: Bool) throws -> Query {
        try Query(tenants: tenants, from: from, to: to, filters: filters, bucket: bucket, groupBy: groupBy,
                  aggregates: aggregates, order: order, limit: limit, trailing: trailing, useRollups: useRollups,
                  fillEmptyBuckets: fill)
    }

    var description: String {
        let t = { (v: Int64?) in v.map { Timestamp.format($0) } ?? "open" }
        return "tenants=\(tenants) [\(t(from)), \(t(to))) filters=\(filters) bucket=\(bucket) groupBy=\(groupBy) "
            + "aggregates=\(aggregates.map(\.rawValue).sorted()) order=\(order) limit=\(limit.map(String.init) ?? "-") "
            + "trailing=\(trailing.map { "\($0.days)\($0.previous ? "+prev" : "")" } ?? "-") fill=\(fill)"
    }

    /// A random query over `f`: windows cut hours in half, filters hit and miss, keys and buckets mix.
    static func random(_ rng: inout Xoshiro256, _ f: QueryFixture) -> QueryParameters {
        var p = QueryParameters()
        func pick<T>(_ a: [T]) -> T { a[rng.below(a.count)] }
        switch rng.below(8) {
        case 0...3: p.tenants = .one(rng.below(12) == 0 ? "no-such-tenant" : pick(f.tenants))
        case 4, 5:
            var list = (0..<(1 + rng.below(2))).map { _ in pick(f.tenants) }
            if rng.below(4) == 0 { list.append("no-such-tenant") }
            p.tenants = .some(list)
        default: p.tenants = .all
        }

        // Times: from a little before the data to a little after, cut at a random ms, an hour or a day.
        func time() -> Int64 {
            let margin = max((f.window.upperBound - f.window.lowerBound) / 4, 2 * 3_600_000)
            let lo = f.window.lowerBound - margin, hi = f.window.upperBound + margin
            let t = lo + Int64(rng.below(Int(hi - lo)))
            switch rng.below(5) {
            case 4: return f.stored[rng.below(f.stored.count)].createdAtMillis  // a row's own time
            case 0: return TimeUnit.hourStart(t)
            case 1: return TimeUnit.dayStart(t)
            default: return t
            }
        }
        p.from = rng.below(6) == 0 ? nil : time()
        p.to = rng.below(6) == 0 ? nil : time()
        if let a = p.from, let b = p.to {
            if a == b { p.to = b + 1 + Int64(rng.below(3 * 3_600_000)) } else if a > b { p.from = b; p.to = a }
        }

        for _ in 0..<[0, 0, 1, 1, 2][rng.below(5)] {
            let d = pick(Dimension.allCases)
            let present = f.values[d] ?? []
            var chosen = (0..<(1 + rng.below(3))).map { _ in pick(present) }
            if rng.below(5) == 0 { chosen.append("no-such-value") }
            p.filters[d] = chosen
        }

        p.bucket = pick(Query.Bucket.allCases)
        let keyCount = p.bucket == .hour ? rng.below(2) : [0, 1, 1, 2, 3][rng.below(5)]
        var keys = Query.Key.allCases
        for _ in 0..<keyCount {
            let k = keys.remove(at: rng.below(keys.count))
            p.groupBy.append(k)
        }
        if rng.below(2) == 0 {
            p.aggregates = Set(Query.Aggregate.allCases.filter { _ in rng.below(2) == 0 })
            if p.aggregates.isEmpty { p.aggregates = [.count] }
        }
        p.order = pick(Query.Order.allCases)
        p.limit = rng.below(2) == 0 ? nil : 1 + rng.below(8)
        if p.bucket == .day && rng.below(2) == 0 {
            p.trailing = Query.Trailing(days: 1 + rng.below(4), previous: rng.below(2) == 0)
        }
        p.fill = rng.below(5) != 0
        if rng.below(4) == 0 {
            // Shaped so the hour index can answer: whole hours, one low-cardinality dimension.
            let d = pick([Dimension.project, .environment, .feature, .model])
            p.from = p.from.map(TimeUnit.hourStart)
            p.to = p.to.map { TimeUnit.hourStart($0) + 3_600_000 }
            p.filters = rng.below(3) == 0 ? [:] : [d: (0..<(1 + rng.below(2))).map { _ in pick(f.values[d] ?? []) }]
            p.groupBy = rng.below(2) == 0 ? [] : [.dimension(d)]
            if rng.below(3) == 0 { p.groupBy.insert(.tenant, at: rng.below(p.groupBy.count + 1)) }
        }
        return p
    }
}

@Suite struct QueryPropertyTests {
    /// Engines the answers must not depend on: one thread; two threads with tiny work units and no
    /// lanes; tiny flat and re-key limits, so the hashed and re-keyed group paths run on small data.
    static let engines: [QueryEngine] = {
        let single = QueryEngine(threads: 1)
        var parallel = QueryEngine(threads: 2, parallelThreshold: 0, unitRows: 100)
        parallel.laneLimit = 0
        var hashed = QueryEngine(threads: 2, parallelThreshold: 0, unitRows: 300)
        hashed.flatLimit = 8
        hashed.rekeyLimit = 16
        return [single, parallel, hashed]
    }()

    @Test(arguments: 0..<6)
    func randomQueriesMatchTheReference(seed: Int) throws {
        let f = try QueryFixture(seed: UInt64(seed), dense: seed % 2 == 0)
        #expect(f.snapshot.parts.count >= 3 && !f.snapshot.heads.isEmpty)
        var rng = Xoshiro256(seed: UInt64(seed), stream: 99)
        var failures = 0
        var coverage = Coverage()
        for i in 0..<300 {
            let p = QueryParameters.random(&rng, f)
            let expected = f.reference.run(try p.query(useRollups: false))
            for useRollups in [true, false] {
                let engine = Self.engines[(i + (useRollups ? 0 : 1)) % Self.engines.count]
                let got = try engine.run(try p.query(useRollups: useRollups), on: f.snapshot)
                if got != expected {
                    failures += 1
                    Issue.record("seed \(seed) query \(i) rollups \(useRollups): \(p)\ngot \(got)\nexpected \(expected)")
                }
                if !useRollups { #expect(got.statistics.hoursFromIndex == 0) }
                coverage.add(got, p)
            }
            if failures >= 3 { break }
        }
        // The random queries must reach every path, or the comparison proves little.
        #expect(coverage.nonEmpty > 150 && coverage.fromIndex > 20 && coverage.scanned > 150 && coverage.heads > 100, "\(coverage)")
        #expect(coverage.skippedGranules > 10 && coverage.trailing > 10 && coverage.limitCut > 20 && coverage.parallel > 50,
                "\(coverage)")
    }
}

/// What the random queries reached.
struct Coverage: CustomStringConvertible {
    var nonEmpty = 0, fromIndex = 0, scanned = 0, heads = 0, skippedGranules = 0, trailing = 0, limitCut = 0, parallel = 0

    mutating func add(_ r: QueryResult, _ p: QueryParameters) {
        if r.count.contains(where: { $0 > 0 }) { nonEmpty += 1 }
        if r.statistics.hoursFromIndex > 0 { fromIndex += 1 }
        if r.statistics.rowsScanned > 0 { scanned += 1 }
        if r.statistics.headsRead > 0 { heads += 1 }
        if r.statistics.granulesSkipped > 0 { skippedGranules += 1 }
        if r.trailingCost.contains(where: { $0 > 0 }) { trailing += 1 }
        if let limit = p.limit, r.rowCount == limit { limitCut += 1 }
        if r.statistics.threads > 1 { parallel += 1 }
    }

    var description: String {
        "nonEmpty \(nonEmpty) fromIndex \(fromIndex) scanned \(scanned) heads \(heads) skipped \(skippedGranules) "
            + "trailing \(trailing) limitCut \(limitCut) parallel \(parallel)"
    }
}
