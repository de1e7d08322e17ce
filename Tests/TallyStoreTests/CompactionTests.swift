import Testing
import TallyTestSupport
@testable import TallyStore

@Suite("Compaction: a tenant-month's parts merged size-tiered")
struct CompactionTests {
    @Test("which parts of a tenant-month merge next", arguments: [
        // (rows ascending, small, max, expected count)
        ([40, 40, 40, 40], 10, 1_000, 4),  // spills of one load: all of them
        ([5, 8], 10, 1_000, 2),  // small parts always merge
        ([5, 500], 10, 1_000, 0),  // a small part does not drag a large one along
        ([160, 500], 10, 1_000, 0),  // 660 < 1.5 x 500: rewriting 500 rows to add 160 waits
        ([300, 400, 500], 10, 1_000, 2),  // only 300 + 400 fit, and 700 >= 1.5 x 400
        ([100, 100, 900], 10, 1_000, 2),  // the two small ones of the large tier
        ([600, 600], 10, 1_000, 0),  // would exceed the largest part allowed
        ([1_000], 10, 1_000, 0),
        ([], 10, 1_000, 0),
    ] as [([Int], Int, Int, Int)])
    func choice(rows: [Int], small: Int, max: Int, expected: Int) {
        #expect(Store.mergeCount(ascendingRows: rows, smallPartRows: small, maxPartRows: max) == expected)
    }

    /// Parts of `arriving` rows land one by one in a tenant-month and are merged as compaction would:
    /// every row is rewritten a bounded number of times, and few parts stay.
    @Test("rows are rewritten a bounded number of times and few parts stay", arguments: [
        (100, 10, 4_000), (300_000, 250_000, 4_000_000), (50_000, 250_000, 4_000_000), (1_000_000, 250_000, 4_000_000),
    ])
    func writeAmplification(arriving: Int, small: Int, max: Int) {
        var parts: [Int] = []
        var written = 0
        var arrived = 0
        var mostParts = 0
        for _ in 0..<200 {
            parts.append(arriving)
            arrived += arriving
            while true {
                parts.sort()
                let n = Store.mergeCount(ascendingRows: parts, smallPartRows: small, maxPartRows: max)
                if n < 2 { break }
                let merged = parts[..<n].reduce(0, +)
                written += merged
                parts.removeFirst(n)
                parts.append(merged)
            }
            // Parts below the largest size: a logarithmic tier count, not one per arrival.
            mostParts = Swift.max(mostParts, parts.filter { $0 <= max / 2 }.count)
        }
        var bound = 1.0
        var size = Double(Swift.max(arriving, small))
        while size < Double(max) { size *= 1.5; bound += 1 }
        #expect(Double(written) <= Double(arrived) * bound, "\(written) rows written for \(arrived) arrived (bound \(bound)x)")
        #expect(mostParts <= 2 * Int(bound), "\(mostParts) parts below half the largest size")
    }

    @Test("a tenant-month left in several large parts becomes one, with the same rows and hour rollups")
    func largePartsOfATenantMonthMerge() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        var options = testOptions()
        options.smallPartRows = 50
        options.maxPartRows = 10_000
        let store = try Store(path: dir.path, options: options)
        defer { try? store.close() }
        let all = RandomRecords(seed: 77, options: .init(tenants: 1)).records(1_200)
        for chunk in stride(from: 0, to: all.count, by: 300) {
            _ = try store.append(RecordBatch(all[chunk..<chunk + 300]))
            try store.flush()
        }
        #expect(store.snapshot().parts.count == 4)
        #expect(try store.compact() == 1)
        let after = store.snapshot()
        #expect(after.parts.count == 1)
        #expect(after.parts[0].rows == 1_200)
        #expect(sorted(try after.records()) == sorted(all))
        #expect(after.parts[0].meta.hours.reduce(0) { $0 + $1.cost } == all.reduce(0) { $0 + $1.costNanos })
        #expect(try store.compact() == 0, "nothing left to merge")
    }

    @Test("a large part and a much smaller one of the same month are left apart")
    func aSmallAdditionDoesNotRewriteALargePart() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        var options = testOptions()
        options.smallPartRows = 50
        let store = try Store(path: dir.path, options: options)
        defer { try? store.close() }
        let all = RandomRecords(seed: 78, options: .init(tenants: 1)).records(1_100)
        _ = try store.append(RecordBatch(all[0..<1_000]))
        try store.flush()
        _ = try store.append(RecordBatch(all[1_000...]))
        try store.flush()
        #expect(try store.compact() == 0)
        #expect(store.snapshot().parts.count == 2)
        #expect(sorted(try store.snapshot().records()) == sorted(all))
    }
}
