import TallyStore
import TallyText

/// The four anomaly rules of DESIGN.md section 5.
public enum AnomalyType: String, Sendable, CaseIterable {
    /// Daily spend above the 7-day baseline x 1.4 on 2 consecutive days.
    case absoluteSpike = "ABSOLUTE_SPIKE"
    /// The 7-day rolling average above the one 7 days earlier x 1.25 on 3 consecutive days.
    case sustainedDrift = "SUSTAINED_DRIFT"
    /// Spend in a budget's period above limit x warn ratio (always MEDIUM).
    case budgetWarning = "BUDGET_WARNING"
    /// Spend in a budget's period above its limit (always HIGH).
    case budgetExceeded = "BUDGET_EXCEEDED"

    /// The type of a rule of `AnomalyRules`.
    init(_ kind: DetectedAnomaly.Kind) {
        switch kind {
        case .absoluteSpike: self = .absoluteSpike
        case .sustainedDrift: self = .sustainedDrift
        }
    }

    /// Whether a budget's status, not a daily series, decides it.
    public var isBudget: Bool { self == .budgetWarning || self == .budgetExceeded }
}

/// What an anomaly is about: the tenant, one of its features or one of its users.
public struct AnomalyEntity: Sendable, Hashable {
    /// Tenant, feature or user (the levels of budgets).
    public var level: Budget.Level
    /// The feature tag or user id; empty for the tenant.
    public var value: String

    /// An entity.
    public init(level: Budget.Level, value: String) {
        self.level = level
        self.value = level == .tenant ? "" : value
    }

    /// The whole tenant.
    public static let tenant = AnomalyEntity(level: .tenant, value: "")

    /// The record filter of the entity's spend.
    var filters: [Dimension: [String]] {
        level.dimension.map { [$0: [value]] } ?? [:]
    }
}

/// A dimension value whose spend moved with an anomaly: what it spent against what its baseline predicted.
public struct AnomalyDriver: Sendable, Equatable, JSONWritable {
    /// `model`, `feature_tag` or `user_id`.
    public var dimension: Dimension
    public var value: String
    /// Its spend over the anomaly's days as its baseline predicts it, nano-dollars.
    public var expectedNanos: Int64
    /// Its spend over those days.
    public var actualNanos: Int64
    /// Its change as a share of the entity's change, parts per million (nil when the entity did not change).
    public var sharePPM: Int64?

    /// A driver (catalogs read them back with this).
    package init(dimension: Dimension, value: String, expectedNanos: Int64, actualNanos: Int64, sharePPM: Int64?) {
        self.dimension = dimension
        self.value = value
        self.expectedNanos = expectedNanos
        self.actualNanos = actualNanos
        self.sharePPM = sharePPM
    }

    /// actual - expected.
    public var changeNanos: Int64 { actualNanos - expectedNanos }

    public func write(to json: inout JSONWriter) {
        json.object { w in
            w.field("dimension", dimension.fieldName)
            w.field("value", value)
            w.field("expected_cents", cents: expectedNanos)
            w.field("actual_cents", cents: actualNanos)
            w.field("change_cents", cents: changeNanos)
            w.field("share_pct", sharePPM.map { Double($0) / 10_000 })
        }
    }
}

/// A feature or user finding grouped under the tenant anomaly it explains (issue 13): which entity, the rule that held
/// for it and over which days, and its spend over the tenant anomaly's periods with its share of the tenant's change.
public struct AnomalyEntityDriver: Sendable, Equatable, JSONWritable {
    /// A feature or a user of the tenant.
    public var entity: AnomalyEntity
    /// The rule that held for the entity itself, and its severity.
    public var type: AnomalyType
    public var severity: AnomalySeverity
    /// Start of the first and last UTC day the entity's own rule held, ms.
    public var firstDay: Int64
    public var lastDay: Int64
    /// Its spend over the tenant anomaly's days as its baseline predicts it, and its actual spend then (the periods of
    /// the tenant anomaly's drivers), nano-dollars.
    public var expectedNanos: Int64
    public var actualNanos: Int64
    /// Its change as a share of the tenant's change over the same periods, parts per million (nil when not known).
    public var sharePPM: Int64?

