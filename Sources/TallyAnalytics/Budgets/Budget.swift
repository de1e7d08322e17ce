import TallyQuery
import TallyStore
import TallyText

/// A spending limit of a tenant, one of its features or one of its users, per UTC day or month.
public struct Budget: Sendable, Equatable {
    /// What a budget limits.
    public enum Level: String, Sendable, CaseIterable {
        /// The whole tenant.
        case tenant
        /// One `feature_tag`.
        case feature
        /// One `user_id`.
        case user

        /// The record dimension that narrows the spend (nil for the tenant).
        public var dimension: Dimension? {
            switch self {
            case .tenant: nil
            case .feature: .feature
            case .user: .user
            }
        }
    }

    /// The period a budget's spend is counted over: a UTC day or a UTC calendar month.
    public enum Period: String, Sendable, CaseIterable {
        case daily
        case monthly

        /// The period that holds `millis`: `start <= millis < end`, ms UTC.
        public func bounds(containing millis: Int64) -> (start: Int64, end: Int64) {
            let day = TimeUnit.dayStart(millis)
            switch self {
            case .daily:
                return (day, day + TimeUnit.dayMillis)
            case .monthly:
                let (y, m, _) = Timestamp.civilFromDays(Int(day / TimeUnit.dayMillis))
                let (ny, nm) = m == 12 ? (y + 1, 1) : (y, m + 1)
                return (Int64(Timestamp.daysFromCivil(year: y, month: m, day: 1)) * TimeUnit.dayMillis,
                        Int64(Timestamp.daysFromCivil(year: ny, month: nm, day: 1)) * TimeUnit.dayMillis)
            }
        }
    }

    /// Warn ratio when none is given.
    public static let defaultWarnRatio = 0.8

    /// Public id, e.g. `bud_3f9a0c1d2e4b`.
    public var id: String
    /// The tenant it belongs to.
    public var tenant: String
    public var level: Level
    /// The feature tag or user id limited; empty for a tenant budget.
    public var subject: String
    public var period: Period
    /// The limit, nano-dollars (> 0).
    public var limitNanos: Int64
    /// Spend above `limit x warnRatio` warns (0 < ratio <= 1).
    public var warnRatio: Double
    /// Whether the policy check denies runs that would go over it.
    public var enforce: Bool
    /// Creation time, ms UTC.
    public var createdAt: Int64
    /// Last change, ms UTC.
    public var updatedAt: Int64
    /// The key that created it.
    public var createdBy: String

    /// A budget.
    public init(id: String, tenant: String, level: Level, subject: String, period: Period, limitNanos: Int64, warnRatio: Double,
                enforce: Bool, createdAt: Int64, updatedAt: Int64, createdBy: String) {
        self.id = id
        self.tenant = tenant
        self.level = level
        self.subject = subject
        self.period = period
        self.limitNanos = limitNanos
        self.warnRatio = warnRatio
        self.enforce = enforce
        self.createdAt = createdAt
        self.updatedAt = updatedAt
        self.createdBy = createdBy
    }

    /// The filter of the records it counts.
    var filters: [Dimension: [String]] {
        level.dimension.map { [$0: [subject]] } ?? [:]
    }

    /// The spend above which it warns, nano-dollars.
    package var warnThresholdNanos: Int64 {
        Int64((Double(limitNanos) * warnRatio).rounded(.down))
    }
}

/// A new budget as a client sends it: raw values, checked by `Analytics.createBudget`.
public struct BudgetDraft: Sendable {
    /// The tenant (admin keys must name it; tenant keys may only name their own).
    public var tenantID: String?
    public var level: String?
    public var featureTag: String?
    public var userID: String?
    public var period: String?
    /// Exact decimal string of cents.
    public var limitCents: String?
    public var warnRatio: Double?
    public var enforce: Bool?

    /// A draft.
    public init(tenantID: String? = nil, level: String? = nil, featureTag: String? = nil, userID: String? = nil,
                period: String? = nil, limitCents: String? = nil, warnRatio: Double? = nil, enforce: Bool? = nil) {
        self.tenantID = tenantID
        self.level = level
        self.featureTag = featureTag
        self.userID = userID
        self.period = period
        self.limitCents = limitCents
        self.warnRatio = warnRatio
        self.enforce = enforce
    }
}

/// A change to a budget: the limit, the warn ratio and enforcement may change; what it limits may not.
public struct BudgetPatch: Sendable {
    public var limitCents: String?
    public var warnRatio: Double?
    public var enforce: Bool?

    /// A patch.
    public init(limitCents: String? = nil, warnRatio: Double? = nil, enforce: Bool? = nil) {
        self.limitCents = limitCents
        self.warnRatio = warnRatio
        self.enforce = enforce
    }
}

extension Budget {
    /// Exact nano-dollars of a `limit_cents` decimal string; the error names the field.
    static func parseLimit(_ text: String) throws(AnalyticsError) -> Int64 {
        switch Money.parseCents(text) {
        case let .success(nanos):
            guard nanos > 0 else { throw .invalidParameter(name: "limit_cents", reason: "must be more than 0") }
            return nanos
        case .failure(.negative):
            throw .invalidParameter(name: "limit_cents", reason: "must be more than 0")
        case .failure(.tooPrecise):
            throw .invalidParameter(name: "limit_cents", reason: "has more than 7 decimals")
        case .failure(.tooLarge):
            throw .invalidParameter(name: "limit_cents", reason: "must be at most 1000000000 (ten million dollars)")
        case .failure(.malformed):
            throw .invalidParameter(name: "limit_cents", reason: "must be a decimal string such as \"2500\" or \"12.50\"")
        }
    }

    /// Throws unless `ratio` is in `0 < ratio <= 1`.
    static func checkWarnRatio(_ ratio: Double) throws(AnalyticsError) {
        guard ratio.isFinite, ratio > 0, ratio <= 1 else {
            throw .invalidParameter(name: "warn_ratio", reason: "must be a number above 0 and at most 1, such as 0.8")
        }
    }

    /// Throws unless `value` can be a feature tag or user id of a record: 1-256 bytes, no control characters.
    static func checkSubject(_ value: String, field: String) throws(AnalyticsError) {
        let bytes = value.utf8
        guard !bytes.isEmpty, bytes.count <= 256, !bytes.contains(where: { $0 < 0x20 || $0 == 0x7F }) else {
            throw .invalidParameter(name: field, reason: "must be 1 to 256 bytes without control characters")
        }
    }
}
