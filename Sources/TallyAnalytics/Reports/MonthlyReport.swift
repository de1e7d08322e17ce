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
public struct ReportRow: Sendable, Equatable {
    public var value: String
    public var totals: Totals
    public var sharePercent: Double?
    public var previousCostNanos: Int64
}

/// A breakdown of the month by one dimension: the first rows by cost and what the rest add up to.
public struct ReportBreakdown: Sendable, Equatable {
    public var dimension: Dimension
    public var rows: [ReportRow]
    /// Totals of the groups not listed.
    public var others: Totals
    /// Groups in the month (listed or not).
    public var groups: Int
}

/// A budget of the tenant measured over the month.
public struct ReportBudget: Sendable, Equatable {
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
}

/// `GET reports/monthly`: a tenant's month — totals, breakdowns, daily spend, the comparison with the previous
/// month and its decomposition, budgets, anomalies and incidents.
public struct MonthlyReport: Sendable {
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
}

/// The anomalies and incidents of a month, as the report shows them.
public struct ReportEvents: Sendable {
    /// One line of the events section: what, when, how bad, and its API link.
    public struct Item: Sendable, Equatable {
        public var id: String
        public var kind: String
        public var severity: String
        public var status: String
        public var title: String
        public var at: Int64
        public var link: String
    }

    public var anomalies: [Item] = []
    public var incidents: [Item] = []
}
