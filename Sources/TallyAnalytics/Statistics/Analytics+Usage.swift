import TallyQuery
import TallyStore
import TallyText

/// Which slice of a tenant a usage series covers.
public enum UsageScope: String, Sendable, Hashable, CaseIterable {
    /// The whole tenant.
    case org
    /// One project (`project_id` required; `environment` narrows it further).
    case project
    /// One environment (`environment` required; `project_id` narrows it further).
    case env
}

/// A usage question: a tenant (or all, for admins), a window, a resolution and a scope.
public struct UsageRequest: Sendable {
    /// The tenant named by `tenant_id`, if any.
    public var tenantID: String?
    /// Inclusive start, ms UTC; default: the end minus 30 days (day) or 24 hours (hour).
    public var from: Int64?
    /// Exclusive end, ms UTC; default: now.
    public var to: Int64?
    /// Bucket width (default day).
    public var resolution: Resolution
    /// The slice.
    public var scope: UsageScope
    /// The project of `project` scope.
    public var projectID: String?
    /// The environment of `env` scope.
    public var environment: String?

    /// A request.
    public init(tenantID: String? = nil, from: Int64? = nil, to: Int64? = nil, resolution: Resolution = .day,
                scope: UsageScope = .org, projectID: String? = nil, environment: String? = nil) {
        self.tenantID = tenantID
        self.from = from
        self.to = to
        self.resolution = resolution
        self.scope = scope
        self.projectID = projectID
        self.environment = environment
    }
}

/// `{ scope, window, totals, series, signals, provenance }`: a usage series with the facts derived from it.
public struct UsageReport: Sendable {
    /// What the series covers.
    public struct Scope: Sendable {
        public var tenantID: String?
        public var kind: UsageScope
        public var projectID: String?
        public var environment: String?
    }

    /// How the window compares with the previous window of the same length.
    public struct Change: Sendable {
        public var previousWindow: Window
        public var previousTotals: Totals
        public var costDeltaNanos: Int64
        public var costChangePercent: Double?
        public var recordsDelta: Int64
        public var recordsChangePercent: Double?
    }

    /// Facts derived from the window.
    public struct Signals: Sendable {
        /// Against the previous window of the same length.
        public var change: Change
        /// The bucket with the highest cost (earliest on ties); nil when the window costs nothing.
        public var peak: SeriesPoint?
        /// Newest record of the tenant(s).
        public var freshness: Freshness
        /// Anomalies whose days overlap the window, newest first (at most `maxSignalAnomalies`).
        public var anomalies: [Anomaly] = []
        /// Utilisation of the tenant's budgets in their current period.
        public var budgets: [BudgetUtilisation] = []
    }

    public var scope: Scope
    public var window: Window
    public var totals: Totals
    /// Every bucket of the window, in order, zeros included.
    public var series: [SeriesPoint]
    public var signals: Signals
    public var provenance: Provenance
}

extension Analytics {
    /// The usage series of a tenant (or of all tenants, for an admin) with its signals.
    public func usage(_ request: UsageRequest, principal: Principal) async throws -> UsageReport {
        let tenants = try AccessPolicy.check(.readStatistics, principal, tenants: request.tenantID)
        let filters = try Self.scopeFilters(request)
        let now = self.now
        let window = try seriesWindow(from: request.from, to: request.to, resolution: request.resolution, now: now)
        var run = try await QueryRun(records, useRollups: options.useRollups)
        let length = window.to - window.from
        let previousWindow = Window(from: window.from - length, to: window.from)
        // The series and the previous window's totals in one go (one hop to the embedded store's pool, not two).
        let results = try await run.run([
            try seriesQuery(tenants: tenants, filters: filters, window: window),
            try Self.query(tenants: tenants, from: previousWindow.from, to: previousWindow.to, filters: filters, bucket: .none,
                           useRollups: options.useRollups),
        ])
        let series = Self.series(results[0], window: window)
        let totals = series.reduce(Totals()) { $0 + $1.totals }
        let previous = results[1].rowCount > 0 ? Totals(results[1], row: 0) : Totals()
        let peak = series.reduce(nil as SeriesPoint?) { best, p in
            p.totals.costNanos > (best?.totals.costNanos ?? 0) ? p : best
        }
        let change = UsageReport.Change(
            previousWindow: previousWindow, previousTotals: previous,
            costDeltaNanos: totals.costNanos - previous.costNanos,
            costChangePercent: percent(totals.costNanos - previous.costNanos, of: previous.costNanos),
            recordsDelta: totals.records - previous.records,
            recordsChangePercent: percent(totals.records - previous.records, of: previous.records))
        var signals = UsageReport.Signals(
            change: change, peak: peak, freshness: try await Self.freshness(of: tenants, in: run.reader, now: now))
        (signals.anomalies, signals.budgets) = try await usageSignals(&run, tenants: tenants, window: window, now: now)
        let aggregation = "count and sums of input_tokens, output_tokens and cost per UTC \(request.resolution.rawValue)"
            + "; the previous window of the same length for change; rollups \(options.useRollups ? "on" : "off")"
        return UsageReport(
            scope: .init(tenantID: tenants.scopeTenant, kind: request.scope, projectID: request.projectID,
                         environment: request.environment),
            window: window, totals: totals, series: series, signals: signals,
            provenance: run.provenance(window: window, aggregation: aggregation, now: now))
    }

