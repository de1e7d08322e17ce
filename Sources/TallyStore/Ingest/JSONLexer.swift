/// The pieces of a JSON reader the record parser and the pricing loader share: whitespace, strings with
/// every escape, and the number grammar. Works on lent bytes; never allocates.
enum JSONLexer {
    /// Why a piece of JSON does not parse; the text never quotes the input.
    enum Failure: Error, Equatable {
        case unexpectedEnd
        case unexpected(String)
        case controlInString
        case badEscape
        case loneSurrogate
        case badNumber

        var text: String {
            switch self {
            case .unexpectedEnd: "ends too early"
            case let .unexpected(what): "has \(what)"
            case .controlInString: "has a raw control character inside a string"
            case .badEscape: "has an invalid escape sequence in a string"
            case .loneSurrogate: "has a \\u escape with an unpaired surrogate"
            case .badNumber: "has a malformed number"
            }
        }
    }

    @inline(__always)
    static func isSpace(_ c: UInt8) -> Bool { c == 0x20 || c == 0x0A || c == 0x0D || c == 0x09 }

    /// Index of the first non-whitespace byte at or after `i` (or `end`).
    @inline(__always)
    static func skipSpace(_ p: UnsafeRawBufferPointer, _ i: Int, _ end: Int) -> Int {
        var i = i
        while i < end, isSpace(p[i]) { i += 1 }
        return i
    }

    /// Finds the closing quote of a string whose body starts at `i`.
    /// Returns the index of the closing quote and whether the body holds escapes.
    @inline(__always)
    static func scanString(_ p: UnsafeRawBufferPointer, _ i: Int, _ end: Int) -> Result<(close: Int, escaped: Bool), Failure> {
        var i = i
        var escaped = false
        while i < end {
            let c = p[i]
            if c == 0x22 { return .success((i, escaped)) }
            if c == 0x5C {
                escaped = true
                i += 2
                continue
            }
            if c < 0x20 { return .failure(.controlInString) }
            i += 1
        }
        return .failure(.unexpectedEnd)
    }

    /// Decodes the body `p[start..<close]` of a string with escapes into `out` (which must hold
    /// `close - start` bytes: decoding never grows a string). Returns the decoded length.
    static func decodeString(
        _ p: UnsafeRawBufferPointer, _ start: Int, _ close: Int, into out: UnsafeMutableRawPointer
    ) -> Result<Int, Failure> {
        var i = start
        var o = 0
        while i < close {
            let c = p[i]
            if c != 0x5C {
                out.storeBytes(of: c, toByteOffset: o, as: UInt8.self)
                o += 1
                i += 1
                continue
            }
            guard i + 1 < close else { return .failure(.badEscape) }
            let e = p[i + 1]
            i += 2
            let simple: UInt8
            switch e {
            case 0x22: simple = 0x22          // \"
            case 0x5C: simple = 0x5C          // \\
            case 0x2F: simple = 0x2F          // \/
            case 0x62: simple = 0x08          // \b
            case 0x66: simple = 0x0C          // \f
            case 0x6E: simple = 0x0A          // \n
            case 0x72: simple = 0x0D          // \r
            case 0x74: simple = 0x09          // \t
            case 0x75:                        // \uXXXX
                guard let hi = hex4(p, i, close) else { return .failure(.badEscape) }
                i += 4
                var scalar = UInt32(hi)
                if hi >= 0xD800 && hi <= 0xDBFF {
                    guard i + 6 <= close, p[i] == 0x5C, p[i + 1] == 0x75, let lo = hex4(p, i + 2, close),
                          lo >= 0xDC00, lo <= 0xDFFF
                    else { return .failure(.loneSurrogate) }
                    i += 6
                    scalar = 0x10000 + ((UInt32(hi) - 0xD800) << 10) + (UInt32(lo) - 0xDC00)
                } else if hi >= 0xDC00 && hi <= 0xDFFF {
                    return .failure(.loneSurrogate)
                }
                o += encodeUTF8(scalar, out + o)
                continue
            default:
                return .failure(.badEscape)
            }
            out.storeBytes(of: simple, toByteOffset: o, as: UInt8.self)
            o += 1
        }
        return .success(o)
    }

