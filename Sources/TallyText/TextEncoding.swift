#if canImport(Glibc)
import Glibc
#endif

/// The byte-level text encoders every writer of Tally shares (`RecordWriter`, `JSONWriter`, `Money`,
/// `Timestamp`, `SpreadsheetCSV`): each writes at `p`, which has room for the bound its comment gives, and
/// returns the number of bytes written.
///
/// `@inlinable`: `RecordWriter` calls these once per field of every exported record from TallyStore; inlinable,
/// they compile into its loop exactly as they did when they were its own private helpers.
package enum TextEncoding {
    /// Milliseconds in a UTC day (an inlinable constant: see `Money.nanosPerCent`).
    @inlinable
    static var dayMillis: Int64 { 86_400_000 }

    /// `a / b` rounded towards negative infinity (days before 1970 start before their millisecond).
    @inlinable
    static func floorDiv(_ a: Int64, _ b: Int64) -> Int64 {
        let q = a / b
        return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q
    }

    // MARK: Numbers

    /// `v` in decimal (at most 20 bytes).
    @inlinable @inline(__always)
    package static func decimal(_ v: Int64, into p: UnsafeMutableRawPointer) -> Int {
        if v < 0 {
            p.storeBytes(of: 45, as: UInt8.self)
            return 1 + decimal(v.magnitude, into: p + 1)
        }
        return decimal(UInt64(v), into: p)
    }

    /// `v` in decimal (at most 20 bytes).
    @inlinable @inline(__always)
    package static func decimal(_ v: UInt64, into p: UnsafeMutableRawPointer) -> Int {
        var digits = 1
        var x = v
        while x >= 10 { x /= 10; digits += 1 }
        x = v
        var i = digits - 1
        while i >= 0 {
            p.storeBytes(of: UInt8(48 + x % 10), toByteOffset: i, as: UInt8.self)
            x /= 10
            i -= 1
        }
        return digits
    }

    /// A non-negative `v` zero-padded to `width` digits; all its digits when it has more.
    @inlinable @inline(__always)
    static func padded(_ v: Int, width: Int, into p: UnsafeMutableRawPointer) -> Int {
        var digits = 1
        var x = v
        while x >= 10 { x /= 10; digits += 1 }
        let n = Swift.max(digits, width)
        x = v
        var i = n - 1
        while i >= 0 {
            p.storeBytes(of: UInt8(48 + x % 10), toByteOffset: i, as: UInt8.self)
            x /= 10
            i -= 1
        }
        return n
    }

    /// Nano-dollars as a `cost_cents` decimal with exactly 7 fraction digits, e.g. `12.3400000` (at most 29 bytes).
    @inlinable @inline(__always)
    package static func cents(_ nanos: Int64, into p: UnsafeMutableRawPointer) -> Int {
        var n = 0
        if nanos < 0 { p.storeBytes(of: 45, as: UInt8.self); n = 1 }
        let m = nanos.magnitude
        n += decimal(m / UInt64(Money.nanosPerCent), into: p + n)
        p.storeBytes(of: 46, toByteOffset: n, as: UInt8.self)  // '.'
        var frac = m % UInt64(Money.nanosPerCent)
        for k in stride(from: 7, through: 1, by: -1) {
            p.storeBytes(of: UInt8(48 + frac % 10), toByteOffset: n + k, as: UInt8.self)
            frac /= 10
        }
        return n + 8
    }

    // MARK: Times

    /// `YYYY-MM-DD` of a day number (years past 9999 with all their digits, before year 0 with a `-`;
    /// at most 16 bytes).
    @inlinable @inline(__always)
    static func date(days: Int64, into p: UnsafeMutableRawPointer) -> Int {
        let (y, m, d) = Timestamp.civilFromDays(Int(days))
        var n = 0
        if y < 0 { p.storeBytes(of: 45, as: UInt8.self); n = 1 }
        n += padded(Int(y.magnitude), width: 4, into: p + n)
        p.storeBytes(of: 45, toByteOffset: n, as: UInt8.self)
        p.storeBytes(of: UInt8(48 + m / 10), toByteOffset: n + 1, as: UInt8.self)
        p.storeBytes(of: UInt8(48 + m % 10), toByteOffset: n + 2, as: UInt8.self)
        p.storeBytes(of: 45, toByteOffset: n + 3, as: UInt8.self)
        p.storeBytes(of: UInt8(48 + d / 10), toByteOffset: n + 4, as: UInt8.self)
        p.storeBytes(of: UInt8(48 + d % 10), toByteOffset: n + 5, as: UInt8.self)
        return n + 6
    }

    /// `THH:MM:SS`, the fraction `fraction` asks for, and `Z`, of a millisecond of the day (at most 14 bytes).
    @inlinable @inline(__always)
    static func timeOfDay(_ ms: Int, fraction: Timestamp.Fraction, into p: UnsafeMutableRawPointer) -> Int {
        let h = ms / 3_600_000, mi = ms / 60_000 % 60, s = ms / 1000 % 60, f = ms % 1000
        @inline(__always) func put(_ c: Int, _ at: Int) { p.storeBytes(of: UInt8(truncatingIfNeeded: c), toByteOffset: at, as: UInt8.self) }
        put(84, 0)  // 'T'
        put(48 + h / 10, 1); put(48 + h % 10, 2); put(58, 3)
        put(48 + mi / 10, 4); put(48 + mi % 10, 5); put(58, 6)
        put(48 + s / 10, 7); put(48 + s % 10, 8)
        switch fraction {
        case .milliseconds: break
        case .whenNonZero where f != 0: break
        case .whenNonZero, .never:
            put(90, 9)  // 'Z'
            return 10
        }
        put(46, 9); put(48 + f / 100, 10); put(48 + f / 10 % 10, 11); put(48 + f % 10, 12); put(90, 13)
        return 14
    }

    /// An RFC 3339 UTC time, `YYYY-MM-DDTHH:MM:SS[.mmm]Z` (at most 30 bytes).
    @inlinable
    package static func timestamp(_ millis: Int64, fraction: Timestamp.Fraction, into p: UnsafeMutableRawPointer) -> Int {
        let days = floorDiv(millis, dayMillis)
        let n = date(days: days, into: p)
        return n + timeOfDay(Int(millis - days * dayMillis), fraction: fraction, into: p + n)
    }

    // MARK: CSV and JSON

    /// Whether a CSV field must be quoted: it holds `,`, `"`, CR or LF.
    @inlinable @inline(__always)
    package static func csvNeedsQuotes(_ s: UnsafeRawBufferPointer) -> Bool {
        for c in s where c == 44 || c == 34 || c == 13 || c == 10 { return true }
        return false
    }

    /// `s` in quotes, inner quotes doubled (at most 2n + 2 bytes).
    @inlinable @inline(__always)
    package static func csvQuoted(_ s: UnsafeRawBufferPointer, into p: UnsafeMutableRawPointer) -> Int {
        var n = 0
        p.storeBytes(of: 34, toByteOffset: n, as: UInt8.self); n += 1
        for c in s {
            if c == 34 { p.storeBytes(of: 34, toByteOffset: n, as: UInt8.self); n += 1 }
            p.storeBytes(of: c, toByteOffset: n, as: UInt8.self); n += 1
        }
        p.storeBytes(of: 34, toByteOffset: n, as: UInt8.self); n += 1
        return n
    }

    /// An RFC 4180 CSV field: as is, or quoted with inner quotes doubled when it holds `,`, `"`, CR or LF
    /// (at most 2n + 2 bytes). Not neutralised for spreadsheets: people-facing CSVs use `SpreadsheetCSV`.
    @inlinable @inline(__always)
    package static func csvField(_ s: UnsafeRawBufferPointer, into p: UnsafeMutableRawPointer) -> Int {
        guard csvNeedsQuotes(s) else {
            if s.count > 0 { memcpy(p, s.baseAddress!, s.count) }
            return s.count
        }
        return csvQuoted(s, into: p)
    }

    /// A JSON string literal with its quotes: `"` and `\` escaped, control characters as `\n`, `\b`, `\u001f`...
    /// (at most 6n + 2 bytes). Bytes >= 0x80 pass through: the input is UTF-8.
    ///
    /// The records export's form; `JSONWriter` writes U+0008 and U+000C as `\u0008` and `\u000c` instead
    /// (both are the same JSON string; each writer keeps the bytes it has always written).
    @inlinable @inline(__always)
    package static func jsonString(_ s: UnsafeRawBufferPointer, into p: UnsafeMutableRawPointer) -> Int {
        let hex: StaticString = "0123456789abcdef"
        var n = 0
        @inline(__always) func put(_ c: UInt8) { p.storeBytes(of: c, toByteOffset: n, as: UInt8.self); n += 1 }
        put(34)
        for c in s {
            switch c {
            case 34: put(92); put(34)
            case 92: put(92); put(92)
            case 10: put(92); put(110)
            case 13: put(92); put(114)
            case 9: put(92); put(116)
            case 8: put(92); put(98)
            case 12: put(92); put(102)
            case 0..<32:
                put(92); put(117); put(48); put(48)
                put(hex.utf8Start[Int(c >> 4)]); put(hex.utf8Start[Int(c & 0xF)])
            default: put(c)
            }
        }
        put(34)
        return n
    }

    /// The bytes `encode` writes into a stack buffer of `capacity` bytes, as a String.
    @inlinable
    static func string(capacity: Int, _ encode: (UnsafeMutableRawPointer) -> Int) -> String {
        withUnsafeTemporaryAllocation(byteCount: capacity, alignment: 1) { buf in
            let n = encode(buf.baseAddress!)
            return String(utf8: UnsafeRawBufferPointer(rebasing: buf[..<n]))
        }
    }
}

