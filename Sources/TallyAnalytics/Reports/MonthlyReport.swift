import TallyQuery
import TallyStore
import TallyText

/// A UTC calendar month, `YYYY-MM`.
public struct ReportMonth: Sendable, Hashable, CustomStringConvertible {
    public var year: Int
    public var month: Int

    /// A month (1-12).
    public init(year: Int, month: Int) {
        self.year = year
        self.month = month
    }

    /// Parses `YYYY-MM`.
    public init?(_ text: String) {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 2, parts[0].count == 4, parts[1].count == 2,
              let y = Int(parts[0]), let m = Int(parts[1]), (1970...9999).contains(y), (1...12).contains(m)
        else { return nil }
        self.init(year: y, month: m)
    }

    /// The month holding `millis`.
    public init(containing millis: Int64) {
        let (y, m, _) = Timestamp.civilFromDays(Int(TimeUnit.dayStart(millis) / TimeUnit.dayMillis))
        self.init(year: y, month: m)
    }

    /// The month before.
    public var previous: ReportMonth { month == 1 ? ReportMonth(year: year - 1, month: 12) : ReportMonth(year: year, month: month - 1) }
    /// The month after.
    public var next: ReportMonth { month == 12 ? ReportMonth(year: year + 1, month: 1) : ReportMonth(year: year, month: month + 1) }

    /// Its first millisecond, UTC.
    public var start: Int64 { Int64(Timestamp.daysFromCivil(year: year, month: month, day: 1)) * TimeUnit.dayMillis }
    /// The window `[first day, first day of the next month)`.
    public var window: Window { Window(from: start, to: next.start) }
    /// Number of days.
    public var days: Int { Timestamp.daysInMonth(year: year, month: month) }

    public var description: String {
        (year < 1000 ? String(repeating: "0", count: 4 - String(year).count) : "") + String(year) + "-" + (month < 10 ? "0" : "") + String(month)
    }
}

/// One row of a breakdown of the month: a key value, its totals, share and the previous month's cost.
public struct ReportRow: Sendable, Equatable, JSONWritable {
    public var value: String
    public var totals: Totals
    public var sharePercent: Double?
    public var previousCostNanos: Int64

    public func write(to json: inout JSONWriter) {
        json.object { w in
            w.field("value", value)
            totals.writeMeasures(to: &w)
            w.field("share_pct", sharePercent)
            w.field("previous_cost_cents", cents: previousCostNanos)
            w.field("change_cents", cents: totals.costNanos - previousCostNanos)
            w.field("change_pct", percent(totals.costNanos - previousCostNanos, of: previousCostNanos))
        }
    }
}

/// A breakdown of the month by one dimension: the first rows by cost and what the rest add up to.
public struct ReportBreakdown: Sendable, Equatable, JSONWritable {
    public var dimension: Dimension
    public var rows: [ReportRow]
    /// Totals of the groups not listed.
    public var others: Totals
    /// Groups in the month (listed or not).
    public var groups: Int

    public func write(to json: inout JSONWriter) {
        json.object { w in
            w.field("key", dimension.fieldName)
            w.field("groups", groups)
            w.field("rows", array: rows)
            w.field("others", others)
        }
    }
}

/// A budget of the tenant measured over the month.
public struct ReportBudget: Sendable, Equatable, JSONWritable {
    public var budget: Budget
    /// Spend of the budget's scope in the month.
    public var spentNanos: Int64
    /// Monthly: spent / limit. Daily: the highest day's spend / limit.
    public var utilizationPercent: Double
    /// Daily budgets: the highest day's spend.
    public var maxDayNanos: Int64?
    /// Daily budgets: days over the limit.
    public var daysOverLimit: Int?
    /// Monthly budgets of a month in progress: the spend at the month's end if the burn rate holds.
    public var projectedNanos: Int64?
    /// `ok`, `warning` or `exceeded` over the month (for daily budgets: the worst day).
    public var state: String

