import TallyText
import Testing
import TallyStore
import TallySynthetic
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
        } else if rng.below(4) == 0 {
            // Shaped for the part rollups: wide or open ranges (whole parts inside, others cut by an end),
            // one dimension of any cardinality, sometimes a filter on another dimension.
            let d = pick(Dimension.allCases)
            if rng.below(3) != 0 { p.from = rng.below(2) == 0 ? nil : f.window.lowerBound - Int64(rng.below(3)) * QueryFixture.hour }
            if rng.below(3) != 0 { p.to = rng.below(2) == 0 ? nil : f.window.upperBound + Int64(rng.below(3)) * 3 * QueryFixture.hour }
            if let a = p.from, let b = p.to, a >= b { p.to = a + 1 }
            p.filters = rng.below(2) == 0 ? [:] : [d: (0..<(1 + rng.below(3))).map { _ in pick(f.values[d] ?? []) }]
            if rng.below(4) == 0 {
                let other = pick(Dimension.allCases.filter { $0 != d })
                p.filters[other] = [pick(f.values[other] ?? [])]
            }
            p.groupBy = rng.below(4) == 0 ? [] : [.dimension(d)]
            if rng.below(3) == 0 { p.groupBy.insert(.tenant, at: rng.below(p.groupBy.count + 1)) }
            p.bucket = pick([.none, .none, .day, .hour])
            if p.bucket != .day { p.trailing = nil }
        }
        return p
    }

    /// The engine runs of this query: the range, widened for trailing windows, and the slice of a day
    /// cut by `from` (as `QueryEngine.execute` splits them).
    var runs: [(lo: Int64, hi: Int64)] {
        let hi = to ?? .max
        guard let trailing else { return [(from ?? .min, hi)] }
        let span = Int64(trailing.days * (trailing.previous ? 2 : 1))
        guard let from else { return [(.min, hi)] }
        let firstDay = TimeUnit.dayStart(from)
        var runs = [(firstDay - (span - 1) * TimeUnit.dayMillis, hi)]
        if from != firstDay { runs.append((firstDay, from)) }
        return runs
    }

    /// How `part` meets one run of this query, as documented in docs/QUERY.md: nil when the planner
    /// drops it (tenant, time, absent filter value), else whether it lies wholly inside the run and its
    /// bucket, and the dimensions involved (group keys, and filters that do not pass every value).
    func shape(of part: PartReader, lo: Int64, hi: Int64)
        -> (inside: Bool, oneBucket: Bool, dimensions: Set<Dimension>, filterOnOther: Bool)? {
        let m = part.meta
        guard m.rows > 0, m.maxTime >= lo, m.minTime < hi, (try? query(useRollups: true))?.selects(tenant: m.tenant) == true
        else { return nil }
        let keys = Set(groupBy.compactMap { if case let .dimension(d) = $0 { d } else { nil } })
        var involved = keys
        var filterOnOther = false
        for (d, values) in filters {
            let dict = m.dictionaries[d.rawValue]
            let wanted = Set(values.map { Array($0.utf8) })
            let present = dict.filter { wanted.contains(Array($0.utf8)) }.count
            if present == 0 { return nil }
            if present < dict.count {
                involved.insert(d)
                if !keys.isEmpty && !keys.contains(d) { filterOnOther = true }
            }
        }
        return (lo <= m.minTime && m.maxTime < hi, bucket.start(m.minTime) == bucket.start(m.maxTime), involved, filterOnOther)
    }

    /// Parts the planner must answer from their part rollups (summed over the runs), and whether some
    /// part would qualify but for a range end cutting it, or but for a filter on another dimension.
    func partRollupShapes(_ snapshot: StoreSnapshot) -> (expected: Int, straddling: Bool, otherDimension: Bool) {
        var expected = 0, straddling = false, otherDimension = false
        for (lo, hi) in runs {
            for part in snapshot.parts {
                guard let s = shape(of: part, lo: lo, hi: hi) else { continue }
                let bucketFits = bucket == .none || s.oneBucket
                // A part keeps no rollup of a dimension with fewer than 32 rows per value (docs/FORMAT.md).
                let kept = s.dimensions.first.map { part.meta.partRollupCount($0.rawValue) > 0 } ?? true
                if s.inside && bucketFits && s.dimensions.count <= 1 && kept { expected += 1 }
                if !s.inside && bucketFits && s.dimensions.count <= 1 { straddling = true }
                if s.inside && bucketFits && s.filterOnOther && groupBy.count(where: { $0 != .tenant }) == 1 { otherDimension = true }
            }
        }
        return (expected, straddling, otherDimension)
    }
}

