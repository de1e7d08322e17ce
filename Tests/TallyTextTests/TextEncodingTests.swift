import Testing
@testable import TallyText

/// Every formatter of TallyText against the String-built formatters Tally had before they shared one set of
/// byte encoders (kept here as the oracle): the move to one codec home must not change a byte of any answer.
@Suite("TextEncoding")
struct TextEncodingTests {
    /// The old `Timestamp.format`: `YYYY-MM-DDTHH:MM:SS.mmmZ`, built from Strings.
    static func referenceFormat(_ millis: Int64) -> String {
        let dayMillis: Int64 = 86_400_000
        var days = millis / dayMillis
        if millis % dayMillis != 0 && millis < 0 { days -= 1 }
        let msOfDay = Int(millis - days * dayMillis)
        let (y, m, d) = Timestamp.civilFromDays(Int(days))
        let h = msOfDay / 3_600_000, mi = msOfDay / 60_000 % 60, s = msOfDay / 1000 % 60, ms = msOfDay % 1000
        func p(_ v: Int, _ w: Int) -> String {
            let s = String(v)
            return s.count >= w ? s : String(repeating: "0", count: w - s.count) + s
        }
        return "\(p(y, 4))-\(p(m, 2))-\(p(d, 2))T\(p(h, 2)):\(p(mi, 2)):\(p(s, 2)).\(p(ms, 3))Z"
    }

    /// The old `Money.formatCents`.
    static func referenceCents(_ nanos: Int64) -> String {
        let m = nanos.magnitude
        let frac = String(m % 10_000_000)
        return (nanos < 0 ? "-" : "") + String(m / 10_000_000) + "." + String(repeating: "0", count: 7 - frac.count) + frac
    }

    /// The old `SpreadsheetCSV` quoting.
    static func referenceQuoted(_ s: String) -> String {
        "\"" + s.split(separator: "\"", omittingEmptySubsequences: false).joined(separator: "\"\"") + "\""
    }

    /// Deterministic values: edges, then a spread (a small LCG; the test needs no other module).
    static func values(_ edges: [Int64], below bound: UInt64, count: Int = 3000) -> [Int64] {
        var x: UInt64 = 0x9E37_79B9_7F4A_7C15
        return edges + (0..<count).map { _ in
            x = x &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Int64((x >> 11) % bound)
        }
    }

    static let times = values([0, 1, 999, 1000, 86_399_999, 951_782_400_000, 1_746_057_600_000, 4_102_444_800_000,
                               253_402_300_799_999, 253_402_300_800_000, 300_000_000_000_000], below: 4_200_000_000_000)

    @Test("Timestamp.format, formatSeconds and rfc3339 write what the String formatters wrote")
    func timestamps() {
        for m in Self.times + [-1, -1000, -86_400_001, -951_782_400_123] {
            let full = Self.referenceFormat(m)
            #expect(Timestamp.format(m) == full)
            // The old `formatSeconds` cut the text at 19 characters, mid-second for a five-digit year; now the
            // fraction is dropped instead (`Timestamp.parse` accepts no year past 2200, so no answer had one).
            let seconds = String(full.dropLast(5)) + "Z"
            #expect(Timestamp.formatSeconds(m) == seconds)
            #expect(rfc3339(m) == (m % 1000 == 0 ? seconds : full))
        }
        #expect(Timestamp.formatSeconds(253_402_300_800_000) == "10000-01-01T00:00:00Z")
    }

    @Test("the records export's cached TimestampFormatter writes Timestamp.format's bytes, across days and years")
    func cachedFormatter() {
        var formatter = TimestampFormatter()
        var buf = [UInt8](repeating: 0, count: 64)
        for m in Self.times + Self.times.reversed() + [-1, -86_400_000] {
            let n = buf.withUnsafeMutableBytes { formatter.format(m, into: $0.baseAddress!) }
            #expect(String(decoding: buf[..<n], as: UTF8.self) == Self.referenceFormat(m))
        }
    }

    @Test("cents: Money.formatCents, the byte encoder and JSONWriter agree with the old formatter")
    func cents() {
        var buf = [UInt8](repeating: 0, count: 64)
        for v in Self.values([0, 1, 9_999_999, 10_000_000, -1, -123_456_789, Money.maxNanos, .max, .min + 1], below: 1 << 50) {
            let expected = Self.referenceCents(v)
            #expect(Money.formatCents(v) == expected)
            let n = buf.withUnsafeMutableBytes { TextEncoding.cents(v, into: $0.baseAddress!) }
            #expect(String(decoding: buf[..<n], as: UTF8.self) == expected)
            var w = JSONWriter()
            w.cents(v)
            #expect(String(decoding: w.bytes, as: UTF8.self) == "\"" + expected + "\"")
        }
    }

    @Test("integers: JSONWriter writes what String(_:) does")
    func integers() {
        for v in Self.values([0, 1, -1, 9, 10, .max, .min], below: .max) + Self.values([], below: 1000).map({ -$0 }) {
            var w = JSONWriter()
            w.int(v)
            #expect(String(decoding: w.bytes, as: UTF8.self) == String(v))
        }
    }

    @Test("CSV: records fields are quoted only when they must be, spreadsheet cells the same way once neutralised",
          arguments: ["", "plain", "a,b", "say \"hi\"", "line\nbreak", "cr\r", "\"", "\"\"", "é,ü", "=1+2", "-3", "@x\"y",
                      "-1.5", "1400363.4283200", "=a,b"])
    func csv(_ s: String) {
        let needsQuotes = s.contains(",") || s.contains("\"") || s.contains("\n") || s.contains("\r")
        var buf = [UInt8](repeating: 0, count: 2 * s.utf8.count + 2)
        var copy = s
        let n = copy.withUTF8 { u in buf.withUnsafeMutableBytes { TextEncoding.csvField(UnsafeRawBufferPointer(u), into: $0.baseAddress!) } }
        #expect(String(decoding: buf[..<n], as: UTF8.self) == (needsQuotes ? Self.referenceQuoted(s) : s))
        if s.hasPrefix("=") || s.hasPrefix("@") {
            #expect(SpreadsheetCSV.cell(s) == Self.referenceQuoted("'" + s))
        } else {
            #expect(SpreadsheetCSV.cell(s) == (needsQuotes ? Self.referenceQuoted(s) : s))
        }
        // The bytes appended for a cell are the cell's.
        var out: [UInt8] = [0x78]
        SpreadsheetCSV.append(s, to: &out)
        #expect(out == [0x78] + Array(SpreadsheetCSV.cell(s).utf8))
    }
}

@Suite struct MoneyDollarsTests {
    @Test func dollarsAreRoundedHalfAwayFromZeroWithSeparators() {
        #expect(Money.formatDollars(0) == "$0.00")
        #expect(Money.formatDollars(4_999_999) == "$0.00")
        #expect(Money.formatDollars(5_000_000) == "$0.01")
        #expect(Money.formatDollars(246_015_000_000) == "$246.02")
        #expect(Money.formatDollars(123_456_789_000_000_000) == "$123,456,789.00")
        #expect(Money.formatDollars(100_000_000_000) == "$100.00")
        #expect(Money.formatDollars(1_000_000_000_000) == "$1,000.00")
        #expect(Money.formatDollars(-50_000_000) == "-$0.05")
        #expect(Money.formatDollars(-1) == "$0.00")
    }
}
