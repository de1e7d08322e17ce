import Synchronization
import TallyStore

/// A top-k of one dimension by a measure ("the 20 users that cost most"), answered from the part rollups of the
/// parts it covers whole with the threshold algorithm (Fagin, Lotem and Naor, 2001).
///
/// Each source lists its rollup's entries by the measure, descending. The lists are read in step, one rank at a
/// time; a key seen for the first time gets its exact sums from every source (a binary search in each sorted
/// dictionary), and reading stops once the k-th best sum beats the sum of the measures at the current rank: a key
/// not yet seen is at or below the current rank in every list, so it cannot reach more. A top-20 of users over two
/// month parts of ~7,500 users each reads a few dozen ranks.
///
/// A part's ranked order is made on its first use and kept with the part (`PartMeta.derived`). Rows that are not in
/// such parts (the head's unsealed rows) are aggregated as usual and become one more ranked source.
struct RankedRollups {
    /// Sources beyond which the lookups cost more than the general merge (every first-seen key is looked up in each).
    static let maxSources = 16

    /// Where a part keeps its rollup of dimension `d` ranked by `order` (`PartMeta.derived`).
    static func orderSlot(_ d: Int, _ order: Query.Order) -> Int {
        d * Query.Order.allCases.count + Query.Order.allCases.firstIndex(of: order)!
    }

    /// Where a part keeps the rollup entry of each dictionary code of dimension `d`.
    static func entrySlot(_ d: Int) -> Int { Dimension.allCases.count * Query.Order.allCases.count + d }

    /// Where a part keeps its `OutsideSums` of dimension `d`.
    static func outsideSlot(_ d: Int) -> Int { Dimension.allCases.count * (Query.Order.allCases.count + 1) + d }

    /// The answer, or nil when this query is not a top-k this can answer: one dimension, no filters, no buckets or
    /// trailing windows, ordered by a measure, with a limit; at least one part covered whole or cut (below); at most
    /// `maxSources` sources; and the lists not read deeper than `maxSeen` keys (many equal measures).
    ///
    /// A part the range cuts, mostly inside it, with a rollup of the dimension, is a source of its own: its rollup less
    /// the rows outside the range (`cutSource`). Other parts the range cuts are aggregated with the head, as any
    /// query's, and ranked as one more source.
    static func answer(_ query: Query, _ snapshot: StoreSnapshot, engine: QueryEngine) throws -> QueryResult? {
        guard query.useRollups, query.trailing == nil, query.bucket == .none, query.filters.isEmpty,
              let limit = query.limit, query.order != .key,
              query.groupBy.count == 1, case let .dimension(dimension) = query.groupBy[0]
        else { return nil }
        let lo = query.from ?? .min, hi = query.to ?? .max
        var whole: [PartReader] = []
        var scanned: [PartReader] = []
        for part in query.tenants.parts(of: snapshot) where part.rows > 0 && part.maxTime >= lo && part.minTime < hi {
            // A part the range cuts is a source less its rows outside (`cutSource`), or goes to the general plan.
            if lo <= part.minTime && part.maxTime < hi { whole.append(part) } else { scanned.append(part) }
        }
        guard !whole.isEmpty || !scanned.isEmpty, whole.count <= maxSources else { return nil }

        var stats = QueryStatistics()
        var sources: [Source] = []
        let cut = scanned
        scanned = []
        for part in cut {
            if let source = try cutSource(part, query, dimension: dimension.rawValue, lo: lo, hi: hi, snapshot, engine, &stats) {
                sources.append(source)
            } else {
                scanned.append(part)
            }
        }
        guard !whole.isEmpty || !sources.isEmpty, whole.count + sources.count <= maxSources else { return nil }
        for part in whole {
            let m = try part.load()
            // A small part that kept no rollup of the dimension (too few rows per value) is scanned with the head.
            guard m.partRollupCount(dimension.rawValue) > 0 else {
                scanned.append(part)
                continue
            }
            sources.append(try Source(m, dimension: dimension.rawValue, order: query.order))
            stats.partsRead += 1
            stats.partsFromRollups += 1
            stats.hoursFromIndex += m.hourCount
        }
        // The head's rows and those parts' for these tenants, aggregated as any query's, then ranked.
        if !snapshot.heads.isEmpty || !scanned.isEmpty {
            let rest = StoreSnapshot(parts: scanned, heads: snapshot.heads, generation: snapshot.generation, store: snapshot.store)
            var dictionaries = KeyDictionaries(positions: 1)
            let table = try engine.aggregate(engine.spec(query, lo, hi), rest, &dictionaries, &stats)
            if let rest = Source(table, values: dictionaries.values(0), order: query.order) { sources.append(rest) }
            guard sources.count <= maxSources else { return nil }
        }

        let maxSeen = max(4096, sources.reduce(0) { $0 + $1.count } / 8)
        guard let best = topK(sources, limit: limit, order: query.order, maxSeen: maxSeen) else { return nil }
        let a = query.aggregates
        return QueryResult(
            groupBy: query.groupBy,
            keyColumns: [best.map(\.key)],
            bucketStarts: [],
            count: best.map(\.sums.count),
            inputTokens: a.contains(.inputTokens) ? best.map(\.sums.input) : [],
            outputTokens: a.contains(.outputTokens) ? best.map(\.sums.output) : [],
            cost: a.contains(.cost) ? best.map(\.sums.cost) : [],
            trailingDays: nil, trailingCost: [], previousTrailingCost: [],
            statistics: stats)
    }

