import TallyStore
import TallyText

/// One question to the store: which tenants, which time range, which rows, grouped how, summed how,
/// ordered how, and optionally with trailing daily baselines.
///
/// A `Query` is validated when it is made: every invalid combination throws
/// `QueryError.invalidParameter` naming the parameter to fix.
///
/// Semantics (the reference aggregator in the test support library implements exactly these):
/// - Rows match when their tenant is selected, `from <= created_at < to` (an open end is unbounded),
///   and for every filtered dimension their value is one of the filter's values (byte-exact).
/// - Rows are grouped by `groupBy` (in that order) and, when `bucket` is not `.none`, by the UTC hour or
///   day their `created_at` falls in. Strings compare byte by byte (UTF-8), never by Unicode equivalence.
/// - With `fillEmptyBuckets`, every group of the result gets every bucket from the bucket of `from`
///   (or the first bucket with data when `from` is open) to the bucket of `to - 1` (or the last bucket
///   with data), with zeros where it has no rows. A group exists when it has at least one row in the
///   range; with no group keys there is exactly one group, present even without rows.
/// - Rows are ordered by `order` (measures descending), ties broken by the keys ascending (group keys in
///   `groupBy` order, then the bucket); `limit` keeps the first rows of that order.
public struct Query: Sendable, Hashable {
    /// Which tenants a query reads.
    public enum Tenants: Sendable, Hashable {
        /// One tenant.
        case one(String)
        /// Any of several tenants (compared byte by byte; duplicates are harmless).
        case some([String])
        /// Every tenant (an admin query).
        case all

        /// Whether `tenant` is among these: the same UTF-8 bytes, not `String`'s canonical equivalence (lengths first,
        /// then one `memcmp`). Asked of every part and head of a snapshot by each query's planner and by a usage
        /// answer's freshness (a generic `elementsEqual` there was ~3% of a loaded server's CPU).
        public func contains(_ tenant: String) -> Bool {
            switch self {
            case let .one(t): UTF8Order.equal(t, tenant)
            case let .some(list): list.contains { UTF8Order.equal($0, tenant) }
            case .all: true
            }
        }

        /// The parts of `snapshot` that hold these tenants' rows, in id order: from the snapshot's tenant index, so a
        /// question about one tenant does not visit every part of the store.
        package func parts(of snapshot: StoreSnapshot) -> [PartReader] {
            switch self {
            case let .one(t): snapshot.parts(of: t)
            case let .some(list): snapshot.parts(of: list)
            case .all: snapshot.parts
            }
        }
    }

    /// The width of time buckets; buckets are aligned to UTC hours and days.
    public enum Bucket: String, Sendable, Hashable, CaseIterable {
        /// No time bucket: one row per group over the whole range.
        case none
        /// UTC hours.
        case hour
        /// UTC days.
        case day

        /// The bucket width in milliseconds (0 for `.none`).
        public var millis: Int64 {
            switch self {
            case .none: 0
            case .hour: TimeUnit.hourMillis
            case .day: TimeUnit.dayMillis
            }
        }

        /// Start of the bucket holding `millis` (`millis` itself for `.none`).
        public func start(_ millis: Int64) -> Int64 {
            switch self {
            case .none: millis
            case .hour: TimeUnit.hourStart(millis)
            case .day: TimeUnit.dayStart(millis)
            }
        }
    }

    /// A group key: the tenant or one of the string dimensions.
    public enum Key: Sendable, Hashable, CustomStringConvertible {
        /// `tenant_id`.
        case tenant
        /// A dictionary-encoded dimension.
        case dimension(Dimension)

        /// The field name of the data contract (`tenant_id`, `feature_tag`, ...).
        public var fieldName: String {
            switch self {
            case .tenant: "tenant_id"
            case let .dimension(d): d.fieldName
            }
        }

        /// The field name.
        public var description: String { fieldName }

        /// Every key: the tenant, then the dimensions in column order.
        public static let allCases: [Key] = [.tenant] + Dimension.allCases.map { .dimension($0) }

        /// Parses a key from its short name (`feature`, `env`, `user`...) or its field name (`feature_tag`...).
        public init?(name: String) {
            switch name.lowercased() {
            case "tenant", "tenant_id", "org": self = .tenant
            case "project", "project_id": self = .dimension(.project)
            case "environment", "env": self = .dimension(.environment)
            case "user", "user_id": self = .dimension(.user)
            case "feature", "feature_tag": self = .dimension(.feature)
            case "workflow", "workflow_id": self = .dimension(.workflow)
            case "skill", "skill_id": self = .dimension(.skill)
            case "model": self = .dimension(.model)
            default: return nil
            }
        }
    }

    /// A summed measure. `count` is always computed.
    public enum Aggregate: String, Sendable, Hashable, CaseIterable {
        /// Number of records.
        case count
        /// Sum of `input_tokens`.
        case inputTokens
        /// Sum of `output_tokens`.
        case outputTokens
        /// Sum of cost in nano-dollars.
        case cost
    }

    /// How rows are ordered: by the keys, or by a measure descending with ties broken by the keys.
    public enum Order: String, Sendable, Hashable, CaseIterable {
        /// Keys ascending (group keys in order, then the bucket).
        case key
        /// Cost descending.
        case cost
        /// Count descending.
        case count
        /// Input tokens descending.
        case inputTokens
        /// Output tokens descending.
        case outputTokens
        /// Input plus output tokens descending.
        case tokens

        /// The aggregates this order needs.
        var needs: Set<Aggregate> {
            switch self {
            case .key, .count: [.count]
            case .cost: [.cost]
            case .inputTokens: [.inputTokens]
            case .outputTokens: [.outputTokens]
            case .tokens: [.inputTokens, .outputTokens]
            }
        }
    }

