/// Writes one immutable part file from the rows of one tenant.
package enum PartWriter {
    /// Sorts `rows` by `created_at`, encodes them and returns the file's bytes and its metadata.
    ///
    /// `version` 1 writes the old layout (no header in the block CRCs, no filter); only tests use it,
    /// to show how stores written before version 2 are read.
    package static func encode(_ unsorted: PartRows, id: UInt64, level: Int, granuleRows: Int = PartFormat.defaultGranuleRows,
                               version: UInt16 = PartFormat.version) -> (bytes: [UInt8], meta: PartMeta) {
        precondition(PartFormat.readableVersions.contains(version), "unknown part version \(version)")
        precondition(unsorted.count > 0, "a part holds at least one row")
        let granuleRows = min(max(granuleRows, 1), 1 << 16)
        // Rows usually arrive in time order (a load of a time-ordered file, a head sealed in arrival order): then
        // the order is the identity and the columns are taken as they are.
        let inOrder = unsorted.createdAt.withUnsafeBufferPointer { t in (1..<max(1, t.count)).allSatisfy { t[$0 - 1] <= t[$0] } }
        let order = inOrder ? nil : (0..<unsorted.count).sorted { (unsorted.createdAt[$0], $0) < (unsorted.createdAt[$1], $1) }
        let (rows, dictionaries) = sortedRows(unsorted, order)
        let n = rows.count

        var file = PartFormat.magic
        file.append(contentsOf: [UInt8(version & 0xFF), UInt8(version >> 8), 0, 0, 0, 0, 0, 0])
        var encoder = BlockEncoder(coversHeader: version >= 2)
        var granules: [Granule] = []
        var start = 0
        while start < n {
            let end = min(n, start + granuleRows)
            var refs: [BlockRef] = []
            refs.reserveCapacity(PartColumn.allCases.count)
            for column in PartColumn.allCases {
                let offset = file.count
                var lo: Int64 = 0, hi: Int64 = 0
                switch column {
                case .requestID:
                    rows.requestBytes.withUnsafeBytes { all in
                        encoder.encodeBytes(count: end - start, { i in
                            UnsafeRawBufferPointer(rebasing: all[rows.requestOffsets[start + i]..<rows.requestOffsets[start + i + 1]])
                        }, into: &file)
                    }
                case .cost where version >= 3:
                    let range = start..<end
                    rows.cost[range].withUnsafeBufferPointer { cost in
                        lo = cost.min()!
                        hi = cost.max()!
                        rows.inputTokens[range].withUnsafeBufferPointer { input in
                            rows.outputTokens[range].withUnsafeBufferPointer { output in
                                rows.dims[Dimension.model.rawValue][range].withUnsafeBufferPointer { model in
                                    encoder.encodeCost(cost, input: input, output: output, model: model, into: &file)
                                }
                            }
                        }
                    }
                default:
                    let values: [Int64] = Self.values(rows, column, start..<end)
                    lo = values.min()!
                    hi = values.max()!
                    values.withUnsafeBufferPointer { v in
                        if column == .createdAt {
                            encoder.encodeDelta(v, patching: version >= 3, into: &file)
                        } else {
                            encoder.encodeFOR(v, into: &file)
                        }
                    }
                }
                refs.append(BlockRef(offset: offset, length: file.count - offset, min: lo, max: hi))
            }
            granules.append(Granule(rowStart: start, rows: end - start, blocks: refs))
            start = end
        }

        let (hourEntries, hourRollups) = hours(rows, dictionaries)
        let wholePartRollups = partRollups(rows, dictionaries, version: version)
        var meta = PartMeta(
            id: id, tenant: rows.tenant, level: level, rows: n,
            minTime: rows.createdAt[0], maxTime: rows.createdAt[n - 1],
            dictionaries: dictionaries, granules: granules, hours: hourEntries, hourRollups: hourRollups,
            partRollups: wholePartRollups)
        if version >= 2 && n >= PartFormat.filterMinRows {
            let filter = requestIDFilter(rows)
            meta.filter = FilterRef(offset: file.count, length: filter.count, crc: CRC32C.checksum(filter))
            file.append(contentsOf: filter)
        }
        let footerOffset = file.count
        let bodyCRC = CRC32C.checksum(file)
        let raw = PartFooterCodec.encode(meta, hourRollups: hourRollups, partRollups: wholePartRollups, version: version)
        let compressed = LZ4.compress(raw)
        let useLZ4 = compressed.count < raw.count
        let stored = useLZ4 ? compressed : raw
        file.append(contentsOf: stored)
        var t = ByteWriter(capacity: PartFormat.trailerSize)
        t.u64(UInt64(footerOffset))
        t.u32(UInt32(stored.count))
        t.u32(UInt32(raw.count))
        t.u32(0)  // the footer CRC, below: in v2 it covers this trailer too
        t.u32(bodyCRC)
        t.u16(version)
        t.u8(useLZ4 ? 1 : 0)
        t.u8(0)
        t.bytes.append(contentsOf: PartFormat.trailerMagic)
        let footerCRC = stored.withUnsafeBytes { f in
            t.bytes.withUnsafeBytes { PartFormat.footerChecksum(footer: f, trailer: $0, version: version) }
        }
        t.bytes.withUnsafeMutableBytes { $0.storeBytes(of: footerCRC.littleEndian, toByteOffset: PartFormat.trailerFooterCRCOffset, as: UInt32.self) }
        file.append(contentsOf: t.bytes)
        return (file, meta)
    }

    /// The request-id filter of a part's rows (every id, hashed as the deduplicator hashes them).
    private static func requestIDFilter(_ rows: PartRows) -> [UInt8] {
        let hashes = [UInt64](unsafeUninitializedCapacity: rows.count) { out, initialized in
            rows.requestBytes.withUnsafeBytes { all in
                rows.requestOffsets.withUnsafeBufferPointer { offsets in
                    for i in 0..<rows.count {
                        out[i] = RequestIDSet.filterHash(UnsafeRawBufferPointer(rebasing: all[offsets[i]..<offsets[i + 1]]))
                    }
                }
            }
            initialized = rows.count
        }
        return hashes.withUnsafeBufferPointer { RequestIDFilter.build($0) }
    }

    /// Encodes and writes a part durably: temp file, fsync, rename, directory fsync.
    /// `synced: false` leaves the file and its directory entry unsynced: the caller makes them durable before any
    /// manifest lists the part (a bulk load syncs the file system once at its commit).
    package static func write(_ rows: PartRows, id: UInt64, level: Int, directory: String, granuleRows: Int = PartFormat.defaultGranuleRows,
                              version: UInt16 = PartFormat.version, synced: Bool = true) throws -> (path: String, bytes: Int, meta: PartMeta) {
        let (bytes, meta) = encode(rows, id: id, level: level, granuleRows: granuleRows, version: version)
        let path = directory + "/" + PartFormat.fileName(id)
        if synced {
            try FileIO.writeAtomically(bytes, to: path, directory: directory)
        } else {
            try FileIO.writeUnsynced(bytes, to: path)
        }
        return (path, bytes.count, meta)
    }

    private static func values(_ rows: PartRows, _ column: PartColumn, _ range: Range<Int>) -> [Int64] {
        switch column {
        case .createdAt: Array(rows.createdAt[range])
        case .inputTokens: Array(rows.inputTokens[range])
        case .outputTokens: Array(rows.outputTokens[range])
        case .cost: Array(rows.cost[range])
        case .requestID: []
        default: rows.dims[column.dimension!.rawValue][range].map { Int64($0) }
        }
    }

    /// The rows at `order` (nil: as they are), each dictionary cut to the values used and sorted (byte order), so
    /// codes order like strings and zone maps prune string ranges. One pass per column: the codes are re-coded while
    /// they are permuted.
    private static func sortedRows(_ unsorted: PartRows, _ order: [Int]?) -> (PartRows, [[String]]) {
        var out = PartRows(tenant: unsorted.tenant)
        func gathered(_ column: [Int64]) -> [Int64] { order.map { Self.gather(column, $0) } ?? column }
        out.createdAt = gathered(unsorted.createdAt)
        out.inputTokens = gathered(unsorted.inputTokens)
        out.outputTokens = gathered(unsorted.outputTokens)
        out.cost = gathered(unsorted.cost)
        for d in 0..<unsorted.dims.count {
            let dict = unsorted.dictionaries[d]
            let kept: [Int]
            if unsorted.dims[d].count * 8 < dict.count {
                // Few rows against a large dictionary (a bulk load's small tenant codes into the load's whole string
                // table): work on the codes present, not on the dictionary, which a table per part would walk
                // thousands of times. Each row's code is numbered among the codes present through a small hash table.
                let (present, local) = unsorted.dims[d].withUnsafeBufferPointer { Self.numbered($0) }
                let byString = present.indices.sorted { UTF8Order.precedes(dict[Int(present[$0])], dict[Int(present[$1])]) }
                kept = byString.map { Int(present[$0]) }
                var rank = [UInt32](repeating: 0, count: present.count)
                for (r, j) in byString.enumerated() { rank[j] = UInt32(r) }
                out.dims[d] = local.withUnsafeBufferPointer { l in
                    rank.withUnsafeBufferPointer { r in
                        if let order { return order.map { r[Int(l[$0])] } }
                        return l.map { r[Int($0)] }
                    }
                }
            } else {
                var used = [Bool](repeating: false, count: dict.count)
                unsorted.dims[d].withUnsafeBufferPointer { codes in
                    used.withUnsafeMutableBufferPointer { u in for c in codes { u[Int(c)] = true } }
                }
                kept = (0..<dict.count).filter { used[$0] }.sorted { UTF8Order.precedes(dict[$0], dict[$1]) }
                var remap = [UInt32](repeating: 0, count: dict.count)
                for (new, old) in kept.enumerated() { remap[old] = UInt32(new) }
                out.dims[d] = unsorted.dims[d].withUnsafeBufferPointer { codes in
                    remap.withUnsafeBufferPointer { r in
                        if let order { return order.map { r[Int(codes[$0])] } }
                        return codes.map { r[Int($0)] }
                    }
                }
            }
            out.dictionaries[d] = kept.map { dict[$0] }
        }
        guard let order else {
            out.requestOffsets = unsorted.requestOffsets
            out.requestBytes = unsorted.requestBytes
            return (out, out.dictionaries)
        }
        let offsets = unsorted.requestOffsets
        var end = 0
        out.requestOffsets = [0] + order.map { i in
            end += offsets[i + 1] - offsets[i]
            return end
        }
        out.requestBytes = [UInt8](unsafeUninitializedCapacity: end) { buffer, initialized in
            unsorted.requestBytes.withUnsafeBytes { bytes in
                var at = 0
                for i in order {
                    let len = offsets[i + 1] - offsets[i]
                    if len > 0 { UnsafeMutableRawPointer(buffer.baseAddress! + at).copyMemory(from: bytes.baseAddress! + offsets[i], byteCount: len) }
                    at += len
                }
            }
            initialized = end
        }
        return (out, out.dictionaries)
    }

    private static func gather(_ column: [Int64], _ order: [Int]) -> [Int64] {
        column.withUnsafeBufferPointer { c in order.map { c[$0] } }
    }

    /// The distinct values of `codes` in the order they first occur, and for each element the index of its value
    /// among them: one probe per element of an open-addressing table of at least twice as many slots.
    static func numbered(_ codes: UnsafeBufferPointer<UInt32>) -> (present: [UInt32], local: [UInt32]) {
        var bits = 4
        while 1 << bits < 2 * codes.count { bits += 1 }
        let mask = (1 << bits) - 1
        // Slot: the value's index among `present`, plus one (0: empty).
        var slots = [UInt32](repeating: 0, count: 1 << bits)
        var present: [UInt32] = []
        let local = [UInt32](unsafeUninitializedCapacity: codes.count) { out, initialized in
            slots.withUnsafeMutableBufferPointer { slot in
                for (i, c) in codes.enumerated() {
                    var h = Int(truncatingIfNeeded: (UInt64(c) &* 0x9E37_79B9_7F4A_7C15) >> (64 - bits)) & mask
                    while true {
                        let s = slot[h]
                        if s == 0 {
                            present.append(c)
                            slot[h] = UInt32(present.count)
                            out[i] = UInt32(present.count - 1)
                            break
                        }
                        if present[Int(s) - 1] == c {
                            out[i] = s - 1
                            break
                        }
                        h = (h + 1) & mask
                    }
                }
            }
            initialized = codes.count
        }
        return (present, local)
    }

    /// Count and sums per code of each dimension over the whole part. From version 3, in a part of fewer than
    /// `smallPartRows` rows, a dimension with fewer than `rollupRowsPerValue` rows per value (a small tenant's users or
    /// skills) has none (an empty rollup): such a part is cheaper to scan than its rollup is to store, as for an hour's.
    private static func partRollups(_ rows: PartRows, _ dictionaries: [[String]], version: UInt16) -> [Rollup] {
        (0..<rows.dims.count).map { d in
            let n = dictionaries[d].count
            let kept = version < 3 || rows.count >= PartFormat.smallPartRows || n * PartFormat.rollupRowsPerValue <= rows.count
            guard kept else { return Rollup() }
            var counts = [Int64](repeating: 0, count: n), ins = counts, outs = counts, costs = counts
            withColumns(rows, d) { codes, input, output, cost in
                counts.withUnsafeMutableBufferPointer { counts in
                    ins.withUnsafeMutableBufferPointer { ins in
                        outs.withUnsafeMutableBufferPointer { outs in
                            costs.withUnsafeMutableBufferPointer { costs in
                                for i in 0..<codes.count {
                                    let c = Int(codes[i])
                                    counts[c] += 1
                                    ins[c] += input[i]
                                    outs[c] += output[i]
                                    costs[c] += cost[i]
                                }
                            }
                        }
                    }
                }
            }
            var r = Rollup()
            for c in 0..<n where counts[c] > 0 {
                r.codes.append(UInt32(c)); r.counts.append(counts[c])
                r.inputTokens.append(ins[c]); r.outputTokens.append(outs[c]); r.cost.append(costs[c])
            }
            return r
        }
    }

    /// Lends the codes of dimension `d` and the token and cost columns.
    @inline(__always)
    private static func withColumns<R>(
        _ rows: PartRows, _ d: Int,
        _ body: (UnsafeBufferPointer<UInt32>, UnsafeBufferPointer<Int64>, UnsafeBufferPointer<Int64>, UnsafeBufferPointer<Int64>) -> R
    ) -> R {
        rows.dims[d].withUnsafeBufferPointer { codes in
            rows.inputTokens.withUnsafeBufferPointer { input in
                rows.outputTokens.withUnsafeBufferPointer { output in
                    rows.cost.withUnsafeBufferPointer { cost in body(codes, input, output, cost) }
                }
            }
        }
    }

    /// The hour index: row range and totals per hour, with rollups where they are small enough.
    private static func hours(_ rows: PartRows, _ dictionaries: [[String]]) -> ([HourEntry], HourRollups) {
        var entries: [HourEntry] = []
        var rollups = HourRollups()
        // Per dimension and code: its index in the hour's rollup, or -1 (reset after each hour).
        var base: [Int] = []
        var total = 0
        for dict in dictionaries {
            base.append(total)
            total += dict.count
        }
        var slot = [Int32](repeating: -1, count: max(total, 1))
        var i = 0
        let n = rows.count
        while i < n {
            let hour = TimeUnit.hourStart(rows.createdAt[i])
            var j = i
            var sIn: Int64 = 0, sOut: Int64 = 0, sCost: Int64 = 0
            while j < n && rows.createdAt[j] < hour + TimeUnit.hourMillis {
                sIn += rows.inputTokens[j]; sOut += rows.outputTokens[j]; sCost += rows.cost[j]
                j += 1
            }
            for d in 0..<rows.dims.count {
                let b = base[d]
                let r: Rollup? = withColumns(rows, d) { codes, input, output, cost in
                    slot.withUnsafeMutableBufferPointer { slot in
                        // Distinct codes in order of appearance.
                        var seen: [UInt32] = []
                        for k in i..<j {
                            let c = Int(codes[k])
                            if slot[b + c] < 0 {
                                slot[b + c] = Int32(seen.count)
                                seen.append(UInt32(c))
                            }
                        }
                        defer { for c in seen { slot[b + Int(c)] = -1 } }
                        if seen.count * PartFormat.rollupRowsPerValue > j - i { return nil }
                        var r = Rollup()
                        r.codes = seen
                        r.counts = [Int64](repeating: 0, count: seen.count)
                        r.inputTokens = r.counts
                        r.outputTokens = r.counts
                        r.cost = r.counts
                        r.counts.withUnsafeMutableBufferPointer { counts in
                            r.inputTokens.withUnsafeMutableBufferPointer { ins in
                                r.outputTokens.withUnsafeMutableBufferPointer { outs in
                                    r.cost.withUnsafeMutableBufferPointer { costs in
                                        for k in i..<j {
                                            let s = Int(slot[b + Int(codes[k])])
                                            counts[s] += 1
                                            ins[s] += input[k]
                                            outs[s] += output[k]
                                            costs[s] += cost[k]
                                        }
                                    }
                                }
                            }
                        }
                        return r
                    }
                }
                rollups.append(r)
            }
            entries.append(HourEntry(start: hour, rowStart: i, rows: j - i, inputTokens: sIn, outputTokens: sOut, cost: sCost))
            i = j
        }
        return (entries, rollups)
    }
}