    public func write(to json: inout JSONWriter) {
        json.object { w in
            w.field("id", budget.id)
            w.field("level", budget.level.rawValue)
            w.field("subject", budget.subject)
            w.field("period", budget.period.rawValue)
            w.field("limit_cents", cents: budget.limitNanos)
            w.field("spent_cents", cents: spentNanos)
            w.field("utilization_pct", utilizationPercent)
            if let maxDayNanos { w.field("max_day_cents", cents: maxDayNanos) }
            if let daysOverLimit { w.field("days_over_limit", daysOverLimit) }
            if let projectedNanos { w.field("projected_cents", cents: projectedNanos) }
            w.field("state", state)
            w.field("enforce", budget.enforce)
        }
    }
}

/// `GET reports/monthly`: a tenant's month — totals, breakdowns, daily spend, the comparison with the previous
/// month and its decomposition, budgets, anomalies and incidents.
public struct MonthlyReport: Sendable, JSONWritable {
    /// Rows listed per breakdown.
    public static let rowsPerBreakdown = 25
    /// The dimensions broken down, in order.
    public static let dimensions: [Dimension] = [.feature, .model, .user, .project]

    public var tenant: String
    public var month: ReportMonth
    public var totals: Totals
    public var previousTotals: Totals
    public var breakdowns: [ReportBreakdown]
    /// Every day of the month, zeros included.
    public var daily: [SeriesPoint]
    /// Every day of the previous month, zeros included (for the comparison chart).
    public var previousDaily: [SeriesPoint]
    public var decomposition: CostChangeDecomposition
    public var budgets: [ReportBudget]
    /// The month's anomalies and incidents, already JSON (see `ReportEvents`).
    public var events: ReportEvents
    /// Whether the month is still running at `generatedAt`.
    public var inProgress: Bool
    public var provenance: Provenance

    public func write(to json: inout JSONWriter) {
        json.object { w in
            w.field("tenant_id", tenant)
            w.field("month", month.description)
            w.field("window", month.window)
            w.field("in_progress", inProgress)
            w.field("totals", totals)
            w.field("comparison") { c in
                c.field("previous_month", month.previous.description)
                c.field("previous_window", month.previous.window)
                c.field("previous_totals", previousTotals)
                c.field("cost_cents_delta", cents: totals.costNanos - previousTotals.costNanos)
                c.field("cost_change_pct", percent(totals.costNanos - previousTotals.costNanos, of: previousTotals.costNanos))
                c.field("records_delta", totals.records - previousTotals.records)
                c.field("records_change_pct", percent(totals.records - previousTotals.records, of: previousTotals.records))
                c.field("decomposition", decomposition)
            }
            w.field("breakdowns") { b in for d in breakdowns { b.field(d.dimension.fieldName, d) } }
            w.field("daily", array: daily)
            w.field("previous_daily", array: previousDaily)
            w.field("budgets", array: budgets)
            events.writeMembers(to: &w)
            w.field("provenance", provenance)
        }
    }
}

/// The anomalies and incidents of a month, as the report shows them.
public struct ReportEvents: Sendable {
    /// One line of the events section: what, when, how bad, and its API link.
    public struct Item: Sendable, Equatable, JSONWritable {
        public var id: String
        public var kind: String
        public var severity: String
        public var status: String
        public var title: String
        public var at: Int64
        public var link: String

        public func write(to json: inout JSONWriter) {
            json.object { w in
                w.field("id", id)
                w.field("type", kind)
                w.field("severity", severity)
                w.field("status", status)
                w.field("title", title)
                w.field("at", time: at)
                w.field("link", link)
            }
        }
    }

    public var anomalies: [Item] = []
    public var incidents: [Item] = []

    func writeMembers(to w: inout JSONWriter) {
        w.field("anomalies", array: anomalies)
        w.field("incidents", array: incidents)
    }
}