    @inline(__always)
    private static func hex4(_ p: UnsafeRawBufferPointer, _ i: Int, _ end: Int) -> UInt16? {
        guard i + 4 <= end else { return nil }
        var v: UInt16 = 0
        for k in i..<(i + 4) {
            let c = p[k]
            let d: UInt8
            switch c {
            case 0x30...0x39: d = c - 0x30
            case 0x41...0x46: d = c - 0x41 + 10
            case 0x61...0x66: d = c - 0x61 + 10
            default: return nil
            }
            v = v << 4 | UInt16(d)
        }
        return v
    }

    @inline(__always)
    private static func encodeUTF8(_ s: UInt32, _ out: UnsafeMutableRawPointer) -> Int {
        if s < 0x80 {
            out.storeBytes(of: UInt8(s), as: UInt8.self)
            return 1
        }
        if s < 0x800 {
            out.storeBytes(of: UInt8(0xC0 | s >> 6), as: UInt8.self)
            out.storeBytes(of: UInt8(0x80 | s & 0x3F), toByteOffset: 1, as: UInt8.self)
            return 2
        }
        if s < 0x10000 {
            out.storeBytes(of: UInt8(0xE0 | s >> 12), as: UInt8.self)
            out.storeBytes(of: UInt8(0x80 | s >> 6 & 0x3F), toByteOffset: 1, as: UInt8.self)
            out.storeBytes(of: UInt8(0x80 | s & 0x3F), toByteOffset: 2, as: UInt8.self)
            return 3
        }
        out.storeBytes(of: UInt8(0xF0 | s >> 18), as: UInt8.self)
        out.storeBytes(of: UInt8(0x80 | s >> 12 & 0x3F), toByteOffset: 1, as: UInt8.self)
        out.storeBytes(of: UInt8(0x80 | s >> 6 & 0x3F), toByteOffset: 2, as: UInt8.self)
        out.storeBytes(of: UInt8(0x80 | s & 0x3F), toByteOffset: 3, as: UInt8.self)
        return 4
    }

    /// Scans a number starting at `i` by the JSON grammar `-?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?`.
    /// Returns the index just past it, or nil when it is malformed.
    @inline(__always)
    static func scanNumber(_ p: UnsafeRawBufferPointer, _ i: Int, _ end: Int) -> Int? {
        var i = i
        if i < end, p[i] == 0x2D { i += 1 }
        guard i < end else { return nil }
        if p[i] == 0x30 {
            i += 1
        } else if p[i] >= 0x31 && p[i] <= 0x39 {
            while i < end, p[i] >= 0x30, p[i] <= 0x39 { i += 1 }
        } else {
            return nil
        }
        if i < end, p[i] == 0x2E {
            i += 1
            let s = i
            while i < end, p[i] >= 0x30, p[i] <= 0x39 { i += 1 }
            guard i > s else { return nil }
        }
        if i < end, p[i] == 0x65 || p[i] == 0x45 {
            i += 1
            if i < end, p[i] == 0x2B || p[i] == 0x2D { i += 1 }
            let s = i
            while i < end, p[i] >= 0x30, p[i] <= 0x39 { i += 1 }
            guard i > s else { return nil }
        }
        return i
    }

    /// True when `p[i..<end]` starts with the ASCII `word`, e.g. `true`.
    @inline(__always)
    static func hasLiteral(_ p: UnsafeRawBufferPointer, _ i: Int, _ end: Int, _ word: StaticString) -> Bool {
        let n = word.utf8CodeUnitCount
        guard i + n <= end else { return false }
        let w = word.utf8Start
        for k in 0..<n where p[i + k] != w[k] { return false }
        return true
    }
}
