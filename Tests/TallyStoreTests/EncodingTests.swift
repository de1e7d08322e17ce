import Testing
import TallyTestSupport
@testable import TallyStore
import TallySynthetic
#if canImport(Glibc)
import Glibc
#endif

@Suite struct EncodingTests {
    /// Every width, every count up to three groups of eight and a granule's, packed at an odd address: `unpack` and
    /// `unpack32` give back exactly what `pack` took (the grouped kernels per width and the tail loop).
    @Test("skipVarints steps over exactly the varints that reading them would, and refuses to run past the buffer")
    func skipVarintsLandsWhereReadingDoes() throws {
        var rng = Xoshiro256(seed: 99)
        var w = ByteWriter(capacity: 1 << 14)
        var ends: [Int] = [0]
        var values: [UInt64] = []
        for _ in 0..<2_000 {
            // Every length from 1 to 10 bytes, short ones most often.
            let bits = Int(rng.next() % 65)
            values.append(bits == 0 ? 0 : rng.next() >> UInt64(64 - bits))
            w.varint(values[values.count - 1])
            ends.append(w.bytes.count)
        }
        try w.bytes.withUnsafeBytes { buffer in
            // Reading gives back every value and ends where the writer did (the one- and two-byte fast path included).
            var all = ByteReader(buffer)
            for (i, v) in values.enumerated() {
                #expect(try all.varint() == v && all.offset == ends[i + 1], "varint \(i)")
            }
            // Each one read from a buffer that ends right after it (no eight bytes to load at once), and from one
            // with other bytes after it.
            for (i, v) in values.enumerated() {
                var alone = ByteReader(UnsafeRawBufferPointer(rebasing: buffer[..<ends[i + 1]]), offset: ends[i])
                #expect(try alone.varint() == v && alone.offset == ends[i + 1], "varint \(i) at the end of a buffer")
            }
            // A varint cut by the end of the buffer is an overrun, at every cut of one of each length.
            for n in 2...10 {
                let i = try #require(values.indices.first { ends[$0 + 1] - ends[$0] == n })
                for cut in 1..<n {
                    var r = ByteReader(UnsafeRawBufferPointer(rebasing: buffer[..<(ends[i] + cut)]), offset: ends[i])
                    #expect(throws: ByteReader.Overrun.self) { try r.varint() }
                }
            }
            for n in [0, 1, 7, 8, 9, 16, 17, 100, 1_999, 2_000] {
                for start in [0, 1, 5, 333] where start + n <= 2_000 {
                    var r = ByteReader(buffer, offset: ends[start])
                    try r.skipVarints(n)
                    #expect(r.offset == ends[start + n], "skip \(n) from varint \(start)")
                }
            }
            var r = ByteReader(buffer, offset: ends[1_990])
            #expect(throws: ByteReader.Overrun.self) { try r.skipVarints(11) }
        }
    }