    /// An entity driver (catalogs read them back with this).
    package init(entity: AnomalyEntity, type: AnomalyType, severity: AnomalySeverity, firstDay: Int64, lastDay: Int64,
                 expectedNanos: Int64, actualNanos: Int64, sharePPM: Int64?) {
        self.entity = entity
        self.type = type
        self.severity = severity
        self.firstDay = firstDay
        self.lastDay = lastDay
        self.expectedNanos = expectedNanos
        self.actualNanos = actualNanos
        self.sharePPM = sharePPM
    }

    /// actual - expected.
    public var changeNanos: Int64 { actualNanos - expectedNanos }

    public func write(to json: inout JSONWriter) {
        json.object { w in
            w.field("entity_type", entity.level.rawValue)
            w.field("entity_id", entity.value)
            w.field("anomaly_type", type.rawValue)
            w.field("severity", severity.rawValue)
            w.field("first_day", time: firstDay)
            w.field("last_day", time: lastDay)
            w.field("expected_cents", cents: expectedNanos)
            w.field("actual_cents", cents: actualNanos)
            w.field("change_cents", cents: changeNanos)
            w.field("share_pct", sharePPM.map { Double($0) / 10_000 })
        }
    }
}

/// One anomaly episode: a rule that held for an entity over a run of UTC days, with what was expected,
/// what happened, who drove it, and its state.
public struct Anomaly: Sendable, Equatable, JSONWritable {
    /// Open while the condition holds (or until resolved by hand); resolved when it ended.
    public enum Status: String, Sendable, CaseIterable {
        case open
        case resolved
    }

    /// Public id, e.g. `anm_3f9a0c1d2e4b`.
    public var id: String
    public var tenant: String
    public var type: AnomalyType
    public var severity: AnomalySeverity
    public var entity: AnomalyEntity
    /// The budget of a BUDGET_* anomaly; empty otherwise.
    public var budgetID: String
    /// Start of the first and of the last UTC day the condition held, ms.
    public var firstDay: Int64
    public var lastDay: Int64
    /// What was expected over those days (baseline, or the budget's threshold), nano-dollars.
    public var expectedNanos: Int64
    /// What was spent (for a drift: the rolling averages summed, as the rule compares them).
    public var actualNanos: Int64
    public var drivers: [AnomalyDriver]
    /// A tenant anomaly: the feature and user findings it explains, grouped under it instead of standing alone.
    public var entityDrivers: [AnomalyEntityDriver]
    /// Raised on a day not yet complete (intraday detection): confirmed (false) when the rule holds on complete days,
    /// withdrawn (resolved while still provisional) when a completed day of it does not count.
    public var provisional: Bool
    public var status: Status
    public var resolvedAt: Int64?
    /// `detector` when the condition ended, else the key that resolved it.
    public var resolvedBy: String?
    /// The incident it opened or joined, if any.
    public var incidentID: String?
    /// When it was first detected and last changed, ms UTC.
    public var detectedAt: Int64
    public var updatedAt: Int64

    /// An anomaly (catalogs read them back with this).
    package init(id: String, tenant: String, type: AnomalyType, severity: AnomalySeverity, entity: AnomalyEntity, budgetID: String,
                 firstDay: Int64, lastDay: Int64, expectedNanos: Int64, actualNanos: Int64, drivers: [AnomalyDriver], status: Status,
                 resolvedAt: Int64?, resolvedBy: String?, incidentID: String?, detectedAt: Int64, updatedAt: Int64,
                 entityDrivers: [AnomalyEntityDriver] = [], provisional: Bool = false) {
        self.id = id
        self.tenant = tenant
        self.type = type
        self.severity = severity
        self.entity = entity
        self.budgetID = budgetID
        self.firstDay = firstDay
        self.lastDay = lastDay
        self.expectedNanos = expectedNanos
        self.actualNanos = actualNanos
        self.drivers = drivers
        self.entityDrivers = entityDrivers
        self.provisional = provisional
        self.status = status
        self.resolvedAt = resolvedAt
        self.resolvedBy = resolvedBy
        self.incidentID = incidentID
        self.detectedAt = detectedAt
        self.updatedAt = updatedAt
    }

