import Foundation
import GRDB
import TallyStore

// One GRDB record type per table: how a domain value becomes a row and back. A row that does not decode (an enum
// column holding a value no case has, a NULL where a value must be) throws `CatalogError.undecodableRow` naming the
// table, the row and the column; it never vanishes from a list.

/// Reads the columns of one row of `table`, naming the table, the row (`idColumn`) and the column in every failure.
struct RowReader {
    let row: Row
    let table: String
    let idColumn: String

    /// The value of `column`.
    func callAsFunction<V: DatabaseValueConvertible>(_ column: String) throws(CatalogError) -> V {
        do {
            return try row.decode(forColumn: column)
        } catch {
            throw failure(column)
        }
    }

    /// The case of `E` that `column` names.
    func callAsFunction<E: RawRepresentable>(_ column: String, as type: E.Type = E.self) throws(CatalogError) -> E
        where E.RawValue == String
    {
        let raw: String = try self(column)
        guard let value = E(rawValue: raw) else { throw failure(column) }
        return value
    }

    /// The failure of `column` in this row.
    func failure(_ column: String) -> CatalogError {
        .undecodableRow(table: table, id: Self.text(row[idColumn]), column: column, value: Self.text(row[column]))
    }

    private static func text(_ value: DatabaseValue) -> String {
        switch value.storage {
        case .null: "NULL"
        case let .string(s): s
        case let .int64(i): String(i)
        case let .double(d): String(d)
        case let .blob(b): "<\(b.count) bytes>"
        }
    }
}

struct APIKeyRecord: FetchableRecord, PersistableRecord {
    static let databaseTableName = "api_keys"
    /// The columns read back: never the secret's hash.
    static var databaseSelection: [any SQLSelectable] {
        [Column("id"), Column("tenant_id"), Column("role"), Column("created_at"), Column("revoked_at")]
    }
    var key: APIKey
    /// SHA-256 of the secret; only written.
    var secretSHA256: [UInt8] = []

    init(_ key: APIKey, secretSHA256: [UInt8]) {
        self.key = key
        self.secretSHA256 = secretSHA256
    }

    init(row: Row) throws {
        let r = RowReader(row: row, table: Self.databaseTableName, idColumn: "id")
        key = APIKey(id: try r("id"), tenant: try r("tenant_id"), role: try r("role"), createdAt: try r("created_at"),
                     revokedAt: try r("revoked_at"))
    }

    func encode(to container: inout PersistenceContainer) {
        container["id"] = key.id
        container["tenant_id"] = key.tenant
        container["role"] = key.role.rawValue
        container["secret_sha256"] = Data(secretSHA256)
        container["created_at"] = key.createdAt
        container["revoked_at"] = key.revokedAt
    }
}

struct IdempotentAnswerRecord: FetchableRecord, PersistableRecord {
    static let databaseTableName = "idempotent_answers"
    var scope: String
    var key: String
    var answer: IdempotentAnswer

    init(scope: String, key: String, answer: IdempotentAnswer) {
        self.scope = scope
        self.key = key
        self.answer = answer
    }

    init(row: Row) throws {
        let r = RowReader(row: row, table: Self.databaseTableName, idColumn: "key")
        scope = try r("scope")
        key = try r("key")
        let fingerprint: Data = try r("fingerprint")
        let body: Data = try r("body")
        answer = IdempotentAnswer(fingerprint: [UInt8](fingerprint), status: try r("status"), contentType: try r("content_type"),
                                  body: [UInt8](body), createdAt: try r("created_at"))
    }

    func encode(to container: inout PersistenceContainer) {
        container["scope"] = scope
        container["key"] = key
        container["fingerprint"] = Data(answer.fingerprint)
        container["status"] = answer.status
        container["content_type"] = answer.contentType
        container["body"] = Data(answer.body)
        container["created_at"] = answer.createdAt
    }
}

struct BudgetRecord: FetchableRecord, PersistableRecord {
    static let databaseTableName = "budgets"
    var budget: Budget

    init(_ budget: Budget) { self.budget = budget }

