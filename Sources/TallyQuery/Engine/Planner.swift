import TallyStore
import TallyText

/// Decides, source by source, what a query run reads: prunes parts by tenant, time and filter values,
/// narrows each part to the rows of `[lo, hi)` with its hour index, answers whole hours from hour totals
/// and rollups where they hold the answer, and leaves the rest as row ranges to scan.
struct Planner: ~Copyable {
    let spec: ScanSpec
    private let groupDims: [Dimension]
    private let filterValues: [(Dimension, [String])]
    private let filterBytes: [(Dimension, Set<[UInt8]>)]
    private var decoder = BlockDecoder()
    private var times: UnsafeMutablePointer<Int64>
    private var timesCapacity = 0
    var stats = QueryStatistics()

    init(_ spec: ScanSpec) {
        self.spec = spec
        groupDims = spec.groupDims
        filterValues = spec.query.filters.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
        filterBytes = filterValues.map { ($0.0, Set($0.1.map { Array($0.utf8) })) }
        times = .allocate(capacity: 1)
    }

    deinit { times.deallocate() }

    /// Plans every source of the snapshot that can hold matching rows.
    mutating func plan(_ snapshot: StoreSnapshot) throws -> [SourcePlan] {
        var plans: [SourcePlan] = []
        for p in spec.query.tenants.parts(of: snapshot) {
            if let plan = try plan(part: p) { plans.append(plan) }
        }
        plans += planHeads(snapshot)
        return plans
    }

    /// Plans the heads of the snapshot that can hold matching rows.
    mutating func planHeads(_ snapshot: StoreSnapshot) -> [SourcePlan] {
        snapshot.heads.compactMap { planHead($0) }
    }

    // MARK: Parts

    /// Plans one of the query's parts (`Query.Tenants.parts(of:)`); nil when it holds no matching row.
    mutating func plan(part: PartReader) throws -> SourcePlan? {
        let lo = spec.lo, hi = spec.hi
        // Pruned on what the manifest says first: the footer of a part no query needs is never read. (The part is one
        // of the query's tenants': `plan` takes them from `Query.Tenants.parts(of:)`.)
        guard part.rows > 0, part.maxTime >= lo, part.minTime < hi else { return nil }
        if !part.isLoaded { _ = try part.load() }
        // The footer borrowed, not copied: a copy retains every array of it, per part and query (over 5,000 parts
        // answered from their rollups, a quarter of the query's time).
        return try part.withMeta { m in try planPart(part, m) }
    }

    private mutating func planPart(_ part: PartReader, _ m: borrowing PartMeta) throws -> SourcePlan? {
        let lo = spec.lo, hi = spec.hi
        guard let filters = filterPlans(m) else { return nil }
        if let plan = try planFromPartRollups(part, m, filters) { return plan }
        let rLo = try lowerBound(part, m, lo)
        let rHi = hi == .max ? m.rows : try lowerBound(part, m, hi)
        guard rLo < rHi else { return nil }
        if let plan = try planFromPartRollupsLessOutside(part, m, filters, rLo, rHi) { return plan }
        stats.partsRead += 1
        guard let (layout, firstBucket, ranges, indexed, hoursFromIndex) = try planHours(part, m, rLo, rHi, filters) else {
            return nil
        }
        stats.hoursFromIndex += hoursFromIndex

        // The granules holding the ranges, ascending.
        let (granules, maxRows) = Self.granules(covering: ranges, in: m.granules)
        let width = spec.query.bucket.millis
        let sourcePlan = SourcePlan(
            source: .part(part), tenant: m.tenant, dictionaries: m.dictionaries, groupDims: groupDims, filters: filters,
            layout: layout, firstBucket: firstBucket, width: width, lo: lo, hi: hi, ranges: ranges, granules: granules,
            maxGranuleRows: maxRows)
        sourcePlan.indexed = indexed
        return sourcePlan
    }

