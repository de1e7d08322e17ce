import TallyStore

/// A share of one source's scan: granules `plan.granules[start..<end]` of a part, or chunks
/// `start..<end` of a head view.
struct WorkUnit: Sendable {
    var plan: Int
    var start: Int
    var end: Int
    var rows: Int
}

/// One scan thread's scratch state: a block decoder and column buffers reused for every granule.
///
/// The row loops below work on raw column pointers only: no allocation, `String`, dictionary lookup,
/// closure or existential per row. Rows are first mapped to slots (a selection folded into the slot:
/// rows that fail a filter or the time range go to a trash slot), then summed into flat arrays.
struct ScanWorker: ~Copyable {
    private var decoder = BlockDecoder()
    private var capacity = 0
    /// Codes of each dimension: `codes + d.rawValue * capacity`.
    private var codes: UnsafeMutablePointer<UInt32>
    private var input: UnsafeMutablePointer<Int64>
    private var output: UnsafeMutablePointer<Int64>
    private var cost: UnsafeMutablePointer<Int64>
    private var slots: UnsafeMutablePointer<UInt32>
    private var keys: UnsafeMutablePointer<UInt64>
    private var dead: UnsafeMutablePointer<UInt8>
    private var rowBuckets: UnsafeMutablePointer<UInt32>
    /// Per-model sums of a priced granule (`aggregatePriced`): count, input, output and residual, four lanes each.
    private let priceSums: UnsafeMutablePointer<Int64>
    /// Per block: code columns of the group positions, and of the filters that apply, with their deny tables.
    private let groupCodes: UnsafeMutablePointer<UnsafePointer<UInt32>>
    private let filterCodes: UnsafeMutablePointer<UnsafePointer<UInt32>>
    private let filterDeny: UnsafeMutablePointer<UnsafePointer<UInt8>>
    private let measures: Measures
    var stats = QueryStatistics()

    /// Rows a head block holds at most.
    static let headBlockRows = 4096
    /// The most models a priced granule may price for its cost sums to come from per-model token sums (more are
    /// summed row by row).
    static let pricedModels = 256

    init(measures: Measures) {
        self.measures = measures
        codes = .allocate(capacity: 1)
        input = .allocate(capacity: 1)
        output = .allocate(capacity: 1)
        cost = .allocate(capacity: 1)
        slots = .allocate(capacity: 1)
        keys = .allocate(capacity: 1)
        dead = .allocate(capacity: 1)
        rowBuckets = .allocate(capacity: 1)
        priceSums = .allocate(capacity: 16 * Self.pricedModels)
        let n = Dimension.allCases.count + 1
        groupCodes = .allocate(capacity: n)
        filterCodes = .allocate(capacity: n)
        filterDeny = .allocate(capacity: n)
        reserve(Self.headBlockRows)
    }

    deinit {
        codes.deallocate(); input.deallocate(); output.deallocate(); cost.deallocate()
        slots.deallocate(); keys.deallocate(); dead.deallocate(); rowBuckets.deallocate()
        groupCodes.deallocate(); filterCodes.deallocate(); filterDeny.deallocate(); priceSums.deallocate()
    }

    private mutating func reserve(_ rows: Int) {
        guard rows > capacity else { return }
        codes.deallocate(); input.deallocate(); output.deallocate(); cost.deallocate()
        slots.deallocate(); keys.deallocate(); dead.deallocate(); rowBuckets.deallocate()
        capacity = rows
        codes = .allocate(capacity: rows * Dimension.allCases.count)
        input = .allocate(capacity: rows)
        output = .allocate(capacity: rows)
        cost = .allocate(capacity: rows)
        slots = .allocate(capacity: rows)
        keys = .allocate(capacity: rows)
        dead = .allocate(capacity: rows)
        rowBuckets = .allocate(capacity: rows)
    }

    /// Scans one unit of `plan` into `partial`.
    mutating func run(_ unit: WorkUnit, _ plan: SourcePlan, into partial: Partial) throws {
        switch plan.source {
        case let .part(part): try scanPart(part, plan, unit, partial)
        case let .head(head): scanHead(head, plan, unit, partial)
        }
    }

    // MARK: Parts