    init(row: Row) throws {
        let r = RowReader(row: row, table: Self.databaseTableName, idColumn: "id")
        budget = Budget(
            id: try r("id"), tenant: try r("tenant_id"), level: try r("level"), subject: try r("subject"), period: try r("period"),
            limitNanos: try r("limit_nanos"), warnRatio: try r("warn_ratio"), enforce: try r("enforce"),
            createdAt: try r("created_at"), updatedAt: try r("updated_at"), createdBy: try r("created_by"))
    }

    func encode(to container: inout PersistenceContainer) {
        container["id"] = budget.id
        container["tenant_id"] = budget.tenant
        container["level"] = budget.level.rawValue
        container["subject"] = budget.subject
        container["period"] = budget.period.rawValue
        container["limit_nanos"] = budget.limitNanos
        container["warn_ratio"] = budget.warnRatio
        container["enforce"] = budget.enforce
        container["created_at"] = budget.createdAt
        container["updated_at"] = budget.updatedAt
        container["created_by"] = budget.createdBy
    }
}

struct AuditRecord: FetchableRecord, PersistableRecord {
    static let databaseTableName = "audit_log"
    var entry: AuditEntry

    init(_ entry: AuditEntry) { self.entry = entry }

    init(row: Row) throws {
        let r = RowReader(row: row, table: Self.databaseTableName, idColumn: "id")
        entry = AuditEntry(id: try r("id"), at: try r("at"), actor: try r("actor"), tenant: try r("tenant_id"), action: try r("action"),
                           entityType: try r("entity_type"), entityID: try r("entity_id"), before: try r("before_json"),
                           after: try r("after_json"))
    }

    /// Every column but the id, which the log assigns.
    func encode(to container: inout PersistenceContainer) {
        container["at"] = entry.at
        container["actor"] = entry.actor
        container["tenant_id"] = entry.tenant
        container["action"] = entry.action
        container["entity_type"] = entry.entityType
        container["entity_id"] = entry.entityID
        container["before_json"] = entry.before
        container["after_json"] = entry.after
    }
}

struct IncidentRecord: FetchableRecord, PersistableRecord {
    static let databaseTableName = "incidents"
    var incident: Incident

    init(_ incident: Incident) { self.incident = incident }

    init(row: Row) throws {
        let r = RowReader(row: row, table: Self.databaseTableName, idColumn: "id")
        incident = Incident(
            id: try r("id"), tenant: try r("tenant_id"), status: try r("status"), severity: try r("severity"), title: try r("title"),
            openedAt: try r("opened_at"), acknowledgedAt: try r("acknowledged_at"), acknowledgedBy: try r("acknowledged_by"),
            resolvedAt: try r("resolved_at"), resolvedBy: try r("resolved_by"), updatedAt: try r("updated_at"))
    }

    func encode(to container: inout PersistenceContainer) {
        let i = incident
        container["id"] = i.id
        container["tenant_id"] = i.tenant
        container["status"] = i.status.rawValue
        container["severity"] = i.severity.rawValue
        container["title"] = i.title
        container["opened_at"] = i.openedAt
        container["acknowledged_at"] = i.acknowledgedAt
        container["acknowledged_by"] = i.acknowledgedBy
        container["resolved_at"] = i.resolvedAt
        container["resolved_by"] = i.resolvedBy
        container["updated_at"] = i.updatedAt
    }
}

/// An anomaly without its drivers (they are rows of `anomaly_drivers`).
struct AnomalyRecord: FetchableRecord, PersistableRecord {
    static let databaseTableName = "anomalies"
    var anomaly: Anomaly

    init(_ anomaly: Anomaly) { self.anomaly = anomaly }

    init(row: Row) throws {
        let r = RowReader(row: row, table: Self.databaseTableName, idColumn: "id")
        anomaly = Anomaly(
            id: try r("id"), tenant: try r("tenant_id"), type: try r("type"), severity: try r("severity"),
            entity: AnomalyEntity(level: try r("level"), value: try r("subject")), budgetID: try r("budget_id"),
            firstDay: try r("first_day"), lastDay: try r("last_day"), expectedNanos: try r("expected_nanos"),
            actualNanos: try r("actual_nanos"), drivers: [], status: try r("status"), resolvedAt: try r("resolved_at"),
            resolvedBy: try r("resolved_by"), incidentID: try r("incident_id"), detectedAt: try r("detected_at"),
            updatedAt: try r("updated_at"), provisional: try r("provisional"))
    }

