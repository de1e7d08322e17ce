import Dispatch
import Synchronization
import TallyStore

/// Runs queries over a store snapshot: plans each source, answers whole hours from the hour index,
/// scans the rest on up to `threads` threads, merges partial results by key strings, then fills empty
/// buckets, adds trailing windows, orders and cuts.
///
/// Results do not depend on `threads`: sums are exact integers and the final order is total.
public struct QueryEngine: Sendable {
    /// Scan threads at most.
    public var threads: Int
    /// Scans of fewer rows stay on the calling thread.
    public var parallelThreshold: Int
    /// Rows per unit of work handed to a scan thread.
    public var unitRows: Int
    /// Largest flat key space, and the bound past which keys are re-keyed (lowered by tests only).
    var flatLimit = KeyLayout.flatLimit
    var rekeyLimit = KeyLayout.rekeyLimit
    var laneLimit = KeyLayout.laneLimit
    /// Parts covered whole from which a grouped sum of one dimension adds their rollups straight into its groups
    /// (`WholePartRollups`); with fewer, the general plan is as quick (lowered by tests).
    var wholeRollupParts = 64
    /// Parts from which the general plan plans, scans and merges its small parts on every scan thread
    /// (`aggregateManyParts`); with fewer, one thread plans and merges (lowered by tests).
    var manyParts = 256

    /// An engine using up to `threads` scan threads.
    public init(threads: Int = 2, parallelThreshold: Int = 262_144, unitRows: Int = 131_072) {
        self.threads = max(1, threads)
        self.parallelThreshold = parallelThreshold
        self.unitRows = max(1, unitRows)
    }

    /// Answers `query` from `snapshot`.
    ///
    /// A damaged part is quarantined (when the snapshot knows its store) and reported as `.storage`.
    public func run(_ query: Query, on snapshot: StoreSnapshot) throws(QueryError) -> QueryResult {
        do {
            var result = try execute(query, snapshot)
            result.missing = Self.missing(query, snapshot)
            return result
        } catch let e as StoreError {
            if case let .corrupt(path, _, _) = e { try? snapshot.store?.quarantine(partPath: path, because: e) }
            throw .storage(e)
        } catch let e as QueryError {
            throw e
        } catch {
            throw .storage(.invalidArgument("\(error)"))
        }
    }

    /// Whether `query` is a series or the totals of one tenant over whole hours, answered from hour totals already in
    /// memory (footers this process has read) and the heads: no part block is read and no part row scanned, so it takes
    /// microseconds and a caller may run it in place instead of handing it to a thread.
    public func answersFromMemory(_ query: Query, on snapshot: StoreSnapshot) -> Bool {
        TimeTotals.answersFromMemory(query, snapshot)
    }

    /// The unreadable parts that may hold rows this query would have counted (its tenants, its range and the
    /// trailing days before it): the answer is incomplete by them.
    static func missing(_ query: Query, _ snapshot: StoreSnapshot) -> [MissingPart] {
        guard !snapshot.missing.isEmpty else { return [] }
        let tenants: [String]? = switch query.tenants {
        case let .one(t): [t]
        case let .some(list): list
        case .all: nil
        }
        var lo = query.from ?? .min
        if let t = query.trailing, lo != .min {
            lo = TimeUnit.dayStart(lo) - Int64(t.days * (t.previous ? 2 : 1)) * TimeUnit.dayMillis
        }
        return snapshot.missing(tenants: tenants, from: lo, to: query.to ?? .max)
    }

