/// One column chunk of one granule on disk: a 24-byte header, then the (maybe LZ4-compressed) payload.
///
/// ```
/// 0  u8  codec      0 = raw, 1 = LZ4 block
/// 1  u8  encoding   BlockEncoding
/// 2  u16 reserved   0
/// 4  u32 rows
/// 8  u32 rawLength  payload bytes before compression
/// 12 u32 storedLength
/// 16 u32 crc32c     v2: of header bytes 0..<16 and 20..<24, then the stored payload; v1: of the stored payload
/// 20 u32 reserved   0
/// ```
///
/// Version 2 parts cover the header with the CRC, so no header byte is trusted before its checksum
/// matches. Version 1 parts (`coversHeader: false`) checked only the payload: `PartReader` cross-checks
/// their headers against the footer and the column (docs/FORMAT.md), and the decoders below accept
/// only the exact payload lengths and zero padding the writer produces, so a header that names the
/// wrong encoding is refused rather than decoded into wrong values.
package enum BlockEncoding: UInt8, Sendable {
    /// `i64 base, u8 width, 7 x 0`, then values - base bit-packed.
    case frameOfReference = 1
    /// `i64 first, i64 minDelta, u8 width, 7 x 0`, then (delta - minDelta) of rows 1..<n bit-packed.
    case delta = 2
    /// 16 bytes per row: canonical lowercase UUID strings.
    case uuid = 3
    /// `u32 offsets[rows + 1]`, then the bytes.
    case bytes = 4
    /// Patched frame of reference: `i64 base`, `u8 width`, `u8 exceptionWidth`, `u16` 0, `u32 exceptions`,
    /// then the rows' `value - base` in `width` bits (0 for an exception), then the exceptions'
    /// `u16` row positions, then their `value - base` in `exceptionWidth` bits. Chosen over plain
    /// frame of reference when a few outliers would otherwise widen every value.
    case patched = 6
    /// Canonical lowercase version-4 UUIDs without their 6 fixed bits: the 60 free bits of the high
    /// half of every row bit-packed, then the 62 free bits of the low half.
    case uuid4 = 5
    /// Costs as the granule's prices predict them from its token counts, plus a residual per row (part format v3,
    /// the cost column only): `u16 n`, `u8` the residuals' encoding (frame of reference or patched), 5 x 0, then
    /// `n x { i64 input price, i64 output price }` (nano-dollars per token, indexed by model code), then the
    /// residuals' payload. Row `i`'s cost is `residual + inputPrice[model] x input + outputPrice[model] x output`,
    /// all wrapping (`CostPrices`).
    case priced = 7
    /// Sorted timestamps as `i64 first`, then the `rows - 1` deltas as a patched payload (encoding 6's layout; part
    /// format v3, `created_at` only): a few long gaps no longer widen every delta.
    case patchedDelta = 8
}

package enum BlockCodec: UInt8, Sendable {
    case raw = 0
    case lz4 = 1
}

package struct BlockHeader: Sendable {
    package static let size = 24
    package var codec: BlockCodec
    package var encoding: BlockEncoding
    package var rows: Int
    package var rawLength: Int
    package var storedLength: Int
    package var crc: UInt32

    /// Offset of the CRC field in the header.
    package static let crcOffset = 16

    /// The CRC a block stores: of the payload alone (v1), or of the header without its CRC field and
    /// then the payload (v2, `coversHeader`).
    package static func checksum(header: UnsafeRawBufferPointer, stored: UnsafeRawBufferPointer, coversHeader: Bool) -> UInt32 {
        guard coversHeader else { return CRC32C.checksum(stored) }
        var crc = CRC32C.checksum(UnsafeRawBufferPointer(rebasing: header[0..<crcOffset]))
        crc = CRC32C.checksum(UnsafeRawBufferPointer(rebasing: header[(crcOffset + 4)..<size]), continuing: crc)
        return CRC32C.checksum(stored, continuing: crc)
    }
}

/// The columns a priced cost block is computed from: its granule's model codes and token counts.
package struct CostInputs {
    package var model: UnsafePointer<UInt32>
    package var input: UnsafePointer<Int64>
    package var output: UnsafePointer<Int64>

    package init(model: UnsafePointer<UInt32>, input: UnsafePointer<Int64>, output: UnsafePointer<Int64>) {
        self.model = model
        self.input = input
        self.output = output
    }
}

