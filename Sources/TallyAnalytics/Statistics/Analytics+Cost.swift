import TallyQuery
import TallyStore
import TallyText

/// A cost question: a breakdown by `groupBy` keys, or the summary when there are none.
public struct CostRequest: Sendable {
    /// The tenant named by `tenant_id`, if any.
    public var tenantID: String?
    /// Inclusive start, ms UTC; default: the end minus 30 days.
    public var from: Int64?
    /// Exclusive end, ms UTC; default: now.
    public var to: Int64?
    /// Group keys, in output order; empty = the summary.
    public var groupBy: [Query.Key]
    /// Allowed values per dimension.
    public var filters: [Dimension: [String]]
    /// Most groups returned (default 10).
    public var limit: Int?
    /// Group order (default: cost descending).
    public var order: Query.Order
    /// A series per group (or of the totals, for the summary) at this resolution.
    public var resolution: Resolution?
    /// A trailing daily average (baseline) over this many days ending on each day.
    public var trailingDays: Int?

    /// A request.
    public init(tenantID: String? = nil, from: Int64? = nil, to: Int64? = nil, groupBy: [Query.Key] = [],
                filters: [Dimension: [String]] = [:], limit: Int? = nil, order: Query.Order = .cost,
                resolution: Resolution? = nil, trailingDays: Int? = nil) {
        self.tenantID = tenantID
        self.from = from
        self.to = to
        self.groupBy = groupBy
        self.filters = filters
        self.limit = limit
        self.order = order
        self.resolution = resolution
        self.trailingDays = trailingDays
    }
}

/// One group of a breakdown: its key values, totals, share of the total cost, and optional series and baseline.
public struct CostGroup: Sendable {
    /// A trailing daily average of cost: the baseline to compare a day with.
    public struct Trailing: Sendable {
        /// Days in the window.
        public var days: Int
        /// The last day of the window (the window's last UTC day).
        public var through: Int64
        /// Average daily cost over the `days` days ending on `through`.
        public var averageNanos: Int64
        /// Average daily cost over the `days` days before those.
        public var previousAverageNanos: Int64
    }

    /// Key field names and values, in `group_by` order.
    public var key: [(field: String, value: String)]
    public var totals: Totals
    /// Percent of the total cost of the window (nil when it is zero).
    public var sharePercent: Double?
    public var series: [SeriesPoint]?
    public var trailing: Trailing?
}

/// `{ scope, window, group_by, order, limit, totals, groups, others, provenance }`: a cost breakdown.
public struct CostReport: Sendable {
    public var tenantID: String?
    public var window: Window
    public var groupBy: [Query.Key]
    public var order: Query.Order
    public var limit: Int
    /// Totals of every record in the window that passes the filters.
    public var totals: Totals
    /// The first `limit` groups in `order`.
    public var groups: [CostGroup]
    /// What the groups not shown add up to.
    public var others: Totals
    public var provenance: Provenance
}

/// `{ scope, window, totals, top: { feature_tag, user_id, model }, provenance }`: the cost dashboard.
public struct CostSummary: Sendable {
    /// Keys the summary ranks, five groups each.
    public static let rankedKeys: [Dimension] = [.feature, .user, .model]
    /// Groups per ranked key.
    public static let topCount = 5

    public var tenantID: String?
    public var window: Window
    public var totals: Totals
    /// A series of the totals, when a resolution was asked for.
    public var series: [SeriesPoint]?
    /// The top groups of each ranked key, by cost.
    public var top: [(key: Dimension, groups: [CostGroup])]
    public var provenance: Provenance
}

/// The answer of the cost endpoint: a breakdown, or the summary when no group key was given.
public enum CostAnswer: Sendable {
    case breakdown(CostReport)
    case summary(CostSummary)
}

extension CostRequest {
    /// Default number of groups.
    public static let defaultLimit = 10
    /// Default window length when `from` is not given.
    public static let defaultSpanMillis = 30 * TimeUnit.dayMillis

    /// The wire name of an order (`cost`, `records`, `tokens`, `input_tokens`, `output_tokens`, `key`).
    public static func orderName(_ order: Query.Order) -> String {
        switch order {
        case .key: "key"
        case .cost: "cost"
        case .count: "records"
        case .tokens: "tokens"
        case .inputTokens: "input_tokens"
        case .outputTokens: "output_tokens"
        }
    }