    private func execute(_ query: Query, _ snapshot: StoreSnapshot) throws -> QueryResult {
        if let ranked = try RankedRollups.answer(query, snapshot, engine: self) { return ranked }
        if let series = try TimeTotals.answer(query, snapshot) { return series }
        if let merged = try WholePartRollups.answer(query, snapshot, engine: self) { return merged }
        var dictionaries = KeyDictionaries(positions: query.groupBy.count)
        var stats = QueryStatistics()
        let hi = query.to ?? .max
        guard let trailing = query.trailing else {
            let main = try aggregate(spec(query, query.from ?? .min, hi), snapshot, &dictionaries, &stats)
            return finish(query, main, trailingSource: nil, dictionaries, stats)
        }
        // Trailing windows look back whole days before `from`: aggregate daily from the start of the
        // earliest window, then take the rows of the range out of it.
        let span = trailing.days * (trailing.previous ? 2 : 1)
        let firstDay = query.from.map(TimeUnit.dayStart)
        let extended = try aggregate(
            spec(query, firstDay.map { $0 - Int64(span - 1) * TimeUnit.dayMillis } ?? .min, hi),
            snapshot, &dictionaries, &stats)
        var main = GroupTable()
        for (i, key) in extended.keys.enumerated() where firstDay == nil || key.bucket >= firstDay! {
            main.add(key, extended.count[i], extended.input[i], extended.output[i], extended.cost[i])
        }
        if let from = query.from, let firstDay, from != firstDay {
            // `from` cuts its day: remove that day's rows before `from`.
            let before = try aggregate(spec(query, firstDay, from), snapshot, &dictionaries, &stats)
            for (i, key) in before.keys.enumerated() {
                guard let at = main.find(key) else { continue }
                main.count[at] -= before.count[i]
                main.input[at] -= before.input[i]
                main.output[at] -= before.output[i]
                main.cost[at] -= before.cost[i]
            }
        }
        return finish(query, main, trailingSource: extended, dictionaries, stats)
    }

    // MARK: One run: plan, scan, merge

    func spec(_ query: Query, _ lo: Int64, _ hi: Int64) -> ScanSpec {
        var s = ScanSpec(query: query, lo: lo, hi: hi)
        s.flatLimit = flatLimit
        s.rekeyLimit = rekeyLimit
        s.laneLimit = laneLimit
        return s
    }

    func aggregate(_ spec: ScanSpec, _ snapshot: StoreSnapshot, _ dictionaries: inout KeyDictionaries,
                           _ stats: inout QueryStatistics) throws -> GroupTable {
        var table = GroupTable()
        var planner = Planner(spec)
        let parts = spec.query.tenants.parts(of: snapshot)
        var plans: [SourcePlan]
        var subtracted = false
        if threads > 1 && Self.inRange(parts, spec, atLeast: manyParts) {
            plans = try aggregateManyParts(spec, parts, &dictionaries, &stats, into: &table, subtracted: &subtracted)
        } else {
            plans = []
            for p in parts {
                if let plan = try planner.plan(part: p) { plans.append(plan) }
            }
        }
        plans += planner.planHeads(snapshot)
        stats.add(planner.stats)
        return try aggregate(spec, plans, &dictionaries, &stats, into: &table, subtracted: subtracted)
    }

    /// Whether at least `n` of `parts` have rows in the range of `spec` (`n` > 0).
    private static func inRange(_ parts: [PartReader], _ spec: ScanSpec, atLeast n: Int) -> Bool {
        guard parts.count >= n else { return false }
        var found = 0
        for p in parts where p.rows > 0 && p.maxTime >= spec.lo && p.minTime < spec.hi {
            found += 1
            if found >= n { return true }
        }
        return false
    }