    @Test func unpackEveryWidthAndCount() {
        var rng = TestRNG(seed: 64)
        for width in 0...64 {
            for count in Array(0...25) + [8189, 8192] {
                let base: Int64 = width == 64 ? 0 : -77
                let values: [Int64] = (0..<count).map { _ in width == 0 ? base : base &+ Int64(bitPattern: rng.next() >> UInt64(64 - width)) }
                let size = BitPacking.packedSize(count: count, width: width)
                let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: size + 1, alignment: 8)
                defer { buffer.deallocate() }
                buffer.initializeMemory(as: UInt8.self, repeating: 0)
                let packed = UnsafeMutableRawBufferPointer(rebasing: buffer[1...])  // unaligned on purpose
                values.withUnsafeBufferPointer { BitPacking.pack($0, base: base, width: width, into: packed) }
                let out = UnsafeMutablePointer<Int64>.allocate(capacity: max(count, 1))
                defer { out.deallocate() }
                BitPacking.unpack(UnsafeRawBufferPointer(packed), count: count, base: base, width: width, into: out)
                #expect(Array(UnsafeBufferPointer(start: out, count: count)) == values, "width \(width), count \(count)")
                guard width <= 32 else { continue }
                let codes = UnsafeMutablePointer<UInt32>.allocate(capacity: max(count, 1))
                defer { codes.deallocate() }
                BitPacking.unpack32(UnsafeRawBufferPointer(packed), count: count, base: base, width: width, into: codes)
                #expect(Array(UnsafeBufferPointer(start: codes, count: count)) == values.map { UInt32(truncatingIfNeeded: $0) },
                        "width \(width), count \(count)")
            }
        }
    }

    /// Values of every bit width, including negative bases and the full 64-bit range.
    @Test(arguments: [0, 1, 7, 8, 13, 31, 32, 33, 56, 57, 63, 64])
    func frameOfReferenceRoundTrips(width: Int) throws {
        var rng = SystemRandomNumberGenerator()
        for count in [0, 1, 2, 100, 8192] {
            let base: Int64 = width == 64 ? .min : -12345
            let values: [Int64] = (0..<count).map { _ in
                width == 0 ? base : base &+ Int64(bitPattern: rng.next() >> UInt64(64 - width))
            }
            var block: [UInt8] = []
            var encoder = BlockEncoder()
            values.withUnsafeBufferPointer { encoder.encodeFOR($0, into: &block) }
            var decoder = BlockDecoder()
            let out = UnsafeMutablePointer<Int64>.allocate(capacity: max(count, 1))
            defer { out.deallocate() }
            let n = try block.withUnsafeBytes { try decoder.decodeIntegers($0, into: out) }
            #expect(n == count)
            #expect(Array(UnsafeBufferPointer(start: out, count: count)) == values)
        }
    }

    @Test(arguments: [1, 2, 100, 5000, 8192])
    func outliersArePatchedNotWidened(count: Int) throws {
        var rng = SystemRandomNumberGenerator()
        // Mostly 10-bit values, a few 40-bit ones, some negative base.
        let values: [Int64] = (0..<count).map { i in
            i % 97 == 5 ? Int64.random(in: 0..<(1 << 40), using: &rng) : Int64.random(in: -500..<500, using: &rng)
        }
        var block: [UInt8] = []
        var encoder = BlockEncoder()
        values.withUnsafeBufferPointer { encoder.encodeFOR($0, into: &block) }
        let header = try #require(block.withUnsafeBytes { BlockDecoder.header($0) })
        if count >= 100 {
            #expect(header.encoding == .patched)
            #expect(block.count < count * 2)
        }
        var decoder = BlockDecoder()
        let out = UnsafeMutablePointer<Int64>.allocate(capacity: count)
        defer { out.deallocate() }
        _ = try block.withUnsafeBytes { try decoder.decodeIntegers($0, into: out) }
        #expect(Array(UnsafeBufferPointer(start: out, count: count)) == values)
        // Dictionary codes may be patched too.
        let codes = values.map { Int64(abs($0) % 70_000) }
        block = []
        codes.withUnsafeBufferPointer { encoder.encodeFOR($0, into: &block) }
        let out32 = UnsafeMutablePointer<UInt32>.allocate(capacity: count)
        defer { out32.deallocate() }
        _ = try block.withUnsafeBytes { try decoder.decodeCodes($0, into: out32) }
        #expect(Array(UnsafeBufferPointer(start: out32, count: count)).map { Int64($0) } == codes)
    }

    /// Timestamps with exponential gaps and a few long pauses: with patching (part format v3) the deltas are patched,
    /// smaller than plain deltas, and read back exactly; without it, plain deltas as before; equal gaps stay plain.
    @Test(arguments: [2, 3, 100, 5000, 8192, 65536])
    func patchedDeltasRoundTrip(rows: Int) throws {
        var rng = Xoshiro256(seed: UInt64(rows))
        var t: Int64 = 1_748_736_000_000
        var bursty: [Int64] = [], even: [Int64] = []
        for i in 0..<rows {
            bursty.append(t)
            even.append(1_748_736_000_000 + Int64(i) * 250)
            t += i % 997 == 500 ? 3_600_000 * Int64(1 + rng.below(48)) : Int64(-40.0 * log(1 - rng.uniform()))
        }
        var decoder = BlockDecoder()
        var encoder = BlockEncoder()
        let out = UnsafeMutablePointer<Int64>.allocate(capacity: rows)
        defer { out.deallocate() }
        for (values, name) in [(bursty, "bursty"), (even, "even")] {
            var plain: [UInt8] = [], patched: [UInt8] = []
            values.withUnsafeBufferPointer { encoder.encodeDelta($0, into: &plain) }
            values.withUnsafeBufferPointer { encoder.encodeDelta($0, patching: true, into: &patched) }
            #expect(plain[1] == BlockEncoding.delta.rawValue)
            #expect(patched.count <= plain.count, "\(name): patched \(patched.count) > plain \(plain.count)")
            if name == "even" { #expect(patched == plain) }
            if name == "bursty" && rows >= 5000 { #expect(patched[1] == BlockEncoding.patchedDelta.rawValue) }
            for block in [plain, patched] {
                _ = try block.withUnsafeBytes { try decoder.decodeIntegers($0, into: out) }
                #expect(Array(UnsafeBufferPointer(start: out, count: rows)) == values, "\(name) \(block[1])")
            }
        }
    }

    @Test func deltaRoundTripsSortedTimestamps() throws {
        var t: Int64 = 1_748_736_000_000
        let values: [Int64] = (0..<5000).map { i in
            t += Int64(i % 7 == 0 ? 0 : (i * 7919) % 90_000)
            return t
        }
        var block: [UInt8] = []
        var encoder = BlockEncoder()
        values.withUnsafeBufferPointer { encoder.encodeDelta($0, into: &block) }
        var decoder = BlockDecoder()
        let out = UnsafeMutablePointer<Int64>.allocate(capacity: values.count)
        defer { out.deallocate() }
        _ = try block.withUnsafeBytes { try decoder.decodeIntegers($0, into: out) }
        #expect(Array(UnsafeBufferPointer(start: out, count: values.count)) == values)
        #expect(block.count < values.count * 3)
    }

    /// The word-at-a-time UUID parse accepts exactly what a character-by-character one accepts (canonical lowercase
    /// UUIDs), with the same bytes: every hex digit and letter at every position, and strings one character off.
    @Test func uuidParseMatchesCharacterByCharacter() {
        func reference(_ s: [UInt8]) -> (UInt64, UInt64)? {
            guard s.count == 36, s[8] == 45, s[13] == 45, s[18] == 45, s[23] == 45 else { return nil }
            var hi: UInt64 = 0, lo: UInt64 = 0, n = 0
            for (i, c) in s.enumerated() where ![8, 13, 18, 23].contains(i) {
                let v: UInt64
                switch c {
                case 48...57: v = UInt64(c - 48)
                case 97...102: v = UInt64(c - 87)
                default: return nil
                }
                if n < 16 { hi = hi << 4 | v } else { lo = lo << 4 | v }
                n += 1
            }
            return (hi, lo)
        }
        let hex = Array("0123456789abcdef".utf8)
        // Bytes around each edge of the accepted ranges, and beyond ASCII.
        let odd: [UInt8] = [0, 0x2F, 0x3A, 0x40, 0x41, 0x46, 0x47, 0x60, 0x67, 0x7F, 0x80, 0xB0, 0xE1, 0xFF, 45]
        var rng = TestRNG(seed: 99)
        for trial in 0..<40_000 {
            var s = (0..<36).map { _ in hex[rng.next(16)] }
            for d in [8, 13, 18, 23] { s[d] = 45 }
            if trial % 2 == 1 { s[rng.next(36)] = odd[rng.next(odd.count)] }
            if trial % 97 == 0 { s = Array(s.prefix(35)) }
            let got = s.withUnsafeBytes { UUIDBytes.parse($0) }
            let want = reference(s)
            #expect(got?.0 == want?.0 && got?.1 == want?.1, "\(String(decoding: s, as: UTF8.self))")
        }
        for (i, c) in hex.enumerated() {
            let s = Array(repeating: c, count: 36).enumerated().map { [8, 13, 18, 23].contains($0.offset) ? UInt8(45) : $0.element }
            #expect(s.withUnsafeBytes { UUIDBytes.parse($0) }.map { [$0.0, $0.1] } == [UInt64(i) &* 0x1111_1111_1111_1111, UInt64(i) &* 0x1111_1111_1111_1111])
        }
    }

    @Test(arguments: ["uuid4", "uuid", "bytes"])
    func requestIDsRoundTripLosslessly(kind: String) throws {
        var rng = SystemRandomNumberGenerator()
        let ids: [String] = (0..<1000).map { i in
            var hex = (0..<32).map { _ in String(Int.random(in: 0..<16, using: &rng), radix: 16) }
            if kind != "uuid" || i % 2 == 0 { hex[12] = "4"; hex[16] = ["8", "9", "a", "b"][i % 4] }
            let s = hex.joined()
            let uuid = [s.prefix(8), s.dropFirst(8).prefix(4), s.dropFirst(12).prefix(4), s.dropFirst(16).prefix(4), s.dropFirst(20)].joined(separator: "-")
            return kind == "bytes" && i % 10 == 0 ? "req-\(i)-Ü" : uuid
        }
        let bytes = ids.map { Array($0.utf8) }
        var block: [UInt8] = []
        var encoder = BlockEncoder()
        let arrays = bytes
        encoder.encodeBytes(count: ids.count, { i in arrays[i].withUnsafeBytes { UnsafeRawBufferPointer(start: $0.baseAddress, count: $0.count) } }, into: &block)
        let header = try #require(block.withUnsafeBytes { BlockDecoder.header($0) })
        let expected: BlockEncoding = kind == "uuid4" ? .uuid4 : kind == "uuid" ? .uuid : .bytes
        #expect(header.encoding == expected)
        var decoder = BlockDecoder()
        var decoded: [String] = []
        try block.withUnsafeBytes { b in try decoder.decodeBytes(b) { _, s in decoded.append(String(decoding: s, as: UTF8.self)) } }
        #expect(decoded == ids)
    }

    @Test func damagedBlocksAreRefused() throws {
        let values = (0..<1000).map { Int64($0 * 3) }
        var block: [UInt8] = []
        var encoder = BlockEncoder()
        values.withUnsafeBufferPointer { encoder.encodeFOR($0, into: &block) }
        var decoder = BlockDecoder()
        let out = UnsafeMutablePointer<Int64>.allocate(capacity: 1000)
        defer { out.deallocate() }
        for position in [0, 1, 5, 13, 17, BlockHeader.size, block.count - 1] {
            var bad = block
            bad[position] ^= 0x40
            #expect(throws: (any Error).self) { _ = try bad.withUnsafeBytes { try decoder.decodeIntegers($0, into: out) } }
        }
    }

    /// Granules of costs and what they are made of: each case says how the costs relate to the tokens.
    enum CostShape: String, CaseIterable, Sendable {
        /// Every cost is its model's list price times its tokens.
        case listPrices
        /// One row in ten billed otherwise (a discount, a cached prompt, a rounding).
        case tenPercentOff
        /// Models with one row (nothing to solve from) next to priced ones.
        case singleRowModels
        /// Tokens and costs at the ends of `Int64`: predictions wrap, residuals wrap back.
        case extremes
        /// Costs that follow no price: the plain encoding must be kept.
        case random
    }

    /// A granule's costs encoded from its tokens and model codes decode to exactly the costs, whatever they are;
    /// priced blocks are written when the prices predict the costs, plain ones when they do not.
    @Test(arguments: CostShape.allCases, [1, 2, 7, 700, 8192])
    func pricedCostsRoundTrip(shape: CostShape, rows: Int) throws {
        var rng = Xoshiro256(seed: UInt64(rows) &* 31 &+ UInt64(shape.rawValue.count))
        let prices: [(Int64, Int64)] = [(2_500, 10_000), (150, 600), (3_000, 15_000), (0, 1), (800, 800)]
        var model = [UInt32](), input = [Int64](), output = [Int64](), cost = [Int64]()
        for i in 0..<rows {
            var m = UInt32(rng.below(prices.count))
            if shape == .singleRowModels && i < 3 { m = UInt32(prices.count + i) }
            let tin = Int64(rng.below(50_000)), tout = Int64(rng.below(4_000))
            let p = Int(m) < prices.count ? prices[Int(m)] : (Int64(7 + i), Int64(11))
            var c = p.0 * tin + p.1 * tout
            switch shape {
            case .tenPercentOff where rng.below(10) == 0: c = c * 9 / 10 + 1
            case .random: c = Int64(rng.below(1 << 40))
            case .extremes:
                let big = [Int64.max, Int64.min, 0, -1, Int64(UInt32.max)]
                model.append(m); input.append(big[rng.below(big.count)]); output.append(big[rng.below(big.count)])
                cost.append(i % 3 == 0 ? big[rng.below(big.count)] : p.0 &* input.last! &+ p.1 &* output.last!)
                continue
            default: break
            }
            model.append(m); input.append(tin); output.append(tout); cost.append(c)
        }
        var block: [UInt8] = []
        var encoder = BlockEncoder()
        cost.withUnsafeBufferPointer { c in input.withUnsafeBufferPointer { i in output.withUnsafeBufferPointer { o in
            model.withUnsafeBufferPointer { m in encoder.encodeCost(c, input: i, output: o, model: m, into: &block) }
        } } }
        let header = try #require(block.withUnsafeBytes { BlockDecoder.header($0) })
        var plain: [UInt8] = []
        cost.withUnsafeBufferPointer { encoder.encodeFOR($0, into: &plain) }
        #expect(block.count <= plain.count, "a priced block larger than the plain one")
        if shape == .random { #expect(header.encoding != .priced) }
        if shape == .listPrices && rows >= 700 {
            #expect(header.encoding == .priced)
            #expect(block.count < 24 + 8 + 16 * prices.count + 24 + 16, "\(block.count) bytes for \(rows) rows of list prices")
        }
        var decoder = BlockDecoder()
        let out = UnsafeMutablePointer<Int64>.allocate(capacity: max(rows, 1))
        defer { out.deallocate() }
        try model.withUnsafeBufferPointer { m in try input.withUnsafeBufferPointer { i in try output.withUnsafeBufferPointer { o in
            let inputs = CostInputs(model: m.baseAddress!, input: i.baseAddress!, output: o.baseAddress!)
            _ = try block.withUnsafeBytes { try decoder.decodeIntegers($0, costInputs: inputs, into: out) }
        } } }
        #expect(Array(UnsafeBufferPointer(start: out, count: rows)) == cost)

        // Taken apart (`decodePricedTerms`): each model's residual sum plus its prices times its token sums is the sum
        // of its rows' costs, in wrapping arithmetic, however the residuals are stored.
        guard header.encoding == .priced else { return }
        let terms = try model.withUnsafeBufferPointer { m in
            try block.withUnsafeBytes { try decoder.decodePricedTerms($0, model: m.baseAddress!, residualsInto: out) }
        }
        #expect(terms.rows == rows)
        var sums = [Int64](repeating: 0, count: terms.terms.models)
        var expected = sums
        for i in 0..<rows {
            let m = Int(model[i])
            let residual = terms.terms.constantResidual ?? out[i]
            sums[m] &+= residual &+ terms.terms.inputPrice(m) &* input[i] &+ terms.terms.outputPrice(m) &* output[i]
            expected[m] &+= cost[i]
        }
        #expect(sums == expected)
        var byModel = [Int64](repeating: 0, count: terms.terms.models)
        for m in 0..<terms.terms.models {
            let rowsOf = (0..<rows).filter { Int(model[$0]) == m }
            let residuals = rowsOf.reduce(Int64(0)) { $0 &+ (terms.terms.constantResidual ?? out[$1]) }
            let tin = rowsOf.reduce(Int64(0)) { $0 &+ input[$1] }, tout = rowsOf.reduce(Int64(0)) { $0 &+ output[$1] }
            byModel[m] = residuals &+ terms.terms.inputPrice(m) &* tin &+ terms.terms.outputPrice(m) &* tout
        }
        #expect(byModel == expected)
    }

    /// The prices found are the list prices the costs were computed with, even with one row in ten billed otherwise.
    @Test func fitFindsTheListPrices() throws {
        var rng = Xoshiro256(seed: 3)
        let prices: [Int64] = [2_500, 10_000, 150, 600, 3_000, 15_000]
        var model = [UInt32](), input = [Int64](), output = [Int64](), cost = [Int64]()
        for i in 0..<4_000 {
            let m = rng.below(3)
            let tin = Int64(1 + rng.below(30_000)), tout = Int64(rng.below(3_000))
            model.append(UInt32(m)); input.append(tin); output.append(tout)
            cost.append(i % 10 == 3 ? Int64(rng.below(1 << 30)) : prices[2 * m] * tin + prices[2 * m + 1] * tout)
        }
        let fit = cost.withUnsafeBufferPointer { c in input.withUnsafeBufferPointer { i in output.withUnsafeBufferPointer { o in
            model.withUnsafeBufferPointer { m in CostPrices.fit(cost: c, input: i, output: o, model: m) }
        } } }
        #expect(fit == CostPrices(table: prices))
    }

    /// A priced block is read with its model codes and tokens or not at all: without them, or with a model code past
    /// its price table, decoding fails instead of answering.
    @Test func pricedBlocksNeedTheirInputs() throws {
        let n = 1000
        let model = (0..<n).map { UInt32($0 % 3) }, input = (0..<n).map { Int64($0 * 7) }, output = (0..<n).map { Int64($0 % 13) }
        let cost = (0..<n).map { i in [5, 9, 2][i % 3] * input[i] + [20, 1, 4][i % 3] * output[i] }
        var block: [UInt8] = []
        var encoder = BlockEncoder()
        cost.withUnsafeBufferPointer { c in input.withUnsafeBufferPointer { i in output.withUnsafeBufferPointer { o in
            model.withUnsafeBufferPointer { m in encoder.encodeCost(c, input: i, output: o, model: m, into: &block) }
        } } }
        #expect(block[1] == BlockEncoding.priced.rawValue)
        var decoder = BlockDecoder()
        let out = UnsafeMutablePointer<Int64>.allocate(capacity: n)
        defer { out.deallocate() }
        #expect(throws: BlockDecoder.Damage.self) { _ = try block.withUnsafeBytes { try decoder.decodeIntegers($0, into: out) } }
        let wrong = model.map { $0 == 2 ? 3 : $0 }
        try wrong.withUnsafeBufferPointer { m in try input.withUnsafeBufferPointer { i in try output.withUnsafeBufferPointer { o in
            let inputs = CostInputs(model: m.baseAddress!, input: i.baseAddress!, output: o.baseAddress!)
            #expect(throws: BlockDecoder.Damage.self) { _ = try block.withUnsafeBytes { try decoder.decodeIntegers($0, costInputs: inputs, into: out) } }
            #expect(throws: BlockDecoder.Damage.self) {
                _ = try block.withUnsafeBytes { try decoder.decodePricedTerms($0, model: m.baseAddress!, residualsInto: out) }
            }
        } } }
        // Its terms are refused for any other block.
        var plain: [UInt8] = []
        cost.withUnsafeBufferPointer { encoder.encodeFOR($0, into: &plain) }
        try model.withUnsafeBufferPointer { m in
            #expect(throws: BlockDecoder.Damage.self) {
                _ = try plain.withUnsafeBytes { try decoder.decodePricedTerms($0, model: m.baseAddress!, residualsInto: out) }
            }
        }
    }
}