/// A priced cost block taken apart (`BlockDecoder.decodePricedTerms`): per model code `m`, an input and an output
/// price (nano-dollars per token), and the residuals (one value for every row, or decoded per row). Points into the
/// block's payload.
package struct PricedTerms {
    /// `{i64 input, i64 output}` pairs, little-endian, unaligned, `models` of them.
    private let prices: UnsafeRawPointer
    /// How many models the table prices; every row's code is below it (checked when the block was decoded).
    package let models: Int
    /// Every row's residual when they are all one value; nil when they were decoded per row.
    package let constantResidual: Int64?

    init(prices: UnsafeRawPointer, models: Int, constantResidual: Int64?) {
        (self.prices, self.models, self.constantResidual) = (prices, models, constantResidual)
    }

    @inline(__always)
    package func inputPrice(_ m: Int) -> Int64 {
        Int64(littleEndian: prices.loadUnaligned(fromByteOffset: 16 * m, as: Int64.self))
    }

    @inline(__always)
    package func outputPrice(_ m: Int) -> Int64 {
        Int64(littleEndian: prices.loadUnaligned(fromByteOffset: 16 * m + 8, as: Int64.self))
    }

    /// Each row's cost into `out`, which holds the residuals unless they are all one value.
    package func addPrices(rows: Int, _ inputs: CostInputs, into out: UnsafeMutablePointer<Int64>) {
        let model = inputs.model, input = inputs.input, output = inputs.output
        withUnsafeTemporaryAllocation(of: Int64.self, capacity: 2 * models) { table in
            for k in 0..<models {
                table[k] = inputPrice(k)
                table[models + k] = outputPrice(k)
            }
            guard let inputPrice = table.baseAddress else { return }
            let outputPrice = inputPrice + models
            if let constant = constantResidual {
                for i in 0..<rows {
                    let m = Int(model[i])
                    out[i] = constant &+ inputPrice[m] &* input[i] &+ outputPrice[m] &* output[i]
                }
            } else {
                for i in 0..<rows {
                    let m = Int(model[i])
                    out[i] &+= inputPrice[m] &* input[i] &+ outputPrice[m] &* output[i]
                }
            }
        }
    }
}

