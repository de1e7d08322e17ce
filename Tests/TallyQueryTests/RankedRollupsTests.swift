import Testing
import TallyStore
import TallySynthetic
import TallyTestSupport
@testable import TallyQuery

/// The top-k of one dimension answered from ranked part rollups (`RankedRollups`): its stopping rule against a
/// brute-force top-k, and the engine's answers against the reference aggregator.
@Suite struct RankedRollupsTests {
    /// A source of `entries` (key, count, cost), keys made distinct and sorted by bytes.
    static func source(_ entries: [(String, Int64, Int64)], order: Query.Order) -> RankedRollups.Source {
        var unique: [String: (Int64, Int64)] = [:]
        for (k, n, c) in entries { unique[k] = (n, c) }
        let keys = unique.keys.sorted(by: UTF8Order.precedes)
        let counts = keys.map { unique[$0]!.0 }, cost = keys.map { unique[$0]!.1 }
        let measures = order == .count ? counts : cost
        return RankedRollups.Source(values: keys, codes: (0..<UInt32(keys.count)).map { $0 }, counts: counts,
                                    input: counts.map { $0 * 3 }, output: counts.map { $0 * 2 }, cost: cost,
                                    measures: measures, order: RankedRollups.Source.ranked(measures))
    }

    /// Small measures (many ties, many zeros) over overlapping keys in up to five sources: the threshold algorithm's
    /// answer equals the top-k of every key's summed measures, ties broken by bytes, and it stops early on the easy ones.
    @Test func thresholdTopKEqualsBruteForce() {
        var rng = Xoshiro256(seed: 7, stream: 1)
        let alphabet = ["a", "b", "ab", "B", "é", "e\u{301}", "zz", "z", "", "m", "n", "0", "10", "9"]
        var stoppedEarly = 0
        for trial in 0..<3000 {
            let order: Query.Order = rng.below(2) == 0 ? .cost : .count
            let sources = (0..<(1 + rng.below(5))).map { _ in
                Self.source((0..<rng.below(12)).map { _ in
                    (alphabet[rng.below(alphabet.count)], Int64(rng.below(4)), Int64(rng.below(trial % 3 == 0 ? 3 : 1000)))
                }, order: order)
            }
            let limit = 1 + rng.below(6)
            // Brute force: sum every key over every source.
            var totals: [[UInt8]: (key: String, sums: RankedRollups.Sums)] = [:]
            for s in sources {
                for e in 0..<s.count {
                    let k = s.key(e)
                    var t = totals[Array(k.utf8)] ?? (k, RankedRollups.Sums())
                    t.sums.add(s.sums(e))
                    totals[Array(k.utf8)] = t
                }
            }
            let expected = totals.values.sorted { a, b in
                let x = a.sums.measure(order), y = b.sums.measure(order)
                return x != y ? x > y : UTF8Order.precedes(a.key, b.key)
            }.prefix(limit)
            guard let got = RankedRollups.topK(sources, limit: limit, order: order, maxSeen: .max) else {
                Issue.record("trial \(trial): no answer")
                continue
            }
            #expect(got.map(\.key) == expected.map(\.key), "trial \(trial)")
            #expect(got.map(\.sums.count) == expected.map(\.sums.count) && got.map(\.sums.cost) == expected.map(\.sums.cost)
                        && got.map(\.sums.input) == expected.map(\.sums.input), "trial \(trial)")
            if totals.count > limit + 3 && got.count == limit { stoppedEarly += 1 }
        }
        #expect(stoppedEarly > 500)
    }

    /// Past `maxSeen` keys the algorithm gives up (the engine then runs the general plan).
    @Test func givesUpPastMaxSeen() {
        let flat = (0..<50).map { ("k\($0)", Int64(1), Int64(1)) }
        let sources = [Self.source(flat, order: .cost), Self.source(flat.reversed(), order: .cost)]
        #expect(RankedRollups.topK(sources, limit: 3, order: .cost, maxSeen: 10) == nil)
        #expect(RankedRollups.topK(sources, limit: 3, order: .cost, maxSeen: 100)?.map(\.key) == ["k0", "k1", "k10"])
    }

    /// On stores with whole parts, cut parts and head rows: every top-k of one dimension equals the reference's, the
    /// ranked path answers when a part is whole, and it reads no rows but the head's, those of the parts without a
    /// rollup of the dimension, and those of the parts the range cuts.
    @Test(arguments: 0..<4)
    func topKQueriesMatchTheReference(seed: Int) throws {
        let f = try QueryFixture(seed: UInt64(seed), dense: seed % 2 == 0)
        var rng = Xoshiro256(seed: UInt64(seed), stream: 5)
        var ranked = 0, rankedCut = 0, lessOutside = 0, general = 0
        for i in 0..<200 {
            let d = Dimension.allCases[rng.below(Dimension.allCases.count)]
            let tenants: Query.Tenants = switch rng.below(3) {
            case 0: .all
            case 1: .one(f.tenants[rng.below(f.tenants.count)])
            default: .some([f.tenants[0], f.tenants[f.tenants.count - 1]])
            }
            // Open ranges cover every part whole; a range that cuts parts at its start, its end or both takes each
            // cut part's rollup less its rows outside, or aggregates the part with the head.
            let cut = rng.below(3)
            let from: Int64? = cut == 1 || rng.below(8) == 0 ? f.window.lowerBound + QueryFixture.hour * Int64(1 + rng.below(5)) : nil
            let to: Int64? = cut == 2 || rng.below(8) == 0 ? f.window.upperBound - QueryFixture.hour * Int64(1 + rng.below(5)) : nil
            let order = [Query.Order.cost, .count, .inputTokens, .outputTokens, .tokens][rng.below(5)]
            let query = try Query(tenants: tenants, from: from, to: to, groupBy: [.dimension(d)], order: order, limit: 1 + rng.below(25))
            let expected = f.reference.run(query)
            let got = try QueryEngine(threads: 1 + rng.below(2)).run(query, on: f.snapshot)
            #expect(got == expected, "seed \(seed) query \(i): \(d) \(tenants) from \(from.map(String.init) ?? "-") to \(to.map(String.init) ?? "-") \(order)")
            if let direct = try RankedRollups.answer(query, f.snapshot, engine: QueryEngine()) {
                #expect(direct == expected, "seed \(seed) query \(i), ranked")
                ranked += 1
                if from != nil || to != nil { rankedCut += 1 }
                if direct.statistics.partsLessOutside > 0 { lessOutside += 1 }
                // Rows scanned: the head's, and those of the parts that kept no rollup of the dimension or that the
                // range cuts.
                let unrolled = f.snapshot.parts.filter {
                    $0.meta.partRollupCount(d.rawValue) == 0 || $0.minTime < (from ?? .min) || $0.maxTime >= (to ?? .max)
                }
                #expect(direct.statistics.partsFromRollups + unrolled.filter { query.selects(tenant: $0.tenant) }.count >= direct.statistics.partsRead)
                #expect(direct.statistics.rowsScanned <= f.snapshot.heads.reduce(0) { $0 + $1.rows } + unrolled.reduce(0) { $0 + $1.rows })
            } else {
                general += 1
            }
        }
        #expect(ranked > 100 && rankedCut > 10 && lessOutside > 10,
                "ranked \(ranked) (cut ranges \(rankedCut), of which with a cut part's rollup less outside \(lessOutside)) general \(general)")
    }

    /// A cut part's rows outside a window are summed once for the last two windows asked: the same question again
    /// scans nothing and answers the same; a third window pushes out the first, which is summed again.
    @Test func aCutPartsOutsideSumsAreKeptForTheLastWindows() throws {
        let dir = try TemporaryDirectory(prefix: "tally-outside-sums")
        defer { dir.remove() }
        let window = (QueryFixture.june - 10 * QueryFixture.day)..<(QueryFixture.june - QueryFixture.day)
        let store = try Store(path: dir.path, options: queryTestOptions())
        defer { try? store.close() }
        _ = try store.append(RecordBatch(RandomRecords(seed: 12, options: .init(tenants: 1, usersPerTenant: 40, window: window)).records(4000)))
        try store.flush()
        let snapshot = store.snapshot()
        #expect(snapshot.heads.isEmpty && snapshot.parts.count == 1)
        let reference = ReferenceAggregator(records: try snapshot.records())
        let engine = QueryEngine(threads: 1)
        func ask(fromDay: Int64, _ order: Query.Order = .cost) throws -> QueryStatistics {
            let query = try Query(tenants: .all, from: window.lowerBound + fromDay * QueryFixture.day,
                                  groupBy: [.dimension(.user)], order: order, limit: 5)
            let got = try engine.run(query, on: snapshot)
            #expect(got == reference.run(query), "from day \(fromDay) \(order)")
            #expect(got.statistics.partsLessOutside == 1)
            return got.statistics
        }
        #expect(try ask(fromDay: 1).rowsScanned > 0)
        #expect(try ask(fromDay: 1).rowsScanned == 0)
        #expect(try ask(fromDay: 1, .count).rowsScanned > 0)
        #expect(try ask(fromDay: 1).rowsScanned == 0)
        #expect(try ask(fromDay: 2).rowsScanned > 0)
        #expect(try ask(fromDay: 3).rowsScanned > 0)
        #expect(try ask(fromDay: 1).rowsScanned > 0)
        #expect(try ask(fromDay: 3).rowsScanned == 0)
    }
}