    /// The filter of each filtered dimension in the codes of part `m`; nil when a filter admits no value of the part
    /// (no row can match). Filters that pass every code are left out.
    private func filterPlans(_ m: PartMeta) -> [FilterPlan]? {
        var filters: [FilterPlan] = []
        for (d, values) in filterValues {
            let dict = m.dictionaries[d.rawValue]
            var allowed: [UInt32] = values.compactMap { Self.code(of: $0, in: dict) }
            guard !allowed.isEmpty else { return nil }
            allowed = Array(Set(allowed)).sorted()
            if allowed.count == dict.count { continue }
            filters.append(FilterPlan(dimension: d, dictionarySize: dict.count, allowed: allowed))
        }
        return filters
    }

    /// Walks the hours holding rows `[rLo, rHi)` of `part`: whole hours are answered from hour totals or one
    /// dimension's hour rollup (into an index partial) where they hold the answer; the rest become row ranges to
    /// scan. Returns the layout, the first bucket, the ranges, the index partial and how many hours it answered.
    private func planHours(_ part: PartReader, _ m: PartMeta, _ rLo: Int, _ rHi: Int, _ filters: [FilterPlan]) throws
        -> (KeyLayout, Int64, [ScanRange], Partial?, Int)? {
        // The hours with rows in [rLo, rHi) (hour entries tile the rows in order). Entries are read
        // through a pointer: copying one out would retain its rollups, per hour.
        let bucket = spec.query.bucket
        let width = bucket.millis
        let useRollups = spec.query.useRollups
        // A whole hour is answered from the index when its totals or one dimension's rollup cover every
        // group key and every filter of this part.
        var involved = Set(groupDims)
        for f in filters { involved.insert(f.dimension) }
        let rollupDimension = involved.count == 1 ? involved.first!.rawValue : -1
        let rollupFilter = filters.first
        let noKeys = groupDims.isEmpty
        let dictionaries = m.dictionaries
        // The index answers no hour when rollups are off, or when the keys and filters involve a dimension the part
        // keeps no hour rollup of (a small part's features: fewer than 32 rows a value in an hour), or several: then
        // every hour of the range is scanned, and the hours only cut the range into buckets.
        let indexAnswersNothing = !useRollups
            || (!involved.isEmpty && (rollupDimension < 0 || m.hourRollupCount(rollupDimension).hours == 0))
        // Such a scan of a whole part needs none of its hours (made from the footer on first use): one range without
        // buckets, or one per UTC day from its day totals (a day's rows follow the previous day's).
        if indexAnswersNothing && rLo == 0 && rHi == m.rows && (width == 0 || width == TimeUnit.dayMillis) {
            if width == 0 {
                return (layout(m, buckets: 1), TimeUnit.hourStart(m.minTime), [ScanRange(start: 0, end: m.rows, bucket: 0)], nil, 0)
            }
            return try part.dayTotals().withDays { days -> (KeyLayout, Int64, [ScanRange], Partial?, Int)? in
                guard let firstDay = days.first?.start, let lastDay = days.last?.start else { return nil }
                var ranges: [ScanRange] = []
                ranges.reserveCapacity(days.count)
                var start = 0
                for d in days {
                    let end = start + Int(d.count)
                    ranges.append(ScanRange(start: start, end: end, bucket: Int((d.start - firstDay) / width)))
                    start = end
                }
                return (layout(m, buckets: Int((lastDay - firstDay) / width) + 1), firstDay, ranges, nil, 0)
            }
        }
        return try m.hours.withUnsafeBufferPointer { hours -> (KeyLayout, Int64, [ScanRange], Partial?, Int)? in
            var first = 0, stop = hours.count
            while first < stop {
                let mid = (first + stop) / 2
                if hours[mid].rowStart + hours[mid].rows <= rLo { first = mid + 1 } else { stop = mid }
            }
            // The first hour starting at or after rHi (a binary search too: a whole part's range ends at its last hour).
            var last = first, end = hours.count
            while last < end {
                let mid = (last + end) / 2
                if hours[mid].rowStart < rHi { last = mid + 1 } else { end = mid }
            }
            guard first < last else { return nil }
            let firstBucket = bucket.start(hours[first].start)
            let buckets = width == 0 ? 1 : Int((bucket.start(hours[last - 1].start) - firstBucket) / width) + 1
            let layout = layout(m, buckets: buckets)
            // Nothing to answer from the index and one bucket: the rows [rLo, rHi) are one range (the hours tile them),
            // without a walk over every hour of the part.
            if indexAnswersNothing && width == 0 {
                return (layout, firstBucket, [ScanRange(start: rLo, end: rHi, bucket: 0)], nil, 0)
            }
            var ranges: [ScanRange] = []
            var indexed: Partial?
            var fromIndex = 0
            // Hour totals per local bucket (count, input, output, cost), when no key or filter is involved.
            var totals: [Int64] = []
            // Hours ascend, so the local bucket advances without a division per hour.
            var bk = 0
            var bucketEnd = width == 0 ? Int64.max : firstBucket + width
            // The part's hour rollups of the one dimension involved, decoded from its footer on first use.
            let hourRollups = useRollups && rollupDimension >= 0 ? try m.hourRollups(dimension: rollupDimension) : HourRollups()
            for i in first..<last {
                while hours[i].start >= bucketEnd {
                    bk += 1
                    bucketEnd += width
                }
                let hs = hours[i].rowStart, he = hs + hours[i].rows
                let a = max(hs, rLo), b = min(he, rHi)
                guard a < b else { continue }
                if useRollups && a == hs && b == he {
                    if involved.isEmpty {
                        if totals.isEmpty { totals = Array(repeating: 0, count: 4 * buckets) }
                        totals[4 * bk] &+= Int64(hours[i].rows)
                        totals[4 * bk + 1] &+= hours[i].inputTokens
                        totals[4 * bk + 2] &+= hours[i].outputTokens
                        totals[4 * bk + 3] &+= hours[i].cost
                        fromIndex += 1
                        continue
                    }
                    if rollupDimension >= 0, let r = hourRollups.range(hour: i, dimension: rollupDimension) {
                        let p = indexed ?? Partial(layout)
                        indexed = p
                        let dictSize = dictionaries.sizes[rollupDimension]
                        let base = UInt64(bk) * layout.dimSpace
                        try Self.addHourRollup(hourRollups.entries, r, base: base, noKeys: noKeys, dictSize: dictSize, filter: rollupFilter, into: p,
                                               part: part, hourStart: hours[i].start)
                        fromIndex += 1
                        continue
                    }
                }
                if let prev = ranges.last, prev.end == a, prev.bucket == bk {
                    ranges[ranges.count - 1].end = b
                } else {
                    ranges.append(ScanRange(start: a, end: b, bucket: bk))
                }
            }
            if !totals.isEmpty {
                let p = indexed ?? Partial(layout)
                indexed = p
                for bk in 0..<buckets where totals[4 * bk] > 0 {
                    p.add(key: UInt64(bk) * layout.dimSpace, count: totals[4 * bk], input: totals[4 * bk + 1],
                          output: totals[4 * bk + 2], cost: totals[4 * bk + 3])
                }
            }
            return (layout, firstBucket, ranges, indexed, fromIndex)
        }
    }