/// Builds column blocks; reuses its buffers across calls.
package struct BlockEncoder {
    private var raw: [UInt8] = []
    /// The other candidate payload while `encodeCost` compares two.
    private var spare: [UInt8] = []
    private var compressed: [UInt8] = []
    /// Whether block CRCs cover the header (part format v2; false writes the v1 layout, kept for tests
    /// of how v1 parts are read).
    private let coversHeader: Bool

    package init(coversHeader: Bool = true) { self.coversHeader = coversHeader }

    /// Encodes integers with frame-of-reference bit packing.
    package mutating func encodeFOR(_ values: UnsafeBufferPointer<Int64>, into out: inout [UInt8]) {
        raw.removeAll(keepingCapacity: true)
        let encoding = appendFOR(values)
        finish(encoding, rows: values.count, into: &out)
    }

    /// Encodes a granule's costs: as `priced` when the prices `CostPrices.fit` finds predict them well enough to
    /// pay for their table, else as frame of reference. `model` holds the granule's model codes.
    package mutating func encodeCost(_ cost: UnsafeBufferPointer<Int64>, input: UnsafeBufferPointer<Int64>,
                                     output: UnsafeBufferPointer<Int64>, model: UnsafeBufferPointer<UInt32>, into out: inout [UInt8]) {
        guard let prices = CostPrices.fit(cost: cost, input: input, output: output, model: model) else {
            encodeFOR(cost, into: &out)
            return
        }
        let n = cost.count
        let residuals = [Int64](unsafeUninitializedCapacity: n) { r, initialized in
            prices.table.withUnsafeBufferPointer { t in
                for i in 0..<n {
                    let m = 2 * Int(model[i])
                    r[i] = cost[i] &- (t[m] &* input[i] &+ t[m + 1] &* output[i])
                }
            }
            initialized = n
        }
        // Both payloads are built; the smaller is kept (a table that predicts few rows loses to the costs themselves).
        raw.removeAll(keepingCapacity: true)
        let plain = appendFOR(cost)
        swap(&raw, &spare)
        raw.removeAll(keepingCapacity: true)
        raw.append(contentsOf: repeatElement(0, count: 8))
        raw.withUnsafeMutableBytes { $0.storeBytes(of: UInt16(prices.table.count / 2).littleEndian, toByteOffset: 0, as: UInt16.self) }
        for p in prices.table { withUnsafeBytes(of: p.littleEndian) { raw.append(contentsOf: $0) } }
        raw[2] = residuals.withUnsafeBufferPointer { appendFOR($0) }.rawValue
        if raw.count < spare.count {
            finish(.priced, rows: n, into: &out)
        } else {
            swap(&raw, &spare)
            finish(plain, rows: n, into: &out)
        }
    }

    /// Appends a frame-of-reference (or, with `patches`, patched) payload of `values` to `raw`; returns which.
    private mutating func appendFOR(_ values: UnsafeBufferPointer<Int64>, patches: Bool = true) -> BlockEncoding {
        var lo = Int64.max, hi = Int64.min
        for v in values { lo = min(lo, v); hi = max(hi, v) }
        if values.isEmpty { lo = 0; hi = 0 }
        let full = BitPacking.width(of: UInt64(bitPattern: hi &- lo))
        // Bits of each value above the base: choose the width that minimises the total with patches.
        var histogram = [Int](repeating: 0, count: 65)
        for v in values { histogram[BitPacking.width(of: UInt64(bitPattern: v &- lo))] += 1 }
        var best = full, bestBits = values.count * full, above = 0
        if patches && values.count <= Int(UInt16.max) + 1 {
            for w in stride(from: full - 1, through: 0, by: -1) {
                above += histogram[w + 1]
                let bits = values.count * w + above * (16 + full) + 64
                if bits < bestBits { best = w; bestBits = bits }
            }
        }
        let start = raw.count
        if best == full {
            let packed = BitPacking.packedSize(count: values.count, width: full)
            raw.append(contentsOf: repeatElement(0, count: 16 + packed))
            raw.withUnsafeMutableBytes { all in
                let r = UnsafeMutableRawBufferPointer(rebasing: all[start...])
                r.storeBytes(of: lo.littleEndian, toByteOffset: 0, as: Int64.self)
                r[8] = UInt8(full)
                BitPacking.pack(values, base: lo, width: full, into: UnsafeMutableRawBufferPointer(rebasing: r[16...]))
            }
            raw.removeLast(8)  // the unpack padding is not stored
            return .frameOfReference
        }
        let limit = UInt64(1) << UInt64(best)
        var low = [Int64](repeating: lo, count: values.count)
        var positions: [UInt16] = []
        var exceptions: [Int64] = []
        for (i, v) in values.enumerated() {
            if UInt64(bitPattern: v &- lo) >= limit {
                positions.append(UInt16(i))
                exceptions.append(v)
            } else {
                low[i] = v
            }
        }
        let packed = BitPacking.packedSize(count: values.count, width: best)
        let packedExceptions = BitPacking.packedSize(count: exceptions.count, width: full)
        let positionsAt = 16 + packed - 8
        let exceptionsAt = positionsAt + 2 * positions.count
        raw.append(contentsOf: repeatElement(0, count: exceptionsAt + packedExceptions))
        raw.withUnsafeMutableBytes { all in
            let r = UnsafeMutableRawBufferPointer(rebasing: all[start...])
            r.storeBytes(of: lo.littleEndian, toByteOffset: 0, as: Int64.self)
            r[8] = UInt8(best)
            r[9] = UInt8(full)
            r.storeBytes(of: UInt32(exceptions.count).littleEndian, toByteOffset: 12, as: UInt32.self)
            low.withUnsafeBufferPointer {
                BitPacking.pack($0, base: lo, width: best, into: UnsafeMutableRawBufferPointer(rebasing: r[16..<(16 + packed)]))
            }
            for (k, p) in positions.enumerated() { r.storeBytes(of: p.littleEndian, toByteOffset: positionsAt + 2 * k, as: UInt16.self) }
            exceptions.withUnsafeBufferPointer {
                BitPacking.pack($0, base: lo, width: full, into: UnsafeMutableRawBufferPointer(rebasing: r[exceptionsAt...]))
            }
        }
        raw.removeLast(8)
        return .patched
    }

    /// Encodes non-decreasing integers (sorted timestamps) as bit-packed deltas; with `patching` (part format v3), as
    /// patched deltas when a few long gaps would otherwise widen every delta. Either payload is `i64 first` followed by
    /// a frame-of-reference (delta) or patched (patched delta) payload of the deltas.
    package mutating func encodeDelta(_ values: UnsafeBufferPointer<Int64>, patching: Bool = false, into out: inout [UInt8]) {
        let n = values.count
        let first = n > 0 ? values[0] : 0
        let deltas = [Int64](unsafeUninitializedCapacity: max(n - 1, 0)) { d, initialized in
            for i in 1..<max(n, 1) { d[i - 1] = values[i] &- values[i - 1] }
            initialized = max(n - 1, 0)
        }
        raw.removeAll(keepingCapacity: true)
        withUnsafeBytes(of: first.littleEndian) { raw.append(contentsOf: $0) }
        let encoding = deltas.withUnsafeBufferPointer { appendFOR($0, patches: patching && n > 1) }
        finish(encoding == .patched ? .patchedDelta : .delta, rows: n, into: &out)
    }

    /// Encodes byte strings: 16 bytes each when every one is a canonical lowercase UUID, else offsets + bytes.
    package mutating func encodeBytes(count: Int, _ item: (Int) -> UnsafeRawBufferPointer, into out: inout [UInt8]) {
        raw.removeAll(keepingCapacity: true)
        raw.reserveCapacity(count * 16)
        var allUUID = true, allV4 = true
        var his: [Int64] = [], los: [Int64] = []
        his.reserveCapacity(count)
        los.reserveCapacity(count)
        for i in 0..<count {
            guard let u = UUIDBytes.parse(item(i)) else { allUUID = false; break }
            withUnsafeBytes(of: (u.0.littleEndian, u.1.littleEndian)) { raw.append(contentsOf: $0) }
            if allV4, let v = UUIDBytes.strip4(u) {
                his.append(Int64(bitPattern: v.0))
                los.append(Int64(bitPattern: v.1))
            } else {
                allV4 = false
            }
        }
        if allUUID && allV4 && count > 0 {
            raw.removeAll(keepingCapacity: true)
            let hiBytes = (count * 60 + 7) / 8, loBytes = (count * 62 + 7) / 8
            raw.append(contentsOf: repeatElement(0, count: hiBytes + loBytes + 8))
            raw.withUnsafeMutableBytes { r in
                his.withUnsafeBufferPointer { BitPacking.pack($0, base: 0, width: 60, into: UnsafeMutableRawBufferPointer(rebasing: r[0..<(hiBytes + 8)])) }
                los.withUnsafeBufferPointer { BitPacking.pack($0, base: 0, width: 62, into: UnsafeMutableRawBufferPointer(rebasing: r[hiBytes...])) }
            }
            raw.removeLast(8)
            finish(.uuid4, rows: count, into: &out)
        } else if allUUID {
            finish(.uuid, rows: count, into: &out)
        } else {
            raw.removeAll(keepingCapacity: true)
            var total = 0
            raw.append(contentsOf: repeatElement(0, count: 4 * (count + 1)))
            for i in 0..<count {
                raw.withUnsafeMutableBytes { $0.storeBytes(of: UInt32(total).littleEndian, toByteOffset: 4 * i, as: UInt32.self) }
                let b = item(i)
                raw.append(contentsOf: b)
                total += b.count
            }
            raw.withUnsafeMutableBytes { $0.storeBytes(of: UInt32(total).littleEndian, toByteOffset: 4 * count, as: UInt32.self) }
            finish(.bytes, rows: count, into: &out)
        }
    }

    /// Compresses `raw` with LZ4 when that saves space and appends header + payload to `out`.
    private mutating func finish(_ encoding: BlockEncoding, rows: Int, into out: inout [UInt8]) {
        let bound = LZ4.bound(raw.count)
        if compressed.count < bound { compressed = [UInt8](repeating: 0, count: bound) }
        let clen = raw.withUnsafeBytes { r in compressed.withUnsafeMutableBytes { LZ4.compress(r, into: $0) } }
        let useLZ4 = clen > 0 && clen < raw.count - raw.count / 16
        let storedLength = useLZ4 ? clen : raw.count
        var h = [UInt8](repeating: 0, count: BlockHeader.size)
        h[0] = useLZ4 ? BlockCodec.lz4.rawValue : BlockCodec.raw.rawValue
        h[1] = encoding.rawValue
        h.withUnsafeMutableBytes { p in
            p.storeBytes(of: UInt32(rows).littleEndian, toByteOffset: 4, as: UInt32.self)
            p.storeBytes(of: UInt32(raw.count).littleEndian, toByteOffset: 8, as: UInt32.self)
            p.storeBytes(of: UInt32(storedLength).littleEndian, toByteOffset: 12, as: UInt32.self)
        }
        let crc = h.withUnsafeBytes { header in
            useLZ4
                ? compressed.withUnsafeBytes { BlockHeader.checksum(header: header, stored: UnsafeRawBufferPointer(rebasing: $0[0..<clen]), coversHeader: coversHeader) }
                : raw.withUnsafeBytes { BlockHeader.checksum(header: header, stored: $0, coversHeader: coversHeader) }
        }
        h.withUnsafeMutableBytes { $0.storeBytes(of: crc.littleEndian, toByteOffset: BlockHeader.crcOffset, as: UInt32.self) }
        out.append(contentsOf: h)
        if useLZ4 { out.append(contentsOf: compressed[0..<clen]) } else { out.append(contentsOf: raw) }
    }
}