    func encode(to container: inout PersistenceContainer) {
        let a = anomaly
        container["provisional"] = a.provisional
        container["id"] = a.id
        container["tenant_id"] = a.tenant
        container["type"] = a.type.rawValue
        container["severity"] = a.severity.rawValue
        container["level"] = a.entity.level.rawValue
        container["subject"] = a.entity.value
        container["budget_id"] = a.budgetID
        container["first_day"] = a.firstDay
        container["last_day"] = a.lastDay
        container["expected_nanos"] = a.expectedNanos
        container["actual_nanos"] = a.actualNanos
        container["status"] = a.status.rawValue
        container["resolved_at"] = a.resolvedAt
        container["resolved_by"] = a.resolvedBy
        container["incident_id"] = a.incidentID
        container["detected_at"] = a.detectedAt
        container["updated_at"] = a.updatedAt
    }
}

/// A feature or user finding grouped under a tenant anomaly.
struct AnomalyEntityDriverRecord: FetchableRecord, PersistableRecord {
    static let databaseTableName = "anomaly_entity_drivers"
    var anomalyID: String
    var rank: Int
    var driver: AnomalyEntityDriver

    init(anomalyID: String, rank: Int, driver: AnomalyEntityDriver) {
        self.anomalyID = anomalyID
        self.rank = rank
        self.driver = driver
    }

    init(row: Row) throws {
        let r = RowReader(row: row, table: Self.databaseTableName, idColumn: "anomaly_id")
        anomalyID = try r("anomaly_id")
        rank = try r("rank")
        driver = AnomalyEntityDriver(
            entity: AnomalyEntity(level: try r("level"), value: try r("subject")), type: try r("type"), severity: try r("severity"),
            firstDay: try r("first_day"), lastDay: try r("last_day"), expectedNanos: try r("expected_nanos"),
            actualNanos: try r("actual_nanos"), sharePPM: try r("share_ppm"))
    }

    func encode(to container: inout PersistenceContainer) {
        container["anomaly_id"] = anomalyID
        container["rank"] = rank
        container["level"] = driver.entity.level.rawValue
        container["subject"] = driver.entity.value
        container["type"] = driver.type.rawValue
        container["severity"] = driver.severity.rawValue
        container["first_day"] = driver.firstDay
        container["last_day"] = driver.lastDay
        container["expected_nanos"] = driver.expectedNanos
        container["actual_nanos"] = driver.actualNanos
        container["share_ppm"] = driver.sharePPM
    }
}

struct AnomalyDriverRecord: FetchableRecord, PersistableRecord {
    static let databaseTableName = "anomaly_drivers"
    var anomalyID: String
    var rank: Int
    var driver: AnomalyDriver

    init(anomalyID: String, rank: Int, driver: AnomalyDriver) {
        self.anomalyID = anomalyID
        self.rank = rank
        self.driver = driver
    }

    init(row: Row) throws {
        let r = RowReader(row: row, table: Self.databaseTableName, idColumn: "anomaly_id")
        anomalyID = try r("anomaly_id")
        rank = try r("rank")
        let name: String = try r("dimension")
        guard let dimension = Dimension.allCases.first(where: { $0.fieldName == name }) else { throw r.failure("dimension") }
        driver = AnomalyDriver(dimension: dimension, value: try r("value"), expectedNanos: try r("expected_nanos"),
                               actualNanos: try r("actual_nanos"), sharePPM: try r("share_ppm"))
    }

    func encode(to container: inout PersistenceContainer) {
        container["anomaly_id"] = anomalyID
        container["rank"] = rank
        container["dimension"] = driver.dimension.fieldName
        container["value"] = driver.value
        container["expected_nanos"] = driver.expectedNanos
        container["actual_nanos"] = driver.actualNanos
        container["share_ppm"] = driver.sharePPM
    }
}