    /// Adds one hour's rollup of the involved dimension to the index partial `p` in the local bucket at `base`,
    /// `filter` applied code by code.
    private static func addHourRollup(_ r: Rollup, _ entries: Range<Int>, base: UInt64, noKeys: Bool, dictSize: Int,
                                      filter rollupFilter: FilterPlan?, into p: Partial, part: PartReader, hourStart: Int64) throws {
        for j in entries {
            let c = r.codes[j]
            guard Int(c) < dictSize else {
                throw StoreError.corrupt(path: part.path, offset: 0,
                                         reason: "rollup code out of dictionary range (hour \(Timestamp.format(hourStart)))")
            }
            if let f = rollupFilter, f.deny[Int(c)] != 0 { continue }
            p.add(key: base + (noKeys ? 0 : UInt64(c)), count: r.counts[j], input: r.inputTokens[j],
                  output: r.outputTokens[j], cost: r.cost[j])
        }
    }

    /// The key layout of part `m`'s group codes over `buckets` local buckets.
    private func layout(_ m: PartMeta, buckets: Int) -> KeyLayout {
        KeyLayout(sizes: groupDims.map { m.dictionaries.sizes[$0.rawValue] }, buckets: buckets, rows: m.rows,
                  flatLimit: spec.flatLimit, rekeyLimit: spec.rekeyLimit, laneLimit: spec.laneLimit)
    }

