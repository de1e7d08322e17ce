import TallyStore

/// Series that need no dimension (usage by hour or day, org-wide or per tenant, with or without trailing daily
/// baselines) answered from the hour totals every part footer and every head keeps: each tenant's hours are summed
/// into one dense array of buckets, and the rows, windows and order are read off those arrays.
///
/// The general plan makes a partial result per part and merges them by key; over 600 parts that costs more than the
/// sums. Here a part adds its hours (for day buckets, its days: `PartReader.dayTotals` keeps each part's hours summed by
/// UTC day) into its tenant's array; trailing windows are prefix sums over it. The answer is the general plan's,
/// row for row (the property tests compare both with the reference aggregator).
///
/// Taken when rollups may answer, no filter is given, the keys are none or the tenant, the bucket is an hour or a
/// day, the range ends are whole hours, every head keeps hour totals, and the arrays stay under `maxCells`.
enum TimeTotals {
    /// Most buckets summed over all tenants (4 sums each) before the general plan is cheaper in memory.
    static let maxCells = 2_000_000

    /// Whether `query`, a question about one tenant's series (this path) or totals (the general plan, which then
    /// answers every hour from its hour totals), reads only what is in memory: footers this process has read already
    /// and the heads. No part block is read then.
    static func answersFromMemory(_ query: Query, _ snapshot: StoreSnapshot) -> Bool {
        guard case .one = query.tenants, wholeHoursWithoutKeys(query) else { return false }
        for p in query.tenants.parts(of: snapshot) where !p.isLoaded { return false }
        return snapshot.heads.allSatisfy { h in h.rows == 0 || !query.selects(tenant: h.tenant) || keepsHourTotals(h) }
    }

    /// Rollups on, no filter, keys none or the tenant, range ends on whole hours (or open).
    private static func wholeHoursWithoutKeys(_ query: Query) -> Bool {
        guard query.useRollups, query.filters.isEmpty, query.groupBy.isEmpty || query.groupBy == [.tenant] else { return false }
        if let f = query.from, TimeUnit.hourStart(f) != f { return false }
        if let t = query.to, TimeUnit.hourStart(t) != t { return false }
        return true
    }

    /// Whether every row of `h` is counted in its hour totals.
    private static func keepsHourTotals(_ h: HeadView) -> Bool {
        !h.hours.isEmpty && h.hours.reduce(0, { $0 + $1.rows }) == h.rows
    }

