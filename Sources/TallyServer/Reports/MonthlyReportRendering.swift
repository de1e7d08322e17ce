import TallyAnalytics
import TallyStore
import TallyText

/// The monthly report as CSV (one table, a `section` column) and as a printable HTML page.
enum MonthlyReportRendering {
    // MARK: CSV

    /// `section,key,records,input_tokens,output_tokens,total_tokens,cost_cents,share_pct,previous_cost_cents,change_cents`:
    /// totals, the previous month, each breakdown row, each day, the decomposition and the budgets. Every cell goes
    /// through `SpreadsheetCSV`: keys are user ids, feature tags and other writer-chosen text.
    static func csv(_ r: MonthlyReport) -> String {
        var lines = ["section,key,records,input_tokens,output_tokens,total_tokens,cost_cents,share_pct,previous_cost_cents,change_cents"]
        func row(_ section: String, _ key: String, _ t: Totals?, share: Double? = nil, previous: Int64? = nil, change: Int64? = nil) {
            var cells = [section, key]
            if let t {
                cells += [String(t.records), String(t.inputTokens), String(t.outputTokens), String(t.inputTokens + t.outputTokens), t.costCents]
            } else {
                cells += ["", "", "", "", ""]
            }
            cells += [share.map { String($0) } ?? "", previous.map(Money.formatCents) ?? "", change.map(Money.formatCents) ?? ""]
            lines.append(cells.map(SpreadsheetCSV.cell).joined(separator: ","))
        }
        row("totals", r.month.description, r.totals, previous: r.previousTotals.costNanos,
            change: r.totals.costNanos - r.previousTotals.costNanos)
        row("previous_totals", r.month.previous.description, r.previousTotals)
        for b in r.breakdowns {
            for x in b.rows {
                row(b.dimension.fieldName, x.value, x.totals, share: x.sharePercent, previous: x.previousCostNanos,
                    change: x.totals.costNanos - x.previousCostNanos)
            }
            if b.others.records > 0 { row(b.dimension.fieldName, "(others)", b.others) }
        }
        for p in r.daily { row("day", Timestamp.format(p.start).prefix(10).description, p.totals) }
        row("change", "total", nil, change: r.decomposition.changeNanos)
        for (name, nanos) in r.decomposition.parts { row("change", name, nil, change: nanos) }
        for b in r.budgets {
            lines.append(["budget", "\(b.budget.level.rawValue):\(b.budget.subject):\(b.budget.period.rawValue)", "", "", "", "",
                          Money.formatCents(b.spentNanos), String(b.utilizationPercent), Money.formatCents(b.budget.limitNanos), b.state]
                .map(SpreadsheetCSV.cell).joined(separator: ","))
        }
        for a in r.events.anomalies { lines.append(["anomaly", a.id, "", "", "", "", "", "", "", "\(a.kind) \(a.severity)"].map(SpreadsheetCSV.cell).joined(separator: ",")) }
        for i in r.events.incidents { lines.append(["incident", i.id, "", "", "", "", "", "", "", "\(i.status) \(i.severity)"].map(SpreadsheetCSV.cell).joined(separator: ",")) }
        // An incomplete report says so in the file itself, not only in the JSON form's provenance.
        for m in r.provenance.missing {
            lines.append(["missing", m.fileName, String(m.rows), "", "", "", "", "", "",
                          "unreadable part: hours \(Timestamp.formatSeconds(m.firstHour)) to \(Timestamp.formatSeconds(m.endHour)) are incomplete"]
                .map(SpreadsheetCSV.cell).joined(separator: ","))
        }
        return lines.joined(separator: "\n") + "\n"
    }

    // MARK: HTML