    /// A trailing window of whole UTC days for daily baselines (requires `.day` buckets).
    ///
    /// For the day `D` of a result row, `trailingCost` sums the group's cost over the days
    /// `D - (days - 1) ... D` (whole days: not cut by `from`, but cut by `to`); days without rows count
    /// as zero, so the trailing average is `trailingCost / days`. With `previous`, `previousTrailingCost`
    /// sums the same window `days` earlier (`D - (2 days - 1) ... D - days`), for drift.
    public struct Trailing: Sendable, Hashable {
        /// Length of the window in days.
        public var days: Int
        /// Whether to compute the window `days` earlier too.
        public var previous: Bool

        /// A window of `days` days, with or without the previous window.
        public init(days: Int, previous: Bool = false) {
            self.days = days
            self.previous = previous
        }
    }

    /// The tenants read.
    public let tenants: Tenants
    /// Inclusive start of the range, ms UTC; nil = unbounded.
    public let from: Int64?
    /// Exclusive end of the range, ms UTC; nil = unbounded.
    public let to: Int64?
    /// Allowed values per dimension, compared byte by byte (an array, not a `Set`: a `Set<String>` would
    /// merge canonically equivalent strings that the store keeps apart); a row must match every filtered dimension.
    public let filters: [Dimension: [String]]
    /// The time bucket.
    public let bucket: Bucket
    /// The group keys, in output order.
    public let groupBy: [Key]
    /// The measures computed (`count` always included; an `order` measure is added when missing).
    public let aggregates: Set<Aggregate>
    /// The row order.
    public let order: Order
    /// Keep only the first `limit` rows of the order; nil = all.
    public let limit: Int?
    /// The trailing window, if any.
    public let trailing: Trailing?
    /// Whether per-hour totals and rollups may answer (false forces raw scans).
    public let useRollups: Bool
    /// Whether empty buckets of present groups appear with zeros.
    public let fillEmptyBuckets: Bool

    /// Most buckets a bounded query may ask for (a guard against hour buckets over decades).
    public static let maxBuckets: Int64 = 1_000_000
    /// Largest distance of `from` and `to` from the epoch, in ms (keeps all time arithmetic far from overflow).
    public static let maxAbsoluteTime: Int64 = 1_000_000_000_000_000
    /// Longest trailing window in days.
    public static let maxTrailingDays = 366

    /// Creates and validates a query.
    public init(
        tenants: Tenants,
        from: Int64? = nil,
        to: Int64? = nil,
        filters: [Dimension: [String]] = [:],
        bucket: Bucket = .none,
        groupBy: [Key] = [],
        aggregates: Set<Aggregate> = Set(Aggregate.allCases),
        order: Order = .key,
        limit: Int? = nil,
        trailing: Trailing? = nil,
        useRollups: Bool = true,
        fillEmptyBuckets: Bool = true
    ) throws(QueryError) {
        switch tenants {
        case let .one(t):
            try Self.checkTenant(t)
        case let .some(list):
            guard !list.isEmpty else { throw .invalidParameter(name: "tenant", reason: "the list of tenants is empty") }
            for t in list { try Self.checkTenant(t) }
        case .all:
            break
        }
        for (name, t) in [("from", from), ("to", to)] {
            if let t, t < -Self.maxAbsoluteTime || t > Self.maxAbsoluteTime {
                throw .invalidParameter(name: name, reason: "out of range (more than 30,000 years from 1970)")
            }
        }
        if let from, let to, from >= to {
            throw .invalidParameter(name: "from", reason: "must be before to (\(Timestamp.format(from)) >= \(Timestamp.format(to)))")
        }
        for (d, values) in filters where values.isEmpty {
            throw .invalidParameter(name: "filter.\(d.fieldName)", reason: "the list of values is empty")
        }
        if Set(groupBy).count != groupBy.count {
            throw .invalidParameter(name: "groupBy", reason: "a key appears twice")
        }
        guard !aggregates.isEmpty else { throw .invalidParameter(name: "aggregates", reason: "no aggregate asked for") }
        if let limit, limit < 1 { throw .invalidParameter(name: "limit", reason: "must be at least 1") }
        if bucket != .none, let from, let to, (to - from) / bucket.millis > Self.maxBuckets {
            throw .invalidParameter(name: "to", reason: "the range holds more than \(Self.maxBuckets) \(bucket.rawValue) buckets")
        }
        if let trailing {
            guard bucket == .day else {
                throw .invalidParameter(name: "trailingDays", reason: "a trailing window needs day buckets")
            }
            guard trailing.days >= 1 && trailing.days <= Self.maxTrailingDays else {
                throw .invalidParameter(name: "trailingDays", reason: "must be between 1 and \(Self.maxTrailingDays)")
            }
        }
        self.tenants = tenants
        self.from = from
        self.to = to
        self.filters = filters
        self.bucket = bucket
        self.groupBy = groupBy
        self.aggregates = aggregates.union([.count]).union(order.needs).union(trailing == nil ? [] : [.cost])
        self.order = order
        self.limit = limit
        self.trailing = trailing
        self.useRollups = useRollups
        self.fillEmptyBuckets = fillEmptyBuckets
    }

    private static func checkTenant(_ t: String) throws(QueryError) {
        guard !t.isEmpty, t.utf8.count <= 64 else {
            throw .invalidParameter(name: "tenant", reason: "a tenant id has 1 to 64 characters")
        }
    }

    /// Whether `tenant` is selected.
    public func selects(tenant: String) -> Bool { tenants.contains(tenant) }
}
