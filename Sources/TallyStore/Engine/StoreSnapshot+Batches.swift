/// Reading the rows of a tenant back in bounded pieces: what exports stream from.
extension StoreSnapshot {
    /// Calls `body` with the records of `tenant` with `from <= created_at < to` that match `filters`
    /// (per dimension, one of the values, byte for byte), one granule of a part or one chunk of the head at a
    /// time, in no particular order across pieces.
    ///
    /// Memory stays bounded by one granule (8192 rows) whatever the window: each piece is decoded into
    /// reused buffers and handed over as a `RecordBatch` whose string table holds only the values that piece
    /// uses, so `RecordWriter` can write it as CSV or NDJSON that `tally import` reads back. Granules outside
    /// the window are skipped by their `created_at` zone map. A part that fails its checksum is quarantined
    /// and the error thrown, as in `records(tenant:from:to:)`.
    public func forEachBatch(
        tenant: String, from: Int64 = .min, to: Int64 = .max, filters: [Dimension: [String]] = [:],
        _ body: (RecordBatch) throws -> Void
    ) throws {
        var builder = BatchBuilder(tenant: tenant)
        for p in parts(of: tenant) where p.maxTime >= from && p.minTime < to {
            do {
                try builder.scan(part: p, from: from, to: to, filters: filters, body)
            } catch let e as StoreError {
                try? store?.quarantine(partPath: p.path, because: e)
                throw e
            }
        }
        for h in heads where h.tenant == tenant && h.maxTime >= from && h.minTime < to {
            try builder.scan(head: h, from: from, to: to, filters: filters, body)
        }
    }

    /// An upper bound of the rows `forEachBatch` reads for `tenant` in the window (whole parts and head views
    /// that overlap it): for progress displays.
    public func rowBound(tenant: String, from: Int64 = .min, to: Int64 = .max) -> Int {
        parts(of: tenant).reduce(0) { n, p in
            p.maxTime >= from && p.minTime < to ? n + p.rows : n
        } + heads.reduce(0) { n, h in h.tenant == tenant && h.maxTime >= from && h.minTime < to ? n + h.rows : n }
    }
}

/// Turns decoded column pieces into `RecordBatch`es, re-coding each piece's dictionary codes into a batch-local
/// string table (only the values the piece uses).
private struct BatchBuilder: ~Copyable {
    let tenant: String
    var capacity = 0
    var createdAt: UnsafeMutablePointer<Int64> = .allocate(capacity: 1)
    var inputTokens: UnsafeMutablePointer<Int64> = .allocate(capacity: 1)
    var outputTokens: UnsafeMutablePointer<Int64> = .allocate(capacity: 1)
    var cost: UnsafeMutablePointer<Int64> = .allocate(capacity: 1)
    var codes: [UnsafeMutablePointer<UInt32>] = Dimension.allCases.map { _ in .allocate(capacity: 1) }
    /// Per dimension: the batch code of a dictionary code, `UInt32.max` when not yet used in this batch.
    var remap: [[UInt32]] = Array(repeating: [], count: Dimension.allCases.count)
    var touched: [[Int]] = Array(repeating: [], count: Dimension.allCases.count)

    init(tenant: String) { self.tenant = tenant }

    deinit {
        for p in [createdAt, inputTokens, outputTokens, cost] { p.deallocate() }
        for p in codes { p.deallocate() }
    }

    mutating func reserve(_ rows: Int) {
        guard rows > capacity else { return }
        for p in [createdAt, inputTokens, outputTokens, cost] { p.deallocate() }
        for p in codes { p.deallocate() }
        capacity = rows
        createdAt = .allocate(capacity: rows)
        inputTokens = .allocate(capacity: rows)
        outputTokens = .allocate(capacity: rows)
        cost = .allocate(capacity: rows)
        codes = Dimension.allCases.map { _ in .allocate(capacity: rows) }
    }

    /// Per filtered dimension, which codes of `dictionaries` pass.
    static func allowed(_ filters: [Dimension: [String]], _ dictionaries: [[String]]) -> [(Int, [Bool])] {
        filters.sorted { $0.key < $1.key }.map { d, values in
            (d.rawValue, dictionaries[d.rawValue].map { v in values.contains { $0.utf8.elementsEqual(v.utf8) } })
        }
    }

