import TallyAnalytics

/// The text ClickHouse reads and writes: string literals in statements, and TabSeparated rows both ways.
///
/// Strings are bytes to ClickHouse (it compares and groups them byte by byte, as Tally does), so every byte of a
/// value survives: quotes, backslashes, tabs, newlines and NUL are escaped, everything else is sent as it is.
enum ClickHouseText {
    /// `'...'`: a string literal holding exactly the bytes of `s`.
    static func literal(_ s: String) -> String {
        var out: [UInt8] = [UInt8(ascii: "'")]
        out.reserveCapacity(s.utf8.count + 2)
        for b in s.utf8 {
            switch b {
            case UInt8(ascii: "'"): out += [UInt8(ascii: "\\"), UInt8(ascii: "'")]
            case UInt8(ascii: "\\"): out += [UInt8(ascii: "\\"), UInt8(ascii: "\\")]
            case 0..<0x20, 0x7f:
                let hex = Array("0123456789ABCDEF".utf8)
                out += [UInt8(ascii: "\\"), UInt8(ascii: "x"), hex[Int(b >> 4)], hex[Int(b & 15)]]
            default: out.append(b)
            }
        }
        out.append(UInt8(ascii: "'"))
        return String(decoding: out, as: UTF8.self)
    }

    /// `(a, b, c)` of literals.
    static func list(_ values: [String]) -> String {
        "(" + values.map(literal).joined(separator: ", ") + ")"
    }

    /// Appends `s` as one TabSeparated field.
    static func appendField(_ s: String, to out: inout [UInt8]) {
        for b in s.utf8 {
            switch b {
            case UInt8(ascii: "\\"): out += [UInt8(ascii: "\\"), UInt8(ascii: "\\")]
            case UInt8(ascii: "\t"): out += [UInt8(ascii: "\\"), UInt8(ascii: "t")]
            case UInt8(ascii: "\n"): out += [UInt8(ascii: "\\"), UInt8(ascii: "n")]
            case UInt8(ascii: "\r"): out += [UInt8(ascii: "\\"), UInt8(ascii: "r")]
            case 0: out += [UInt8(ascii: "\\"), UInt8(ascii: "0")]
            default: out.append(b)
            }
        }
    }

    static func appendField(_ v: Int64, to out: inout [UInt8]) {
        out += Array(String(v).utf8)
    }

    static func appendField(_ v: UInt64, to out: inout [UInt8]) {
        out += Array(String(v).utf8)
    }

    /// The fields of one TabSeparated line (without its newline), unescaped.
    static func fields(_ line: ArraySlice<UInt8>) throws -> [String] {
        var fields: [String] = []
        var field: [UInt8] = []
        var i = line.startIndex
        while i < line.endIndex {
            let b = line[i]
            if b == UInt8(ascii: "\t") {
                fields.append(String(decoding: field, as: UTF8.self))
                field.removeAll(keepingCapacity: true)
            } else if b == UInt8(ascii: "\\") {
                i += 1
                guard i < line.endIndex else { throw AnalyticsError.storage("ClickHouse sent a line ending in a backslash") }
                switch line[i] {
                case UInt8(ascii: "t"): field.append(UInt8(ascii: "\t"))
                case UInt8(ascii: "n"): field.append(UInt8(ascii: "\n"))
                case UInt8(ascii: "r"): field.append(UInt8(ascii: "\r"))
                case UInt8(ascii: "0"): field.append(0)
                case UInt8(ascii: "b"): field.append(8)
                case UInt8(ascii: "f"): field.append(12)
                case UInt8(ascii: "a"): field.append(7)
                case UInt8(ascii: "v"): field.append(11)
                case UInt8(ascii: "x"):
                    guard i + 2 < line.endIndex, let h = hex(line[i + 1]), let l = hex(line[i + 2]) else {
                        throw AnalyticsError.storage("ClickHouse sent a malformed \\x escape")
                    }
                    field.append(h << 4 | l)
                    i += 2
                default: field.append(line[i])
                }
            } else {
                field.append(b)
            }
            i += 1
        }
        fields.append(String(decoding: field, as: UTF8.self))
        return fields
    }

    private static func hex(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): c - UInt8(ascii: "A") + 10
        default: nil
        }
    }

    /// The lines of a whole TabSeparated answer, each split into fields; every line must have `columns` fields.
    static func rows(_ bytes: [UInt8], columns: Int) throws -> [[String]] {
        var rows: [[String]] = []
        var start = 0
        for i in bytes.indices where bytes[i] == UInt8(ascii: "\n") {
            let f = try fields(bytes[start..<i])
            guard f.count == columns else { throw malformed(bytes[start..<i], columns) }
            rows.append(f)
            start = i + 1
        }
        guard start == bytes.count else { throw malformed(bytes[start...], columns) }
        return rows
    }

    static func malformed(_ line: ArraySlice<UInt8>, _ columns: Int) -> AnalyticsError {
        .storage("ClickHouse sent a line that is not \(columns) fields: \(String(decoding: line.prefix(500), as: UTF8.self))")
    }

    static func int(_ s: String) throws -> Int64 {
        guard let v = Int64(s) else { throw AnalyticsError.storage("ClickHouse sent \"\(s.prefix(100))\" for an integer") }
        return v
    }
}
