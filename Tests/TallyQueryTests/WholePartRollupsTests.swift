import Testing
import TallyStore
import TallySynthetic
import TallyTestSupport
@testable import TallyQuery

/// Grouped sums of one dimension (and the tenant) from the rollups of the parts a range covers whole, added straight
/// into the answer's groups (`WholePartRollups`), against the reference aggregator.
@Suite struct WholePartRollupsTests {
    @Test(arguments: 0..<4)
    func answersMatchTheReference(seed: Int) throws {
        let f = try QueryFixture(seed: UInt64(seed), dense: seed % 2 == 0)
        var rng = Xoshiro256(seed: UInt64(seed), stream: 17)
        var engine = QueryEngine(threads: 1 + rng.below(2))
        engine.wholeRollupParts = 1
        var answered = 0, withRest = 0, byTenant = 0
        for i in 0..<200 {
            let d = Dimension.allCases[rng.below(Dimension.allCases.count)]
            let groupBy: [Query.Key] = switch rng.below(3) {
            case 0: [.dimension(d)]
            case 1: [.tenant, .dimension(d)]
            default: [.dimension(d), .tenant]
            }
            let tenants: Query.Tenants = switch rng.below(3) {
            case 0: .all
            case 1: .one(f.tenants[rng.below(f.tenants.count)])
            default: .some([f.tenants[0], f.tenants[f.tenants.count - 1]])
            }
            // Open ranges cover every part whole; a cut range leaves the parts it cuts to the general plan.
            let from: Int64? = rng.below(3) == 0 ? f.window.lowerBound + QueryFixture.hour * Int64(1 + rng.below(5)) : nil
            let order = [Query.Order.key, .cost, .count, .inputTokens, .outputTokens, .tokens][rng.below(6)]
            let limit: Int? = rng.below(2) == 0 ? 1 + rng.below(25) : nil
            let query = try Query(tenants: tenants, from: from, groupBy: groupBy, order: order, limit: limit)
            let expected = f.reference.run(query)
            guard let got = try WholePartRollups.answer(query, f.snapshot, engine: engine) else { continue }
            #expect(got == expected, "seed \(seed) query \(i): \(groupBy) \(tenants) from \(from.map(String.init) ?? "-") \(order) \(limit.map(String.init) ?? "-")")
            answered += 1
            if got.statistics.rowsScanned > 0 || got.statistics.headsRead > 0 { withRest += 1 }
            if groupBy.count == 2 { byTenant += 1 }
            #expect(got.statistics.partsFromRollups > 0)
        }
        #expect(answered > 150 && withRest > 100 && byTenant > 80, "answered \(answered), with the rest \(withRest), by tenant \(byTenant)")
    }

    /// Filters, buckets, trailing windows, two dimensions, or no dimension: left to the other plans.
    @Test func otherShapesAreLeftToTheGeneralPlan() throws {
        let f = try QueryFixture(seed: 3, dense: true)
        var engine = QueryEngine()
        engine.wholeRollupParts = 1
        let refused = [
            try Query(tenants: .all, filters: [.model: ["x"]], groupBy: [.dimension(.model)]),
            try Query(tenants: .all, bucket: .day, groupBy: [.dimension(.model)]),
            try Query(tenants: .all, groupBy: [.dimension(.model), .dimension(.user)]),
            try Query(tenants: .all, groupBy: [.tenant]),
            try Query(tenants: .all, groupBy: [.dimension(.model)], useRollups: false),
        ]
        for q in refused { #expect(try WholePartRollups.answer(q, f.snapshot, engine: engine) == nil) }
        var few = QueryEngine()
        few.wholeRollupParts = f.snapshot.parts.count + 1
        #expect(try WholePartRollups.answer(try Query(tenants: .all, groupBy: [.dimension(.model)]), f.snapshot, engine: few) == nil)
    }
}