    /// A self-contained, printable page: inline CSS (with print rules) and inline SVG charts; no scripts, no
    /// external requests (the response's Content-Security-Policy forbids them).
    static func html(_ r: MonthlyReport) -> String {
        let change = r.totals.costNanos - r.previousTotals.costNanos
        var h = """
            <!doctype html>
            <html lang="en"><head><meta charset="utf-8">
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <title>Tally monthly report \(esc(r.tenant)) \(r.month)</title>
            <style>\(css)</style></head><body>
            <header><h1>Monthly report — \(esc(r.tenant))</h1>
            <p class="sub">\(monthName(r.month)) \(r.inProgress ? "(in progress)" : "") · compared with \(monthName(r.month.previous)) ·
            generated \(esc(Timestamp.formatSeconds(r.provenance.generatedAt)))</p>\(incomplete(r.provenance.missing))</header>
            <section class="cards">
            \(card("Spend", dollars(r.totals.costNanos), delta(change, of: r.previousTotals.costNanos)))
            \(card("Requests", grouped(r.totals.records), delta(r.totals.records - r.previousTotals.records, of: r.previousTotals.records, money: false)))
            \(card("Tokens", grouped(r.totals.inputTokens + r.totals.outputTokens), ""))
            \(card("Cost per request", r.totals.records > 0 ? dollars(r.totals.costNanos / r.totals.records, decimals: 4) : "–", ""))
            </section>
            <section><h2>Daily spend</h2>\(dailyChart(r))
            <p class="legend"><span class="sw cur"></span>\(monthName(r.month)) <span class="sw prev"></span>\(monthName(r.month.previous)) (same day of month)</p></section>
            <section><h2>Why the spend changed</h2>\(decompositionChart(r.decomposition))
            <p class="note">Sequential substitution: the change in cost is split into volume (number of requests), tokens per
            request, model mix (share of tokens per model), input/output mix (each model's tokens weighed by its input and
            output list prices) and price (cost per weighted token). The five parts add up exactly to the change of
            \(dollars(r.decomposition.changeNanos, signed: true)).</p></section>
            """
        for b in r.breakdowns { h += breakdownTable(b) }
        h += "<section><h2>Budgets</h2>"
        if r.budgets.isEmpty {
            h += "<p class=\"empty\">No budgets.</p>"
        } else {
            h += "<table><thead><tr><th>Budget</th><th>Period</th><th class=n>Limit</th><th class=n>Spent</th><th>Utilisation</th><th>State</th></tr></thead><tbody>"
            for b in r.budgets {
                let name = b.budget.level == .tenant ? "tenant" : "\(b.budget.level.rawValue) \(b.budget.subject)"
                var spent = dollars(b.spentNanos)
                if let maxDay = b.maxDayNanos { spent += " (max day \(dollars(maxDay)), \(b.daysOverLimit ?? 0) days over)" }
                if let p = b.projectedNanos { spent += " (projected \(dollars(p)))" }
                h += "<tr><td>\(esc(name))</td><td>\(b.budget.period.rawValue)</td><td class=n>\(dollars(b.budget.limitNanos))</td>"
                    + "<td class=n>\(esc(spent))</td><td>\(bar(b.utilizationPercent, max: max(100, b.utilizationPercent), label: pct(b.utilizationPercent)))</td>"
                    + "<td class=\"state \(b.state)\">\(b.state)</td></tr>"
            }
            h += "</tbody></table>"
        }
        h += "</section><section><h2>Anomalies</h2>" + events(r.events.anomalies, empty: "No anomalies recorded this month.")
        h += "</section><section><h2>Incidents</h2>" + events(r.events.incidents, empty: "No incidents recorded this month.")
        h += "</section><footer>Tally · \(esc(r.provenance.aggregation))</footer></body></html>\n"
        return h
    }

    /// A warning naming the hours a damaged part leaves out of the figures (empty when the report is complete).
    static func incomplete(_ missing: [MissingPart]) -> String {
        guard !missing.isEmpty else { return "" }
        let rows = missing.reduce(0) { $0 + $1.rows }
        let hours = missing.map { "\(Timestamp.formatSeconds($0.firstHour)) to \(Timestamp.formatSeconds($0.endHour))" }
        return "<p class=\"warn\"><strong>Incomplete:</strong> \(missing.count) damaged part(s) holding \(grouped(Int64(rows))) records are "
            + "left out of these figures (hours \(esc(hours.joined(separator: "; ")))).</p>"
    }