    static func answer(_ query: Query, _ snapshot: StoreSnapshot) throws -> QueryResult? {
        guard query.bucket != .none, wholeHoursWithoutKeys(query) else { return nil }
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
        let perTenant = !query.groupBy.isEmpty
        func inRange(_ p: PartReader) -> Bool { p.rows > 0 && p.maxTime >= lo && p.minTime < hi }
        var heads: [HeadView] = []
        for h in snapshot.heads where h.rows > 0 && h.maxTime >= lo && h.minTime < hi && query.selects(tenant: h.tenant) {
            // A head without hour totals (or with rows outside them) is scanned: the general plan.
            guard keepsHourTotals(h) else { return nil }
            heads.append(h)
        }
        var parts: [PartReader] = []
        var tenants: [String] = []
        var partGroup: [Int] = [], headGroup = [Int](repeating: 0, count: heads.count)
        if perTenant, case .all = query.tenants {
            // Every tenant: the parts in the part list's tenant order, the heads sorted and merged in.
            let order = snapshot.partsInTenantOrder
            let sortedHeads = heads.indices.sorted { UTF8Order.precedes(heads[$0].tenant, heads[$1].tenant) }
            var next = 0
            func takeHeads(through name: String?) {
                while next < sortedHeads.count {
                    let h = sortedHeads[next]
                    if let name, UTF8Order.compare(heads[h].tenant, name) > 0 { break }
                    if tenants.isEmpty || !UTF8Order.equal(tenants[tenants.count - 1], heads[h].tenant) {
                        tenants.append(heads[h].tenant)
                    }
                    headGroup[h] = tenants.count - 1
                    next += 1
                }
            }
            var lastRank = -1
            for (i, p) in order.parts.enumerated() where inRange(p) {
                if order.tenantOf[i] != lastRank {
                    lastRank = order.tenantOf[i]
                    let name = order.tenants[lastRank]
                    // Heads before this tenant, and its own (which join its group: it is appended first or found).
                    takeHeads(through: name)
                    if tenants.isEmpty || !UTF8Order.equal(tenants[tenants.count - 1], name) { tenants.append(name) }
                }
                parts.append(p)
                partGroup.append(tenants.count - 1)
            }
            takeHeads(through: nil)
        } else {
            parts = query.tenants.parts(of: snapshot).filter(inRange)
            partGroup = [Int](repeating: 0, count: parts.count)
            if perTenant {
                let names = parts.map(\.tenant) + heads.map(\.tenant)
                // Parts come in id order, of one tenant or a few: a check usually replaces the sort.
                let inOrder = zip(names, names.dropFirst()).allSatisfy { UTF8Order.compare($0, $1) <= 0 }
                let order = inOrder ? Array(names.indices) : names.indices.sorted { UTF8Order.precedes(names[$0], names[$1]) }
                for i in order {
                    if tenants.isEmpty || UTF8Order.compare(tenants[tenants.count - 1], names[i]) != 0 { tenants.append(names[i]) }
                    if i < parts.count { partGroup[i] = tenants.count - 1 } else { headGroup[i - parts.count] = tenants.count - 1 }
                }
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

        let cells = base[groupCount]
        var sums = Sums(cells: cells, groups: groupCount)
        var stats = QueryStatistics()
        let runs = [(lo, hi)] + (cut.map { [($0.lowerBound, $0.upperBound)] } ?? [])
        for (i, part) in parts.enumerated() {
            let g = partGroup[i]
            for (a, b) in runs where part.maxTime >= a && part.minTime < b {
                stats.partsRead += 1
                if a <= part.minTime && part.maxTime < b && bucket.start(part.minTime) == bucket.start(part.maxTime) {
                    stats.partsFromRollups += 1
                }
            }
            if width == day {
                stats.hoursFromIndex += try sums.add(part, lo: lo, hi: hi, base: base[g], first: firstBucket[g])
            } else {
                stats.hoursFromIndex += try part.withHours { hours in
                    var n = 0
                    for h in hours where h.start >= lo && h.start < hi {
                        sums.add(base[g] + Int((h.start - firstBucket[g]) / width), Int64(h.rows), h.inputTokens, h.outputTokens, h.cost)
                        n += 1
                    }
                    return n
                }
            }
            if let cut {
                try part.withHours { hours in
                    for h in hours where cut.contains(h.start) { sums.addCut(g, Int64(h.rows), h.inputTokens, h.outputTokens, h.cost) }
                }
            }
        }
        for (i, h) in heads.enumerated() {
            let g = headGroup[i]
            stats.headsRead += runs.count { h.maxTime >= $0.0 && h.minTime < $0.1 }
            for hour in h.hours where hour.start >= lo && hour.start < hi {
                sums.add(base[g] + Int((bucket.start(hour.start) - firstBucket[g]) / width), Int64(hour.rows), hour.inputTokens,
                         hour.outputTokens, hour.cost)
                stats.hoursFromIndex += 1
            }
            if let cut {
                for hour in h.hours where cut.contains(hour.start) {
                    sums.addCut(g, Int64(hour.rows), hour.inputTokens, hour.outputTokens, hour.cost)
                }
            }
        }
        let (first, last) = (firstBucket, lastBucket)

        // `main`: the buckets from `firstDay`, the hours of that day before `from` taken out.
        let mainStart = firstDay ?? .min
        // Trailing windows read whole days (the first one not cut by `from`): the cost taken out is put back there.
        var cutCell = [Int](repeating: -1, count: cut == nil ? 0 : groupCount)
        if cut != nil {
            for g in 0..<groupCount where first[g] <= mainStart && mainStart <= last[g] {
                let c = base[g] + Int((mainStart - first[g]) / width)
                for k in 0..<4 { sums.values[4 * c + k] &-= sums.cut[4 * g + k] }
                cutCell[g] = c
            }
        }
        let values = sums.values
        // The first cell of `main` in each group's buckets.
        func mainFrom(_ g: Int) -> Int { base[g] + (mainStart > first[g] ? Int((mainStart - first[g]) / width) : 0) }

        // Groups with rows in the range (without keys, the one group always), and the first and last bucket with rows.
        var present: [Int] = []
        var minBucket = Int64.max, maxBucket = Int64.min
        var withRows = 0
        for g in 0..<groupCount {
            var has = false
            for c in mainFrom(g)..<base[g + 1] where values[4 * c] > 0 {
                let b = first[g] + Int64(c - base[g]) * width
                withRows += 1
                has = true
                minBucket = min(minBucket, b)
                maxBucket = max(maxBucket, b)
            }
            if has || !perTenant { present.append(g) }
        }

        // The rows in key order (groups: tenants by bytes; then buckets ascending), by their group `g`, their bucket's
        // index `k` among the group's buckets (negative or past its last for a filled bucket outside them), their cell `c`
        // (-1: none) and their bucket's start `b`. Each column is written in one pass over them into an array of the
        // exact length: appending a row at a time to six columns checked each one's uniqueness and capacity per row,
        // most of a 70,000-row answer's time.
        let a = query.aggregates
        let fill: (from: Int64, n: Int)? = query.fillEmptyBuckets ? {
            let from = query.from.map(bucket.start) ?? minBucket
            let to = query.to.map { bucket.start($0 - 1) } ?? maxBucket
            return (from, from <= to ? Int((to - from) / width) + 1 : 0)
        }() : nil
        let rowCount = fill.map { present.count * $0.n } ?? withRows
        let rowGroup = UnsafeMutablePointer<Int32>.allocate(capacity: rowCount)
        let rowIndex = UnsafeMutablePointer<Int32>.allocate(capacity: rowCount)
        let rowCell = UnsafeMutablePointer<Int32>.allocate(capacity: rowCount)
        defer { rowGroup.deallocate(); rowIndex.deallocate(); rowCell.deallocate() }
        var out = Columns()
        out.bucket = [Int64](unsafeUninitializedCapacity: rowCount) { bucketStart, initialized in
            var i = 0
            if let (from, n) = fill {
                for g in present {
                    // Bucket `from` is the group's `k0`th (buckets and `from` are aligned to the width); a group without
                    // buckets has no cell to find.
                    let k0 = first[g] <= last[g] ? Int((from - first[g]) / width) : 0
                    for k in 0..<n {
                        let b = from + Int64(k) * width
                        rowGroup[i] = Int32(truncatingIfNeeded: g)
                        rowIndex[i] = Int32(truncatingIfNeeded: k0 + k)
                        rowCell[i] = b >= first[g] && b <= last[g] ? Int32(truncatingIfNeeded: base[g] + k0 + k) : -1
                        bucketStart[i] = b
                        i += 1
                    }
                }
            } else {
                for g in present {
                    for c in mainFrom(g)..<base[g + 1] where values[4 * c] > 0 {
                        precondition(i < rowCount, "more rows than counted")
                        rowGroup[i] = Int32(truncatingIfNeeded: g)
                        rowIndex[i] = Int32(truncatingIfNeeded: c - base[g])
                        rowCell[i] = Int32(truncatingIfNeeded: c)
                        bucketStart[i] = first[g] + Int64(c - base[g]) * width
                        i += 1
                    }
                }
            }
            precondition(i == rowCount, "fewer rows than counted")
            initialized = i
        }
        func sum(_ k: Int) -> [Int64] {
            values.withUnsafeBufferPointer { v in
                [Int64](unsafeUninitializedCapacity: rowCount) { column, initialized in
                    for i in 0..<rowCount {
                        let c = Int(rowCell[i])
                        column[i] = c >= 0 ? v[4 * c + k] : 0
                    }
                    initialized = rowCount
                }
            }
        }
        if perTenant {
            out.keys = [String](unsafeUninitializedCapacity: rowCount) { keys, initialized in
                for i in 0..<rowCount { (keys.baseAddress! + i).initialize(to: tenants[Int(rowGroup[i])]) }
                initialized = rowCount
            }
        }
        out.count = sum(0)
        if a.contains(.inputTokens) { out.input = sum(1) }
        if a.contains(.outputTokens) { out.output = sum(2) }
        if a.contains(.cost) { out.cost = sum(3) }
        if let trailing = query.trailing {
            // Prefix sums of the daily cost over every cell (`prefix[c]`: cells before `c`), the cost of the hours before
            // `from` put back into its day: the cost of group `g` over its days [x, y] (indices from its first bucket; days
            // outside them count zero) is a difference of two. Trailing windows come with day buckets only, so a bucket's
            // index is its day's.
            var daily = (0..<cells).map { values[4 * $0 + 3] }
            for g in cutCell.indices where cutCell[g] >= 0 { daily[cutCell[g]] &+= sums.cut[4 * g + 3] }
            var prefix = [Int64](repeating: 0, count: cells + 1)
            for c in 0..<cells { prefix[c + 1] = prefix[c] &+ daily[c] }
            func window(_ g: Int, _ x: Int, _ y: Int) -> Int64 {
                let x = max(x, 0), y = min(y, base[g + 1] - base[g] - 1)
                return x <= y ? prefix[base[g] + y + 1] &- prefix[base[g] + x] : 0
            }
            func windows(_ back: Int) -> [Int64] {
                [Int64](unsafeUninitializedCapacity: rowCount) { column, initialized in
                    for i in 0..<rowCount {
                        let k = Int(rowIndex[i])
                        column[i] = window(Int(rowGroup[i]), k - back - trailing.days + 1, k - back)
                    }
                    initialized = rowCount
                }
            }
            out.trailingCost = windows(0)
            if trailing.previous { out.previousCost = windows(trailing.days) }
        }

        // Order: the measure descending, ties in key order (the rows' order); then the limit.
        let measure: [Int64]? = switch query.order {
        case .key: nil
        case .cost: out.cost
        case .count: out.count
        case .inputTokens: out.input
        case .outputTokens: out.output
        case .tokens: zip(out.input, out.output).map { $0 &+ $1 }
        }
        if let measure {
            var rows = Array(0..<out.count.count)
            rows.sort { measure[$0] != measure[$1] ? measure[$0] > measure[$1] : $0 < $1 }
            if let limit = query.limit, rows.count > limit { rows.removeLast(rows.count - limit) }
            out.permute(rows)
        } else if let limit = query.limit, out.count.count > limit {
            out.permute(Array(0..<limit))
        }

        return QueryResult(
            groupBy: query.groupBy,
            keyColumns: perTenant ? [out.keys] : [],
            bucketStarts: out.bucket,
            count: out.count,
            inputTokens: out.input,
            outputTokens: out.output,
            cost: out.cost,
            trailingDays: query.trailing?.days,
            trailingCost: out.trailingCost,
            previousTrailingCost: out.previousCost,
            statistics: stats)
    }

    /// The result's columns; the measures not asked for stay empty.
    struct Columns {
        var keys: [String] = [], bucket: [Int64] = []
        var count: [Int64] = [], input: [Int64] = [], output: [Int64] = [], cost: [Int64] = []
        var trailingCost: [Int64] = [], previousCost: [Int64] = []

        /// Keeps the rows `order`, in that order.
        mutating func permute(_ order: [Int]) {
            func pick<T>(_ a: [T]) -> [T] { a.isEmpty ? a : order.map { a[$0] } }
            keys = pick(keys); bucket = pick(bucket); count = pick(count)
            input = pick(input); output = pick(output); cost = pick(cost)
            trailingCost = pick(trailingCost); previousCost = pick(previousCost)
        }
    }

    /// The four sums (count, input, output, cost) of every bucket of every group, side by side, and per group the hours
    /// before `from` on the first day.
    struct Sums {
        var values: [Int64]
        var cut: [Int64]

        init(cells: Int, groups: Int) {
            values = [Int64](repeating: 0, count: 4 * cells)
            cut = [Int64](repeating: 0, count: 4 * groups)
        }

        @inline(__always)
        mutating func add(_ c: Int, _ n: Int64, _ i: Int64, _ o: Int64, _ k: Int64) {
            values[4 * c] &+= n; values[4 * c + 1] &+= i; values[4 * c + 2] &+= o; values[4 * c + 3] &+= k
        }

        mutating func addCut(_ g: Int, _ n: Int64, _ i: Int64, _ o: Int64, _ k: Int64) {
            cut[4 * g] &+= n; cut[4 * g + 1] &+= i; cut[4 * g + 2] &+= o; cut[4 * g + 3] &+= k
        }

        /// Adds a part's hours in `[lo, hi)` (whole hours) by day into the group's buckets (from `base`, the first one
        /// starting at `first`): whole days at once (`PartReader.dayTotals`, one object per part), the others hour by
        /// hour. Returns the hours added.
        mutating func add(_ part: PartReader, lo: Int64, hi: Int64, base: Int, first: Int64) throws -> Int {
            var added = 0
            // A literal, not `TimeUnit.dayMillis` (a constant of another module, which made every day's index a
            // hardware division: a tenth of a 5,000-tenant series).
            let day: Int64 = 86_400_000
            assert(day == TimeUnit.dayMillis)
            var cutDays: [DayEntry] = []
            try part.dayTotals().withDays { days in
                values.withUnsafeMutableBufferPointer { v in
                    for e in days {
                        if e.start >= lo && e.start <= hi - day {
                            let c = 4 * (base + Int((e.start - first) / day))
                            precondition(c >= 0 && c + 3 < v.count, "a day outside its group's buckets")
                            v[c] &+= e.count; v[c + 1] &+= e.inputTokens; v[c + 2] &+= e.outputTokens; v[c + 3] &+= e.cost
                            added += Int(e.hours)
                        } else if e.start + day > lo && e.start < hi {
                            cutDays.append(e)
                        }
                    }
                }
            }
            guard !cutDays.isEmpty else { return added }
            try part.withHours { hours in
                for e in cutDays {
                    let c = base + Int((e.start - first) / day)
                    for h in hours[Int(e.firstHour)..<Int(e.firstHour + e.hours)] where h.start >= lo && h.start < hi {
                        add(c, Int64(h.rows), h.inputTokens, h.outputTokens, h.cost)
                        added += 1
                    }
                }
            }
            return added
        }
    }
}
