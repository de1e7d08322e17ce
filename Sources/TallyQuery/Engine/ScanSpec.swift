import TallyStore

/// What the planner and the scan share about one query run: the range, keys, filters and measures.
struct ScanSpec: Sendable {
    var query: Query
    /// The row range `[lo, hi)` of this run (the trailing window widens it).
    var lo: Int64
    var hi: Int64
    /// Key layout limits (tests lower them to reach the hashed and re-keyed paths with little data).
    var flatLimit = KeyLayout.flatLimit
    var rekeyLimit = KeyLayout.rekeyLimit
    var laneLimit = KeyLayout.laneLimit

    var groupDims: [Dimension] {
        query.groupBy.compactMap { if case let .dimension(d) = $0 { d } else { nil } }
    }

    var measures: Measures { Measures(query.aggregates) }
}

/// Which measures a scan sums (`count` always).
struct Measures: Sendable, Equatable {
    var input: Bool
    var output: Bool
    var cost: Bool

    init(_ aggregates: Set<Query.Aggregate>) {
        input = aggregates.contains(.inputTokens)
        output = aggregates.contains(.outputTokens)
        cost = aggregates.contains(.cost)
    }
}