    /// Scans `plans` (on up to `threads` threads) and merges them into `table`.
    private func aggregate(_ spec: ScanSpec, _ plans: [SourcePlan], _ dictionaries: inout KeyDictionaries,
                           _ stats: inout QueryStatistics, into table: inout GroupTable, subtracted: Bool) throws -> GroupTable {
        var units: [WorkUnit] = []
        for (i, plan) in plans.enumerated() {
            switch plan.source {
            case let .part(part):
                // A part answered from its rollups scans no granule.
                guard !plan.granules.isEmpty else { continue }
                var start = 0, rows = 0
                let granules = part.granules
                for (k, g) in plan.granules.enumerated() {
                    rows += granules[g].rows
                    if rows >= unitRows {
                        units.append(WorkUnit(plan: i, start: start, end: k + 1, rows: rows))
                        start = k + 1
                        rows = 0
                    }
                }
                if start < plan.granules.count { units.append(WorkUnit(plan: i, start: start, end: plan.granules.count, rows: rows)) }
            case let .head(head):
                if plan.indexOnly { continue }
                // Runs of consecutive chunks to scan (chunks answered from their rollups end a run).
                var start = 0, rows = 0
                for (k, n) in head.chunkRows.enumerated() {
                    if !plan.rolledUpChunks.isEmpty && plan.rolledUpChunks[k] {
                        if start < k { units.append(WorkUnit(plan: i, start: start, end: k, rows: rows)) }
                        start = k + 1
                        rows = 0
                        continue
                    }
                    rows += n
                    if rows >= unitRows {
                        units.append(WorkUnit(plan: i, start: start, end: k + 1, rows: rows))
                        start = k + 1
                        rows = 0
                    }
                }
                if start < head.chunkRows.count { units.append(WorkUnit(plan: i, start: start, end: head.chunkRows.count, rows: rows)) }
            }
        }
        let totalRows = units.reduce(0) { $0 + $1.rows }
        let workers = totalRows >= parallelThreshold ? max(1, min(threads, units.count)) : 1
        stats.threads = max(stats.threads, workers)

        let results = WorkerResults<WorkerOutput>(workers: workers)
        let measures = spec.measures
        if workers <= 1 {
            Self.work(0, units, plans, measures, results, shared: nil)
        } else {
            let counter = UnitCounter()
            let units = units
            DispatchQueue.concurrentPerform(iterations: workers) { w in
                Self.work(w, units, plans, measures, results, shared: counter)
            }
        }
        let outputs = results.take()
        for o in outputs {
            if let e = o.error { throw e }
            stats.add(o.stats)
        }

        // One source holding every group: its codes become the ids of the key positions still empty.
        let contributing = plans.indices.filter { i in plans[i].indexed != nil || outputs.contains { $0.partials[i] != nil } }
        if contributing.count == 1 {
            let plan = plans[contributing[0]]
            for (p, key) in spec.query.groupBy.enumerated() {
                guard case let .dimension(d) = key, dictionaries.isEmpty(p) else { continue }
                dictionaries.bind(p, to: plan, values: plan.dictionaries[d.rawValue])
            }
        }

        // Merge in a fixed order: plans, then the index partial, then workers.
        for (i, plan) in plans.enumerated() {
            // Global id of each code of each group dimension, found on first use (not for bound positions).
            var maps: [[Int32]] = []
            for (p, key) in spec.query.groupBy.enumerated() {
                guard case let .dimension(d) = key else { continue }
                maps.append(dictionaries.isBound(p, to: plan) ? [] : [Int32](repeating: -1, count: plan.dictionaries.sizes[d.rawValue]))
            }
            if let p = plan.indexed {
                table.absorb(p, of: plan, groupBy: spec.query.groupBy, dictionaries: &dictionaries, maps: &maps)
            }
            for o in outputs {
                if let p = o.partials[i] {
                    table.absorb(p, of: plan, groupBy: spec.query.groupBy, dictionaries: &dictionaries, maps: &maps,
                                 subtracting: plan.subtractsScan)
                }
            }
        }
        // A part rollup less the rows outside the range can leave a group with no rows in it.
        if subtracted || plans.contains(where: \.subtractsScan) { table.dropEmpty() }
        return table
    }

    /// One scan thread: takes units in order (all of them, or the next free one when shared) until none is left.
    private static func work(_ w: Int, _ units: [WorkUnit], _ plans: [SourcePlan], _ measures: Measures,
                             _ results: WorkerResults<WorkerOutput>, shared: UnitCounter?) {
        var worker = ScanWorker(measures: measures)
        var output = WorkerOutput(partials: [Partial?](repeating: nil, count: plans.count))
        var u = 0
        while true {
            if let shared { u = shared.take() }
            guard u < units.count else { break }
            let unit = units[u]
            let plan = plans[unit.plan]
            let partial = output.partials[unit.plan] ?? Partial(plan.layout)
            output.partials[unit.plan] = partial
            do {
                try worker.run(unit, plan, into: partial)
            } catch {
                output.error = error
                break
            }
            u += 1
        }
        output.stats = worker.stats
        results.put(w, output)
    }