    /// The order of a wire name (`count` is accepted for `records`).
    public static func order(named name: String) -> Query.Order? {
        switch name {
        case "key": .key
        case "cost": .cost
        case "records", "count": .count
        case "tokens": .tokens
        case "input_tokens": .inputTokens
        case "output_tokens": .outputTokens
        default: nil
        }
    }
}

extension Analytics {
    /// A cost breakdown by `groupBy`, or the summary (totals and the top five features, users and models).
    public func cost(_ request: CostRequest, principal: Principal) async throws -> CostAnswer {
        let tenants = try AccessPolicy.check(.readStatistics, principal, tenants: request.tenantID)
        if request.groupBy.contains(.tenant) { try AccessPolicy.check(.groupByTenant, principal) }
        let limit = request.limit ?? CostRequest.defaultLimit
        guard limit >= 1 && limit <= options.maxLimit else {
            throw AnalyticsError.invalidParameter(name: "limit", reason: "must be between 1 and \(options.maxLimit)")
        }
        if let days = request.trailingDays {
            guard days >= 1 && days <= Query.maxTrailingDays else {
                throw AnalyticsError.invalidParameter(name: "trailing_days", reason: "must be between 1 and \(Query.maxTrailingDays)")
            }
            if request.groupBy.isEmpty {
                throw AnalyticsError.invalidParameter(name: "trailing_days", reason: "needs group_by")
            }
            if request.resolution == .hour {
                throw AnalyticsError.invalidParameter(name: "trailing_days", reason: "needs resolution=day or no resolution")
            }
        }
        let now = self.now
        let window = try costWindow(request, now: now)
        var run = try await QueryRun(records, useRollups: options.useRollups)
        let totals = try await self.totals(&run, tenants: tenants, filters: request.filters, from: window.from, to: window.to)
        if request.groupBy.isEmpty {
            return .summary(try await summary(&run, request, tenants: tenants, window: window, totals: totals, now: now))
        }
        let groups = try await self.groups(&run, request, keys: request.groupBy, tenants: tenants, window: window,
                                     limit: limit, totalCost: totals.costNanos)
        let shown = groups.reduce(Totals()) { $0 + $1.totals }
        let aggregation = "sums by \(request.groupBy.map(\.fieldName).joined(separator: ", ")), ordered by "
            + "\(CostRequest.orderName(request.order)), first \(limit)"
            + (request.resolution.map { "; a series per UTC \($0.rawValue)" } ?? "")
            + (request.trailingDays.map { "; trailing average of daily cost over \($0) days" } ?? "")
            + "; rollups \(options.useRollups ? "on" : "off")"
        return .breakdown(CostReport(
            tenantID: tenants.scopeTenant, window: window, groupBy: request.groupBy, order: request.order, limit: limit,
            totals: totals, groups: groups, others: totals - shown,
            provenance: run.provenance(window: window, aggregation: aggregation, now: now)))
    }

    /// The window of a cost request: whole buckets when there is a resolution, else `from ..< to` as given.
    func costWindow(_ r: CostRequest, now: Int64) throws(AnalyticsError) -> Window {
        if let resolution = r.resolution {
            var w = try seriesWindow(from: r.from ?? (r.to ?? now) - CostRequest.defaultSpanMillis, to: r.to,
                                     resolution: resolution, now: now)
            w.resolution = resolution
            return w
        }
        let to = r.to ?? now
        let from = r.from ?? to - CostRequest.defaultSpanMillis
        guard from < to else {
            throw .invalidParameter(name: "from", reason: "must be before to (\(rfc3339(from)) >= \(rfc3339(to)))")
        }
        if r.trailingDays != nil {
            let days = (TimeUnit.dayStart(to - 1) - TimeUnit.dayStart(from)) / TimeUnit.dayMillis + 1
            guard days <= options.maxBuckets else {
                throw .invalidParameter(name: "from", reason: "the window holds \(days) days, more than the limit of \(options.maxBuckets)")
            }
        }
        return Window(from: from, to: to)
    }