/// The footer body of a part (before LZ4), byte by byte in docs/FORMAT.md.
package enum PartFooterCodec {
    /// The raw footer of `m` (whose hour rollups, if still in a footer's bytes, are decoded first).
    package static func encode(_ m: PartMeta, version: UInt16 = PartFormat.version) throws -> [UInt8] {
        encode(m, hourRollups: try m.hourRollups, partRollups: try m.partRollups(), version: version)
    }

    /// The raw footer of `m` with the hour rollups `hr` and the part rollups `partRollups`.
    package static func encode(_ m: PartMeta, hourRollups hr: HourRollups, partRollups: [Rollup],
                               version: UInt16 = PartFormat.version) -> [UInt8] {
        var w = ByteWriter(capacity: 4096)
        w.string16(m.tenant)
        w.u64(m.id)
        w.u32(UInt32(m.level))
        w.u64(UInt64(m.rows))
        w.i64(m.minTime)
        w.i64(m.maxTime)
        w.u32(UInt32(PartColumn.allCases.count))
        for dict in m.dictionaries {
            w.u32(UInt32(dict.count))
            for s in dict { w.string16(s) }
        }
        w.u32(UInt32(m.granules.count))
        for g in m.granules {
            w.u32(UInt32(g.rowStart))
            w.u32(UInt32(g.rows))
            for b in g.blocks {
                w.u64(UInt64(b.offset)); w.u32(UInt32(b.length)); w.i64(b.min); w.i64(b.max)
            }
        }
        w.u32(UInt32(m.hours.count))
        var previous: Int64 = 0
        let e = hr.entries
        let packed = version >= PartFormat.packedHoursVersion
        for (i, h) in m.hours.enumerated() {
            var mask: UInt8 = 0
            for d in 0..<HourRollups.dimensions where hr.range(hour: i, dimension: d) != nil { mask |= 1 << UInt8(d) }
            let step = (h.start - previous) / TimeUnit.hourMillis
            previous = h.start
            if packed {
                // rows, "the next hour" and "a mask follows" in one varint: most hours of a small tenant take 1 byte here.
                let next = i > 0 && step == 1
                w.varint(UInt64(h.rows) << 2 | (next ? 2 : 0) | (mask != 0 ? 1 : 0))
                if !next { w.svarint(step) }
            } else {
                w.svarint(step)
                w.varint(UInt64(h.rows))
            }
            w.varint(UInt64(h.inputTokens)); w.varint(UInt64(h.outputTokens)); w.varint(UInt64(h.cost))
            if !packed || mask != 0 { w.u8(mask) }
            for d in 0..<HourRollups.dimensions {
                guard let r = hr.range(hour: i, dimension: d) else { continue }
                w.varint(UInt64(r.count))
                for k in r {
                    w.varint(UInt64(e.codes[k])); w.varint(UInt64(e.counts[k]))
                    w.varint(UInt64(e.inputTokens[k])); w.varint(UInt64(e.outputTokens[k])); w.varint(UInt64(e.cost[k]))
                }
            }
        }
        for r in partRollups {
            w.varint(UInt64(r.codes.count))
            var previous: UInt32 = 0
            for k in 0..<r.codes.count {
                w.varint(UInt64(r.codes[k] - previous))
                previous = r.codes[k]
                w.varint(UInt64(r.counts[k]))
                w.varint(UInt64(r.inputTokens[k])); w.varint(UInt64(r.outputTokens[k])); w.varint(UInt64(r.cost[k]))
            }
        }
        if version >= 2 {
            let f = m.filter ?? FilterRef(offset: 0, length: 0, crc: 0)
            w.u64(UInt64(f.offset)); w.u32(UInt32(f.length)); w.u32(f.crc)
        }
        return w.bytes
    }

    /// Decodes and checks a raw footer, its hour and part rollups included.
    package static func decode(_ buffer: UnsafeRawBufferPointer, version: UInt16 = PartFormat.version) throws -> PartMeta {
        try decode(buffer, version: version, deferringRollupsOf: nil)
    }

    /// Decodes and checks a raw footer. With `source` (the part's path and the file offset of its stored footer) the
    /// hours' and the part's rollups are stepped over, their framing checked, and kept as bytes to decode on first use
    /// (`DeferredRollups`): most questions need one dimension of them or none, and an all-tenant one reads every footer.
    /// `body`, when given, holds the same bytes as `buffer`: the rollups then keep it rather than a copy of their part.
    /// The hour entries are then made on first use (`PartMeta.hours`) unless `keepingHours` (a part a question's window
    /// cuts: it is planned hour by hour).
    package static func decode(_ buffer: UnsafeRawBufferPointer, version: UInt16,
                               deferringRollupsOf source: (path: String, footerOffset: Int)?, body: [UInt8]? = nil,
                               keepingHours: Bool = false) throws -> PartMeta {
        var r = ByteReader(buffer)
        let tenant = try r.string16()
        let id = try r.u64()
        let level = Int(try r.u32())
        let rows = try checkedInt(r.u64(), at: r.offset)
        let minTime = try r.i64(), maxTime = try r.i64()
        let columns = Int(try r.u32())
        guard columns == PartColumn.allCases.count else { throw ByteReader.Overrun(offset: r.offset) }
        // With `body` (the bytes of `buffer`, kept), a dictionary's strings are made on its first use
        // (`PartDictionaries`); here each string's length is stepped over within the section.
        var decoded: [[String]] = []
        var dictionaryStarts: [Int] = [], sizes: [Int] = []
        let kept = source != nil && body?.count == buffer.count ? body : nil
        for _ in Dimension.allCases {
            let n = Int(try r.u32())
            guard n <= r.remaining / 2 else { throw ByteReader.Overrun(offset: r.offset) }
            dictionaryStarts.append(r.offset)
            sizes.append(n)
            if kept != nil {
                for _ in 0..<n { _ = try r.bytes16() }
            } else {
                var dict: [String] = []
                dict.reserveCapacity(n)
                for _ in 0..<n { dict.append(try r.string16()) }
                decoded.append(dict)
            }
        }
        let dictionaries = kept.map { PartDictionaries(bytes: $0, starts: dictionaryStarts, sizes: sizes) } ?? PartDictionaries(decoded)
        let gcount = Int(try r.u32())
        guard gcount <= r.remaining / (8 + columns * 28) else { throw ByteReader.Overrun(offset: r.offset) }
        var nextRow = 0
        var granules: [Granule] = []
        granules.reserveCapacity(gcount)
        for _ in 0..<gcount {
            let rs = Int(try r.u32()), rc = Int(try r.u32())
            // Granules tile the rows in order, each at most 65536 rows (patch positions are u16), so a
            // damaged footer cannot make a reader allocate for rows that are not there.
            guard rs == nextRow, rc >= 1, rc <= 1 << 16 else { throw ByteReader.Overrun(offset: r.offset) }
            nextRow += rc
            var blocks: [BlockRef] = []
            for _ in 0..<columns {
                blocks.append(BlockRef(offset: try checkedInt(r.u64(), at: r.offset), length: Int(try r.u32()), min: try r.i64(), max: try r.i64()))
            }
            granules.append(Granule(rowStart: rs, rows: rc, blocks: blocks))
        }
        guard nextRow == rows else { throw ByteReader.Overrun(offset: r.offset) }
        let hcount = Int(try r.u32())
        let packed = version >= PartFormat.packedHoursVersion
        // An hour entry takes at least 6 bytes (4 when packed).
        guard hcount <= r.remaining / (packed ? 4 : 6) else { throw ByteReader.Overrun(offset: r.offset) }
        let sectionStart = r.offset
        let deferring = source != nil
        var rollups = deferring ? HourRollups() : HourRollups(reservingHours: hcount)
        var keptHourRollups = [Int](repeating: 0, count: sizes.count), hourRollupEntries = keptHourRollups
        // Deferred: every value of the hour section is checked here, its entries made on first use (`PartMeta.hours`)
        // and its hours summed by day now; with `keepingHours` the entries are made now and the days from them later.
        var sums = DaySums()
        let hours = try withUnsafeMutablePointer(to: &sums) { days in
            try readHours(&r, count: hcount, rows: rows, dictionarySizes: sizes, packed: packed, rollups: &rollups, skip: deferring,
                          keepEntries: !deferring || keepingHours, days: deferring && !keepingHours ? days : nil, kept: &keptHourRollups,
                          entries: &hourRollupEntries)
        }
        let hourSectionEnd = r.offset
        let days = sums.finish()
        var partRollups: [Rollup] = []
        var starts: [Int] = [], counts: [Int] = []
        for d in 0..<Dimension.allCases.count {
            let n = try checkedInt(r.varint(), at: r.offset)
            guard n <= sizes[d] else { throw ByteReader.Overrun(offset: r.offset) }
            if deferring {
                starts.append(r.offset - sectionStart)
                counts.append(n)
                try r.skipVarints(5 * n)
            } else {
                partRollups.append(try readPartRollup(&r, count: n, dictionarySize: sizes[d], rows: rows))
            }
        }
        let rollupStorage: RollupStorage
        if let source {
            let bytes: [UInt8], base: Int
            if let body, body.count == buffer.count {
                (bytes, base) = (body, sectionStart)
            } else {
                (bytes, base) = ([UInt8](UnsafeRawBufferPointer(rebasing: buffer[sectionStart..<r.offset]).bindMemory(to: UInt8.self)), 0)
            }
            rollupStorage = .deferred(DeferredRollups(bytes: bytes, base: base, hours: hcount, rows: rows, dictionarySizes: sizes, packedHours: packed,
                                                      hourSectionEnd: hourSectionEnd - sectionStart, hourRollupCounts: keptHourRollups,
                                                      hourRollupEntries: hourRollupEntries,
                                                      partRollupStarts: starts, partRollupCounts: counts, path: source.path,
                                                      footerOffset: source.footerOffset, days: keepingHours ? nil : days))
        } else {
            rollupStorage = .decoded(rollups, partRollups)
        }
        var filter: FilterRef?
        if version >= 2 {
            let offset = try checkedInt(r.u64(), at: r.offset), length = Int(try r.u32()), crc = try r.u32()
            // Length 0: no filter. Otherwise whole 32-byte blocks (the reader checks the range against the file).
            guard length % RequestIDFilter.blockSize == 0 else { throw ByteReader.Overrun(offset: r.offset) }
            if length > 0 { filter = FilterRef(offset: offset, length: length, crc: crc) }
            guard r.remaining == 0 else { throw ByteReader.Overrun(offset: r.offset) }
        }
        return PartMeta(id: id, tenant: tenant, level: level, rows: rows, minTime: minTime, maxTime: maxTime,
                        dictionaries: dictionaries, granules: granules, hours: deferring && !keepingHours ? nil : hours, hourCount: hcount,
                        rollupStorage: rollupStorage, filter: filter)
    }

    /// Reads a part rollup of `count` entries (codes delta-coded, ascending, each under `dictionarySize`) over the part's
    /// `rows` rows: its counts must add up to them, or a question answered from it would miss or invent rows. No entry
    /// means no rollup kept for the dimension (an empty `Rollup`): questions about it scan the part.
    package static func readPartRollup(_ r: inout ByteReader, count n: Int, dictionarySize: Int, rows: Int) throws -> Rollup {
        if n == 0 { return Rollup() }
        var ru = Rollup(reserving: n)
        var code: UInt64 = 0
        var total: Int64 = 0
        for _ in 0..<n {
            let (next, overflow) = code.addingReportingOverflow(try r.varint())
            guard !overflow, next < UInt64(dictionarySize) else { throw ByteReader.Overrun(offset: r.offset) }
            code = next
            ru.codes.append(UInt32(code))
            let count = try nonNegative(r.varint(), at: r.offset)
            let (sum, over) = total.addingReportingOverflow(count)
            guard !over else { throw ByteReader.Overrun(offset: r.offset) }
            total = sum
            ru.counts.append(count)
            ru.inputTokens.append(try nonNegative(r.varint(), at: r.offset))
            ru.outputTokens.append(try nonNegative(r.varint(), at: r.offset))
            ru.cost.append(try nonNegative(r.varint(), at: r.offset))
        }
        guard total == Int64(rows) else { throw ByteReader.Overrun(offset: r.offset) }
        return ru
    }

    /// Reads `count` hour entries of a footer over `rows` rows, and appends their rollups to `rollups`; with `skip`
    /// their entries are only stepped over (framing checked: counts, lengths, varints ending in the buffer; codes and
    /// sums are checked when they are decoded); with `only`, the rollups of other dimensions are stepped over and left
    /// empty.
    package static func readHours(_ r: inout ByteReader, count hcount: Int, rows: Int, dictionarySizes: [Int], packed: Bool,
                                  rollups: inout HourRollups, skip: Bool = false, only: Int? = nil) throws -> [HourEntry] {
        var kept = [Int](repeating: 0, count: dictionarySizes.count), entries = kept
        return try readHours(&r, count: hcount, rows: rows, dictionarySizes: dictionarySizes, packed: packed, rollups: &rollups, skip: skip,
                             only: only, kept: &kept, entries: &entries)
    }

    /// `readHours`, also counting in `kept[d]` the hours that keep a rollup of dimension `d`, and in `entries[d]` the
    /// entries of those rollups. With `keepEntries` false every hour entry is checked as it would be made, and none is
    /// made (the result is empty). With `days`, the hours are also summed into it by UTC day.
    package static func readHours(_ r: inout ByteReader, count hcount: Int, rows: Int, dictionarySizes: [Int], packed: Bool,
                                  rollups: inout HourRollups, skip: Bool = false, only: Int? = nil, keepEntries: Bool = true,
                                  days: UnsafeMutablePointer<DaySums>? = nil, kept: inout [Int], entries: inout [Int]) throws -> [HourEntry] {
        var hours: [HourEntry] = []
        if keepEntries { hours.reserveCapacity(hcount) }
        var previous: Int64 = 0
        var rowStart = 0
        for hourIndex in 0..<hcount {
            var packedRows = 0, next = false, hasMask = true
            if packed {
                let head = try r.varint()
                // A first hour is never "the next one" (checked, so one hour has one encoding).
                guard hourIndex > 0 || head & 2 == 0 else { throw ByteReader.Overrun(offset: r.offset) }
                (packedRows, next, hasMask) = (Int(head >> 2), head & 2 != 0, head & 1 != 0)  // < 2^62: fits
            }
            let start = previous &+ (next ? 1 : try r.svarint()) &* TimeUnit.hourMillis
            previous = start
            let n = packed ? packedRows : try checkedInt(r.varint(), at: r.offset)
            guard n <= rows - rowStart else { throw ByteReader.Overrun(offset: r.offset) }
            let entry = HourEntry(start: start, rowStart: rowStart, rows: n,
                                  inputTokens: try nonNegative(r.varint(), at: r.offset), outputTokens: try nonNegative(r.varint(), at: r.offset),
                                  cost: try nonNegative(r.varint(), at: r.offset))
            if keepEntries { hours.append(entry) }
            days?.pointee.add(entry, index: hourIndex)
            rowStart += n
            let mask = hasMask ? try r.u8() : 0
            // A packed hour says when a mask follows: one that does is not zero (the same hour has one encoding).
            guard !packed || !hasMask || mask != 0 else { throw ByteReader.Overrun(offset: r.offset) }
            // Stepping over a footer's hours, an hour that keeps no rollup (most hours of a small part) has nothing more.
            if skip && mask == 0 { continue }
            for d in 0..<dictionarySizes.count {
                defer { if !skip { rollups.closeSlot() } }
                guard mask & (1 << UInt8(d)) != 0 else { continue }
                kept[d] += 1
                let n = try checkedInt(r.varint(), at: r.offset)
                // A kept rollup has at least one code (an empty range means none kept).
                guard n >= 1, n <= r.remaining else { throw ByteReader.Overrun(offset: r.offset) }
                entries[d] += n
                guard !skip, only == nil || only == d else {
                    try r.skipVarints(5 * n)
                    continue
                }
                // Codes index the dictionary (readers index with them) and counts and sums are non-negative
                // (`encode` writes them as unsigned), so a footer that says otherwise is damage, not a trap.
                // Hourly codes are in the order the writer met them, not sorted.
                for _ in 0..<n {
                    let code = try r.varint()
                    guard code < UInt64(dictionarySizes[d]) else { throw ByteReader.Overrun(offset: r.offset) }
                    rollups.entries.codes.append(UInt32(code))
                    rollups.entries.counts.append(try nonNegative(r.varint(), at: r.offset))
                    rollups.entries.inputTokens.append(try nonNegative(r.varint(), at: r.offset))
                    rollups.entries.outputTokens.append(try nonNegative(r.varint(), at: r.offset))
                    rollups.entries.cost.append(try nonNegative(r.varint(), at: r.offset))
                }
            }
        }
        guard rowStart == rows else { throw ByteReader.Overrun(offset: r.offset) }
        return hours
    }
}

/// A count or sum read as a varint: stored from a non-negative `Int64`, so one past `Int64.max` is damage.
private func nonNegative(_ value: UInt64, at offset: Int) throws -> Int64 {
    guard let v = Int64(exactly: value) else { throw ByteReader.Overrun(offset: offset) }
    return v
}

/// A count or offset read as a `u64` or varint; one past `Int.max` is damage, not a value to trap on.
private func checkedInt(_ value: UInt64, at offset: Int) throws -> Int {
    guard let v = Int(exactly: value) else { throw ByteReader.Overrun(offset: offset) }
    return v
}

#if canImport(Glibc)
import Glibc
#endif
