/// The columns of a part, in on-disk order.
package enum PartColumn: Int, CaseIterable, Sendable {
    case createdAt = 0
    case inputTokens
    case outputTokens
    case cost
    case project
    case environment
    case user
    case feature
    case workflow
    case skill
    case model
    case requestID

    /// The column of a dictionary-encoded dimension.
    package static func of(_ d: Dimension) -> PartColumn { PartColumn(rawValue: 4 + d.rawValue)! }

    /// The dimension a code column holds, if any.
    package var dimension: Dimension? { (4...10).contains(rawValue) ? Dimension(rawValue: rawValue - 4) : nil }

    package var name: String {
        switch self {
        case .createdAt: "created_at"
        case .inputTokens: "input_tokens"
        case .outputTokens: "output_tokens"
        case .cost: "cost_cents"
        case .requestID: "request_id"
        default: dimension!.fieldName
        }
    }
}

/// Where a granule's block of one column is, and the column's min/max in that granule (the zone map).
package struct BlockRef: Sendable, Hashable {
    package var offset: Int
    package var length: Int
    package var min: Int64
    package var max: Int64
}

/// A run of up to `granuleRows` consecutive rows of a part.
package struct Granule: Sendable {
    package var rowStart: Int
    package var rows: Int
    /// One per `PartColumn`.
    package var blocks: [BlockRef]
}

/// Pre-aggregates of one dimension in one hour: for each code present, count and sums.
package struct Rollup: Sendable, Equatable {
    package var codes: [UInt32] = []
    package var counts: [Int64] = []
    package var inputTokens: [Int64] = []
    package var outputTokens: [Int64] = []
    package var cost: [Int64] = []

    package init() {}

    /// An empty rollup with room for `n` codes (a footer decode appends exactly that many: no regrowth).
    package init(reserving n: Int) {
        codes.reserveCapacity(n); counts.reserveCapacity(n)
        inputTokens.reserveCapacity(n); outputTokens.reserveCapacity(n); cost.reserveCapacity(n)
    }
}

/// One UTC hour of a part: its rows, its totals, and where worthwhile its per-dimension rollups.
package struct HourEntry: Sendable {
    package var start: Int64
    package var rowStart: Int
    package var rows: Int
    package var inputTokens: Int64
    package var outputTokens: Int64
    package var cost: Int64
    /// Indexed by `Dimension.rawValue`; nil where the dimension has too many values in this hour to be worth it.
    package var rollups: [Rollup?]
}

/// Everything the footer of a part says.
package struct PartMeta: Sendable {
    package var id: UInt64
    package var tenant: String
    package var level: Int
    package var rows: Int
    package var minTime: Int64
    package var maxTime: Int64
    /// Sorted distinct values per dimension; a code is an index.
    package var dictionaries: [[String]]
    package var granules: [Granule]
    package var hours: [HourEntry]
    /// Per dimension (`Dimension.rawValue`), the whole part's count and sums by code, codes ascending:
    /// answers a query that covers the whole part (no time cut, no other filter) for any dimension,
    /// `user_id` included, whose hourly rollups would be too large to keep.
    package var partRollups: [Rollup]
    /// The request-id filter (format v2; nil in v1 parts, whose old ids are found by decoding).
    package var filter: FilterRef? = nil
}