    private mutating func scanPart(_ part: PartReader, _ plan: SourcePlan, _ unit: WorkUnit, _ partial: Partial) throws {
        reserve(plan.maxGranuleRows)
        let granules = part.granules  // the one field used: a copy of the whole footer retains all of it
        // Every group is one model (or there is one group) in a flat layout: a priced granule's cost sums come from
        // its models' token sums (unless a filter leaves rows out: they go to the trash slot row by row).
        let byModel = plan.layout.flat
            && (plan.groupDims.isEmpty || (plan.groupDims.count == 1 && plan.groupDims[0] == .model))
        let ranges = plan.ranges
        let filters = plan.filters
        var r = 0
        for gi in plan.granules[unit.start..<unit.end] {
            let g = granules[gi]
            let gs = g.rowStart, ge = g.rowStart + g.rows
            if r < ranges.count && ranges[r].end <= gs {
                var a = r, b = ranges.count
                while a < b {
                    let mid = (a + b) / 2
                    if ranges[mid].end <= gs { a = mid + 1 } else { b = mid }
                }
                r = a
            }
            guard r < ranges.count, ranges[r].start < ge else { continue }

            // Zone maps: skip the granule when a filter passes none of its codes; drop a filter when it
            // passes all of them.
            var active = 0
            var skip = false
            for f in filters {
                let ref = g.blocks[PartColumn.of(f.dimension).rawValue]
                let n = f.allowedCount(ref.min, ref.max)
                if n == 0 { skip = true; break }
                if n < ref.max - ref.min + 1 {
                    filterDeny[active] = UnsafePointer(f.deny)
                    filterCodes[active] = UnsafePointer(codes + f.dimension.rawValue * capacity)
                    active += 1
                }
            }
            if skip {
                stats.granulesSkipped += 1
                continue
            }
            stats.granulesScanned += 1

            // Decode only the columns this query needs, each once.
            var decoded: UInt32 = 0
            for (p, d) in plan.groupDims.enumerated() {
                let out = codes + d.rawValue * capacity
                if decoded & (1 << UInt32(d.rawValue)) == 0 {
                    try part.decodeCodes(gi, d, &decoder, into: out)
                    decoded |= 1 << UInt32(d.rawValue)
                }
                groupCodes[p] = UnsafePointer(out)
            }
            for f in filters where decoded & (1 << UInt32(f.dimension.rawValue)) == 0 {
                let ref = g.blocks[PartColumn.of(f.dimension).rawValue]
                guard f.allowedCount(ref.min, ref.max) < ref.max - ref.min + 1 else { continue }
                try part.decodeCodes(gi, f.dimension, &decoder, into: codes + f.dimension.rawValue * capacity)
                decoded |= 1 << UInt32(f.dimension.rawValue)
            }
            // A priced cost block is computed from the granule's model codes and token counts: row by row, or, where
            // every group is one model, as each model's prices times its token sums (`aggregatePriced`).
            let priced = try measures.cost && part.costIsPriced(gi)
            if measures.input || priced { try part.decodeIntegers(gi, .inputTokens, &decoder, into: input) }
            if measures.output || priced { try part.decodeIntegers(gi, .outputTokens, &decoder, into: output) }
            var terms: PricedTerms?
            if priced {
                let model = codes + Dimension.model.rawValue * capacity
                if decoded & (1 << UInt32(Dimension.model.rawValue)) == 0 {
                    try part.decodeCodes(gi, .model, &decoder, into: model)
                    decoded |= 1 << UInt32(Dimension.model.rawValue)
                }
                let t = try part.decodePricedTerms(gi, &decoder, model: model, residualsInto: cost)
                if byModel && active == 0 && t.models <= Self.pricedModels {
                    terms = t
                    stats.granulesPricedFromSums += 1
                } else {
                    t.addPrices(rows: g.rows, CostInputs(model: model, input: input, output: output), into: cost)
                }
            } else if measures.cost {
                try part.decodeIntegers(gi, .cost, &decoder, into: cost)
            }

            var k = r
            while k < ranges.count && ranges[k].start < ge {
                let a = max(ranges[k].start, gs) - gs
                let b = min(ranges[k].end, ge) - gs
                if let terms {
                    aggregatePriced(plan.layout, partial, offset: a, rows: b - a, bucket: ranges[k].bucket, terms,
                                    byCode: !plan.groupDims.isEmpty)
                } else {
                    aggregate(plan.layout, partial, offset: a, rows: b - a, groups: plan.groupDims.count,
                              filters: active, bucket: ranges[k].bucket, perRowBucket: false)
                }
                stats.rowsScanned += b - a
                k += 1
            }
        }
    }

