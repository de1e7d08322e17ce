/// CSV cells for files people open in a spreadsheet (monthly report, usage and cost exports, `tally query
/// --format csv`): the one place those files are escaped, so none can carry a formula.
///
/// Follows OWASP's CSV injection guidance: a cell that starts with `=`, `+`, `-`, `@`, a tab or a carriage
/// return would be evaluated by Excel, LibreOffice or Google Sheets (`=HYPERLINK(...)`, `=cmd|' /C calc'!A0`,
/// `@SUM(A1)`), so it is prefixed with a single quote and quoted, which makes the spreadsheet show it as text.
/// A plain decimal number (`-12.5`, our own change columns) is left alone: it is a number, not a formula.
///
/// The records export does not use this: it is the import format and must give back exactly what was stored
/// (see `RecordWriter`, which writes `TextEncoding.csvField`); a record value that starts with `=` is exported as it is.
package enum SpreadsheetCSV {
    /// `s` as one CSV cell: neutralised when a spreadsheet would evaluate it, quoted (inner quotes doubled)
    /// when it holds a comma, quote, CR or LF or was neutralised.
    package static func cell(_ s: String) -> String {
        var s = s
        if s.withUTF8(isNeutralised) { return quoted("'" + s) }
        return s.withUTF8 { u in TextEncoding.csvNeedsQuotes(UnsafeRawBufferPointer(u)) } ? quoted(s) : s
    }

    /// Appends `cell(s)`'s UTF-8 to `out`, without making a string for a cell that stays as it is (most of them; a CLI
    /// answer of 20,000 rows has 80,000 cells).
    package static func append(_ s: String, to out: inout [UInt8]) {
        var s = s
        let asItIs = s.withUTF8 { u in
            guard !isNeutralised(u), !TextEncoding.csvNeedsQuotes(UnsafeRawBufferPointer(u)) else { return false }
            out.append(contentsOf: u)
            return true
        }
        if !asItIs { out.append(contentsOf: cell(s).utf8) }
    }

    /// Whether a spreadsheet would evaluate `u` (a trigger first, and not a plain decimal number): `cell` neutralises it.
    private static func isNeutralised(_ u: UnsafeBufferPointer<UInt8>) -> Bool {
        guard let first = u.first else { return false }
        return isTrigger(first) && !isDecimalNumber(UnsafeRawBufferPointer(u))
    }

    /// A row of cells, comma-separated, without the line feed.
    package static func row(_ cells: [String]) -> String {
        cells.map(cell).joined(separator: ",")
    }

    /// `=`, `+`, `-`, `@`, tab, carriage return.
    private static func isTrigger(_ c: UInt8) -> Bool {
        c == 0x3D || c == 0x2B || c == 0x2D || c == 0x40 || c == 0x09 || c == 0x0D
    }

    /// `-?[0-9]+(\.[0-9]+)?`
    private static func isDecimalNumber(_ u: UnsafeRawBufferPointer) -> Bool {
        var i = 0
        if i < u.count, u[i] == 0x2D { i += 1 }
        var digits = 0, dot = false, afterDot = 0
        while i < u.count {
            let c = u[i]
            if c >= 0x30 && c <= 0x39 {
                if dot { afterDot += 1 } else { digits += 1 }
            } else if c == 0x2E && !dot {
                dot = true
            } else {
                return false
            }
            i += 1
        }
        return digits > 0 && (!dot || afterDot > 0)
    }

    /// `s` quoted as every CSV field of Tally is (`TextEncoding.csvQuoted`).
    private static func quoted(_ s: String) -> String {
        var s = s
        return s.withUTF8 { u in
            String(unsafeUninitializedCapacity: 2 * u.count + 2) { out in
                TextEncoding.csvQuoted(UnsafeRawBufferPointer(u), into: UnsafeMutableRawPointer(out.baseAddress!))
            }
        }
    }
}
