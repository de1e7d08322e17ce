/// CSV cells for files people open in a spreadsheet (monthly report, usage and cost exports, `tally query
/// --format csv`): the one place those files are escaped, so none can carry a formula.
///
/// Follows OWASP's CSV injection guidance: a cell that starts with `=`, `+`, `-`, `@`, a tab or a carriage
/// return would be evaluated by Excel, LibreOffice or Google Sheets (`=HYPERLINK(...)`, `=cmd|' /C calc'!A0`,
/// `@SUM(A1)`), so it is prefixed with a single quote and quoted, which makes the spreadsheet show it as text.
/// A plain decimal number (`-12.5`, our own change columns) is left alone: it is a number, not a formula.
///
/// The records export does not use this: it is the import format and must give back exactly what was stored
/// (see `RecordWriter`); a record value that starts with `=` is exported as it is.
package enum SpreadsheetCSV {
    /// `s` as one CSV cell: neutralised when a spreadsheet would evaluate it, quoted (inner quotes doubled)
    /// when it holds a comma, quote, CR or LF or was neutralised.
    package static func cell(_ s: String) -> String {
        let u = s.utf8
        if let first = u.first, isTrigger(first), !isDecimalNumber(u) {
            return quoted("'" + s)
        }
        guard u.contains(where: { $0 == 44 || $0 == 34 || $0 == 13 || $0 == 10 }) else { return s }
        return quoted(s)
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
    private static func isDecimalNumber(_ u: String.UTF8View) -> Bool {
        var i = u.startIndex
        if i < u.endIndex, u[i] == 0x2D { i = u.index(after: i) }
        var digits = 0, dot = false, afterDot = 0
        while i < u.endIndex {
            let c = u[i]
            if c >= 0x30 && c <= 0x39 {
                if dot { afterDot += 1 } else { digits += 1 }
            } else if c == 0x2E && !dot {
                dot = true
            } else {
                return false
            }
            i = u.index(after: i)
        }
        return digits > 0 && (!dot || afterDot > 0)
    }

    private static func quoted(_ s: String) -> String {
        "\"" + s.split(separator: "\"", omittingEmptySubsequences: false).joined(separator: "\"\"") + "\""
    }
}
