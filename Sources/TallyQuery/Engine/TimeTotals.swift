import TallyStore

/// Series that need no dimension (usage by hour or day, org-wide or per tenant, with or without trailing daily
/// baselines) answered from the hour totals every part footer and every head keeps: each tenant's hours are summed
/// into one dense array of buckets, and the rows, windows and order are read off those arrays.
///
/// The general plan makes a partial result per part and merges them by key; over 600 parts that costs more than the
/// sums. Here a part adds its hours (for day buckets, its days: `PartMeta.derived` keeps each part's hours summed by
/// UTC day) into its tenant's array; trailing windows are prefix sums over it. The answer is the general plan's,
/// row for row (the property tests compare both with the reference aggregator).
///
/// Taken when rollups may answer, no filter is given, the keys are none or the tenant, the bucket is an hour or a
/// day, the range ends are whole hours, every head keeps hour totals, and the arrays stay under `maxCells`.
enum TimeTotals {
    /// Most buckets summed over all tenants (4 sums each) before the general plan is cheaper in memory.
    static let maxCells = 2_000_000

    static func answer(_ query: Query, _ snapshot: StoreSnapshot) throws -> QueryResult? {
        guard query.useRollups, query.filters.isEmpty, query.bucket != .none,
              query.groupBy.isEmpty || query.groupBy == [.tenant] else { return nil }
        if let f = query.from, TimeUnit.hourStart(f) != f { return nil }
        if let t = query.to, TimeUnit.hourStart(t) != t { return nil }
        let bucket = query.bucket, width = bucket.millis
        let day = TimeUnit.dayMillis
        let hi = query.to ?? .max
        // Summed: [lo, hi). With a trailing window and a start, from the first window's first day; `main` starts at
        // `firstDay`, less the hours of that day before `from` (`cutSums`).
        var lo = query.from ?? .min
        var firstDay: Int64?
        if let t = query.trailing, let from = query.from {
            firstDay = TimeUnit.dayStart(from)
            lo = firstDay! - Int64(t.days * (t.previous ? 2 : 1) - 1) * day
        }
        let cut: Range<Int64>? = firstDay.flatMap { d in query.from.flatMap { $0 > d ? d..<$0 : nil } }

        // The sources of each group: tenants in byte order (one group without keys).
        var parts: [PartReader] = []
        for p in snapshot.parts where p.rows > 0 && p.maxTime >= lo && p.minTime < hi && query.selects(tenant: p.tenant) {
            parts.append(p)
        }
        var heads: [HeadView] = []
        for h in snapshot.heads where h.rows > 0 && h.maxTime >= lo && h.minTime < hi && query.selects(tenant: h.tenant) {
            // A head without hour totals (or with rows outside them) is scanned: the general plan.
            guard !h.hours.isEmpty, h.hours.reduce(0, { $0 + $1.rows }) == h.rows else { return nil }
            heads.append(h)
        }
        let perTenant = !query.groupBy.isEmpty
        var tenants: [String] = []
        var partGroup = [Int](repeating: 0, count: parts.count), headGroup = [Int](repeating: 0, count: heads.count)
        if perTenant {
            let names = parts.map(\.tenant) + heads.map(\.tenant)
            let order = names.indices.sorted { UTF8Order.precedes(names[$0], names[$1]) }
            for i in order {
                if tenants.isEmpty || UTF8Order.compare(tenants[tenants.count - 1], names[i]) != 0 { tenants.append(names[i]) }
                if i < parts.count { partGroup[i] = tenants.count - 1 } else { headGroup[i - parts.count] = tenants.count - 1 }
            }
        }
        let groupCount = perTenant ? tenants.count : 1

        // Each group's buckets: from its first source's first bucket in range to its last source's last.
        var firstBucket = [Int64](repeating: .max, count: groupCount), lastBucket = [Int64](repeating: .min, count: groupCount)
        func widen(_ g: Int, _ minTime: Int64, _ maxTime: Int64) {
            firstBucket[g] = min(firstBucket[g], bucket.start(max(minTime, lo)))
            lastBucket[g] = max(lastBucket[g], bucket.start(min(maxTime, hi - 1)))
        }
        for (i, p) in parts.enumerated() { widen(partGroup[i], p.minTime, p.maxTime) }
        for (i, h) in heads.enumerated() { widen(headGroup[i], h.minTime, h.maxTime) }
        var base = [Int](repeating: 0, count: groupCount + 1)
        for g in 0..<groupCount {
            let n = firstBucket[g] <= lastBucket[g] ? Int((lastBucket[g] - firstBucket[g]) / width) + 1 : 0
            base[g + 1] = base[g] + n
            guard base[g + 1] <= maxCells else { return nil }
        }

        var sums = Sums(cells: base[groupCount], groups: groupCount)
        var stats = QueryStatistics()
        let runs = [(lo, hi)] + (cut.map { [($0.lowerBound, $0.upperBound)] } ?? [])
        for (i, part) in parts.enumerated() {
            let g = partGroup[i]
            let m = try part.load()
            for (a, b) in runs where part.maxTime >= a && part.minTime < b {
                stats.partsRead += 1
                if a <= part.minTime && part.maxTime < b && bucket.start(part.minTime) == bucket.start(part.maxTime) {
                    stats.partsFromRollups += 1
                }
            }
            let cell = { (start: Int64) in base[g] + Int((bucket.start(start) - firstBucket[g]) / width) }
            let added: Int
            if width == day {
                let days = m.derived.value("day-totals") { DayTotals(m.hours) }
                added = days.add(m.hours, lo: lo, hi: hi, to: &sums, cell: cell)
            } else {
                added = m.hours.withUnsafeBufferPointer { hours in
                    var n = 0
                    for h in hours where h.start >= lo && h.start < hi {
                        sums.add(cell(h.start), Int64(h.rows), h.inputTokens, h.outputTokens, h.cost)
                        n += 1
                    }
                    return n
                }
            }
            stats.hoursFromIndex += added
            if let cut { sums.addCut(g, m.hours.lazy.map { ($0.start, $0.rows, $0.inputTokens, $0.outputTokens, $0.cost) }, cut) }
        }
        for (i, h) in heads.enumerated() {
            let g = headGroup[i]
            stats.headsRead += runs.count { h.maxTime >= $0.0 && h.minTime < $0.1 }
            for hour in h.hours where hour.start >= lo && hour.start < hi {
                sums.add(base[g] + Int((bucket.start(hour.start) - firstBucket[g]) / width), Int64(hour.rows), hour.inputTokens,
                         hour.outputTokens, hour.cost)
                stats.hoursFromIndex += 1
            }
            if let cut { sums.addCut(g, h.hours.lazy.map { ($0.start, $0.rows, $0.inputTokens, $0.outputTokens, $0.cost) }, cut) }
        }

        // `main`: the range's buckets (from `firstDay`), the hours of the first day before `from` taken out.
        let mainStart = firstDay ?? .min
        func mainCell(_ g: Int, _ b: Int64) -> (count: Int64, input: Int64, output: Int64, cost: Int64) {
            guard b >= mainStart, b >= firstBucket[g], b <= lastBucket[g] else { return (0, 0, 0, 0) }
            let c = base[g] + Int((b - firstBucket[g]) / width)
            var v = (sums.count[c], sums.input[c], sums.output[c], sums.cost[c])
            if cut != nil && b == mainStart {
                v.0 -= sums.cutCount[g]; v.1 -= sums.cutInput[g]; v.2 -= sums.cutOutput[g]; v.3 -= sums.cutCost[g]
            }
            return v
        }
        // Groups with rows in the range (without keys, the one group always), and the first and last bucket with rows.
        var present: [Int] = []
        var minBucket = Int64.max, maxBucket = Int64.min
        for g in 0..<groupCount {
            var has = false
            var b = max(firstBucket[g], mainStart)
            while b <= lastBucket[g] {
                if mainCell(g, b).count > 0 {
                    has = true
                    minBucket = min(minBucket, b)
                    maxBucket = max(maxBucket, b)
                }
                b += width
            }
            if has || !perTenant { present.append(g) }
        }
        if !perTenant && present.isEmpty { present = [0] }

        // Rows in key order: groups (tenants by bytes), then buckets ascending.
        var rowGroup: [Int] = [], rowBucket: [Int64] = []
        if query.fillEmptyBuckets {
            let first = query.from.map(bucket.start) ?? minBucket
            let last = query.to.map { bucket.start($0 - 1) } ?? maxBucket
            if first <= last {
                let n = Int((last - first) / width) + 1
                for g in present {
                    for k in 0..<n {
                        rowGroup.append(g)
                        rowBucket.append(first + Int64(k) * width)
                    }
                }
            }
        } else {
            for g in present where g < groupCount && firstBucket[g] <= lastBucket[g] {
                var b = firstBucket[g]
                while b <= lastBucket[g] {
                    if mainCell(g, b).count > 0 {
                        rowGroup.append(g)
                        rowBucket.append(b)
                    }
                    b += width
                }
            }
        }
        let n = rowGroup.count
        var count = [Int64](repeating: 0, count: n), input = count, output = count, cost = count
        for r in 0..<n where rowGroup[r] < groupCount {
            (count[r], input[r], output[r], cost[r]) = mainCell(rowGroup[r], rowBucket[r])
        }

        // Trailing windows: prefix sums of each group's daily cost over the summed range (whole days, cut by `to`).
        var trailingCost: [Int64] = [], previousCost: [Int64] = []
        if let trailing = query.trailing {
            var prefix = [Int64](repeating: 0, count: base[groupCount] + groupCount)
            for g in 0..<groupCount {
                var s: Int64 = 0
                for c in base[g]..<base[g + 1] {
                    prefix[c + g] = s
                    s &+= sums.cost[c]
                }
                prefix[base[g + 1] + g] = s
            }
            // The cost of group `g` over days [from, through], days outside its buckets counting zero.
            func window(_ g: Int, _ from: Int64, _ through: Int64) -> Int64 {
                guard g < groupCount, firstBucket[g] <= lastBucket[g] else { return 0 }
                let a = max(from, firstBucket[g]), b = min(through, lastBucket[g])
                guard a <= b else { return 0 }
                let i = Int((a - firstBucket[g]) / day), j = Int((b - firstBucket[g]) / day) + 1
                return prefix[base[g] + g + j] &- prefix[base[g] + g + i]
            }
            let span = Int64(trailing.days)
            trailingCost.reserveCapacity(n)
            for r in 0..<n {
                let d = rowBucket[r]
                trailingCost.append(window(rowGroup[r], d - (span - 1) * day, d))
                if trailing.previous { previousCost.append(window(rowGroup[r], d - (2 * span - 1) * day, d - span * day)) }
            }
        }

        // Order: the measure descending, ties in key order (the rows' order); then the limit.
        var rows = Array(0..<n)
        let measure: [Int64]? = switch query.order {
        case .key: nil
        case .cost: cost
        case .count: count
        case .inputTokens: input
        case .outputTokens: output
        case .tokens: zip(input, output).map { $0 &+ $1 }
        }
        if let measure { rows.sort { measure[$0] != measure[$1] ? measure[$0] > measure[$1] : $0 < $1 } }
        if let limit = query.limit, rows.count > limit { rows.removeLast(rows.count - limit) }

        let a = query.aggregates
        return QueryResult(
            groupBy: query.groupBy,
            keyColumns: perTenant ? [rows.map { tenants[rowGroup[$0]] }] : [],
            bucketStarts: rows.map { rowBucket[$0] },
            count: rows.map { count[$0] },
            inputTokens: a.contains(.inputTokens) ? rows.map { input[$0] } : [],
            outputTokens: a.contains(.outputTokens) ? rows.map { output[$0] } : [],
            cost: a.contains(.cost) ? rows.map { cost[$0] } : [],
            trailingDays: query.trailing?.days,
            trailingCost: query.trailing == nil ? [] : rows.map { trailingCost[$0] },
            previousTrailingCost: query.trailing?.previous == true ? rows.map { previousCost[$0] } : [],
            statistics: stats)
    }

