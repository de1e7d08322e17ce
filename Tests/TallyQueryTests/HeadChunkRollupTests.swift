import Testing
import TallyStore
import TallySynthetic
import TallyTestSupport
@testable import TallyQuery

/// Breakdowns by one dimension over a head of several full chunks: the full chunks inside the range are answered from
/// their rollups (made once per chunk), the others scanned, and every answer equals the reference's.
@Suite struct HeadChunkRollupTests {
    @Test(arguments: 0..<4)
    func headBreakdownsMatchTheReference(seed: Int) throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let end = RandomRecords.Options.defaultEnd
        let window = (end - 2 * 86_400_000)..<end
        let records = RandomRecords(seed: UInt64(60 + seed), options: .init(tenants: 2, window: window, lateFraction: 0.1)).records(6000)
        let store = try Store(path: dir.path, options: testOptions())
        defer { try? store.close() }
        // Odd seeds seal a third into parts first; the rest stays in the head: chunks of 256, 512, 1,024, ... rows.
        let sealed = seed % 2 == 1 ? 2000 : 0
        if sealed > 0 {
            _ = try store.append(RecordBatch(records[0..<sealed]))
            try store.flush()
        }
        _ = try store.append(RecordBatch(records[sealed...]))
        let snapshot = store.snapshot()
        #expect(snapshot.heads.contains { $0.chunks.count >= 3 })
        let reference = ReferenceAggregator(records: try snapshot.records())
        let headRows = snapshot.heads.reduce(0) { $0 + $1.rows }
        var rng = Xoshiro256(seed: UInt64(seed), stream: 23)
        var rolled = 0
        for i in 0..<150 {
            let d = Dimension.allCases[rng.below(Dimension.allCases.count)]
            let groupBy: [Query.Key] = rng.below(3) == 0 ? [.tenant, .dimension(d)] : [.dimension(d)]
            let span = window.upperBound - window.lowerBound
            let from: Int64? = rng.below(3) == 0 ? window.lowerBound + Int64(rng.below(Int(span / 1000))) * 1000 : nil
            let to: Int64? = rng.below(4) == 0 ? window.upperBound - Int64(rng.below(Int(span / 4000))) * 1000 : nil
            if let from, let to, from >= to { continue }
            let order = [Query.Order.key, .cost, .count, .tokens][rng.below(4)]
            let limit: Int? = rng.below(2) == 0 ? 1 + rng.below(10) : nil
            let query = try Query(tenants: .all, from: from, to: to, groupBy: groupBy, order: order, limit: limit)
            let got = try QueryEngine(threads: 1 + rng.below(2)).run(query, on: snapshot)
            #expect(got == reference.run(query), "seed \(seed) query \(i): \(groupBy) \(from.map(String.init) ?? "-")..<\(to.map(String.init) ?? "-") \(order)")
            // With no part in the store, fewer rows scanned than the head holds is the chunks' rollups at work.
            if sealed == 0 && got.statistics.rowsScanned < headRows { rolled += 1 }
        }
        if sealed == 0 { #expect(rolled > 50, "\(rolled) answers read chunk rollups") }
    }
}