@Suite struct QueryPropertyTests {
    /// Engines the answers must not depend on: one thread; two threads with tiny work units, no lanes, and
    /// `WholePartRollups` from one whole part on; tiny flat and re-key limits, so the hashed and re-keyed group paths
    /// run on small data, and the parts planned, scanned and merged on both threads from two parts on (those with more
    /// rows than a work unit left to the units).
    static let engines: [QueryEngine] = {
        let single = QueryEngine(threads: 1)
        var parallel = QueryEngine(threads: 2, parallelThreshold: 0, unitRows: 100)
        parallel.laneLimit = 0
        parallel.wholeRollupParts = 1
        var hashed = QueryEngine(threads: 2, parallelThreshold: 0, unitRows: 300)
        hashed.flatLimit = 8
        hashed.rekeyLimit = 16
        hashed.manyParts = 2
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
            let shapes = p.partRollupShapes(f.snapshot)
            for useRollups in [true, false] {
                let engine = Self.engines[(i + (useRollups ? 0 : 1)) % Self.engines.count]
                let got = try engine.run(try p.query(useRollups: useRollups), on: f.snapshot)
                if got != expected {
                    failures += 1
                    Issue.record("seed \(seed) query \(i) rollups \(useRollups): \(p)\ngot \(got)\nexpected \(expected)")
                }
                if !useRollups { #expect(got.statistics.hoursFromIndex == 0 && got.statistics.partsFromRollups == 0) }
                if useRollups {
                    // The part rollups answer exactly the parts wholly inside a run, with one dimension at most.
                    #expect(got.statistics.partsFromRollups == shapes.expected, "seed \(seed) query \(i): \(p)")
                    coverage.addPartRollups(got, shapes)
                }
                coverage.add(got, p)
            }
            if failures >= 3 { break }
        }
        // The random queries must reach every path, or the comparison proves little.
        #expect(coverage.nonEmpty > 150 && coverage.fromIndex > 20 && coverage.scanned > 150 && coverage.heads > 100, "\(coverage)")
        #expect(coverage.skippedGranules > 10 && coverage.trailing > 10 && coverage.limitCut > 20 && coverage.parallel > 50,
                "\(coverage)")
        // Part rollups answered, and were refused for parts cut by a range end or filtered on another dimension.
        // (Every part read answered from rollups is rarer in the sparse stores: their small late parts keep few rollups.)
        #expect(coverage.partRollups > 30 && coverage.partRollupsOnly > (seed % 2 == 0 ? 8 : 1) && coverage.straddling > 15
                && coverage.otherDimension > 5 && coverage.lessOutside > 0, "\(coverage)")
        // Cost sums of priced granules from their models' token sums (no group, or groups by model, no filter).
        #expect(coverage.pricedFromSums > 5, "\(coverage)")
        // Parts planned, scanned and merged on both threads, and parts left from there to the work units.
        #expect(coverage.manyParts > 20 && coverage.manyPartsLeft > 5, "\(coverage)")
    }
}

/// What the random queries reached.
struct Coverage: CustomStringConvertible {
    var nonEmpty = 0, fromIndex = 0, scanned = 0, heads = 0, skippedGranules = 0, trailing = 0, limitCut = 0, parallel = 0
    /// Queries (rollups on) with parts answered from part rollups; with rows, every part read answered so
    /// (the head aside); with a part that would qualify but for a range end cutting it; with one that would
    /// but for a filter on another dimension than the group key.
    var partRollups = 0, partRollupsOnly = 0, straddling = 0, otherDimension = 0
    /// Queries with a cut part answered from its part rollup less the rows outside the range.
    var lessOutside = 0
    /// Queries with a priced granule's cost sums taken from its models' token sums.
    var pricedFromSums = 0
    /// Queries with parts planned, scanned and merged by the scan threads (`QueryEngine.aggregateManyParts`), and of those,
    /// queries with other parts read as well (left to the work units, or answered from rollups by the planner alone).
    var manyParts = 0, manyPartsLeft = 0

    mutating func addPartRollups(_ r: QueryResult, _ shapes: (expected: Int, straddling: Bool, otherDimension: Bool)) {
        if r.statistics.partsFromRollups > 0 { partRollups += 1 }
        let fromRollups = r.statistics.partsFromRollups + r.statistics.partsLessOutside
        if r.statistics.partsFromRollups > 0 && fromRollups == r.statistics.partsRead && r.count.contains(where: { $0 > 0 }) {
            partRollupsOnly += 1
        }
        if r.statistics.partsLessOutside > 0 { lessOutside += 1 }
        if shapes.straddling { straddling += 1 }
        if shapes.otherDimension { otherDimension += 1 }
    }

    mutating func add(_ r: QueryResult, _ p: QueryParameters) {
        if r.count.contains(where: { $0 > 0 }) { nonEmpty += 1 }
        if r.statistics.hoursFromIndex > 0 { fromIndex += 1 }
        if r.statistics.rowsScanned > 0 { scanned += 1 }
        if r.statistics.headsRead > 0 { heads += 1 }
        if r.statistics.granulesSkipped > 0 { skippedGranules += 1 }
        if r.trailingCost.contains(where: { $0 > 0 }) { trailing += 1 }
        if let limit = p.limit, r.rowCount == limit { limitCut += 1 }
        if r.statistics.threads > 1 { parallel += 1 }
        if r.statistics.granulesPricedFromSums > 0 { pricedFromSums += 1 }
        if r.statistics.partsPlannedInParallel > 0 { manyParts += 1 }
        if r.statistics.partsPlannedInParallel > 0 && r.statistics.partsRead > r.statistics.partsPlannedInParallel { manyPartsLeft += 1 }
    }

    var description: String {
        "nonEmpty \(nonEmpty) fromIndex \(fromIndex) scanned \(scanned) heads \(heads) skipped \(skippedGranules) "
            + "trailing \(trailing) limitCut \(limitCut) parallel \(parallel) partRollups \(partRollups) "
            + "partRollupsOnly \(partRollupsOnly) straddling \(straddling) otherDimension \(otherDimension) lessOutside \(lessOutside) "
            + "pricedFromSums \(pricedFromSums) manyParts \(manyParts) manyPartsLeft \(manyPartsLeft)"
    }
}