    /// The granules holding `ranges` (ascending, in row order), and the most rows of one of them.
    private static func granules(covering ranges: [ScanRange], in granuleList: [Granule]) -> (granules: [Int], maxRows: Int) {
        var granules: [Int] = []
        var maxRows = 0
        granuleList.withUnsafeBufferPointer { gp in
            var g = 0
            for r in ranges {
                g = Self.granule(containing: r.start, in: gp, from: g)
                while g < gp.count && gp[g].rowStart < r.end {
                    if granules.last != g {
                        granules.append(g)
                        maxRows = max(maxRows, gp[g].rows)
                    }
                    if gp[g].rowStart + gp[g].rows >= r.end { break }
                    g += 1
                }
            }
        }
        return (granules, maxRows)
    }

    /// A part answered whole from its part rollups, when they hold the exact answer: its `[minTime, maxTime]`
    /// lies inside `[lo, hi)`, and `partRollupShape` holds (one bucket, at most one dimension involved, its rollup kept).
    /// The involved dimension's rollup (with no dimension, the part's totals from its hour entries) goes into an index
    /// partial, its filter applied code by code; nothing is scanned.
    private mutating func planFromPartRollups(_ part: PartReader, _ m: PartMeta, _ filters: [FilterPlan]) throws -> SourcePlan? {
        guard spec.lo <= m.minTime, m.maxTime < spec.hi,
              let (d, layout, firstBucket) = partRollupShape(m, filters) else { return nil }
        let partial = Partial(layout)
        if let d {
            try addPartRollup(m, d, filters, into: partial)
        } else {
            // No dimension: the part's totals, from its hour entries (their rows tile the part's).
            var count: Int64 = 0, input: Int64 = 0, output: Int64 = 0, cost: Int64 = 0
            for h in m.hours {
                count &+= Int64(h.rows); input &+= h.inputTokens; output &+= h.outputTokens; cost &+= h.cost
            }
            partial.add(key: 0, count: count, input: input, output: output, cost: cost)
        }
        stats.partsRead += 1
        stats.partsFromRollups += 1
        stats.hoursFromIndex += m.hourCount
        let plan = SourcePlan(
            source: .part(part), tenant: m.tenant, dictionaries: m.dictionaries, groupDims: groupDims, filters: filters,
            layout: layout, firstBucket: firstBucket, width: spec.query.bucket.millis, lo: spec.lo, hi: spec.hi)
        plan.indexed = partial
        return plan
    }

