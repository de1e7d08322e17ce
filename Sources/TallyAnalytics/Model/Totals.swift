import TallyQuery
import TallyStore
import TallyText

/// Summed measures of a set of records. Cost is exact: integer nano-dollars, shown as a `cost_cents` decimal string.
public struct Totals: Sendable, Equatable {
    /// Number of records.
    public var records: Int64 = 0
    /// Sum of `input_tokens`.
    public var inputTokens: Int64 = 0
    /// Sum of `output_tokens`.
    public var outputTokens: Int64 = 0
    /// Sum of cost in nano-dollars (1e-7 cent).
    public var costNanos: Int64 = 0

    /// Zeros.
    public init() {}

    /// Totals with the given values.
    public init(records: Int64, inputTokens: Int64, outputTokens: Int64, costNanos: Int64) {
        self.records = records
        self.inputTokens = inputTokens
        self.outputTokens = outputTokens
        self.costNanos = costNanos
    }

    /// The measures of row `row` of a query result (columns the query did not compute count as zero).
    init(_ result: QueryResult, row: Int) {
        records = result.count[row]
        inputTokens = result.inputTokens.isEmpty ? 0 : result.inputTokens[row]
        outputTokens = result.outputTokens.isEmpty ? 0 : result.outputTokens[row]
        costNanos = result.cost.isEmpty ? 0 : result.cost[row]
    }

    /// `cost_cents` as an exact decimal string.
    public var costCents: String { Money.formatCents(costNanos) }

    static func + (a: Totals, b: Totals) -> Totals {
        Totals(records: a.records + b.records, inputTokens: a.inputTokens + b.inputTokens,
               outputTokens: a.outputTokens + b.outputTokens, costNanos: a.costNanos + b.costNanos)
    }

    static func - (a: Totals, b: Totals) -> Totals {
        Totals(records: a.records - b.records, inputTokens: a.inputTokens - b.inputTokens,
               outputTokens: a.outputTokens - b.outputTokens, costNanos: a.costNanos - b.costNanos)
    }

    /// Writes the members `records`, `input_tokens`, `output_tokens`, `total_tokens` and `cost_cents` (the API's
    /// totals and the rows of usage and cost export files alike).
    package func writeMeasures(to w: inout JSONWriter) {
        w.field("records", records)
        w.field("input_tokens", inputTokens)
        w.field("output_tokens", outputTokens)
        w.field("total_tokens", inputTokens + outputTokens)
        w.field("cost_cents", cents: costNanos)
    }
}

/// One bucket of a series: its start and its totals (zeros when it holds no records).
public struct SeriesPoint: Sendable, Equatable {
    /// Bucket start, ms UTC.
    public var start: Int64
    /// The bucket's totals.
    public var totals: Totals
    /// Average daily cost of the trailing window ending on this day (day series with `trailing_days` only).
    public var trailingAverageNanos: Int64?
}