    static let css = """
        *{box-sizing:border-box}body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1d2430;margin:0 auto;max-width:1000px;padding:24px}
        h1{font-size:22px;margin:0}h2{font-size:16px;margin:24px 0 8px;border-bottom:1px solid #d8dde6;padding-bottom:4px}
        .sub{color:#5b6577;margin:4px 0 16px}.cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(180px,1fr));gap:12px}
        .card{border:1px solid #d8dde6;border-radius:8px;padding:10px 12px}.card .k{color:#5b6577;font-size:12px}.card .v{font-size:20px;font-weight:600}
        .up{color:#b42318}.down{color:#067647}table{border-collapse:collapse;width:100%;font-size:13px}
        th,td{text-align:left;padding:4px 6px;border-bottom:1px solid #eef0f4;vertical-align:middle}th{color:#5b6577;font-weight:600}
        td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}.bar{display:flex;align-items:center;gap:6px}
        .bar i{display:inline-block;height:10px;background:#3b6fd8;border-radius:2px;min-width:1px}.bar span{font-size:12px;color:#5b6577}
        svg{width:100%;height:auto;display:block}.legend{font-size:12px;color:#5b6577}.sw{display:inline-block;width:10px;height:10px;margin:0 4px 0 10px}
        .sw.cur{background:#3b6fd8}.sw.prev{background:#f79009}.note{font-size:12px;color:#5b6577}.empty{color:#5b6577}
        .warn{background:#fef3f2;border:1px solid #fda29b;color:#b42318;padding:8px 12px;border-radius:6px}.state.exceeded{color:#b42318;font-weight:600}.state.warning{color:#b54708}footer{margin-top:32px;font-size:11px;color:#8a93a3}
        @media print{body{max-width:none;padding:0;font-size:11px}section{break-inside:avoid}h2{break-after:avoid}.card{border-color:#999}
        @page{size:A4;margin:14mm}a{color:inherit;text-decoration:none}}
        @media (max-width:600px){body{padding:12px}td,th{padding:3px}}
        """

    static func card(_ title: String, _ value: String, _ sub: String) -> String {
        "<div class=card><div class=k>\(esc(title))</div><div class=v>\(esc(value))</div><div class=k>\(sub)</div></div>"
    }

    static func delta(_ d: Int64, of base: Int64, money: Bool = true) -> String {
        let text = (money ? dollars(d, signed: true) : (d >= 0 ? "+" : "") + grouped(d)) + (percent(d, base).map { " (\($0))" } ?? "")
        return "<span class=\"\(d > 0 ? "up" : d < 0 ? "down" : "")\">\(esc(text)) vs previous month</span>"
    }

    static func percent(_ d: Int64, _ base: Int64) -> String? {
        guard base != 0 else { return nil }
        return pct(Double(d) / Double(base) * 100, signed: true)
    }

    static func pct(_ v: Double, signed: Bool = false) -> String {
        let r = (v * 10).rounded() / 10
        return (signed && r > 0 ? "+" : "") + String(r) + "%"
    }

    static func bar(_ value: Double, max: Double, label: String) -> String {
        let w = max > 0 ? Swift.max(0, Swift.min(100, value / max * 100)) : 0
        return "<div class=bar><i style=\"width:\((w * 10).rounded() / 10)%\"></i><span>\(esc(label))</span></div>"
    }