    /// Whether part `m` can be answered from its part rollups but for its range: rollups on, one bucket holds the
    /// whole part (any part without a bucket), at most one dimension involved (group keys and the filters that do not
    /// pass every code of the part; tenant keys are free) and its rollup kept, and a key layout without re-keying.
    /// Returns that dimension (nil: none), the layout and the part's bucket start.
    private func partRollupShape(_ m: PartMeta, _ filters: [FilterPlan]) -> (dimension: Int?, layout: KeyLayout, firstBucket: Int64)? {
        let bucket = spec.query.bucket
        let firstBucket = bucket.start(m.minTime)
        guard spec.query.useRollups, bucket == .none || bucket.start(m.maxTime) == firstBucket, groupDims.count <= 1 else { return nil }
        var involved = Set(groupDims)
        for f in filters { involved.insert(f.dimension) }
        guard involved.count <= 1 else { return nil }
        // A dimension without a kept rollup (too few rows per value) leaves the part to the scan.
        let d = involved.first?.rawValue
        if let d, m.partRollupCount(d) == 0 { return nil }
        let layout = layout(m, buckets: 1)
        guard layout.rekeyLevels == 0 else { return nil }
        return (d, layout, firstBucket)
    }

    /// Adds part `m`'s rollup of dimension `d` to `partial` (keyed by code, or all in key 0 when there is no group
    /// key), the filter of `d` applied code by code.
    private func addPartRollup(_ m: PartMeta, _ d: Int, _ filters: [FilterPlan], into partial: Partial) throws {
        let deny = filters.first?.deny
        let noKeys = groupDims.isEmpty
        // Codes under the dictionary, counts adding up to the part's rows: checked where the footer is decoded.
        let r = try m.partRollup(d)
        for j in 0..<r.codes.count {
            let c = Int(r.codes[j])
            if let deny, deny[c] != 0 { continue }
            partial.add(key: noKeys ? 0 : UInt64(c), count: r.counts[j], input: r.inputTokens[j],
                        output: r.outputTokens[j], cost: r.cost[j])
        }
    }

    /// A part the range cuts (its rows `[rLo, rHi)` inside it), answered as its part rollup less the rows outside the
    /// range. Taken when `partRollupShape` holds with exactly one dimension involved, and
    /// that costs less than `planHours` would: the rows outside and the rollup's entries, against the hour-rollup
    /// entries inside the range plus the rows of the hours inside that keep none (scanned), both estimated from the
    /// footer's counts. A window of the last 30 days over a month's part of a busy tenant then reads a day of rows and
    /// one rollup, not 700 hours of a many-valued dimension's rollups or four weeks of rows. The rows outside are
    /// scanned with the same filter and subtracted (sums subtract exactly, wrapping); a group left with no rows is
    /// dropped when the sources are merged.
    private mutating func planFromPartRollupsLessOutside(_ part: PartReader, _ m: PartMeta, _ filters: [FilterPlan],
                                                         _ rLo: Int, _ rHi: Int) throws -> SourcePlan? {
        let outside = rLo + (m.rows - rHi), inside = rHi - rLo
        guard outside > 0, 2 * outside < inside, m.hourCount > 0,
              let (dimension, layout, firstBucket) = partRollupShape(m, filters), let d = dimension else { return nil }
        let kept = m.hourRollupCount(d)
        let hoursInside = Double(kept.entries) * Double(inside) / Double(m.rows)
            + Double(inside) * Double(m.hourCount - kept.hours) / Double(m.hourCount)
        guard Double(outside + m.partRollupCount(d)) < hoursInside else { return nil }
        let partial = Partial(layout)
        try addPartRollup(m, d, filters, into: partial)
        var ranges: [ScanRange] = []
        if rLo > 0 { ranges.append(ScanRange(start: 0, end: rLo, bucket: 0)) }
        if rHi < m.rows { ranges.append(ScanRange(start: rHi, end: m.rows, bucket: 0)) }
        let (granules, maxRows) = Self.granules(covering: ranges, in: m.granules)
        stats.partsRead += 1
        stats.partsLessOutside += 1
        let plan = SourcePlan(
            source: .part(part), tenant: m.tenant, dictionaries: m.dictionaries, groupDims: groupDims, filters: filters,
            layout: layout, firstBucket: firstBucket, width: spec.query.bucket.millis, lo: spec.lo, hi: spec.hi, ranges: ranges,
            granules: granules, maxGranuleRows: maxRows)
        plan.indexed = partial
        plan.subtractsScan = true
        return plan
    }