/// Reads column blocks, verifying their checksum, into a reusable scratch buffer.
package struct BlockDecoder: ~Copyable {
    private var scratch: UnsafeMutableRawBufferPointer

    package init() {
        scratch = .allocate(byteCount: 1 << 16, alignment: 16)
    }

    deinit {
        scratch.deallocate()
    }

    /// Parses and checks a block header at the start of `block`.
    package static func header(_ block: UnsafeRawBufferPointer) -> BlockHeader? {
        guard block.count >= BlockHeader.size,
              let codec = BlockCodec(rawValue: block[0]), let enc = BlockEncoding(rawValue: block[1])
        else { return nil }
        let h = BlockHeader(
            codec: codec, encoding: enc,
            rows: Int(UInt32(littleEndian: block.loadUnaligned(fromByteOffset: 4, as: UInt32.self))),
            rawLength: Int(UInt32(littleEndian: block.loadUnaligned(fromByteOffset: 8, as: UInt32.self))),
            storedLength: Int(UInt32(littleEndian: block.loadUnaligned(fromByteOffset: 12, as: UInt32.self))),
            crc: UInt32(littleEndian: block.loadUnaligned(fromByteOffset: 16, as: UInt32.self)))
        guard BlockHeader.size + h.storedLength <= block.count else { return nil }
        return h
    }

    /// Why a block cannot be read; `offset` is relative to the block start.
    package struct Damage: Error { package var offset: Int; package var reason: String }

    /// Verifies and decompresses a block; lends its raw payload (with 8 readable bytes past the end).
    ///
    /// `padded`: the memory after `block` has at least 8 readable bytes (a mapped part always does:
    /// its trailer follows the last block), so an uncompressed payload is lent in place, not copied.
    /// `coversHeader`: the CRC covers the header too (part format v2); checked before any header
    /// field is used beyond locating the payload.
    package mutating func payload<R>(_ block: UnsafeRawBufferPointer, verify: Bool = true, padded: Bool = false, coversHeader: Bool = true,
                                    _ body: (BlockHeader, UnsafeRawBufferPointer) throws -> R) throws -> R {
        if verify && coversHeader {
            // The stored length locates the payload the CRC covers: bound it by the block before trusting anything.
            guard block.count >= BlockHeader.size else { throw Damage(offset: 0, reason: "bad block header") }
            let storedLength = Int(UInt32(littleEndian: block.loadUnaligned(fromByteOffset: 12, as: UInt32.self)))
            let crc = UInt32(littleEndian: block.loadUnaligned(fromByteOffset: BlockHeader.crcOffset, as: UInt32.self))
            guard BlockHeader.size + storedLength <= block.count,
                  BlockHeader.checksum(header: UnsafeRawBufferPointer(rebasing: block[0..<BlockHeader.size]),
                                       stored: UnsafeRawBufferPointer(rebasing: block[BlockHeader.size..<(BlockHeader.size + storedLength)]),
                                       coversHeader: true) == crc
            else { throw Damage(offset: 0, reason: "block checksum mismatch") }
        }
        guard let h = Self.header(block) else { throw Damage(offset: 0, reason: "bad block header") }
        let stored = UnsafeRawBufferPointer(rebasing: block[BlockHeader.size..<(BlockHeader.size + h.storedLength)])
        if verify && !coversHeader && CRC32C.checksum(stored) != h.crc { throw Damage(offset: 0, reason: "block checksum mismatch") }
        if padded && h.codec == .raw {
            guard h.storedLength == h.rawLength else { throw Damage(offset: 8, reason: "raw block length mismatch") }
            return try body(h, stored)
        }
        if scratch.count < h.rawLength + 8 {
            scratch.deallocate()
            scratch = .allocate(byteCount: max(h.rawLength + 8, scratch.count * 2), alignment: 16)
        }
        let out = UnsafeMutableRawBufferPointer(rebasing: scratch[0..<h.rawLength])
        switch h.codec {
        case .raw:
            guard h.storedLength == h.rawLength else { throw Damage(offset: 8, reason: "raw block length mismatch") }
            out.copyMemory(from: stored)
        case .lz4:
            guard LZ4.decompress(stored, into: out) else { throw Damage(offset: BlockHeader.size, reason: "LZ4 payload does not decompress") }
        }
        scratch.storeBytes(of: UInt64(0), toByteOffset: h.rawLength, as: UInt64.self)
        return try body(h, UnsafeRawBufferPointer(rebasing: scratch[0..<h.rawLength]))
    }

    /// Decodes an integer block (frame of reference, patched, delta or priced) into `out` (capacity >= rows).
    /// A priced block (costs) needs `costInputs`: the granule's model codes and token counts.
    package mutating func decodeIntegers(_ block: UnsafeRawBufferPointer, verify: Bool = true, padded: Bool = false, coversHeader: Bool = true,
                                         costInputs: CostInputs? = nil, into out: UnsafeMutablePointer<Int64>) throws -> Int {
        try payload(block, verify: verify, padded: padded, coversHeader: coversHeader) { h, p in
            switch h.encoding {
            case .frameOfReference, .patched:
                try Self.decodeFOR(h.encoding, p, rows: h.rows, into: out)
            case .delta, .patchedDelta:
                // `i64 first`, then the deltas as a frame-of-reference (delta) or patched (patched delta) payload.
                guard p.count >= 8, h.encoding == .delta || h.rows > 1 else { throw Damage(offset: BlockHeader.size, reason: "short payload") }
                guard h.rows > 0 else { return 0 }
                let first = Int64(littleEndian: p.loadUnaligned(fromByteOffset: 0, as: Int64.self))
                try Self.decodeFOR(h.encoding == .delta ? .frameOfReference : .patched, UnsafeRawBufferPointer(rebasing: p[8...]),
                                   rows: h.rows - 1, into: out + 1)
                out[0] = first
                var acc = first
                for i in 1..<h.rows { acc &+= out[i]; out[i] = acc }
            case .priced:
                try Self.decodePriced(p, rows: h.rows, costInputs, into: out)
            default:
                throw Damage(offset: 1, reason: "not an integer block")
            }
            return h.rows
        }
    }

    /// Decodes a frame-of-reference or patched payload `p` (with 8 readable bytes past it).
    private static func decodeFOR(_ encoding: BlockEncoding, _ p: UnsafeRawBufferPointer, rows: Int, into out: UnsafeMutablePointer<Int64>) throws {
        if encoding == .patched {
            try unpatch(p, rows: rows) { base, width, packed in
                BitPacking.unpack(packed, count: rows, base: base, width: width, into: out)
            } patch: { i, v in out[i] = v }
            return
        }
        guard p.count >= 16 else { throw Damage(offset: BlockHeader.size, reason: "short payload") }
        let base = Int64(littleEndian: p.loadUnaligned(fromByteOffset: 0, as: Int64.self))
        let width = Int(p[8])
        guard width <= 64, p.count == 16 + (rows * width + 7) / 8, zero(p, 9..<16) else {
            throw Damage(offset: BlockHeader.size, reason: "bad packed length")
        }
        let ext = UnsafeRawBufferPointer(start: p.baseAddress, count: p.count + 8)
        BitPacking.unpack(UnsafeRawBufferPointer(rebasing: ext[16...]), count: rows, base: base, width: width, into: out)
    }

    /// Decodes a priced payload: the residuals, then each row's predicted cost added (`BlockEncoding.priced`).
    private static func decodePriced(_ p: UnsafeRawBufferPointer, rows: Int, _ inputs: CostInputs?, into out: UnsafeMutablePointer<Int64>) throws {
        guard let inputs else { throw Damage(offset: 1, reason: "a priced cost block read without its model and token columns") }
        let terms = try pricedTerms(p, rows: rows, model: inputs.model, residualsInto: out)
        terms.addPrices(rows: rows, inputs, into: out)
    }

    /// Takes a priced payload apart: checks its table header and every row's model code against the table, decodes
    /// the residuals into `out` unless they are all one value (width 0, the common case: every cost on its price).
    private static func pricedTerms(_ p: UnsafeRawBufferPointer, rows: Int, model: UnsafePointer<UInt32>,
                                    residualsInto out: UnsafeMutablePointer<Int64>) throws -> PricedTerms {
        guard p.count >= 8 else { throw Damage(offset: BlockHeader.size, reason: "short payload") }
        let models = Int(UInt16(littleEndian: p.loadUnaligned(fromByteOffset: 0, as: UInt16.self)))
        let tableEnd = 8 + 16 * models
        guard let inner = BlockEncoding(rawValue: p[2]), inner == .frameOfReference || inner == .patched,
              zero(p, 3..<8), p.count >= tableEnd
        else { throw Damage(offset: BlockHeader.size, reason: "bad priced block header") }
        guard rows > 0 else { return PricedTerms(prices: p.baseAddress! + 8, models: models, constantResidual: 0) }
        guard models > 0 else { throw Damage(offset: BlockHeader.size, reason: "a model code past the price table") }
        let residuals = UnsafeRawBufferPointer(rebasing: p[tableEnd...])
        // Residuals of width 0 are one value for every row (0 when every cost is on its price): not unpacked.
        let constant: Int64? = inner == .frameOfReference && residuals.count == 16 && residuals[8] == 0 && zero(residuals, 9..<16)
            ? Int64(littleEndian: residuals.loadUnaligned(fromByteOffset: 0, as: Int64.self)) : nil
        if constant == nil { try decodeFOR(inner, residuals, rows: rows, into: out) }
        // Codes past the table are refused before any is used (a pass that vectorizes), so no reader of the terms
        // looks one up.
        var highest: UInt32 = 0
        for i in 0..<rows { highest = max(highest, model[i]) }
        guard Int(highest) < models else { throw Damage(offset: BlockHeader.size, reason: "a model code past the price table") }
        return PricedTerms(prices: p.baseAddress! + 8, models: models, constantResidual: constant)
    }

    /// Decodes a priced cost block (`BlockEncoding.priced`, see `decodeIntegers`) into its terms instead of each row's
    /// cost: its residuals into `out` (unless they are all one value) and its price table. Row `i`'s cost is
    /// `residual[i] + inputPrice(model[i]) x input[i] + outputPrice(model[i]) x output[i]` (wrapping), so a sum of
    /// costs by model is its residuals' sum plus each model's prices times its token sums, without a product per row.
    /// `model` holds the granule's model codes; one at or past the price table is damage. The terms point into the
    /// block's payload: valid until this decoder's next decode.
    package mutating func decodePricedTerms(_ block: UnsafeRawBufferPointer, verify: Bool = true, padded: Bool = false, coversHeader: Bool = true,
                                            model: UnsafePointer<UInt32>, residualsInto out: UnsafeMutablePointer<Int64>) throws -> (rows: Int, terms: PricedTerms) {
        try payload(block, verify: verify, padded: padded, coversHeader: coversHeader) { h, p in
            guard h.encoding == .priced else { throw Damage(offset: 1, reason: "not a priced cost block") }
            return (h.rows, try Self.pricedTerms(p, rows: h.rows, model: model, residualsInto: out))
        }
    }

    /// Whether bytes `range` of `p` are all zero (the padding the writer leaves; anything else is damage).
    @inline(__always)
    static func zero(_ p: UnsafeRawBufferPointer, _ range: Range<Int>) -> Bool {
        var acc: UInt8 = 0
        for i in range { acc |= p[i] }
        return acc == 0
    }

    /// Reads a patched block: `unpack` the low values (lent with 8 readable bytes past them), then `patch` each exception.
    @inline(__always)
    static func unpatch(_ p: UnsafeRawBufferPointer, rows: Int, unpack: (Int64, Int, UnsafeRawBufferPointer) -> Void,
                        patch: (Int, Int64) -> Void) throws {
        guard p.count >= 16 else { throw Damage(offset: BlockHeader.size, reason: "short payload") }
        let base = Int64(littleEndian: p.loadUnaligned(fromByteOffset: 0, as: Int64.self))
        let width = Int(p[8]), full = Int(p[9])
        let n = Int(UInt32(littleEndian: p.loadUnaligned(fromByteOffset: 12, as: UInt32.self)))
        let positionsAt = 16 + (rows * width + 7) / 8
        let exceptionsAt = positionsAt + 2 * n
        guard width < full, full <= 64, n <= rows, exceptionsAt + (n * full + 7) / 8 == p.count, Self.zero(p, 10..<12) else {
            throw Damage(offset: BlockHeader.size, reason: "bad patched block lengths")
        }
        let ext = UnsafeRawBufferPointer(start: p.baseAddress, count: p.count + 8)
        unpack(base, width, UnsafeRawBufferPointer(rebasing: ext[16...]))
        guard n > 0 else { return }
        let values = UnsafeMutablePointer<Int64>.allocate(capacity: n)
        defer { values.deallocate() }
        BitPacking.unpack(UnsafeRawBufferPointer(rebasing: ext[exceptionsAt...]), count: n, base: base, width: full, into: values)
        for k in 0..<n {
            let i = Int(UInt16(littleEndian: p.loadUnaligned(fromByteOffset: positionsAt + 2 * k, as: UInt16.self)))
            guard i < rows else { throw Damage(offset: BlockHeader.size + positionsAt, reason: "patch position out of range") }
            patch(i, values[k])
        }
    }

    /// Decodes a frame-of-reference block of dictionary codes into `out`.
    package mutating func decodeCodes(_ block: UnsafeRawBufferPointer, verify: Bool = true, padded: Bool = false, coversHeader: Bool = true,
                                      into out: UnsafeMutablePointer<UInt32>) throws -> Int {
        try payload(block, verify: verify, padded: padded, coversHeader: coversHeader) { h, p in
            if h.encoding == .patched {
                try Self.unpatch(p, rows: h.rows) { base, width, packed in
                    BitPacking.unpack32(packed, count: h.rows, base: base, width: min(width, 32), into: out)
                } patch: { i, v in out[i] = UInt32(truncatingIfNeeded: v) }
                return h.rows
            }
            guard h.encoding == .frameOfReference, p.count >= 16 else { throw Damage(offset: 1, reason: "not a code block") }
            let base = Int64(littleEndian: p.loadUnaligned(fromByteOffset: 0, as: Int64.self))
            let width = Int(p[8])
            guard width <= 32, p.count == 16 + (h.rows * width + 7) / 8, Self.zero(p, 9..<16) else {
                throw Damage(offset: BlockHeader.size, reason: "bad packed length")
            }
            let ext = UnsafeRawBufferPointer(start: p.baseAddress, count: p.count + 8)
            BitPacking.unpack32(UnsafeRawBufferPointer(rebasing: ext[16...]), count: h.rows, base: base, width: width, into: out)
            return h.rows
        }
    }

    /// Decodes a byte-string block, calling `body` with each row's bytes (only the rows of `only`, when
    /// given: a lookup of one hour's ids in a granule formats just those).
    package mutating func decodeBytes(_ block: UnsafeRawBufferPointer, verify: Bool = true, padded: Bool = false, coversHeader: Bool = true,
                                      only: Range<Int>? = nil, _ body: (Int, UnsafeRawBufferPointer) -> Void) throws {
        try payload(block, verify: verify, padded: padded, coversHeader: coversHeader) { h, p in
            let wanted = only.map { $0.clamped(to: 0..<h.rows) } ?? 0..<h.rows
            switch h.encoding {
            case .uuid:
                guard p.count == 16 * h.rows else { throw Damage(offset: BlockHeader.size, reason: "bad UUID block length") }
                var text = [UInt8](repeating: 0, count: 36)
                for i in wanted {
                    text.withUnsafeMutableBytes { t in
                        UUIDBytes.format(UnsafeRawBufferPointer(rebasing: p[(16 * i)..<(16 * i + 16)]), into: t)
                        body(i, UnsafeRawBufferPointer(t))
                    }
                }
            case .bytes:
                let data = 4 * (h.rows + 1)
                guard p.count >= data,
                      UInt32(littleEndian: p.loadUnaligned(fromByteOffset: 0, as: UInt32.self)) == 0,
                      Int(UInt32(littleEndian: p.loadUnaligned(fromByteOffset: 4 * h.rows, as: UInt32.self))) == p.count - data
                else { throw Damage(offset: BlockHeader.size, reason: "bad offsets") }
                for i in wanted {
                    let a = Int(UInt32(littleEndian: p.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self)))
                    let b = Int(UInt32(littleEndian: p.loadUnaligned(fromByteOffset: 4 * i + 4, as: UInt32.self)))
                    guard a <= b, data + b <= p.count else { throw Damage(offset: BlockHeader.size, reason: "bad offsets") }
                    body(i, UnsafeRawBufferPointer(rebasing: p[(data + a)..<(data + b)]))
                }
            case .uuid4:
                let hiBytes = (h.rows * 60 + 7) / 8, loBytes = (h.rows * 62 + 7) / 8
                guard p.count == hiBytes + loBytes else { throw Damage(offset: BlockHeader.size, reason: "bad UUID block length") }
                let ext = UnsafeRawBufferPointer(start: p.baseAddress, count: p.count + 8)
                // Unpack from the first multiple of 4 rows at or before the wanted ones: rows 4k start on a
                // byte in both streams (60 and 62 bits per row), so one hour of a granule costs that hour.
                let first = wanted.lowerBound & ~3, m = max(wanted.upperBound - first, 0)
                let his = UnsafeMutablePointer<Int64>.allocate(capacity: max(m, 1)), los = UnsafeMutablePointer<Int64>.allocate(capacity: max(m, 1))
                defer { his.deallocate(); los.deallocate() }
                BitPacking.unpack(UnsafeRawBufferPointer(rebasing: ext[(first * 60 / 8)..<(hiBytes + 8)]), count: m, base: 0, width: 60, into: his)
                BitPacking.unpack(UnsafeRawBufferPointer(rebasing: ext[(hiBytes + first * 62 / 8)...]), count: m, base: 0, width: 62, into: los)
                var text = [UInt8](repeating: 0, count: 36)
                var sixteen = [UInt8](repeating: 0, count: 16)
                for i in wanted {
                    let u = UUIDBytes.restore4((UInt64(bitPattern: his[i - first]), UInt64(bitPattern: los[i - first])))
                    sixteen.withUnsafeMutableBytes { b in
                        b.storeBytes(of: u.0.littleEndian, toByteOffset: 0, as: UInt64.self)
                        b.storeBytes(of: u.1.littleEndian, toByteOffset: 8, as: UInt64.self)
                    }
                    text.withUnsafeMutableBytes { t in
                        sixteen.withUnsafeBytes { UUIDBytes.format($0, into: t) }
                        body(i, UnsafeRawBufferPointer(t))
                    }
                }
            default:
                throw Damage(offset: 1, reason: "not a bytes block")
            }
        }
    }
}