    /// A part that `lo ..< hi` cuts, as a source: its rollup of dimension `d`, less the sums of its rows outside the
    /// range (aggregated by the engine, in the part's own codes); nil when it is not worth it (no rollup of `d`, or
    /// half of its rows or more outside) or cannot be done (a measure outside that is negative, so the rollup's would
    /// not bound the entries' from above).
    ///
    /// The entries keep the rollup's order and measures: with every measure outside at least zero, an entry's measure
    /// in the range is at most its rollup's, so the threshold, made of rollup measures, still bounds every key not
    /// yet seen, and each key seen gets its exact sums.
    static func cutSource(_ part: PartReader, _ query: Query, dimension d: Int, lo: Int64, hi: Int64,
                          _ snapshot: StoreSnapshot, _ engine: QueryEngine, _ stats: inout QueryStatistics) throws -> Source? {
        let m = try part.load()
        guard m.partRollupCount(d) > 0 else { return nil }
        var outsideRows = 0, insideHours = 0
        for h in m.hours {
            if h.start < lo || h.start + TimeUnit.hourMillis > hi { outsideRows += h.rows } else { insideHours += 1 }
        }
        guard 2 * outsideRows < m.rows else { return nil }
        var source = try Source(m, dimension: d, order: query.order)
        // The rollup's entry of each dictionary code (-1: none), made once per part.
        let entryOfCode = m.derived.value(entrySlot(d)) { [codes = source.codes] in
            var entries = [Int32](repeating: -1, count: m.dictionaries.sizes[d])
            for (e, c) in codes.enumerated() where Int(c) < entries.count { entries[Int(c)] = Int32(e) }
            return entries
        }
        // The rows outside are those of [minTime, lo) and [hi, maxTime]: the same for every window with these ends.
        let key = OutsideSums.Key(lo: max(lo, m.minTime), hi: min(hi, m.maxTime &+ 1), aggregates: query.aggregates, order: query.order)
        let kept = m.derived.value(outsideSlot(d)) { OutsideSums() }
        let less: [Sums]
        if let known = kept.sums(key) {
            guard let known else { return nil }
            less = known
        } else {
            var sums: [Sums]? = [Sums](repeating: Sums(), count: source.count)
            let only = StoreSnapshot(parts: [part], heads: [], generation: snapshot.generation, store: snapshot.store)
            var inner = QueryStatistics()
            outside: for (a, b) in [(m.minTime, lo), (hi, m.maxTime &+ 1)] where a < b {
                var dictionaries = KeyDictionaries(positions: 1)
                let table = try engine.aggregate(engine.spec(query, a, b), only, &dictionaries, &inner)
                guard !table.keys.isEmpty else { continue }
                // One source: its codes are the ids (the part's dictionary of `d`, which its rollup's codes index).
                guard let values = dictionaries.boundValues(0), values.count == m.dictionaries.sizes[d] else {
                    sums = nil
                    break outside
                }
                for (i, key) in table.keys.enumerated() {
                    let outside = Sums(count: table.count[i], input: table.input[i], output: table.output[i], cost: table.cost[i])
                    let code = Int(key.ids[0])
                    guard code < entryOfCode.count, entryOfCode[code] >= 0, outside.count >= 0, outside.measure(query.order) >= 0 else {
                        sums = nil
                        break outside
                    }
                    sums![Int(entryOfCode[code])].add(outside)
                }
            }
            kept.keep(key, sums)
            stats.granulesScanned += inner.granulesScanned
            stats.granulesSkipped += inner.granulesSkipped
            stats.rowsScanned += inner.rowsScanned
            stats.threads = max(stats.threads, inner.threads)
            guard let sums else { return nil }
            less = sums
        }
        source.less = less
        stats.partsRead += 1
        stats.partsLessOutside += 1
        stats.hoursFromIndex += insideHours
        return source
    }