    // MARK: Finishing: groups, empty buckets, trailing windows, order, limit

    func finish(_ query: Query, _ main: GroupTable, trailingSource: GroupTable?, _ dictionaries: KeyDictionaries,
                        _ stats: QueryStatistics) -> QueryResult {
        let (groupIndex, mainGroup, minBucket, maxBucket) = Self.groups(query, main)
        let groups = groupIndex.keys.map(\.ids)
        let (rowGroup, rowBucket) = Self.resultRows(query, main, groups, mainGroup, minBucket, maxBucket)
        let (count, input, output, cost) = Self.sums(main, groups, rowGroup, rowBucket)
        var trailingCost: [Int64] = []
        var previousCost: [Int64] = []
        if let trailing = query.trailing, let source = trailingSource {
            (trailingCost, previousCost) = Self.trailingWindows(trailing, source, groupIndex, groups, rowGroup, rowBucket)
        }
        let rows = Self.orderAndLimit(query, dictionaries, groups, rowGroup, rowBucket,
                                      count: count, input: input, output: output, cost: cost)
        let positions = query.groupBy.count
        let keyColumns: [[String]] = (0..<positions).map { p in
            let values = dictionaries.values(p)
            return rows.map { values[Int(groups[rowGroup[$0]][p])] }
        }
        let a = query.aggregates
        return QueryResult(
            groupBy: query.groupBy,
            keyColumns: keyColumns,
            bucketStarts: query.bucket == .none ? [] : rows.map { rowBucket[$0] },
            count: rows.map { count[$0] },
            inputTokens: a.contains(.inputTokens) ? rows.map { input[$0] } : [],
            outputTokens: a.contains(.outputTokens) ? rows.map { output[$0] } : [],
            cost: a.contains(.cost) ? rows.map { cost[$0] } : [],
            trailingDays: query.trailing?.days,
            trailingCost: query.trailing == nil ? [] : rows.map { trailingCost[$0] },
            previousTrailingCost: query.trailing?.previous == true ? rows.map { previousCost[$0] } : [],
            statistics: stats)
    }

    /// The groups of the result: those with rows in the range; with no group keys, the one group, always. Also the
    /// group of each row of `main` (-1: no rows in the range) and the first and last bucket with rows.
    private static func groups(_ query: Query, _ main: GroupTable)
        -> (index: MergeIndex, mainGroup: [Int], minBucket: Int64, maxBucket: Int64) {
        var groupIndex = MergeIndex()
        groupIndex.reserve(query.bucket == .none ? main.keys.count + 1 : 0)
        if query.groupBy.isEmpty { _ = groupIndex.insert(MergeKey(ids: SIMD8(repeating: -1), bucket: 0)) }
        var minBucket = Int64.max, maxBucket = Int64.min
        // Group of each row of `main` (-1: no rows in the range).
        var mainGroup = [Int](repeating: -1, count: main.keys.count)
        for (i, key) in main.keys.enumerated() where main.count[i] > 0 {
            mainGroup[i] = groupIndex.insert(MergeKey(ids: key.ids, bucket: 0)).index
            minBucket = min(minBucket, key.bucket)
            maxBucket = max(maxBucket, key.bucket)
        }
        return (groupIndex, mainGroup, minBucket, maxBucket)
    }

