import TallyAnalytics
import TallyStore
import TallyText

extension MonthlyReportRendering {
    // MARK: PDF

    /// The monthly report as a PDF (A4): the summary, the daily cost chart (vector bars and a line), the daily table,
    /// the cost change and its parts, the breakdowns, budgets, anomalies and incidents. Money is written as the HTML
    /// page writes it (dollars, two decimals, rounded half up from the exact nano-dollars), so the figures read back
    /// from the PDF are the JSON report's.
    static func pdf(_ r: MonthlyReport) -> [UInt8] {
        var layout = PDFLayout()
        let change = r.totals.costNanos - r.previousTotals.costNanos
        layout.heading("Monthly report - \(r.tenant)", size: 18)
        layout.line("\(monthName(r.month))\(r.inProgress ? " (in progress)" : "") compared with \(monthName(r.month.previous)); "
            + "generated \(Timestamp.formatSeconds(r.provenance.generatedAt))", size: 9, color: .grey)
        if !r.provenance.missing.isEmpty {
            let rows = r.provenance.missing.reduce(0) { $0 + $1.rows }
            layout.line("Incomplete: \(r.provenance.missing.count) damaged part(s) holding \(grouped(Int64(rows))) records are left out "
                + "of these figures.", size: 9, font: .bold, color: PDFWriter.Color(hex: 0xB42318))
        }
        layout.space(6)
        layout.table(
            columns: [.init("", 150), .init("This month", 120, right: true), .init("Previous month", 120, right: true),
                      .init("Change", 120, right: true)],
            rows: [
                ["Spend", dollars(r.totals.costNanos), dollars(r.previousTotals.costNanos), dollars(change, signed: true)],
                ["Requests", grouped(r.totals.records), grouped(r.previousTotals.records),
                 signedGrouped(r.totals.records - r.previousTotals.records)],
                ["Input tokens", grouped(r.totals.inputTokens), grouped(r.previousTotals.inputTokens),
                 signedGrouped(r.totals.inputTokens - r.previousTotals.inputTokens)],
                ["Output tokens", grouped(r.totals.outputTokens), grouped(r.previousTotals.outputTokens),
                 signedGrouped(r.totals.outputTokens - r.previousTotals.outputTokens)],
            ])

        layout.section("Daily spend")
        layout.dailyChart(r)
        layout.table(
            columns: [.init("Day", 90), .init("Requests", 100, right: true), .init("Tokens", 120, right: true),
                      .init("Cost", 110, right: true), .init("Previous month", 110, right: true)],
            rows: r.daily.enumerated().map { i, p in
                [String(Timestamp.format(p.start).prefix(10)), grouped(p.totals.records),
                 grouped(p.totals.inputTokens + p.totals.outputTokens), dollars(p.totals.costNanos),
                 i < r.previousDaily.count ? dollars(r.previousDaily[i].totals.costNanos) : ""]
            })

        layout.section("Why the spend changed")
        let names = ["volume": "Volume (requests)", "tokens_per_request": "Tokens per request", "io_mix": "Input/output mix",
                     "model_mix": "Model mix", "price": "Price"]
        layout.table(
            columns: [.init("Part", 200), .init("Change", 130, right: true)],
            rows: [["Total change", dollars(r.decomposition.changeNanos, signed: true)]]
                + r.decomposition.parts.map { [names[$0.name] ?? $0.name, dollars($0.nanos, signed: true)] })
        layout.paragraph("Sequential substitution: the change splits into volume (number of requests), tokens per request, "
            + "model mix (share of tokens per model), input/output mix (each model's tokens weighed by its list prices) and "
            + "price. The parts add up exactly to the change.", size: 8)

        for b in r.breakdowns {
            layout.section("By \(b.dimension.fieldName) (\(b.groups) in the month)")
            var rows = b.rows.map { x in
                [x.value.isEmpty ? "(none)" : x.value, grouped(x.totals.records), grouped(x.totals.inputTokens + x.totals.outputTokens),
                 dollars(x.totals.costNanos), x.sharePercent.map { pct($0) } ?? "", dollars(x.totals.costNanos - x.previousCostNanos, signed: true)]
            }
            if b.others.records > 0 {
                rows.append(["(others)", grouped(b.others.records), grouped(b.others.inputTokens + b.others.outputTokens),
                             dollars(b.others.costNanos), "", ""])
            }
            layout.table(
                columns: [.init(b.dimension.fieldName, 150), .init("Requests", 70, right: true), .init("Tokens", 85, right: true),
                          .init("Cost", 80, right: true), .init("Share", 50, right: true), .init("Change", 80, right: true)],
                rows: rows, empty: "No records this month.")
        }

        layout.section("Budgets")
        layout.table(
            columns: [.init("Budget", 150), .init("Period", 60), .init("Limit", 85, right: true), .init("Spent", 85, right: true),
                      .init("Utilisation", 70, right: true), .init("State", 65)],
            rows: r.budgets.map { b in
                [b.budget.level == .tenant ? "tenant" : "\(b.budget.level.rawValue) \(b.budget.subject)", b.budget.period.rawValue,
                 dollars(b.budget.limitNanos), dollars(b.spentNanos), pct(b.utilizationPercent), b.state]
            }, empty: "No budgets.")
        for (title, items, empty) in [("Anomalies", r.events.anomalies, "No anomalies recorded this month."),
                                      ("Incidents", r.events.incidents, "No incidents recorded this month.")] {
            layout.section(title)
            layout.table(
                columns: [.init("When", 105), .init("Type", 95), .init("Severity", 55), .init("Status", 70), .init("What", 190)],
                rows: items.map { [Timestamp.formatSeconds($0.at), $0.kind, $0.severity, $0.status, $0.title] }, empty: empty)
        }
        layout.paragraph("Tally - " + r.provenance.aggregation, size: 7, color: .grey)
        return layout.finish(footer: "Tally monthly report \(r.tenant) \(r.month)")
    }