struct AnomalySettingsRecord: FetchableRecord, PersistableRecord {
    static let databaseTableName = "anomaly_settings"
    var tenant: String
    var thresholds: AnomalyThresholds
    var updatedAt: Int64
    var updatedBy: String

    init(tenant: String, thresholds: AnomalyThresholds, updatedAt: Int64, updatedBy: String) {
        self.tenant = tenant
        self.thresholds = thresholds
        self.updatedAt = updatedAt
        self.updatedBy = updatedBy
    }

    init(row: Row) throws {
        let r = RowReader(row: row, table: Self.databaseTableName, idColumn: "tenant_id")
        tenant = try r("tenant_id")
        var t = AnomalyThresholds()
        t.spikeFactorPPM = try r("spike_factor_ppm")
        t.spikeDays = try r("spike_days")
        t.baselineDays = try r("baseline_days")
        t.driftFactorPPM = try r("drift_factor_ppm")
        t.driftDays = try r("drift_days")
        t.driftWindowDays = try r("drift_window_days")
        t.minimumDailyNanos = try r("minimum_daily_nanos")
        t.lowPercent = try r("low_percent")
        t.mediumPercent = try r("medium_percent")
        t.highPercent = try r("high_percent")
        thresholds = t
        updatedAt = try r("updated_at")
        updatedBy = try r("updated_by")
    }

    func encode(to container: inout PersistenceContainer) {
        let t = thresholds
        container["tenant_id"] = tenant
        container["spike_factor_ppm"] = t.spikeFactorPPM
        container["spike_days"] = t.spikeDays
        container["baseline_days"] = t.baselineDays
        container["drift_factor_ppm"] = t.driftFactorPPM
        container["drift_days"] = t.driftDays
        container["drift_window_days"] = t.driftWindowDays
        container["minimum_daily_nanos"] = t.minimumDailyNanos
        container["low_percent"] = t.lowPercent
        container["medium_percent"] = t.mediumPercent
        container["high_percent"] = t.highPercent
        container["updated_at"] = updatedAt
        container["updated_by"] = updatedBy
    }
}

struct WebhookRecord: FetchableRecord, PersistableRecord {
    static let databaseTableName = "webhooks"
    var webhook: Webhook

    init(_ webhook: Webhook) { self.webhook = webhook }

    init(row: Row) throws {
        let r = RowReader(row: row, table: Self.databaseTableName, idColumn: "tenant_id")
        webhook = Webhook(tenant: try r("tenant_id"), url: try r("url"), secret: try r("secret"), createdAt: try r("created_at"),
                          updatedAt: try r("updated_at"), updatedBy: try r("updated_by"))
    }

    func encode(to container: inout PersistenceContainer) {
        container["tenant_id"] = webhook.tenant
        container["url"] = webhook.url
        container["secret"] = webhook.secret
        container["created_at"] = webhook.createdAt
        container["updated_at"] = webhook.updatedAt
        container["updated_by"] = webhook.updatedBy
    }
}

/// A delivery as the sender reads it; written once, pending, by `insertDelivery`.
struct WebhookDeliveryRecord: FetchableRecord, PersistableRecord {
    static let databaseTableName = "webhook_deliveries"
    var delivery: WebhookDelivery
    var createdAt: Int64

    init(_ delivery: WebhookDelivery, createdAt: Int64) {
        self.delivery = delivery
        self.createdAt = createdAt
    }

    init(row: Row) throws {
        let r = RowReader(row: row, table: Self.databaseTableName, idColumn: "id")
        let body: String = try r("body")
        delivery = WebhookDelivery(id: try r("id"), tenant: try r("tenant_id"), incidentID: try r("incident_id"), event: try r("event"),
                                   body: Array(body.utf8), attempts: try r("attempts"), nextAttemptAt: try r("next_attempt_at"))
        createdAt = try r("created_at")
    }