    /// Who resolves an anomaly whose condition ended.
    public static let detectorActor = "detector"

    /// actual - expected.
    public var impactNanos: Int64 { actualNanos - expectedNanos }
    /// The impact as a percent of the expectation, two decimals; nil when nothing was expected.
    public var impactPercent: Double? {
        expectedNanos == 0 ? nil : (Double(impactNanos) / Double(expectedNanos) * 10_000).rounded() / 100
    }
    /// Raised provisionally and withdrawn: the completed day did not count.
    public var withdrawn: Bool { provisional && status == .resolved && resolvedBy == Self.detectorActor }
    /// Days covered.
    public var days: Int { Int((lastDay - firstDay) / TimeUnit.dayMillis) + 1 }
    /// Whether it would open an incident: HIGH or an exceeded budget.
    public var needsIncident: Bool { severity == .high || type == .budgetExceeded }

    public func write(to json: inout JSONWriter) {
        json.object { w in
            w.field("id", id)
            w.field("tenant_id", tenant)
            w.field("type", type.rawValue)
            w.field("severity", severity.rawValue)
            w.field("entity") { e in
                e.field("level", entity.level.rawValue)
                e.field("value", entity.level == .tenant ? tenant : entity.value)
                if !budgetID.isEmpty { e.field("budget_id", budgetID) }
            }
            w.field("first_day", time: firstDay)
            w.field("last_day", time: lastDay)
            w.field("days", days)
            w.field("expected_cents", cents: expectedNanos)
            w.field("actual_cents", cents: actualNanos)
            w.field("impact_cents", cents: impactNanos)
            w.field("impact_pct", impactPercent)
            w.field("drivers", array: drivers)
            w.field("entity_drivers", array: entityDrivers)
            w.field("provisional", provisional)
            w.field("status", status.rawValue)
            w.field("resolved_at", time: resolvedAt)
            w.field("resolved_by", resolvedBy)
            w.field("incident_id", incidentID)
            w.field("detected_at", time: detectedAt)
            w.field("updated_at", time: updatedAt)
            // The seed's names (DESIGN.md section 5) beside the richer members above.
            w.field("entity_type", entity.level.rawValue)
            w.field("entity_id", entity.level == .tenant ? tenant : entity.value)
            w.field("anomaly_type", type.rawValue)
            w.field("resolved", status == .resolved)
        }
    }
}

/// Which anomalies to list.
public struct AnomalyFilter: Sendable {
    /// The tenant named by `tenant_id` (admin keys; tenant keys get their own).
    public var tenantID: String?
    /// Anomalies whose days overlap `from ..< to` (ms UTC).
    public var from: Int64?
    public var to: Int64?
    public var type: AnomalyType?
    public var severity: AnomalySeverity?
    public var level: Budget.Level?
    /// The feature tag or user id (with `level`).
    public var value: String?
    /// true: resolved only; false: open only; nil: both.
    public var resolved: Bool?
    /// Most anomalies returned.
    public var limit: Int

    /// A filter.
    public init(tenantID: String? = nil, from: Int64? = nil, to: Int64? = nil, type: AnomalyType? = nil,
                severity: AnomalySeverity? = nil, level: Budget.Level? = nil, value: String? = nil, resolved: Bool? = nil,
                limit: Int = 100) {
        self.tenantID = tenantID
        self.from = from
        self.to = to
        self.type = type
        self.severity = severity
        self.level = level
        self.value = value
        self.resolved = resolved
        self.limit = limit
    }
}