    // MARK: Heads

    private mutating func scanHead(_ head: HeadView, _ plan: SourcePlan, _ unit: WorkUnit, _ partial: Partial) {
        let filters = plan.filters
        let perRowBucket = plan.layout.buckets > 1
        let timed = plan.timeCheck || perRowBucket
        for c in unit.start..<unit.end {
            let chunk = head.chunks[c]
            let n = head.chunkRows[c]
            var start = 0
            while start < n {
                let m = min(Self.headBlockRows, n - start)
                for (p, d) in plan.groupDims.enumerated() { groupCodes[p] = UnsafePointer(chunk.codes(d) + start) }
                for (i, f) in filters.enumerated() {
                    filterCodes[i] = UnsafePointer(chunk.codes(f.dimension) + start)
                    filterDeny[i] = UnsafePointer(f.deny)
                }
                var active = filters.count
                if timed {
                    markTime(UnsafePointer(chunk.createdAt + start), m, plan)
                    active += 1  // `dead` already holds the time check; filters OR into it
                }
                inputBase = UnsafePointer(chunk.inputTokens + start)
                outputBase = UnsafePointer(chunk.outputTokens + start)
                costBase = UnsafePointer(chunk.cost + start)
                aggregate(plan.layout, partial, offset: 0, rows: m, groups: plan.groupDims.count,
                          filters: active, bucket: 0, perRowBucket: perRowBucket, timeInDead: timed)
                inputBase = nil; outputBase = nil; costBase = nil
                stats.rowsScanned += m
                start += m
            }
        }
    }

    /// Head blocks lend their columns in place; parts use the decode buffers.
    private var inputBase: UnsafePointer<Int64>?
    private var outputBase: UnsafePointer<Int64>?
    private var costBase: UnsafePointer<Int64>?

    /// `dead[i]` = row outside `[lo, hi)`; `rowBuckets[i]` = its local bucket (0 when dead).
    private func markTime(_ t: UnsafePointer<Int64>, _ n: Int, _ plan: SourcePlan) {
        let lo = plan.lo, hi = plan.hi
        let first = plan.firstBucket, width = max(plan.width, 1)
        for i in 0..<n {
            let v = t[i]
            let out = v < lo || v >= hi
            dead[i] = out ? 1 : 0
            let b = (v &- first) / width
            rowBuckets[i] = out ? 0 : UInt32(truncatingIfNeeded: b)
        }
    }

    // MARK: Kernels