    func encode(to container: inout PersistenceContainer) {
        container["id"] = delivery.id
        container["tenant_id"] = delivery.tenant
        container["incident_id"] = delivery.incidentID
        container["event"] = delivery.event
        container["body"] = String(decoding: delivery.body, as: UTF8.self)
        container["state"] = "pending"
        container["attempts"] = delivery.attempts
        container["next_attempt_at"] = delivery.nextAttemptAt
        container["created_at"] = createdAt
    }
}

struct ExportRecord: FetchableRecord, PersistableRecord {
    static let databaseTableName = "exports"
    var export: Export

    init(_ export: Export) { self.export = export }

    init(row: Row) throws {
        let r = RowReader(row: row, table: Self.databaseTableName, idColumn: "id")
        guard let spec = ExportSpec.fromStored(try r("request_json")) else { throw r.failure("request_json") }
        export = Export(
            id: try r("id"), tenant: try r("tenant_id"), spec: spec, status: try r("status"), file: try r("file"), rows: try r("rows"),
            bytes: try r("bytes"), error: try r("error"), createdBy: try r("created_by"), createdAt: try r("created_at"),
            completedAt: try r("completed_at"), expiresAt: try r("expires_at"))
    }

    func encode(to container: inout PersistenceContainer) {
        let e = export
        container["id"] = e.id
        container["tenant_id"] = e.tenant
        container["kind"] = e.spec.kind.rawValue
        container["format"] = e.spec.format.rawValue
        container["request_json"] = e.spec.storedJSON
        container["status"] = e.status.rawValue
        container["file"] = e.file
        container["rows"] = e.rows
        container["bytes"] = e.bytes
        container["error"] = e.error
        container["created_by"] = e.createdBy
        container["created_at"] = e.createdAt
        container["completed_at"] = e.completedAt
        container["expires_at"] = e.expiresAt
    }
}

struct ReservationRecord: FetchableRecord, PersistableRecord {
    static let databaseTableName = "reservations"
    var reservation: Reservation

    init(_ reservation: Reservation) { self.reservation = reservation }

    init(row: Row) throws {
        let r = RowReader(row: row, table: Self.databaseTableName, idColumn: "id")
        let ids: String = try r("budget_ids")
        reservation = Reservation(
            id: try r("id"), tenant: try r("tenant_id"), userID: try r("user_id"), featureTag: try r("feature_tag"),
            estimatedNanos: try r("estimated_nanos"), storedState: try r("state"), createdAt: try r("created_at"),
            expiresAt: try r("expires_at"), releasedAt: try r("released_at"), actualNanos: try r("actual_nanos"),
            budgetIDs: ids.split(separator: ",").map(String.init), createdBy: try r("created_by"))
    }

    func encode(to container: inout PersistenceContainer) {
        let x = reservation
        container["id"] = x.id
        container["tenant_id"] = x.tenant
        container["user_id"] = x.userID
        container["feature_tag"] = x.featureTag
        container["estimated_nanos"] = x.estimatedNanos
        container["state"] = x.storedState.rawValue
        container["created_at"] = x.createdAt
        container["expires_at"] = x.expiresAt
        container["released_at"] = x.releasedAt
        container["actual_nanos"] = x.actualNanos
        container["budget_ids"] = x.budgetIDs.joined(separator: ",")
        container["created_by"] = x.createdBy
    }
}

struct FeatureTagRecord: FetchableRecord, PersistableRecord {
    static let databaseTableName = "feature_tags"
    var tag: FeatureTag

    init(_ tag: FeatureTag) { self.tag = tag }

    init(row: Row) throws {
        let r = RowReader(row: row, table: Self.databaseTableName, idColumn: "id")
        tag = FeatureTag(id: try r("id"), tenant: try r("tenant_id"), tag: try r("tag"), description: try r("description"),
                         owner: try r("owner"), createdAt: try r("created_at"), updatedAt: try r("updated_at"),
                         createdBy: try r("created_by"))
    }

    func encode(to container: inout PersistenceContainer) {
        container["id"] = tag.id
        container["tenant_id"] = tag.tenant
        container["tag"] = tag.tag
        container["description"] = tag.description
        container["owner"] = tag.owner
        container["created_at"] = tag.createdAt
        container["updated_at"] = tag.updatedAt
        container["created_by"] = tag.createdBy
    }
}