    /// The first row of `part` with `created_at >= t`; decodes at most one granule of timestamps.
    private mutating func lowerBound(_ part: PartReader, _ m: PartMeta, _ t: Int64) throws -> Int {
        if t <= m.minTime { return 0 }
        if t > m.maxTime { return m.rows }
        // A day-aligned bound (a window of whole days) from the part's day totals: the rows of the days before it,
        // without making its hours.
        if t == TimeUnit.dayStart(t) {
            return try part.dayTotals().withDays { days in
                var before = 0
                for d in days where d.start < t { before += Int(d.count) }
                return before
            }
        }
        let hs = TimeUnit.hourStart(t)
        let (hourStart, hourRow) = m.hours.withUnsafeBufferPointer { hours -> (Int64, Int) in
            var a = 0, b = hours.count
            while a < b {
                let mid = (a + b) / 2
                if hours[mid].start < hs { a = mid + 1 } else { b = mid }
            }
            return a < hours.count ? (hours[a].start, hours[a].rowStart) : (.max, m.rows)
        }
        if hourStart > hs || t == hs { return hourRow }
        // t is inside that hour: find the first granule whose newest row is >= t, and search its timestamps.
        let column = PartColumn.createdAt.rawValue
        let ga = m.granules.withUnsafeBufferPointer { gp in
            var a = 0, b = gp.count
            while a < b {
                let mid = (a + b) / 2
                if gp[mid].blocks[column].max < t { a = mid + 1 } else { b = mid }
            }
            return a
        }
        guard ga < m.granules.count else { return m.rows }
        let granule = m.granules[ga]
        if timesCapacity < granule.rows {
            times.deallocate()
            timesCapacity = granule.rows
            times = .allocate(capacity: timesCapacity)
        }
        try part.decodeIntegers(ga, .createdAt, &decoder, into: times)
        var x = 0, y = granule.rows
        while x < y {
            let mid = (x + y) / 2
            if times[mid] < t { x = mid + 1 } else { y = mid }
        }
        return granule.rowStart + x
    }

    /// Index of the granule holding `row`, searching from `from` on.
    private static func granule(containing row: Int, in granules: UnsafeBufferPointer<Granule>, from: Int) -> Int {
        var a = from, b = granules.count
        while a < b {
            let mid = (a + b) / 2
            if granules[mid].rowStart + granules[mid].rows <= row { a = mid + 1 } else { b = mid }
        }
        return a
    }

    /// The code of `value` in a part dictionary (sorted by UTF-8 bytes), compared byte by byte.
    static func code(of value: String, in dict: [String]) -> UInt32? {
        var a = 0, b = dict.count
        while a < b {
            let mid = (a + b) / 2
            if UTF8Order.precedes(dict[mid], value) { a = mid + 1 } else { b = mid }
        }
        return a < dict.count && dict[a].utf8.elementsEqual(value.utf8) ? UInt32(a) : nil
    }

    // MARK: Heads