    /// The four sums of every bucket of every group, and per group the hours before `from` on the first day.
    struct Sums {
        var count: [Int64], input: [Int64], output: [Int64], cost: [Int64]
        var cutCount: [Int64], cutInput: [Int64], cutOutput: [Int64], cutCost: [Int64]

        init(cells: Int, groups: Int) {
            count = [Int64](repeating: 0, count: cells)
            (input, output, cost) = (count, count, count)
            cutCount = [Int64](repeating: 0, count: groups)
            (cutInput, cutOutput, cutCost) = (cutCount, cutCount, cutCount)
        }

        @inline(__always)
        mutating func add(_ c: Int, _ n: Int64, _ i: Int64, _ o: Int64, _ k: Int64) {
            count[c] &+= n; input[c] &+= i; output[c] &+= o; cost[c] &+= k
        }

        mutating func addCut<S: Sequence>(_ g: Int, _ hours: S, _ cut: Range<Int64>)
            where S.Element == (Int64, Int, Int64, Int64, Int64) {
            for (start, rows, i, o, k) in hours where cut.contains(start) {
                cutCount[g] &+= Int64(rows); cutInput[g] &+= i; cutOutput[g] &+= o; cutCost[g] &+= k
            }
        }
    }

    /// A part's hours summed by UTC day: each day's start, its first hour, and its sums.
    struct DayTotals: Sendable {
        var starts: [Int64] = []
        /// Day `k`'s hours are `firstHour[k] ..< firstHour[k + 1]`.
        var firstHour: [Int] = []
        var count: [Int64] = [], input: [Int64] = [], output: [Int64] = [], cost: [Int64] = []