    /// Maps rows `offset..<offset+rows` of the current block to slots and sums them into `partial`.
    ///
    /// `filters` leading entries of `filterCodes`/`filterDeny` apply (plus the time check already in
    /// `dead` when `timeInDead`); `bucket` is the local bucket of every row unless `perRowBucket`.
    private mutating func aggregate(_ layout: KeyLayout, _ partial: Partial, offset: Int, rows n: Int, groups: Int,
                                    filters: Int, bucket: Int, perRowBucket: Bool, timeInDead: Bool = false) {
        guard n > 0 else { return }
        let inP = (inputBase ?? UnsafePointer(input)) + offset
        let outP = (outputBase ?? UnsafePointer(output)) + offset
        let costP = (costBase ?? UnsafePointer(cost)) + offset
        let hasDead = filters > 0
        let realFilters = timeInDead ? filters - 1 : filters
        if hasDead { markFilters(offset: offset, rows: n, filters: realFilters, keepExisting: timeInDead) }
        let space = layout.dimSpace

        if layout.flat {
            let base = perRowBucket ? 0 : UInt32(truncatingIfNeeded: UInt64(bucket) * space)
            if groups == 0 && !hasDead && !perRowBucket {
                let s = Int(base) * partial.lanes
                partial.count[s] &+= Int64(n)
                if measures.input { partial.input[s] &+= Self.sum(inP, n) }
                if measures.output { partial.output[s] &+= Self.sum(outP, n) }
                if measures.cost { partial.cost[s] &+= Self.sum(costP, n) }
                return
            }
            let slotP: UnsafePointer<UInt32>
            if groups == 1 && !hasDead && !perRowBucket {
                slotP = groupCodes[0] + offset
            } else {
                if groups == 0 {
                    slots.update(repeating: 0, count: n)
                } else {
                    let c0 = groupCodes[0] + offset, st0 = layout.strides[0]
                    for i in 0..<n { slots[i] = c0[i] &* st0 }
                    for p in 1..<max(groups, 1) {
                        let c = groupCodes[p] + offset, st = layout.strides[p]
                        for i in 0..<n { slots[i] = slots[i] &+ c[i] &* st }
                    }
                }
                if perRowBucket {
                    let sp = UInt32(truncatingIfNeeded: space)
                    for i in 0..<n { slots[i] = slots[i] &+ rowBuckets[i] &* sp }
                }
                if hasDead {
                    let trash = partial.trash &- base
                    for i in 0..<n { slots[i] = dead[i] != 0 ? trash : slots[i] }
                }
                slotP = UnsafePointer(slots)
            }
            accumulate(n, slotP, base, inP, outP, costP, partial)
            return
        }

        // Hashed: build 64-bit keys step by step (re-keying when the space grows too large), then slots.
        if groups == 0 { keys.update(repeating: 0, count: n) }
        var started = false
        for step in layout.steps {
            switch step {
            case let .dim(position, size):
                let c = groupCodes[position] + offset
                if started {
                    for i in 0..<n { keys[i] = keys[i] &* size &+ UInt64(c[i]) }
                } else {
                    for i in 0..<n { keys[i] = UInt64(c[i]) }
                    started = true
                }
            case let .rekey(level):
                let table = partial.rekeys[level]
                if !started { keys.update(repeating: 0, count: n); started = true }
                if hasDead {
                    for i in 0..<n where dead[i] == 0 { keys[i] = UInt64(table.slot(keys[i])) }
                } else {
                    for i in 0..<n { keys[i] = UInt64(table.slot(keys[i])) }
                }
            }
        }
        if perRowBucket {
            for i in 0..<n { keys[i] = keys[i] &+ UInt64(rowBuckets[i]) &* space }
        } else if bucket > 0 {
            let term = UInt64(bucket) &* space
            for i in 0..<n { keys[i] = keys[i] &+ term }
        }
        let table = partial.table!
        if hasDead {
            for i in 0..<n { slots[i] = dead[i] != 0 ? 0 : table.slot(keys[i]) }
        } else {
            for i in 0..<n { slots[i] = table.slot(keys[i]) }
        }
        partial.reserveSlots()
        accumulate(n, UnsafePointer(slots), 0, inP, outP, costP, partial)
    }

    /// Sums rows `offset..<offset+rows` of a priced granule into `partial` without a cost per row: each model's count,
    /// token sums and residual sum, then its cost sum as `residuals + inputPrice x input + outputPrice x output`,
    /// equal to the sum of the rows' costs in wrapping arithmetic. `byCode`: the groups are the model codes; else
    /// one group. No filter applies and the layout is flat (`scanPart` checks).
    private func aggregatePriced(_ layout: KeyLayout, _ partial: Partial, offset: Int, rows n: Int, bucket: Int,
                                 _ terms: PricedTerms, byCode: Bool) {
        guard n > 0 else { return }
        let models = terms.models
        let sums = priceSums
        sums.update(repeating: 0, count: 16 * models)
        let cnt = sums, ins = sums + 4 * models, outs = sums + 8 * models, res = sums + 12 * models
        let model = UnsafePointer(codes + Dimension.model.rawValue * capacity + offset)
        let inP = UnsafePointer(input + offset), outP = UnsafePointer(output + offset)
        // Four lanes per model: consecutive rows of one model add to different words.
        if terms.constantResidual == nil {
            let resP = UnsafePointer(cost + offset)
            for i in 0..<n {
                let s = Int(model[i]) << 2 | (i & 3)
                cnt[s] &+= 1
                ins[s] &+= inP[i]
                outs[s] &+= outP[i]
                res[s] &+= resP[i]
            }
        } else {
            for i in 0..<n {
                let s = Int(model[i]) << 2 | (i & 3)
                cnt[s] &+= 1
                ins[s] &+= inP[i]
                outs[s] &+= outP[i]
            }
        }
        let base = UInt32(truncatingIfNeeded: UInt64(bucket) &* layout.dimSpace)
        let shift = partial.lanes == 4 ? 2 : 0
        for m in 0..<models {
            let l = m << 2
            let c = cnt[l] &+ cnt[l + 1] &+ cnt[l + 2] &+ cnt[l + 3]
            guard c != 0 else { continue }
            let sumIn = ins[l] &+ ins[l + 1] &+ ins[l + 2] &+ ins[l + 3]
            let sumOut = outs[l] &+ outs[l + 1] &+ outs[l + 2] &+ outs[l + 3]
            let sumRes = terms.constantResidual.map { $0 &* c } ?? (res[l] &+ res[l + 1] &+ res[l + 2] &+ res[l + 3])
            let s = Int(byCode ? base &+ UInt32(m) : base) << shift
            partial.count[s] &+= c
            if measures.input { partial.input[s] &+= sumIn }
            if measures.output { partial.output[s] &+= sumOut }
            partial.cost[s] &+= sumRes &+ terms.inputPrice(m) &* sumIn &+ terms.outputPrice(m) &* sumOut
        }
    }

