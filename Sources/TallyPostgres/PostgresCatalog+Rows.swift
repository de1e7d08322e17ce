import Foundation
import PostgresNIO
import TallyAnalytics
import TallyStore

// How a row of each table becomes a domain value. As in SQLiteCatalog, a row that does not decode (an enum column
// holding a value no case has, a NULL where a value must be) throws `CatalogError.undecodableRow` naming the table,
// the row and the column; it never vanishes from a list.

/// Reads the columns of one row of `table`, naming the table, the row (`idColumn`) and the column in every failure.
struct RowReader {
    let row: PostgresRandomAccessRow
    let table: String
    let idColumn: String

    init(_ row: PostgresRow, table: String, idColumn: String = "id") {
        self.row = row.makeRandomAccess()
        self.table = table
        self.idColumn = idColumn
    }

    /// The value of `column`.
    func callAsFunction<V: PostgresDecodable>(_ column: String) throws(CatalogError) -> V {
        guard row.contains(column) else { throw failure(column) }
        do {
            return try row[column].decode(V.self)
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
        .undecodableRow(table: table, id: text(idColumn), column: column, value: text(column))
    }

    private func text(_ column: String) -> String {
        guard row.contains(column) else { return "(no column)" }
        let cell = row[column]
        guard cell.bytes != nil else { return "NULL" }
        if let s = try? cell.decode(String.self) { return s }
        if let i = try? cell.decode(Int64.self) { return String(i) }
        if let d = try? cell.decode(Double.self) { return String(d) }
        return "<\(cell.dataType)>"
    }
}

enum Rows {
    static func apiKey(_ row: PostgresRow) throws -> APIKey {
        let r = RowReader(row, table: "api_keys")
        return APIKey(id: try r("id"), tenant: try r("tenant_id"), role: try r("role"), createdAt: try r("created_at"),
                      revokedAt: try r("revoked_at"))
    }

    static func idempotentAnswer(_ row: PostgresRow) throws -> IdempotentAnswer {
        let r = RowReader(row, table: "idempotent_answers", idColumn: "key")
        let fingerprint: Data = try r("fingerprint")
        let body: Data = try r("body")
        return IdempotentAnswer(fingerprint: [UInt8](fingerprint), status: try r("status"), contentType: try r("content_type"),
                                body: [UInt8](body), createdAt: try r("created_at"))
    }

    static func budget(_ row: PostgresRow) throws -> Budget {
        let r = RowReader(row, table: "budgets")
        return Budget(
            id: try r("id"), tenant: try r("tenant_id"), level: try r("level"), subject: try r("subject"), period: try r("period"),
            limitNanos: try r("limit_nanos"), warnRatio: try r("warn_ratio"), enforce: try r("enforce"),
            createdAt: try r("created_at"), updatedAt: try r("updated_at"), createdBy: try r("created_by"))
    }

    static func audit(_ row: PostgresRow) throws -> AuditEntry {
        let r = RowReader(row, table: "audit_log")
        return AuditEntry(id: try r("id"), at: try r("at"), actor: try r("actor"), tenant: try r("tenant_id"), action: try r("action"),
                          entityType: try r("entity_type"), entityID: try r("entity_id"), before: try r("before_json"),
                          after: try r("after_json"))
    }

    static func incident(_ row: PostgresRow) throws -> Incident {
        let r = RowReader(row, table: "incidents")
        return Incident(
            id: try r("id"), tenant: try r("tenant_id"), status: try r("status"), severity: try r("severity"), title: try r("title"),
            openedAt: try r("opened_at"), acknowledgedAt: try r("acknowledged_at"), acknowledgedBy: try r("acknowledged_by"),
            resolvedAt: try r("resolved_at"), resolvedBy: try r("resolved_by"), updatedAt: try r("updated_at"))
    }

    /// An anomaly without its drivers.
    static func anomaly(_ row: PostgresRow) throws -> Anomaly {
        let r = RowReader(row, table: "anomalies")
        return Anomaly(
            id: try r("id"), tenant: try r("tenant_id"), type: try r("type"), severity: try r("severity"),
            entity: AnomalyEntity(level: try r("level"), value: try r("subject")), budgetID: try r("budget_id"),
            firstDay: try r("first_day"), lastDay: try r("last_day"), expectedNanos: try r("expected_nanos"),
            actualNanos: try r("actual_nanos"), drivers: [], status: try r("status"), resolvedAt: try r("resolved_at"),
            resolvedBy: try r("resolved_by"), incidentID: try r("incident_id"), detectedAt: try r("detected_at"),
            updatedAt: try r("updated_at"), provisional: try r("provisional"))
    }

    /// An entity driver and the anomaly it belongs to.
    static func entityDriver(_ row: PostgresRow) throws -> (anomalyID: String, driver: AnomalyEntityDriver) {
        let r = RowReader(row, table: "anomaly_entity_drivers", idColumn: "anomaly_id")
        return (try r("anomaly_id"), AnomalyEntityDriver(
            entity: AnomalyEntity(level: try r("level"), value: try r("subject")), type: try r("type"), severity: try r("severity"),
            firstDay: try r("first_day"), lastDay: try r("last_day"), expectedNanos: try r("expected_nanos"),
            actualNanos: try r("actual_nanos"), sharePPM: try r("share_ppm")))
    }