        init(_ hours: [HourEntry]) {
            for (i, h) in hours.enumerated() {
                let d = TimeUnit.dayStart(h.start)
                if starts.last != d {
                    starts.append(d)
                    firstHour.append(i)
                    count.append(0); input.append(0); output.append(0); cost.append(0)
                }
                let k = starts.count - 1
                count[k] &+= Int64(h.rows); input[k] &+= h.inputTokens; output[k] &+= h.outputTokens; cost[k] &+= h.cost
            }
            firstHour.append(hours.count)
        }

        /// Adds the hours in `[lo, hi)` (whole hours) to `sums` at `cell(day start)`: whole days at once, the others
        /// hour by hour. Returns the hours added.
        func add(_ hours: [HourEntry], lo: Int64, hi: Int64, to sums: inout Sums, cell: (Int64) -> Int) -> Int {
            var added = 0
            for k in starts.indices {
                let d = starts[k]
                if d >= lo && d <= hi - TimeUnit.dayMillis {
                    sums.add(cell(d), count[k], input[k], output[k], cost[k])
                    added += firstHour[k + 1] - firstHour[k]
                } else if d + TimeUnit.dayMillis > lo && d < hi {
                    for h in hours[firstHour[k]..<firstHour[k + 1]] where h.start >= lo && h.start < hi {
                        sums.add(cell(d), Int64(h.rows), h.inputTokens, h.outputTokens, h.cost)
                        added += 1
                    }
                }
            }
            return added
        }
    }
}