    func summary(_ run: inout QueryRun, _ r: CostRequest, tenants: Query.Tenants, window: Window, totals: Totals,
                 now: Int64) async throws -> CostSummary {
        var top: [(key: Dimension, groups: [CostGroup])] = []
        for d in CostSummary.rankedKeys {
            var ranked = r
            ranked.order = .cost
            ranked.resolution = nil
            ranked.trailingDays = nil
            top.append((d, try await groups(&run, ranked, keys: [.dimension(d)], tenants: tenants, window: Window(from: window.from, to: window.to),
                                      limit: CostSummary.topCount, totalCost: totals.costNanos)))
        }
        var series: [SeriesPoint]?
        if window.resolution != nil {
            series = try await self.series(&run, tenants: tenants, filters: r.filters, window: window)
        }
        let aggregation = "totals; the top \(CostSummary.topCount) of "
            + CostSummary.rankedKeys.map(\.fieldName).joined(separator: ", ") + " by cost"
            + (window.resolution.map { "; a series per UTC \($0.rawValue)" } ?? "")
            + "; rollups \(options.useRollups ? "on" : "off")"
        return CostSummary(tenantID: tenants.scopeTenant, window: window, totals: totals, series: series, top: top,
                           provenance: run.provenance(window: window, aggregation: aggregation, now: now))
    }

    /// The first `limit` groups by `keys` in the request's order, with their series and trailing averages when asked.
    func groups(_ run: inout QueryRun, _ r: CostRequest, keys: [Query.Key], tenants: Query.Tenants, window: Window,
                limit: Int, totalCost: Int64) async throws -> [CostGroup] {
        let ranked = try await run.run(try Self.query(
            tenants: tenants, from: window.from, to: window.to, filters: r.filters, groupBy: keys, order: r.order,
            limit: limit, useRollups: options.useRollups))
        var groups: [CostGroup] = (0..<ranked.rowCount).map { row in
            let totals = Totals(ranked, row: row)
            return CostGroup(
                key: keys.enumerated().map { (i, k) in (k.fieldName, ranked.keyColumns[i][row]) },
                totals: totals, sharePercent: percent(totals.costNanos, of: totalCost))
        }
        guard !groups.isEmpty, r.resolution != nil || r.trailingDays != nil else { return groups }

        // Series and baselines: one more query, narrowed to the values of the groups shown.
        var narrowedTenants = tenants
        var filters = r.filters
        for (i, k) in keys.enumerated() {
            let values = Array(Set(ranked.keyColumns[i])).sorted()
            switch k {
            case .tenant: narrowedTenants = .some(values)
            case let .dimension(d): filters[d] = values
            }
        }
        let bucket: Query.Bucket = r.trailingDays != nil ? .day : r.resolution!.bucket
        let detail = try await run.run(try Self.query(
            tenants: narrowedTenants, from: window.from, to: window.to, filters: filters, bucket: bucket, groupBy: keys,
            order: .key, trailing: r.trailingDays.map { Query.Trailing(days: $0, previous: true) },
            useRollups: options.useRollups))
        var indexOf: [[String]: Int] = [:]
        for (g, group) in groups.enumerated() { indexOf[group.key.map(\.value)] = g }
        var pointsOf = [[SeriesPoint]](repeating: [], count: groups.count)
        var lastRow = [Int](repeating: -1, count: groups.count)
        for row in 0..<detail.rowCount {
            guard let g = indexOf[keys.indices.map { detail.keyColumns[$0][row] }] else { continue }
            pointsOf[g].append(SeriesPoint(start: detail.bucketStarts[row], totals: Totals(detail, row: row),
                                           trailingAverageNanos: detail.trailingAverageNanos(row: row)))
            if lastRow[g] < 0 || detail.bucketStarts[row] > detail.bucketStarts[lastRow[g]] { lastRow[g] = row }
        }
        for g in groups.indices {
            if r.resolution != nil { groups[g].series = pointsOf[g].sorted { $0.start < $1.start } }
            if let days = r.trailingDays, lastRow[g] >= 0 {
                let row = lastRow[g]
                groups[g].trailing = CostGroup.Trailing(
                    days: days, through: detail.bucketStarts[row], averageNanos: detail.trailingAverageNanos(row: row) ?? 0,
                    previousAverageNanos: detail.previousAverageNanos(row: row) ?? 0)
            }
        }
        return groups
    }
}