/// Canonical lowercase UUID text (8-4-4-4-12 hex) <-> 16 bytes.
package enum UUIDBytes {
    /// The 16 bytes of a canonical lowercase UUID, or nil for anything else (upper case included, to stay lossless).
    /// Eight characters at a time (`hex8`): a part writer parses every request id of every part.
    package static func parse(_ s: UnsafeRawBufferPointer) -> (UInt64, UInt64)? {
        guard s.count == 36, s[8] == 45, s[13] == 45, s[18] == 45, s[23] == 45 else { return nil }
        @inline(__always) func word(_ at: Int) -> UInt64 { UInt64(littleEndian: s.loadUnaligned(fromByteOffset: at, as: UInt64.self)) }
        @inline(__always) func half(_ at: Int) -> UInt64 {
            UInt64(UInt32(littleEndian: s.loadUnaligned(fromByteOffset: at, as: UInt32.self)))
        }
        // 8-4-4-4-12: the two middle groups of each half read as one word of eight characters.
        guard let a = hex8(word(0)), let b = hex8(half(9) | half(14) << 32),
              let c = hex8(half(19) | half(24) << 32), let d = hex8(word(28))
        else { return nil }
        return (a << 32 | b, c << 32 | d)
    }

    /// The value of eight lowercase hex characters (the first in the lowest byte of `w`, most significant), or nil
    /// when one is not `0-9a-f`. Every byte at once: with all bytes under 0x80, adding 0x80 - x to each sets its high
    /// bit exactly when it is >= x, and no byte carries into the next.
    @inline(__always)
    static func hex8(_ w: UInt64) -> UInt64? {
        let ones: UInt64 = 0x0101_0101_0101_0101, high: UInt64 = 0x8080_8080_8080_8080
        let digit = (w &+ ones &* (0x80 - 0x30)) & ~(w &+ ones &* (0x80 - 0x3A))
        let letter = (w &+ ones &* (0x80 - 0x61)) & ~(w &+ ones &* (0x80 - 0x67))
        guard w & high == 0, (digit | letter) & high == high else { return nil }
        // '0'-'9' -> 0-9; 'a'-'f' (low nibble 1-6) -> 10-15.
        var x = (w & (ones &* 0x0F)) &+ ((letter & high) >> 7) &* 9
        // Nibble i sits in byte i: gather them with the first most significant.
        x = (x & 0x0F00_0F00_0F00_0F00) >> 8 | (x & 0x000F_000F_000F_000F) << 4
        x = (x & 0x00FF_0000_00FF_0000) >> 16 | (x & 0x0000_00FF_0000_00FF) << 8
        return (x & 0xFFFF) << 16 | (x >> 32) & 0xFFFF
    }

    /// The 122 free bits of a version-4, RFC 4122-variant UUID (version nibble and variant bits removed).
    package static func strip4(_ u: (UInt64, UInt64)) -> (UInt64, UInt64)? {
        guard (u.0 >> 12) & 0xF == 4, u.1 >> 62 == 0b10 else { return nil }
        return ((u.0 >> 16) << 12 | (u.0 & 0xFFF), u.1 & ((1 << 62) - 1))
    }

    /// The inverse of `strip4`.
    package static func restore4(_ v: (UInt64, UInt64)) -> (UInt64, UInt64) {
        ((v.0 >> 12) << 16 | 0x4000 | (v.0 & 0xFFF), v.1 | (0b10 << 62))
    }

    /// Writes the 36-character text of 16 stored bytes: two little-endian u64, the high half first.
    package static func format(_ bytes: UnsafeRawBufferPointer, into out: UnsafeMutableRawBufferPointer) {
        let hi = UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: 0, as: UInt64.self))
        let lo = UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: 8, as: UInt64.self))
        var n = 0
        for i in 0..<36 {
            if i == 8 || i == 13 || i == 18 || i == 23 { out[i] = 45; continue }
            let v = n < 16 ? (hi >> UInt64(60 - 4 * n)) & 0xF : (lo >> UInt64(60 - 4 * (n - 16))) & 0xF
            out[i] = v < 10 ? UInt8(48 + v) : UInt8(87 + v)
            n += 1
        }
    }
}