    /// A cut part's rows outside a window, summed per rollup entry of one dimension (nil: the part cannot be a source
    /// for that window), for the last `kept` windows asked. The part never changes and dashboards ask the same window
    /// again and again: the cost summary of a tenant over the last 30 days cuts its month's part, and summing the rows
    /// outside was most of each answer. Bounded: at most `kept` lists a part and dimension, each as long as its rollup.
    final class OutsideSums: Sendable {
        struct Key: Equatable, Sendable {
            let lo: Int64, hi: Int64
            let aggregates: Set<Query.Aggregate>
            let order: Query.Order
        }

        static let kept = 2
        private let lists = Mutex<[(key: Key, sums: [Sums]?)]>([])

        /// The sums kept for `key` (`.some(nil)`: the part cannot be a source), or nil when none are kept.
        func sums(_ key: Key) -> [Sums]?? {
            lists.withLock { lists in
                guard let i = lists.firstIndex(where: { $0.key == key }) else { return nil }
                let hit = lists.remove(at: i)
                lists.insert(hit, at: 0)
                return .some(hit.sums)
            }
        }

        func keep(_ key: Key, _ sums: [Sums]?) {
            lists.withLock { lists in
                lists.removeAll { $0.key == key }
                lists.insert((key, sums), at: 0)
                if lists.count > Self.kept { lists.removeLast(lists.count - Self.kept) }
            }
        }
    }

    /// The `limit` best keys of `sources` by `order` (ties: keys in byte order), or nil past `maxSeen` keys.
    static func topK(_ sources: [Source], limit: Int, order: Query.Order, maxSeen: Int) -> [(key: String, sums: Sums)]? {
        var best: [(key: String, sums: Sums)] = []
        // Whether each source's entry has been seen (its key's sums are known).
        var seen = sources.map { [Bool](repeating: false, count: $0.count) }
        var seenKeys = 0
        var entries = [Int](repeating: -1, count: sources.count)
        func before(_ a: (key: String, sums: Sums), _ b: (key: String, sums: Sums)) -> Bool {
            let x = a.sums.measure(order), y = b.sums.measure(order)
            return x != y ? x > y : UTF8Order.precedes(a.key, b.key)
        }
        let depth = sources.reduce(0) { max($0, $1.count) }
        let subtracts = sources.contains { $0.less != nil }
        for rank in 0..<depth {
            var threshold: Int64 = 0
            for (i, s) in sources.enumerated() where rank < s.count {
                let entry = Int(s.order[rank])
                let (sum, overflow) = threshold.addingReportingOverflow(max(0, s.measures[entry]))
                threshold = overflow ? .max : sum
                guard !seen[i][entry] else { continue }
                // First sight of this key: its sums in every source.
                let key = s.key(entry)
                var sums = Sums()
                for (j, t) in sources.enumerated() {
                    entries[j] = j == i ? entry : t.entry(of: key)
                    guard entries[j] >= 0 else { continue }
                    seen[j][entries[j]] = true
                    sums.add(t.sums(entries[j]))
                }
                seenKeys += 1
                if seenKeys > maxSeen { return nil }
                // A key whose rows are all outside the range (a cut part's) is not a group.
                guard sums.count > 0 || !subtracts else { continue }
                let candidate = (key: key, sums: sums)
                guard best.count < limit || before(candidate, best[best.count - 1]) else { continue }
                best.insert(candidate, keepingFirst: limit, by: before)
            }
            // Strictly beaten: an unseen key reaching the threshold exactly could still win on its bytes.
            if best.count == limit, best[limit - 1].sums.measure(order) > threshold { break }
        }
        return best
    }

    /// Count and sums of one key.
    struct Sums {
        var count: Int64 = 0
        var input: Int64 = 0
        var output: Int64 = 0
        var cost: Int64 = 0