    static func breakdownTable(_ b: ReportBreakdown) -> String {
        let title = switch b.dimension {
        case .feature: "By feature"
        case .model: "By model"
        case .user: "By user"
        case .project: "By project"
        default: "By " + b.dimension.fieldName
        }
        var h = "<section><h2>\(title) <span class=sub>(\(b.groups) in the month)</span></h2><table><thead><tr><th>\(esc(b.dimension.fieldName))</th>"
            + "<th class=n>Requests</th><th class=n>Tokens</th><th class=n>Cost</th><th>Share</th><th class=n>Change</th></tr></thead><tbody>"
        let top = b.rows.map { $0.sharePercent ?? 0 }.max() ?? 0
        for x in b.rows {
            let change = x.totals.costNanos - x.previousCostNanos
            h += "<tr><td>\(esc(x.value.isEmpty ? "(none)" : x.value))</td><td class=n>\(grouped(x.totals.records))</td>"
                + "<td class=n>\(grouped(x.totals.inputTokens + x.totals.outputTokens))</td><td class=n>\(dollars(x.totals.costNanos))</td>"
                + "<td>\(bar(x.sharePercent ?? 0, max: top, label: pct(x.sharePercent ?? 0)))</td>"
                + "<td class=\"n \(change > 0 ? "up" : change < 0 ? "down" : "")\">\(dollars(change, signed: true))</td></tr>"
        }
        if b.others.records > 0 {
            h += "<tr><td><em>others</em></td><td class=n>\(grouped(b.others.records))</td>"
                + "<td class=n>\(grouped(b.others.inputTokens + b.others.outputTokens))</td><td class=n>\(dollars(b.others.costNanos))</td><td></td><td></td></tr>"
        }
        return h + "</tbody></table></section>"
    }

    static func events(_ items: [ReportEvents.Item], empty: String) -> String {
        guard !items.isEmpty else { return "<p class=empty>\(esc(empty))</p>" }
        var h = "<table><thead><tr><th>When</th><th>Type</th><th>Severity</th><th>Status</th><th>What</th><th>Id</th></tr></thead><tbody>"
        for i in items {
            h += "<tr><td>\(esc(Timestamp.formatSeconds(i.at)))</td><td>\(esc(i.kind))</td><td>\(esc(i.severity))</td>"
                + "<td>\(esc(i.status))</td><td>\(esc(i.title))</td><td><code>\(esc(i.id))</code></td></tr>"
        }
        return h + "</tbody></table>"
    }

    /// Bars for the month's days, a line for the previous month's same days of month.
    static func dailyChart(_ r: MonthlyReport) -> String {
        let width = 960.0, height = 240.0, left = 64.0, bottom = 24.0, top = 10.0
        let n = max(r.daily.count, 1)
        let prev = r.previousDaily.map(\.totals.costNanos)
        let maxValue = Double(max((r.daily.map(\.totals.costNanos) + prev).max() ?? 0, 1))
        let plotW = width - left - 8, plotH = height - top - bottom
        let slot = plotW / Double(n)
        func y(_ v: Int64) -> Double { top + plotH - Double(v) / maxValue * plotH }
        var s = "<svg viewBox=\"0 0 \(Int(width)) \(Int(height))\" role=\"img\" aria-label=\"Daily spend\" class=\"daily\">"
        for k in 0...4 {
            let v = Int64(maxValue * Double(k) / 4)
            let yy = fmt(y(v))
            s += "<line x1=\"\(Int(left))\" x2=\"\(Int(width - 8))\" y1=\"\(yy)\" y2=\"\(yy)\" stroke=\"#eef0f4\"/>"
            s += "<text x=\"\(Int(left - 6))\" y=\"\(yy)\" font-size=\"11\" text-anchor=\"end\" dominant-baseline=\"middle\" fill=\"#5b6577\">\(esc(dollars(v, decimals: 0)))</text>"
        }
        for (i, p) in r.daily.enumerated() {
            let x = left + Double(i) * slot + slot * 0.15
            let yy = y(p.totals.costNanos)
            s += "<rect class=\"day\" x=\"\(fmt(x))\" y=\"\(fmt(yy))\" width=\"\(fmt(slot * 0.7))\" height=\"\(fmt(top + plotH - yy))\" fill=\"#3b6fd8\">"
                + "<title>\(Timestamp.format(p.start).prefix(10)): \(esc(dollars(p.totals.costNanos)))</title></rect>"
            if i % max(1, n / 10) == 0 {
                s += "<text x=\"\(fmt(x + slot * 0.35))\" y=\"\(Int(height - 6))\" font-size=\"11\" text-anchor=\"middle\" fill=\"#5b6577\">\(i + 1)</text>"
            }
        }
        if !prev.isEmpty {
            let points = prev.prefix(n).enumerated().map { i, v in "\(fmt(left + Double(i) * slot + slot / 2)),\(fmt(y(v)))" }
            s += "<polyline fill=\"none\" stroke=\"#f79009\" stroke-width=\"2\" points=\"\(points.joined(separator: " "))\"/>"
        }
        return s + "</svg>"
    }