    private mutating func planHead(_ h: HeadView) -> SourcePlan? {
        let lo = spec.lo, hi = spec.hi
        let rows = h.rows
        guard rows > 0, h.maxTime >= lo, h.minTime < hi, spec.query.selects(tenant: h.tenant) else { return nil }
        var filters: [FilterPlan] = []
        for (d, values) in filterBytes {
            let dict = h.dictionaries[d.rawValue]
            var allowed: [UInt32] = []
            for (c, s) in dict.enumerated() where values.contains(Array(s.utf8)) { allowed.append(UInt32(c)) }
            guard !allowed.isEmpty else { return nil }
            if allowed.count == dict.count { continue }
            filters.append(FilterPlan(dimension: d, dictionarySize: dict.count, allowed: allowed))
        }
        stats.headsRead += 1
        let bucket = spec.query.bucket
        let width = bucket.millis
        let firstBucket = bucket.start(max(h.minTime, lo))
        let buckets = width == 0 ? 1 : Int((bucket.start(min(h.maxTime, hi - 1)) - firstBucket) / width) + 1
        let layout = KeyLayout(sizes: groupDims.map { h.dictionaries[$0.rawValue].count }, buckets: buckets, rows: rows,
                               flatLimit: spec.flatLimit, rekeyLimit: spec.rekeyLimit, laneLimit: spec.laneLimit)
        let indexed = groupDims.isEmpty && filters.isEmpty ? headTotals(h, layout, firstBucket: firstBucket) : nil
        let plan = SourcePlan(
            source: .head(h), tenant: h.tenant, dictionaries: PartDictionaries(h.dictionaries), groupDims: groupDims, filters: filters,
            layout: layout, firstBucket: firstBucket, width: width, lo: lo, hi: hi,
            timeCheck: h.minTime < lo || h.maxTime >= hi, indexOnly: indexed != nil)
        plan.indexed = indexed
        if indexed == nil { headChunkRollups(h, plan) }
        return plan
    }

    /// Answers a head's full chunks that lie inside `[lo, hi)` from their rollups of the query's one group dimension
    /// (made once per chunk: a full chunk never changes), when the query has no filter, no bucket and that key alone
    /// (the tenant aside); the other chunks are scanned. Writers append to a tenant's head up to `sealRows` rows, and
    /// every breakdown by a dimension read them all again (the cost summary's three rankings beside 16 writers).
    private mutating func headChunkRollups(_ h: HeadView, _ plan: SourcePlan) {
        guard spec.query.useRollups, groupDims.count == 1, plan.filters.isEmpty, plan.width == 0,
              plan.layout.rekeyLevels == 0, h.chunks.count > 1 else { return }
        let d = groupDims[0]
        var rolled = [Bool](repeating: false, count: h.chunks.count)
        var partial: Partial?
        // The last chunk may still grow: only the ones before it are full.
        for k in 0..<(h.chunks.count - 1) where h.chunkRows[k] > 0 {
            let r = HeadChunkRollup.of(h.chunks[k], rows: h.chunkRows[k], dimension: d)
            guard r.minTime >= spec.lo, r.maxTime < spec.hi else { continue }
            let into = partial ?? Partial(plan.layout)
            partial = into
            for c in 0..<r.count.count where r.count[c] > 0 {
                into.add(key: UInt64(c), count: r.count[c], input: r.input[c], output: r.output[c], cost: r.cost[c])
            }
            rolled[k] = true
        }
        guard let partial else { return }
        plan.indexed = partial
        plan.rolledUpChunks = rolled
    }

    /// A head's answer from its hour totals, when the query needs no dimension and no hour of the head is cut by
    /// `[lo, hi)` (hours wholly outside add nothing); nil otherwise (its rows are scanned).
    private mutating func headTotals(_ h: HeadView, _ layout: KeyLayout, firstBucket: Int64) -> Partial? {
        guard spec.query.useRollups, !h.hours.isEmpty else { return nil }
        let lo = spec.lo, hi = spec.hi
        let bucket = spec.query.bucket
        let width = bucket.millis
        var rows = 0
        for hour in h.hours {
            rows += hour.rows
            let end = hour.start + TimeUnit.hourMillis
            if end <= lo || hour.start >= hi { continue }
            if hour.start < lo || end > hi { return nil }
        }
        guard rows == h.rows else { return nil }
        let partial = Partial(layout)
        var answered = 0
        for hour in h.hours where hour.start >= lo && hour.start + TimeUnit.hourMillis <= hi {
            let bk = width == 0 ? 0 : UInt64((bucket.start(hour.start) - firstBucket) / width)
            partial.add(key: bk * layout.dimSpace, count: Int64(hour.rows), input: hour.inputTokens, output: hour.outputTokens,
                        cost: hour.cost)
            answered += 1
        }
        stats.hoursFromIndex += answered
        return partial
    }
}