/// Formats timestamps as `Timestamp.format` does into bytes, reusing the date part while the day stays the same
/// (a records export writes millions of times, most of them on the same day as the one before).
package struct TimestampFormatter {
    @usableFromInline var day = Int64.min
    /// `YYYY-MM-DD`
    @usableFromInline var datePrefix: (UInt64, UInt16) = (0, 0)

    /// A formatter with no day cached.
    @inlinable
    package init() {}

    /// Writes `YYYY-MM-DDTHH:MM:SS.mmmZ` (24 bytes for years 1970-9999, at most 30 otherwise) and returns the length.
    @inlinable @inline(__always)
    package mutating func format(_ millis: Int64, into p: UnsafeMutableRawPointer) -> Int {
        // Years outside 1970-9999 are rare enough for the general encoder.
        guard millis >= 0, millis < 253_402_300_800_000 else {
            return TextEncoding.timestamp(millis, fraction: .milliseconds, into: p)
        }
        let d = millis / TextEncoding.dayMillis
        if d != day {
            day = d
            _ = withUnsafeMutableBytes(of: &datePrefix) { TextEncoding.date(days: d, into: $0.baseAddress!) }
        }
        _ = withUnsafeBytes(of: datePrefix) { memcpy(p, $0.baseAddress!, 10) }
        return 10 + TextEncoding.timeOfDay(Int(millis - d * TextEncoding.dayMillis), fraction: .milliseconds, into: p + 10)
    }
}

extension String {
    /// The string of UTF-8 `bytes` (invalid sequences repaired). Typed in place: `String(decoding:as:)` given a raw
    /// buffer first copies it into an array, an allocation per string.
    @inlinable @inline(__always)
    package init(utf8 bytes: UnsafeRawBufferPointer) {
        self = bytes.withMemoryRebound(to: UInt8.self) { String(decoding: $0, as: UTF8.self) }
    }
}
