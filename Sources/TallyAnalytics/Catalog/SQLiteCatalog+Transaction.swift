import GRDB

/// The row operations of one `SQLiteCatalog.write` transaction, on its connection.
///
/// Only lent to the body of `write` (it holds the connection, which must not outlive the transaction).
struct SQLiteCatalogTransaction: CatalogTransaction {
    let db: Database

    func appendAudit(at: Int64, actor: String, tenant: String?, action: String, entityType: String, entityID: String,
                     before: String?, after: String?) throws {
        try SQLiteCatalog.appendAudit(db, at: at, actor: actor, tenant: tenant, action: action, entityType: entityType,
                                      entityID: entityID, before: before, after: after)
    }

    func budget(id: String) throws -> Budget? {
        try BudgetRecord.fetchOne(db, key: id)?.budget
    }

    func reservedNanos(for budget: Budget, now: Int64) throws -> Int64 {
        try SQLiteCatalog.reservedNanos(db, budget: budget, now: now)
    }

    func reservation(id: String) throws -> Reservation? {
        try ReservationRecord.fetchOne(db, key: id)?.reservation
    }

    func insertReservation(_ reservation: Reservation) throws {
        try ReservationRecord(reservation).insert(db)
    }

    func updateReservation(_ reservation: Reservation) throws {
        try db.execute(sql: "UPDATE reservations SET state = ?, released_at = ?, actual_nanos = ? WHERE id = ?",
                       arguments: [reservation.storedState.rawValue, reservation.releasedAt, reservation.actualNanos, reservation.id])
    }

    func anomaly(id: String) throws -> Anomaly? {
        try SQLiteCatalog.anomalies(db, sql: "SELECT * FROM anomalies WHERE id = ?", arguments: [id]).first
    }

    func anomalies(tenant: String, type: AnomalyType, entity: AnomalyEntity, budgetID: String) throws -> [Anomaly] {
        try SQLiteCatalog.anomalies(db, sql: """
            SELECT * FROM anomalies WHERE tenant_id = ? AND type = ? AND level = ? AND subject = ? AND budget_id = ?
            ORDER BY last_day DESC, id
            """, arguments: [tenant, type.rawValue, entity.level.rawValue, entity.value, budgetID])
    }

    func openAnomalies(tenant: String) throws -> [Anomaly] {
        try SQLiteCatalog.anomalies(db, sql: "SELECT * FROM anomalies WHERE tenant_id = ? AND status = 'open' ORDER BY first_day, id",
                                    arguments: [tenant])
    }

    func saveAnomaly(_ anomaly: Anomaly) throws {
        try SQLiteCatalog.save(db, anomaly)
    }

    func incident(id: String) throws -> Incident? {
        try IncidentRecord.fetchOne(db, key: id)?.incident
    }

    func unresolvedIncidents(tenant: String) throws -> [Incident] {
        try IncidentRecord.fetchAll(db, sql: "SELECT * FROM incidents WHERE tenant_id = ? AND status != 'resolved' ORDER BY opened_at, id",
                                    arguments: [tenant]).map(\.incident)
    }

    func anomalies(incident id: String) throws -> [Anomaly] {
        try SQLiteCatalog.anomalies(db, incident: id)
    }

    func saveIncident(_ incident: Incident) throws {
        try IncidentRecord(incident).insert(db, onConflict: .replace)
    }

    func webhook(tenant: String) throws -> Webhook? {
        try WebhookRecord.fetchOne(db, key: tenant)?.webhook
    }

    func insertDelivery(_ delivery: WebhookDelivery, now: Int64) throws {
        try WebhookDeliveryRecord(delivery, createdAt: now).insert(db)
    }

    func alertChannels(tenant: String) throws -> [AlertChannel] {
        try AlertChannelRecord.fetchAll(db, sql: "SELECT * FROM alert_channels WHERE tenant_id = ? ORDER BY created_at, id",
                                        arguments: [tenant]).map(\.channel)
    }

    func lastAlert(channel: String, series: String) throws -> AlertDelivery? {
        try AlertDeliveryRecord.fetchOne(db, sql: """
            SELECT * FROM alert_deliveries WHERE channel_id = ? AND series = ? ORDER BY created_at DESC, id DESC LIMIT 1
            """, arguments: [channel, series])?.delivery
    }

    func insertAlertDelivery(_ delivery: AlertDelivery) throws {
        try AlertDeliveryRecord(delivery).insert(db)
    }
}