    /// Result rows as (group, bucket start): each group once without buckets; every bucket of the range for each group
    /// when empty buckets are filled; else the buckets with rows.
    private static func resultRows(_ query: Query, _ main: GroupTable, _ groups: [SIMD8<Int32>], _ mainGroup: [Int],
                                   _ minBucket: Int64, _ maxBucket: Int64) -> (rowGroup: [Int], rowBucket: [Int64]) {
        let width = query.bucket.millis
        var rowGroup: [Int] = []
        var rowBucket: [Int64] = []
        if query.bucket == .none {
            rowGroup = Array(groups.indices)
            rowBucket = Array(repeating: 0, count: groups.count)
        } else if query.fillEmptyBuckets {
            let first = query.from.map(query.bucket.start) ?? minBucket
            let last = query.to.map { query.bucket.start($0 - 1) } ?? maxBucket
            if first <= last {
                let n = Int((last - first) / width) + 1
                rowGroup.reserveCapacity(groups.count * n)
                for g in groups.indices {
                    for b in 0..<n {
                        rowGroup.append(g)
                        rowBucket.append(first + Int64(b) * width)
                    }
                }
            }
        } else {
            for (i, key) in main.keys.enumerated() where mainGroup[i] >= 0 {
                rowGroup.append(mainGroup[i])
                rowBucket.append(key.bucket)
            }
        }
        return (rowGroup, rowBucket)
    }

    /// The sums of each result row, found in `main` (zero for an empty bucket).
    private static func sums(_ main: GroupTable, _ groups: [SIMD8<Int32>], _ rowGroup: [Int], _ rowBucket: [Int64])
        -> (count: [Int64], input: [Int64], output: [Int64], cost: [Int64]) {
        let n = rowGroup.count
        var count = [Int64](repeating: 0, count: n)
        var input = count, output = count, cost = count
        for r in 0..<n {
            guard let at = main.find(MergeKey(ids: groups[rowGroup[r]], bucket: rowBucket[r])) else { continue }
            count[r] = main.count[at]
            input[r] = main.input[at]
            output[r] = main.output[at]
            cost[r] = main.cost[at]
        }
        return (count, input, output, cost)
    }

    /// Per result row: the cost of the trailing window ending on its day and, when asked, of the window before it.
    private static func trailingWindows(_ trailing: Query.Trailing, _ source: GroupTable, _ groupIndex: MergeIndex,
                                        _ groups: [SIMD8<Int32>], _ rowGroup: [Int], _ rowBucket: [Int64])
        -> (trailing: [Int64], previous: [Int64]) {
        let n = rowGroup.count
        var trailingCost: [Int64] = []
        var previousCost: [Int64] = []
        // Per group: its days with cost, ascending, and prefix sums over them.
        var days = [[Int64]](repeating: [], count: groups.count)
        var costs = [[Int64]](repeating: [], count: groups.count)
        var order = [(Int64, Int64)]()
        var perGroup = [[(Int64, Int64)]](repeating: [], count: groups.count)
        for (i, key) in source.keys.enumerated() {
            guard let g = groupIndex.find(MergeKey(ids: key.ids, bucket: 0)) else { continue }
            perGroup[g].append((key.bucket, source.cost[i]))
        }
        for g in groups.indices {
            order = perGroup[g].sorted { $0.0 < $1.0 }
            days[g] = order.map(\.0)
            var prefix: [Int64] = [0]
            prefix.reserveCapacity(order.count + 1)
            for (_, c) in order { prefix.append(prefix[prefix.count - 1] + c) }
            costs[g] = prefix
        }
        let day = TimeUnit.dayMillis
        let span = Int64(trailing.days)
        func windowSum(_ g: Int, _ from: Int64, _ through: Int64) -> Int64 {
            let d = days[g]
            return costs[g][Self.lowerBound(d, through + 1)] - costs[g][Self.lowerBound(d, from)]
        }
        trailingCost.reserveCapacity(n)
        for r in 0..<n {
            let d = rowBucket[r]
            trailingCost.append(windowSum(rowGroup[r], d - (span - 1) * day, d))
            if trailing.previous {
                previousCost.append(windowSum(rowGroup[r], d - (2 * span - 1) * day, d - span * day))
            }
        }
        return (trailingCost, previousCost)
    }