    /// Horizontal bars from zero for the change and its five parts.
    static func decompositionChart(_ d: CostChangeDecomposition) -> String {
        let rows: [(String, Int64)] = [("Total change", d.changeNanos), ("Volume (requests)", d.volumeNanos),
                                       ("Tokens per request", d.tokensPerRequestNanos), ("Input/output mix", d.ioMixNanos),
                                       ("Model mix", d.modelMixNanos), ("Price", d.priceNanos)]
        let width = 960.0, rowH = 28.0, label = 180.0, valueW = 120.0
        let maxAbs = Double(max(rows.map { $0.1.magnitude }.max() ?? 1, 1))
        let plotW = width - label - valueW
        let zero = label + plotW / 2
        var s = "<svg viewBox=\"0 0 \(Int(width)) \(Int(rowH * Double(rows.count) + 8))\" role=\"img\" aria-label=\"Cost change decomposition\">"
        s += "<line x1=\"\(fmt(zero))\" x2=\"\(fmt(zero))\" y1=\"0\" y2=\"\(Int(rowH * Double(rows.count) + 8))\" stroke=\"#8a93a3\"/>"
        for (i, (name, v)) in rows.enumerated() {
            let yy = Double(i) * rowH + 4
            let w = Double(v.magnitude) / maxAbs * plotW / 2
            let x = v >= 0 ? zero : zero - w
            s += "<text x=\"0\" y=\"\(fmt(yy + rowH / 2))\" font-size=\"12\" dominant-baseline=\"middle\" fill=\"#1d2430\">\(esc(name))</text>"
            s += "<rect x=\"\(fmt(x))\" y=\"\(fmt(yy + 4))\" width=\"\(fmt(max(w, 1)))\" height=\"\(fmt(rowH - 10))\" fill=\"\(v > 0 ? "#d92d20" : "#12b76a")\"/>"
            s += "<text x=\"\(Int(width - 4))\" y=\"\(fmt(yy + rowH / 2))\" font-size=\"12\" text-anchor=\"end\" dominant-baseline=\"middle\">\(esc(dollars(v, signed: true)))</text>"
        }
        return s + "</svg>"
    }

    // MARK: Formatting

    static func fmt(_ v: Double) -> String { String((v * 10).rounded() / 10) }

    static func monthName(_ m: ReportMonth) -> String {
        let names = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"]
        return "\(names[m.month - 1]) \(m.year)"
    }

    /// Dollars from nano-dollars (1e9 per dollar), with thousands separators.
    static func dollars(_ nanos: Int64, decimals: Int = 2, signed: Bool = false) -> String {
        var scale: Int64 = 1
        for _ in 0..<decimals { scale *= 10 }
        let unit = 1_000_000_000 / scale
        let m = nanos.magnitude
        let rounded = (m + UInt64(unit / 2)) / UInt64(unit)
        let whole = rounded / UInt64(scale), frac = rounded % UInt64(scale)
        var text = "$" + grouped(Int64(whole))
        if decimals > 0 {
            let f = String(frac)
            text += "." + String(repeating: "0", count: decimals - f.count) + f
        }
        let sign = nanos < 0 && rounded > 0 ? "-" : (signed && nanos > 0 ? "+" : "")
        return sign + text
    }

    static func grouped(_ v: Int64) -> String {
        let digits = String(v.magnitude)
        var out = ""
        for (i, c) in digits.enumerated() {
            if i > 0 && (digits.count - i) % 3 == 0 { out += "," }
            out.append(c)
        }
        return (v < 0 ? "-" : "") + out
    }

    static func esc(_ s: String) -> String {
        var out = ""
        out.reserveCapacity(s.utf8.count)
        for c in s {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.append(c)
            }
        }
        return out
    }
}