    static func signedGrouped(_ v: Int64) -> String { (v > 0 ? "+" : "") + grouped(v) }
}

/// Top-down layout on A4 pages over `PDFWriter`: a cursor that moves down and starts a new page when the next block
/// does not fit.
struct PDFLayout {
    /// A table column: its title, width in points, and alignment.
    struct Column {
        var title: String
        var width: Double
        var right: Bool

        init(_ title: String, _ width: Double, right: Bool = false) {
            self.title = title
            self.width = width
            self.right = right
        }
    }

    static let margin = 42.0
    var pdf = PDFWriter()
    var y = 0.0

    init() { newPage() }

    mutating func newPage() {
        pdf.newPage()
        y = PDFWriter.pageHeight - Self.margin
    }

    /// Makes room for `height` points below the cursor (a new page when it does not fit).
    mutating func need(_ height: Double) {
        if y - height < Self.margin + 14 { newPage() }
    }

    mutating func space(_ points: Double) { y -= points }

    mutating func heading(_ s: String, size: Double) {
        need(size + 6)
        y -= size
        pdf.text(PDFWriter.fit(s, width: PDFWriter.pageWidth - 2 * Self.margin, size: size, font: .bold), x: Self.margin, y: y,
                 size: size, font: .bold)
        y -= 6
    }

    mutating func section(_ title: String) {
        need(60)
        y -= 14
        heading(title, size: 12)
        pdf.line([(Self.margin, y + 3), (PDFWriter.pageWidth - Self.margin, y + 3)], width: 0.5, color: .rule)
        y -= 4
    }

    mutating func line(_ s: String, size: Double, font: PDFWriter.Font = .regular, color: PDFWriter.Color = .black) {
        need(size + 3)
        y -= size
        pdf.text(PDFWriter.fit(s, width: PDFWriter.pageWidth - 2 * Self.margin, size: size, font: font), x: Self.margin, y: y,
                 size: size, font: font, color: color)
        y -= 3
    }

    /// Words wrapped to the text width.
    mutating func paragraph(_ s: String, size: Double, color: PDFWriter.Color = .grey) {
        let width = PDFWriter.pageWidth - 2 * Self.margin
        var current = ""
        y -= 4
        for word in s.split(separator: " ") {
            let candidate = current.isEmpty ? String(word) : current + " " + word
            if PDFWriter.width(of: candidate, size: size) > width, !current.isEmpty {
                line(current, size: size, color: color)
                current = String(word)
            } else {
                current = candidate
            }
        }
        if !current.isEmpty { line(current, size: size, color: color) }
    }