    /// The filters of a usage scope; throws when the scope's parameter is missing or one is given for `org`.
    static func scopeFilters(_ r: UsageRequest) throws(AnalyticsError) -> [Dimension: [String]] {
        switch r.scope {
        case .org:
            if r.projectID != nil {
                throw .invalidParameter(name: "project_id", reason: "only with scope=project or scope=env")
            }
            if r.environment != nil {
                throw .invalidParameter(name: "environment", reason: "only with scope=project or scope=env")
            }
        case .project:
            guard r.projectID != nil else { throw .invalidParameter(name: "project_id", reason: "required with scope=project") }
        case .env:
            guard r.environment != nil else { throw .invalidParameter(name: "environment", reason: "required with scope=env") }
        }
        var filters: [Dimension: [String]] = [:]
        if let p = r.projectID { filters[.project] = [p] }
        if let e = r.environment { filters[.environment] = [e] }
        return filters
    }

    /// The window of a series: `from` and `to` widened to whole buckets, checked against `maxBuckets`.
    func seriesWindow(from: Int64?, to: Int64?, resolution: Resolution, now: Int64) throws(AnalyticsError) -> Window {
        let width = resolution.millis
        let rawTo = to ?? now
        let defaultSpan: Int64 = resolution == .hour ? TimeUnit.dayMillis : 30 * TimeUnit.dayMillis
        let end = resolution.bucket.start(rawTo - 1) + width
        let rawFrom = from ?? (end - defaultSpan)
        guard rawFrom < rawTo else {
            throw .invalidParameter(name: "from", reason: "must be before to (\(rfc3339(rawFrom)) >= \(rfc3339(rawTo)))")
        }
        let start = resolution.bucket.start(rawFrom)
        let buckets = (end - start) / width
        guard buckets <= options.maxBuckets else {
            throw .invalidParameter(
                name: "from",
                reason: "the window holds \(buckets) \(resolution.rawValue) buckets, more than the limit of \(options.maxBuckets); "
                    + "narrow from/to or use a coarser resolution")
        }
        return Window(from: start, to: end, resolution: resolution)
    }

    /// Every bucket of `window` with its totals, zeros where there are no records.
    func series(_ run: inout QueryRun, tenants: Query.Tenants, filters: [Dimension: [String]], window: Window) async throws -> [SeriesPoint] {
        Self.series(try await run.run(try seriesQuery(tenants: tenants, filters: filters, window: window)), window: window)
    }

    /// The query of `series`.
    func seriesQuery(tenants: Query.Tenants, filters: [Dimension: [String]], window: Window) throws(AnalyticsError) -> Query {
        try Self.query(tenants: tenants, from: window.from, to: window.to, filters: filters, bucket: (window.resolution ?? .day).bucket,
                       useRollups: options.useRollups)
    }

    /// Every bucket of `window` with its totals from `result` (the answer of `seriesQuery`), zeros where it has no row.
    static func series(_ result: QueryResult, window: Window) -> [SeriesPoint] {
        let width = (window.resolution ?? .day).millis
        let count = Int((window.to - window.from + width - 1) / width)
        // The row of each bucket by its index (buckets are whole and aligned to the window's start): no hashing.
        var rowAt = [Int](repeating: -1, count: count)
        for r in 0..<result.rowCount {
            let start = result.bucketStarts[r]
            guard start >= window.from, start < window.to, (start - window.from) % width == 0 else { continue }
            rowAt[Int((start - window.from) / width)] = r
        }
        var points: [SeriesPoint] = []
        points.reserveCapacity(count)
        for i in 0..<count {
            let t = window.from + Int64(i) * width
            points.append(SeriesPoint(start: t, totals: rowAt[i] >= 0 ? Totals(result, row: rowAt[i]) : Totals()))
        }
        return points
    }

    /// Totals of `from ..< to`.
    func totals(_ run: inout QueryRun, tenants: Query.Tenants, filters: [Dimension: [String]], from: Int64, to: Int64) async throws -> Totals {
        let result = try await run.run(
            try Self.query(tenants: tenants, from: from, to: to, filters: filters, bucket: .none, useRollups: options.useRollups))
        return result.rowCount > 0 ? Totals(result, row: 0) : Totals()
    }

    /// A query, its validation errors turned into analytics errors.
    static func query(
        tenants: Query.Tenants, from: Int64?, to: Int64?, filters: [Dimension: [String]] = [:], bucket: Query.Bucket = .none,
        groupBy: [Query.Key] = [], order: Query.Order = .key, limit: Int? = nil, trailing: Query.Trailing? = nil,
        useRollups: Bool
    ) throws(AnalyticsError) -> Query {
        do {
            return try Query(
                tenants: tenants, from: from, to: to, filters: filters, bucket: bucket, groupBy: groupBy,
                order: order, limit: limit, trailing: trailing, useRollups: useRollups, fillEmptyBuckets: true)
        } catch {
            throw AnalyticsError(error)
        }
    }
}
