import TallyStore
import TallyText

/// The answer to a `Query`, column by column: one entry per result row in every non-empty column.
///
/// Measures are exact integers (cost in nano-dollars). Columns of aggregates the query did not ask for
/// are empty, and so are `bucketStarts` without a bucket and the trailing columns without a window.
public struct QueryResult: Sendable, CustomStringConvertible {
    /// The group keys, naming `keyColumns` in order.
    public var groupBy: [Query.Key]
    /// One column of strings per group key.
    public var keyColumns: [[String]]
    /// Start of each row's bucket (ms UTC); empty when the query has no bucket.
    public var bucketStarts: [Int64]
    /// Records per row.
    public var count: [Int64]
    /// Sum of `input_tokens` per row (empty when not asked for).
    public var inputTokens: [Int64]
    /// Sum of `output_tokens` per row (empty when not asked for).
    public var outputTokens: [Int64]
    /// Sum of cost in nano-dollars per row (empty when not asked for).
    public var cost: [Int64]
    /// Days of the trailing window (nil without one).
    public var trailingDays: Int?
    /// Cost of the row's group over the trailing window ending on the row's day (empty without a window).
    public var trailingCost: [Int64]
    /// Cost of the row's group over the window `trailingDays` earlier (empty unless asked for).
    public var previousTrailingCost: [Int64]
    /// How the engine answered (not part of equality).
    public var statistics: QueryStatistics
    /// Unreadable parts that may hold rows of this answer's tenants and range: the sums may lack their rows
    /// (not part of equality).
    public var missing: [MissingPart] = []

    /// Whether no part this answer may need was unreadable.
    public var complete: Bool { missing.isEmpty }

    /// A result from its columns.
    public init(
        groupBy: [Query.Key], keyColumns: [[String]], bucketStarts: [Int64], count: [Int64],
        inputTokens: [Int64], outputTokens: [Int64], cost: [Int64], trailingDays: Int? = nil,
        trailingCost: [Int64] = [], previousTrailingCost: [Int64] = [], statistics: QueryStatistics = QueryStatistics()
    ) {
        self.groupBy = groupBy
        self.keyColumns = keyColumns
        self.bucketStarts = bucketStarts
        self.count = count
        self.inputTokens = inputTokens
        self.outputTokens = outputTokens
        self.cost = cost
        self.trailingDays = trailingDays
        self.trailingCost = trailingCost
        self.previousTrailingCost = previousTrailingCost
        self.statistics = statistics
    }

    /// Number of rows.
    public var rowCount: Int { count.count }

    /// The column of an aggregate (empty when the query did not ask for it).
    public func column(_ aggregate: Query.Aggregate) -> [Int64] {
        switch aggregate {
        case .count: count
        case .inputTokens: inputTokens
        case .outputTokens: outputTokens
        case .cost: cost
        }
    }

    /// The key string of `key` in row `row`.
    public func key(_ key: Query.Key, row: Int) -> String? {
        groupBy.firstIndex(of: key).map { keyColumns[$0][row] }
    }

    /// Trailing average cost of a row in nano-dollars, rounded half up (nil without a window).
    public func trailingAverageNanos(row: Int) -> Int64? {
        guard let days = trailingDays, row < trailingCost.count else { return nil }
        return Self.average(trailingCost[row], days)
    }

    /// Average cost of the previous window of a row in nano-dollars, rounded half up.
    public func previousAverageNanos(row: Int) -> Int64? {
        guard let days = trailingDays, row < previousTrailingCost.count else { return nil }
        return Self.average(previousTrailingCost[row], days)
    }

    static func average(_ sum: Int64, _ days: Int) -> Int64 {
        let d = Int64(days)
        return (sum + d / 2) / d
    }

    /// The rows as text, one per line (for test failures and debugging).
    public var description: String {
        var lines: [String] = []
        for r in 0..<rowCount {
            var cells = keyColumns.map { "\"\($0[r])\"" }
            if !bucketStarts.isEmpty { cells.append(Timestamp.formatSeconds(bucketStarts[r])) }
            cells.append("n=\(count[r])")
            if !inputTokens.isEmpty { cells.append("in=\(inputTokens[r])") }
            if !outputTokens.isEmpty { cells.append("out=\(outputTokens[r])") }
            if !cost.isEmpty { cells.append("cost=\(cost[r])") }
            if !trailingCost.isEmpty { cells.append("trail=\(trailingCost[r])") }
            if !previousTrailingCost.isEmpty { cells.append("prev=\(previousTrailingCost[r])") }
            lines.append(cells.joined(separator: " "))
        }
        return "QueryResult(\(groupBy), \(rowCount) rows)\n" + lines.joined(separator: "\n")
    }
}

extension QueryResult: Equatable {
    /// Equal when every cell is equal; key strings compare byte by byte; statistics are ignored.
    public static func == (a: QueryResult, b: QueryResult) -> Bool {
        guard a.groupBy == b.groupBy, a.keyColumns.count == b.keyColumns.count,
              a.bucketStarts == b.bucketStarts, a.count == b.count, a.inputTokens == b.inputTokens,
              a.outputTokens == b.outputTokens, a.cost == b.cost, a.trailingDays == b.trailingDays,
              a.trailingCost == b.trailingCost, a.previousTrailingCost == b.previousTrailingCost
        else { return false }
        for (x, y) in zip(a.keyColumns, b.keyColumns) {
            guard x.count == y.count else { return false }
            for (s, t) in zip(x, y) where !s.utf8.elementsEqual(t.utf8) { return false }
        }
        return true
    }
}

/// What the engine did to answer a query: for tests, tuning and `EXPLAIN`-like output.
public struct QueryStatistics: Sendable, Equatable {
    /// Parts whose tenant and time range matched.
    public var partsRead = 0
    /// Head views (unsealed rows) read.
    public var headsRead = 0
    /// Hours answered from per-hour totals or rollups, without reading rows (the hours of parts answered
    /// from their part rollups included).
    public var hoursFromIndex = 0
    /// Parts answered whole from their part rollups (each also counts in `partsRead`).
    public var partsFromRollups = 0
    /// Parts the range cuts, answered from their part rollups less the rows outside the range (each also counts in
    /// `partsRead`, the rows outside in `rowsScanned`).
    public var partsLessOutside = 0
    /// Granules decoded.
    public var granulesScanned = 0
    /// Granules skipped by zone maps.
    public var granulesSkipped = 0
    /// Granules whose priced cost sums came from each model's token sums instead of a cost per row.
    public var granulesPricedFromSums = 0
    /// Rows run through the scan kernels (parts and head).
    public var rowsScanned = 0
    /// Worker threads used for the scan.
    public var threads = 1
    /// Parts planned, scanned and merged whole by one thread each (`QueryEngine.aggregateManyParts`).
    public var partsPlannedInParallel = 0

    /// No work yet.
    public init() {}

    mutating func add(_ o: QueryStatistics) {
        partsRead += o.partsRead
        headsRead += o.headsRead
        hoursFromIndex += o.hoursFromIndex
        partsFromRollups += o.partsFromRollups
        partsLessOutside += o.partsLessOutside
        granulesScanned += o.granulesScanned
        granulesSkipped += o.granulesSkipped
        granulesPricedFromSums += o.granulesPricedFromSums
        rowsScanned += o.rowsScanned
        partsPlannedInParallel += o.partsPlannedInParallel
    }
}