    /// `dead[i]` |= the deny bit of each applying filter's code.
    private func markFilters(offset: Int, rows n: Int, filters: Int, keepExisting: Bool) {
        var first = !keepExisting
        for f in 0..<filters {
            let c = filterCodes[f] + offset
            let deny = filterDeny[f]
            if first {
                for i in 0..<n { dead[i] = deny[Int(c[i])] }
                first = false
            } else {
                for i in 0..<n { dead[i] |= deny[Int(c[i])] }
            }
        }
    }

    /// Sums rows into `partial` at `base + slots[i]` (and lane `i % 4` when the partial has lanes).
    @inline(__always)
    private func accumulate(_ n: Int, _ slots: UnsafePointer<UInt32>, _ base: UInt32, _ inP: UnsafePointer<Int64>,
                            _ outP: UnsafePointer<Int64>, _ costP: UnsafePointer<Int64>, _ partial: Partial) {
        if partial.lanes == 4 {
            accumulate(n, slots, base, inP, outP, costP, partial, shift: 2, laneMask: 3)
        } else {
            accumulate(n, slots, base, inP, outP, costP, partial, shift: 0, laneMask: 0)
        }
    }

    @inline(__always)
    private func accumulate(_ n: Int, _ slots: UnsafePointer<UInt32>, _ base: UInt32, _ inP: UnsafePointer<Int64>,
                            _ outP: UnsafePointer<Int64>, _ costP: UnsafePointer<Int64>, _ partial: Partial,
                            shift: Int, laneMask: Int) {
        let cnt = partial.count
        switch (measures.input, measures.output, measures.cost) {
        case (false, false, false):
            for i in 0..<n { cnt[(Int(base &+ slots[i]) << shift) | (i & laneMask)] &+= 1 }
        case (false, false, true):
            let cs = partial.cost
            for i in 0..<n {
                let s = (Int(base &+ slots[i]) << shift) | (i & laneMask)
                cnt[s] &+= 1
                cs[s] &+= costP[i]
            }
        case (true, true, true):
            let ins = partial.input, outs = partial.output, cs = partial.cost
            for i in 0..<n {
                let s = (Int(base &+ slots[i]) << shift) | (i & laneMask)
                cnt[s] &+= 1
                ins[s] &+= inP[i]
                outs[s] &+= outP[i]
                cs[s] &+= costP[i]
            }
        case let (wantIn, wantOut, wantCost):
            for i in 0..<n { cnt[(Int(base &+ slots[i]) << shift) | (i & laneMask)] &+= 1 }
            if wantIn { Self.add(n, slots, base, inP, partial.input, shift, laneMask) }
            if wantOut { Self.add(n, slots, base, outP, partial.output, shift, laneMask) }
            if wantCost { Self.add(n, slots, base, costP, partial.cost, shift, laneMask) }
        }
    }

    @inline(__always)
    private static func add(_ n: Int, _ slots: UnsafePointer<UInt32>, _ base: UInt32, _ values: UnsafePointer<Int64>,
                            _ sums: UnsafeMutablePointer<Int64>, _ shift: Int, _ laneMask: Int) {
        for i in 0..<n { sums[(Int(base &+ slots[i]) << shift) | (i & laneMask)] &+= values[i] }
    }

    @inline(__always)
    private static func sum(_ p: UnsafePointer<Int64>, _ n: Int) -> Int64 {
        var s: Int64 = 0
        for i in 0..<n { s &+= p[i] }
        return s
    }
}