        mutating func add(_ o: Sums) {
            count &+= o.count; input &+= o.input; output &+= o.output; cost &+= o.cost
        }

        func subtracting(_ o: Sums) -> Sums {
            Sums(count: count &- o.count, input: input &- o.input, output: output &- o.output, cost: cost &- o.cost)
        }

        func measure(_ order: Query.Order) -> Int64 {
            switch order {
            case .key, .count: count
            case .cost: cost
            case .inputTokens: input
            case .outputTokens: output
            case .tokens: input &+ output
            }
        }
    }

    /// One source's entries: keys in byte order (`values[codes[e]]`), their sums, and the entries by the measure.
    struct Source {
        let values: [String]
        let codes: [UInt32]
        let counts: [Int64], input: [Int64], output: [Int64], cost: [Int64]
        /// The order's measure per entry.
        let measures: [Int64]
        /// Entries by the measure descending, ties by key.
        let order: [Int32]
        /// A cut part's: per entry, the sums of its rows outside the range, taken from its rollup's (`cutSource`).
        var less: [Sums]?

        var count: Int { codes.count }

        func key(_ e: Int) -> String { values[Int(codes[e])] }

        func sums(_ e: Int) -> Sums {
            let whole = Sums(count: counts[e], input: input[e], output: output[e], cost: cost[e])
            guard let less else { return whole }
            return whole.subtracting(less[e])
        }


        /// The entry of `key`, or -1.
        func entry(of key: String) -> Int {
            var a = 0, b = codes.count
            while a < b {
                let mid = (a + b) / 2
                let c = UTF8Order.compare(values[Int(codes[mid])], key)
                if c == 0 { return mid }
                if c < 0 { a = mid + 1 } else { b = mid }
            }
            return -1
        }

        /// A part's rollup of `dimension` (codes ascending over a sorted dictionary: keys in byte order; codes and counts
        /// checked where the footer is decoded), with its order by `order` made once per part.
        init(_ m: PartMeta, dimension d: Int, order: Query.Order) throws {
            let r = try m.partRollup(d)
            let measures: [Int64] = switch order {
            case .key, .count: r.counts
            case .cost: r.cost
            case .inputTokens: r.inputTokens
            case .outputTokens: r.outputTokens
            case .tokens: zip(r.inputTokens, r.outputTokens).map { $0 &+ $1 }
            }
            let ranked = m.derived.value(RankedRollups.orderSlot(d, order)) { Self.ranked(measures) }
            self.init(values: m.dictionaries[d], codes: r.codes, counts: r.counts, input: r.inputTokens, output: r.outputTokens,
                      cost: r.cost, measures: measures, order: ranked)
        }

        /// The groups of `table` (one key position, ids into `values`), or nil when it has none.
        init?(_ table: GroupTable, values: [String], order: Query.Order) {
            let byKey = table.keys.indices.filter { table.count[$0] > 0 }
                .sorted { UTF8Order.precedes(values[Int(table.keys[$0].ids[0])], values[Int(table.keys[$1].ids[0])]) }
            guard !byKey.isEmpty else { return nil }
            let sums = byKey.map { Sums(count: table.count[$0], input: table.input[$0], output: table.output[$0], cost: table.cost[$0]) }
            let measures = sums.map { $0.measure(order) }
            self.init(values: byKey.map { values[Int(table.keys[$0].ids[0])] }, codes: (0..<UInt32(byKey.count)).map { $0 },
                      counts: sums.map(\.count), input: sums.map(\.input), output: sums.map(\.output), cost: sums.map(\.cost),
                      measures: measures, order: Self.ranked(measures))
        }

        /// Entries `values[codes[e]]` in byte order with their sums; `measures` the order's measure of each entry.
        init(values: [String], codes: [UInt32], counts: [Int64], input: [Int64], output: [Int64], cost: [Int64],
                     measures: [Int64], order: [Int32]) {
            (self.values, self.codes, self.counts, self.input, self.output, self.cost) = (values, codes, counts, input, output, cost)
            (self.measures, self.order) = (measures, order)
        }

        /// Entry indices by `measures` descending; equal measures keep entry (key byte) order.
        static func ranked(_ measures: [Int64]) -> [Int32] {
            (0..<Int32(measures.count)).sorted { a, b in
                measures[Int(a)] != measures[Int(b)] ? measures[Int(a)] > measures[Int(b)] : a < b
            }
        }
    }
}