    /// A table: a bold header row (repeated on each new page), then the rows; cells cut to their column.
    mutating func table(columns: [Column], rows: [[String]], empty: String? = nil) {
        let size = 9.0, rowHeight = 13.0
        func header(_ layout: inout PDFLayout) {
            layout.y -= rowHeight
            layout.cells(columns.map(\.title), columns: columns, size: size, font: .bold, color: .grey)
            layout.pdf.line([(Self.margin, layout.y - 3), (Self.margin + columns.reduce(0) { $0 + $1.width }, layout.y - 3)],
                            width: 0.5, color: .rule)
        }
        if rows.isEmpty, let empty {
            line(empty, size: size, color: .grey)
            return
        }
        need(rowHeight * 3)
        header(&self)
        for row in rows {
            if y - rowHeight < Self.margin + 14 {
                newPage()
                header(&self)
            }
            y -= rowHeight
            cells(row, columns: columns, size: size, font: .regular, color: .black)
        }
        y -= 4
    }

    private mutating func cells(_ values: [String], columns: [Column], size: Double, font: PDFWriter.Font, color: PDFWriter.Color) {
        var x = Self.margin
        for (c, column) in columns.enumerated() {
            let value = PDFWriter.fit(c < values.count ? values[c] : "", width: column.width - 6, size: size, font: font)
            if column.right {
                pdf.textRight(value, right: x + column.width - 4, y: y, size: size, font: font, color: color)
            } else {
                pdf.text(value, x: x + 2, y: y, size: size, font: font, color: color)
            }
            x += column.width
        }
    }

    /// The month's daily cost as bars, the previous month's same days of month as a line, with gridlines and their
    /// dollar labels.
    mutating func dailyChart(_ r: MonthlyReport) {
        let height = 170.0, left = Self.margin + 52, right = PDFWriter.pageWidth - Self.margin
        need(height + 30)
        let bottom = y - height
        let n = max(r.daily.count, 1)
        let previous = r.previousDaily.map(\.totals.costNanos)
        let top = Double(max((r.daily.map(\.totals.costNanos) + previous).max() ?? 0, 1))
        let slot = (right - left) / Double(n)
        func yOf(_ v: Int64) -> Double { bottom + Double(v) / top * height }
        for k in 0...4 {
            let v = Int64(top * Double(k) / 4)
            pdf.line([(left, yOf(v)), (right, yOf(v))], width: 0.4, color: .rule)
            // Whole dollars once the gridlines are 10 dollars apart or more; cents below that.
            let decimals = top / 4 >= 10_000_000_000 ? 0 : 2
            pdf.textRight(MonthlyReportRendering.dollars(v, decimals: decimals), right: left - 4, y: yOf(v) - 3, size: 7, color: .grey)
        }
        for (i, p) in r.daily.enumerated() {
            let x = left + Double(i) * slot + slot * 0.15
            let h = yOf(p.totals.costNanos) - bottom
            if h > 0 { pdf.rect(x: x, y: bottom, width: slot * 0.7, height: h, fill: PDFWriter.Color(hex: 0x3B6FD8)) }
            if i % max(1, n / 10) == 0 {
                pdf.text(String(i + 1), x: x + slot * 0.2, y: bottom - 10, size: 7, color: .grey)
            }
        }
        if previous.count > 1 {
            let points = previous.prefix(n).enumerated().map { i, v in (x: left + Double(i) * slot + slot / 2, y: yOf(v)) }
            pdf.line(points, width: 1.2, color: PDFWriter.Color(hex: 0xF79009))
        }
        y = bottom - 16
        pdf.rect(x: left, y: y + 1, width: 8, height: 6, fill: PDFWriter.Color(hex: 0x3B6FD8))
        pdf.text(MonthlyReportRendering.monthName(r.month), x: left + 11, y: y + 1, size: 7, color: .grey)
        pdf.line([(left + 90, y + 4), (left + 100, y + 4)], width: 1.2, color: PDFWriter.Color(hex: 0xF79009))
        pdf.text(MonthlyReportRendering.monthName(r.month.previous) + " (same day of month)", x: left + 103, y: y + 1, size: 7, color: .grey)
        y -= 8
    }

    /// The document, each page numbered in its footer.
    func finish(footer: String) -> [UInt8] {
        var numbered = PDFWriter()
        let count = pdf.pages.count
        for (k, content) in pdf.pages.enumerated() {
            numbered.newPage()
            numbered.append(content)
            numbered.text(footer, x: Self.margin, y: 24, size: 7, color: .grey)
            numbered.textRight("page \(k + 1) of \(count)", right: PDFWriter.pageWidth - Self.margin, y: 24, size: 7, color: .grey)
        }
        return numbered.bytes()
    }
}