    mutating func scan(part p: PartReader, from: Int64, to: Int64, filters: [Dimension: [String]], _ body: (RecordBatch) throws -> Void) throws {
        try p.load()
        let dictionaries = Array(p.meta.dictionaries)
        let allowed = Self.allowed(filters, dictionaries)
        resetRemap(dictionaries)
        reserve(max(p.meta.granules.map(\.rows).max() ?? 1, 1))
        var decoder = BlockDecoder()
        for (g, granule) in p.meta.granules.enumerated() {
            let zone = granule.blocks[PartColumn.createdAt.rawValue]
            guard zone.max >= from && zone.min < to else { continue }
            try p.decodeIntegers(g, .createdAt, &decoder, into: createdAt)
            try p.decodeIntegers(g, .inputTokens, &decoder, into: inputTokens)
            try p.decodeIntegers(g, .outputTokens, &decoder, into: outputTokens)
            for d in Dimension.allCases { try p.decodeCodes(g, d, &decoder, into: codes[d.rawValue]) }
            let prices = CostInputs(model: codes[Dimension.model.rawValue], input: inputTokens, output: outputTokens)
            try p.decodeIntegers(g, .cost, &decoder, costInputs: prices, into: cost)
            var batch = RecordBatch()
            let t = batch.strings.intern(tenant)
            try p.decodeRequestIDs(g, &decoder) { i, rid in
                append(i, rid, tenantCode: t, from: from, to: to, allowed: allowed, dictionaries: dictionaries, into: &batch)
            }
            clearRemap()
            if batch.count > 0 { try body(batch) }
        }
    }

    mutating func scan(head h: HeadView, from: Int64, to: Int64, filters: [Dimension: [String]], _ body: (RecordBatch) throws -> Void) throws {
        let allowed = Self.allowed(filters, h.dictionaries)
        resetRemap(h.dictionaries)
        for (chunk, n) in zip(h.chunks, h.chunkRows) where n > 0 {
            reserve(n)
            createdAt.update(from: chunk.createdAt, count: n)
            inputTokens.update(from: chunk.inputTokens, count: n)
            outputTokens.update(from: chunk.outputTokens, count: n)
            cost.update(from: chunk.cost, count: n)
            for d in Dimension.allCases { codes[d.rawValue].update(from: chunk.codes(d), count: n) }
            var batch = RecordBatch()
            let t = batch.strings.intern(tenant)
            for i in 0..<n {
                append(i, chunk.requestID(i), tenantCode: t, from: from, to: to, allowed: allowed, dictionaries: h.dictionaries,
                       into: &batch)
            }
            clearRemap()
            if batch.count > 0 { try body(batch) }
        }
    }

    private mutating func append(
        _ i: Int, _ rid: UnsafeRawBufferPointer, tenantCode: UInt32, from: Int64, to: Int64, allowed: [(Int, [Bool])],
        dictionaries: [[String]], into batch: inout RecordBatch
    ) {
        let at = createdAt[i]
        guard at >= from && at < to else { return }
        for (d, pass) in allowed {
            let c = Int(codes[d][i])
            guard c < pass.count, pass[c] else { return }
        }
        func local(_ d: Int) -> UInt32 {
            let c = Int(codes[d][i])
            if remap[d][c] == .max {
                remap[d][c] = batch.strings.intern(dictionaries[d][c])
                touched[d].append(c)
            }
            return remap[d][c]
        }
        let dims = (local(0), local(1), local(2), local(3), local(4), local(5), local(6))
        batch.append(
            tenant: tenantCode, dims: dims,
            requestID: rid, inputTokens: inputTokens[i], outputTokens: outputTokens[i], costNanos: cost[i],
            createdAt: at, line: batch.count + 1)
    }

    private mutating func resetRemap(_ dictionaries: [[String]]) {
        for d in 0..<remap.count {
            remap[d] = [UInt32](repeating: .max, count: dictionaries[d].count)
            touched[d].removeAll(keepingCapacity: true)
        }
    }

    /// Forgets the batch codes of the last batch (only the entries it used).
    private mutating func clearRemap() {
        for d in 0..<remap.count {
            for c in touched[d] { remap[d][c] = .max }
            touched[d].removeAll(keepingCapacity: true)
        }
    }
}
