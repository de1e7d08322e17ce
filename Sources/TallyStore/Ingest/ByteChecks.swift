/// Byte-level checks of field values: word-at-a-time ASCII fast paths, then full UTF-8 validation.
enum ByteChecks {
    private static let lows: UInt64 = 0x0101_0101_0101_0101
    private static let highs: UInt64 = 0x8080_8080_8080_8080

    /// True when every byte is printable ASCII (0x20...0x7E): no control character, nothing to validate.
    @inline(__always)
    static func isPrintableASCII(_ p: UnsafeRawBufferPointer) -> Bool {
        let n = p.count
        var i = 0
        var bad: UInt64 = 0
        while i + 8 <= n {
            let w = p.loadUnaligned(fromByteOffset: i, as: UInt64.self)
            // High bit set | some byte < 0x20 | some byte == 0x7F (exact as a whole-word test).
            let del = w ^ (lows &* 0x7F)
            bad |= w | ((w &- lows &* 0x20) & ~w) | ((del &- lows) & ~del)
            i += 8
        }
        if bad & highs != 0 { return false }
        while i < n {
            let c = p[i]
            if c < 0x20 || c >= 0x7F { return false }
            i += 1
        }
        return true
    }

    /// True when every byte is ASCII (< 0x80).
    @inline(__always)
    static func isASCII(_ p: UnsafeRawBufferPointer) -> Bool {
        let n = p.count
        var i = 0
        var acc: UInt64 = 0
        while i + 8 <= n {
            acc |= p.loadUnaligned(fromByteOffset: i, as: UInt64.self)
            i += 8
        }
        if acc & highs != 0 { return false }
        while i < n {
            if p[i] >= 0x80 { return false }
            i += 1
        }
        return true
    }

    /// True when the bytes are well-formed UTF-8 (no overlong forms, surrogates or code points above U+10FFFF).
    static func isValidUTF8(_ p: UnsafeRawBufferPointer) -> Bool {
        let n = p.count
        var i = 0
        while i < n {
            let c = p[i]
            if c < 0x80 { i += 1; continue }
            if c < 0xC2 || c > 0xF4 { return false }
            if c < 0xE0 {
                guard i + 1 < n, p[i + 1] & 0xC0 == 0x80 else { return false }
                i += 2
            } else if c < 0xF0 {
                guard i + 2 < n, p[i + 1] & 0xC0 == 0x80, p[i + 2] & 0xC0 == 0x80 else { return false }
                let b1 = p[i + 1]
                if c == 0xE0 && b1 < 0xA0 { return false }  // overlong
                if c == 0xED && b1 > 0x9F { return false }  // surrogate
                i += 3
            } else {
                guard i + 3 < n, p[i + 1] & 0xC0 == 0x80, p[i + 2] & 0xC0 == 0x80, p[i + 3] & 0xC0 == 0x80 else {
                    return false
                }
                let b1 = p[i + 1]
                if c == 0xF0 && b1 < 0x90 { return false }  // overlong
                if c == 0xF4 && b1 > 0x8F { return false }  // above U+10FFFF
                i += 4
            }
        }
        return true
    }

    /// True when valid UTF-8 holds a control character: C0 (U+0000-U+001F), DEL or C1 (U+0080-U+009F).
    static func hasControl(_ p: UnsafeRawBufferPointer) -> Bool {
        let n = p.count
        var i = 0
        while i < n {
            let c = p[i]
            if c < 0x20 || c == 0x7F { return true }
            if c == 0xC2, i + 1 < n, p[i + 1] < 0xA0 { return true }
            i += 1
        }
        return false
    }

    /// Bytes allowed in a `tenant_id`: `[A-Za-z0-9._:-]`, as a bitmap over 0...127.
    private static let tenantLow: UInt64 = (0x30...0x3A).reduce(0) { $0 | 1 << UInt64($1) } | 1 << 0x2E | 1 << 0x2D
    private static let tenantHigh: UInt64 = [Array(0x41...0x5A), Array(0x61...0x7A), [0x5F]]
        .joined().reduce(0) { $0 | 1 << UInt64($1 - 64) }

    /// True when `c` may appear in a `tenant_id`.
    @inline(__always)
    static func isTenantByte(_ c: UInt8) -> Bool {
        c < 64 ? tenantLow >> UInt64(c) & 1 != 0 : c < 128 && tenantHigh >> UInt64(c - 64) & 1 != 0
    }

    /// True when `p` is a valid `tenant_id`: 1-64 bytes of `[A-Za-z0-9._:-]`.
    static func isValidTenant(_ p: UnsafeRawBufferPointer) -> Bool {
        guard p.count >= 1, p.count <= 64 else { return false }
        let low = tenantLow, high = tenantHigh
        for c in p {
            let ok = c < 64 ? low >> UInt64(c) & 1 != 0 : c < 128 && high >> UInt64(c - 64) & 1 != 0
            if !ok { return false }
        }
        return true
    }
}
