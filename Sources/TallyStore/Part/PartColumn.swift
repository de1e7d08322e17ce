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

/// One UTC hour of a part: its rows and its totals (its per-dimension rollups are in `PartMeta.hourRollups`).
package struct HourEntry: Sendable {
    package var start: Int64
    package var rowStart: Int
    package var rows: Int
    package var inputTokens: Int64
    package var outputTokens: Int64
    package var cost: Int64
}

/// The hours' per-dimension rollups of a part, flat: five arrays and one of bounds, however many hours and
/// dimensions (a 10M-row store has some 150,000 tenant-hours; one small array per hour and dimension made
/// opening it allocate millions of times). Hour `h`'s rollup of dimension `d` is `entries[bounds[h * D + d] ..<
/// bounds[h * D + d + 1]]` with `D = Dimension.allCases.count`; an empty range means the hour keeps none for that
/// dimension (too many values in that hour to be worth it): an hour has rows, so a kept rollup has a code.
package struct HourRollups: Sendable, Equatable {
    package static let dimensions = Dimension.allCases.count
    /// Every hour's rollups one after the other; within an hour, codes in the order the writer met them.
    package var entries = Rollup()
    package var bounds: [Int32] = [0]

    package init() {}

    /// Room for the bounds of `hours` hours (the entries grow as they are appended).
    package init(reservingHours hours: Int) {
        bounds.reserveCapacity(hours * Self.dimensions + 1)
    }

    /// The entries of hour `h`'s rollup of dimension `d`, or nil when the hour keeps none.
    @inline(__always)
    package func range(hour h: Int, dimension d: Int) -> Range<Int>? {
        let i = h * Self.dimensions + d
        guard d >= 0, d < Self.dimensions, i + 1 < bounds.count else { return nil }
        let a = Int(bounds[i]), b = Int(bounds[i + 1])
        return a < b ? a..<b : nil
    }

    /// A copy of hour `h`'s rollup of dimension `d` (tests and tools; queries read `entries` in place).
    package func rollup(hour h: Int, dimension d: Int) -> Rollup? {
        guard let r = range(hour: h, dimension: d) else { return nil }
        var out = Rollup(reserving: r.count)
        out.codes = Array(entries.codes[r]); out.counts = Array(entries.counts[r])
        out.inputTokens = Array(entries.inputTokens[r]); out.outputTokens = Array(entries.outputTokens[r])
        out.cost = Array(entries.cost[r])
        return out
    }

    /// Closes the next (hour, dimension) slot after its entries were appended to `entries`.
    @inline(__always)
    package mutating func closeSlot() { bounds.append(Int32(truncatingIfNeeded: entries.codes.count)) }

    /// Appends the next (hour, dimension) slot: `r`'s entries, or none.
    package mutating func append(_ r: Rollup?) {
        if let r {
            entries.codes += r.codes; entries.counts += r.counts
            entries.inputTokens += r.inputTokens; entries.outputTokens += r.outputTokens; entries.cost += r.cost
        }
        closeSlot()
    }

    /// Replaces the codes of hour `h`'s rollup of dimension `d` (same count; for tests of damaged footers).
    package mutating func setCodes(hour h: Int, dimension d: Int, _ codes: [UInt32]) {
        guard let r = range(hour: h, dimension: d), r.count == codes.count else { preconditionFailure("no such rollup") }
        entries.codes.replaceSubrange(r, with: codes)
    }
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
    /// The hours' per-dimension rollups (`hours.count` hours).
    package var hourRollups: HourRollups
    /// Per dimension (`Dimension.rawValue`), the whole part's count and sums by code, codes ascending:
    /// answers a query that covers the whole part (no time cut, no other filter) for any dimension,
    /// `user_id` included, whose hourly rollups would be too large to keep.
    package var partRollups: [Rollup]
    /// The request-id filter (format v2; nil in v1 parts, whose old ids are found by decoding).
    package var filter: FilterRef? = nil
}