    /// A driver and the anomaly it belongs to.
    static func driver(_ row: PostgresRow) throws -> (anomalyID: String, driver: AnomalyDriver) {
        let r = RowReader(row, table: "anomaly_drivers", idColumn: "anomaly_id")
        let name: String = try r("dimension")
        guard let dimension = Dimension.allCases.first(where: { $0.fieldName == name }) else { throw r.failure("dimension") }
        return (try r("anomaly_id"), AnomalyDriver(dimension: dimension, value: try r("value"), expectedNanos: try r("expected_nanos"),
                                                   actualNanos: try r("actual_nanos"), sharePPM: try r("share_ppm")))
    }

    static func thresholds(_ row: PostgresRow) throws -> AnomalyThresholds {
        let r = RowReader(row, table: "anomaly_settings", idColumn: "tenant_id")
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
        return t
    }

    static func webhook(_ row: PostgresRow) throws -> Webhook {
        let r = RowReader(row, table: "webhooks", idColumn: "tenant_id")
        return Webhook(tenant: try r("tenant_id"), url: try r("url"), secret: try r("secret"), createdAt: try r("created_at"),
                       updatedAt: try r("updated_at"), updatedBy: try r("updated_by"))
    }

    static func delivery(_ row: PostgresRow) throws -> WebhookDelivery {
        let r = RowReader(row, table: "webhook_deliveries")
        let body: String = try r("body")
        return WebhookDelivery(id: try r("id"), tenant: try r("tenant_id"), incidentID: try r("incident_id"), event: try r("event"),
                               body: Array(body.utf8), attempts: try r("attempts"), nextAttemptAt: try r("next_attempt_at"))
    }

    static func export(_ row: PostgresRow) throws -> Export {
        let r = RowReader(row, table: "exports")
        guard let spec = ExportSpec.fromStored(try r("request_json")) else { throw r.failure("request_json") }
        return Export(
            id: try r("id"), tenant: try r("tenant_id"), spec: spec, status: try r("status"), file: try r("file"), rows: try r("rows"),
            bytes: try r("bytes"), error: try r("error"), createdBy: try r("created_by"), createdAt: try r("created_at"),
            completedAt: try r("completed_at"), expiresAt: try r("expires_at"))
    }

    static func reservation(_ row: PostgresRow) throws -> Reservation {
        let r = RowReader(row, table: "reservations")
        let ids: String = try r("budget_ids")
        return Reservation(
            id: try r("id"), tenant: try r("tenant_id"), userID: try r("user_id"), featureTag: try r("feature_tag"),
            estimatedNanos: try r("estimated_nanos"), storedState: try r("state"), createdAt: try r("created_at"),
            expiresAt: try r("expires_at"), releasedAt: try r("released_at"), actualNanos: try r("actual_nanos"),
            budgetIDs: ids.split(separator: ",").map(String.init), createdBy: try r("created_by"))
    }

    static func featureTag(_ row: PostgresRow) throws -> FeatureTag {
        let r = RowReader(row, table: "feature_tags")
        return FeatureTag(id: try r("id"), tenant: try r("tenant_id"), tag: try r("tag"), description: try r("description"),
                          owner: try r("owner"), createdAt: try r("created_at"), updatedAt: try r("updated_at"),
                          createdBy: try r("created_by"))
    }

    static func alertChannel(_ row: PostgresRow) throws -> AlertChannel {
        let r = RowReader(row, table: "alert_channels")
        let kind: AlertChannel.Kind = try r("kind")
        var smtp: AlertChannel.SMTPSettings?
        if kind == .email {
            let to: String = try r("mail_to")
            smtp = AlertChannel.SMTPSettings(host: try r("smtp_host"), port: try r("smtp_port"), username: try r("smtp_username"),
                                             password: try r("smtp_password"), from: try r("mail_from"),
                                             to: to.split(separator: "\n").map(String.init))
        }
        return AlertChannel(id: try r("id"), tenant: try r("tenant_id"), name: try r("name"), kind: kind, url: try r("url"), smtp: smtp,
                            minSeverity: try r("min_severity"), quietMillis: try r("quiet_millis"), enabled: try r("enabled"),
                            createdAt: try r("created_at"), updatedAt: try r("updated_at"), updatedBy: try r("updated_by"))
    }

    static func alertDelivery(_ row: PostgresRow) throws -> AlertDelivery {
        let r = RowReader(row, table: "alert_deliveries")
        return AlertDelivery(
            id: try r("id"), channelID: try r("channel_id"), tenant: try r("tenant_id"), anomalyID: try r("anomaly_id"),
            series: try r("series"), severity: try r("severity"), subject: try r("subject"), body: try r("body"), state: try r("state"),
            attempts: try r("attempts"), nextAttemptAt: try r("next_attempt_at"), lastError: try r("last_error"),
            createdAt: try r("created_at"), deliveredAt: try r("delivered_at"))
    }
}