    /// The result rows to return, in order, cut at the limit.
    private static func orderAndLimit(_ query: Query, _ dictionaries: KeyDictionaries, _ groups: [SIMD8<Int32>],
                                      _ rowGroup: [Int], _ rowBucket: [Int64],
                                      count: [Int64], input: [Int64], output: [Int64], cost: [Int64]) -> [Int] {
        let n = rowGroup.count
        // Order: the measure descending, then the keys ascending (strings by bytes, then the bucket).
        let positions = query.groupBy.count
        // Each group's ids as the byte-order ranks of their strings, made when the order first compares keys (a top-k
        // by a measure without ties never does: ranking a million users' strings is not free). A rank looked up per
        // comparison, through a class that made them lazily, was most of a 68,000-row answer's sort.
        var ranked: [SIMD8<Int32>] = []
        func keyLess(_ a: Int, _ b: Int) -> Bool {
            if ranked.isEmpty { ranked = Self.ranked(groups, positions, dictionaries) }
            let ra = ranked[rowGroup[a]], rb = ranked[rowGroup[b]]
            for p in 0..<positions where ra[p] != rb[p] { return ra[p] < rb[p] }
            return rowBucket[a] < rowBucket[b]
        }
        let measure: [Int64]
        switch query.order {
        case .key: measure = []
        case .cost: measure = cost
        case .count: measure = count
        case .inputTokens: measure = input
        case .outputTokens: measure = output
        case .tokens: measure = zip(input, output).map { $0 &+ $1 }
        }
        let byKey = measure.isEmpty
        func less(_ a: Int, _ b: Int) -> Bool {
            if byKey || measure[a] == measure[b] { return keyLess(a, b) }
            return measure[a] > measure[b]
        }
        var rows: [Int]
        if let limit = query.limit, limit < n / 4 {
            // Top-k: keep the best `limit` rows, in order; most rows lose against the last of them.
            rows = []
            rows.reserveCapacity(limit + 1)
            for r in 0..<n where rows.count < limit || less(r, rows[rows.count - 1]) {
                rows.insert(r, keepingFirst: limit, by: less)
            }
        } else {
            rows = Array(0..<n)
            rows.sort(by: less)
            if let limit = query.limit, rows.count > limit { rows.removeLast(rows.count - limit) }
        }
        return rows
    }

    /// `groups` with the id at each of the first `positions` positions replaced by its string's byte-order rank.
    private static func ranked(_ groups: [SIMD8<Int32>], _ positions: Int, _ dictionaries: KeyDictionaries) -> [SIMD8<Int32>] {
        let ranks = (0..<positions).map { dictionaries.ranks($0) }
        return groups.map { g in
            var r = g
            for p in 0..<positions { r[p] = ranks[p][Int(g[p])] }
            return r
        }
    }

    private static func lowerBound(_ a: [Int64], _ v: Int64) -> Int {
        var lo = 0, hi = a.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if a[mid] < v { lo = mid + 1 } else { hi = mid }
        }
        return lo
    }
}

/// What one scan thread hands back: its partial result per plan, its counters, its first error.
///
/// `@unchecked Sendable` (partials own raw buffers, errors are `any Error`): an output crosses threads
/// once, through `WorkerResults`' mutex, after its worker has stopped touching it.
private struct WorkerOutput: @unchecked Sendable {
    var partials: [Partial?]
    var stats = QueryStatistics()
    var error: (any Error)?
}

/// Where threads put their outputs, once each, at the end.
final class WorkerResults<Output: Sendable>: Sendable {
    private let outputs: Mutex<[Output?]>

    init(workers: Int) { outputs = Mutex(Array(repeating: nil, count: workers)) }

    func put(_ w: Int, _ output: Output) {
        outputs.withLock { $0[w] = output }
    }

    /// The outputs in worker order.
    func take() -> [Output] {
        outputs.withLock { $0.compactMap { $0 } }
    }
}

/// Hands out work units (or chunks of parts) to threads in order.
final class UnitCounter: Sendable {
    private let next = Atomic<Int>(0)

    func take() -> Int { next.wrappingAdd(1, ordering: .relaxed).oldValue }
}
