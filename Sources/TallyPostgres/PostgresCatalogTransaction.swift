import PostgresNIO
import TallyAnalytics
import TallyStore

/// The row operations of one `PostgresCatalog.write` transaction, on its connection.
///
/// Several nodes run transactions at once, so a read that a rule's later write depends on locks what it read until
/// commit, and what the rule read stays true until then (as in SQLite, where one transaction runs at a time):
/// - a budget: its row, `FOR UPDATE`. A reservation reads each budget it counts against before summing that
///   budget's holds and inserting its own, so reservations of one budget run one after the other, each seeing the
///   holds the previous ones committed (READ COMMITTED takes a new snapshot per statement, after the lock).
/// - a reservation: its row (two releases of one reservation cannot both succeed).
/// - a tenant's anomalies and incidents (the episode rules, an acknowledgement or resolution): a transaction-level
///   advisory lock on the tenant, taken by every read of them, so rules of one tenant run one after the other
///   while other tenants' run alongside.
struct PostgresCatalogTransaction: CatalogTransaction {
    let session: PostgresSession

    func appendAudit(at: Int64, actor: String, tenant: String?, action: String, entityType: String, entityID: String,
                     before: String?, after: String?) throws {
        try PostgresCatalog.appendAudit(session, at: at, actor: actor, tenant: tenant, action: action, entityType: entityType,
                                        entityID: entityID, before: before, after: after)
    }

    // MARK: Budgets and reservations

    func budget(id: String) throws -> Budget? {
        try session.rows("SELECT * FROM budgets WHERE id = \(id) FOR UPDATE").first.map(Rows.budget)
    }

    func reservedNanos(for budget: Budget, now: Int64) throws -> Int64 {
        try PostgresCatalog.reservedNanos(session, budget: budget, now: now)
    }

    func reservation(id: String) throws -> Reservation? {
        try session.rows("SELECT * FROM reservations WHERE id = \(id) FOR UPDATE").first.map(Rows.reservation)
    }

    func insertReservation(_ reservation: Reservation) throws {
        try PostgresCatalog.insertReservation(session, reservation)
    }

    func updateReservation(_ r: Reservation) throws {
        try session.run("""
            UPDATE reservations SET state = \(r.storedState.rawValue), released_at = \(r.releasedAt), actual_nanos = \(r.actualNanos)
            WHERE id = \(r.id)
            """)
    }

    // MARK: Anomalies

    /// Locks the anomalies and incidents of `tenant` until the transaction ends.
    private func lockTenant(_ tenant: String) throws {
        try PostgresCatalog.lock(session, "tally.episodes." + tenant)
    }

    func anomaly(id: String) throws -> Anomaly? {
        guard let tenant = try session.rows("SELECT tenant_id FROM anomalies WHERE id = \(id)").first?.decode(String.self) else {
            return nil
        }
        try lockTenant(tenant)
        return try PostgresCatalog.anomalies(session, "SELECT * FROM anomalies WHERE id = \(id)").first
    }

    func anomalies(tenant: String, type: AnomalyType, entity: AnomalyEntity, budgetID: String) throws -> [Anomaly] {
        try lockTenant(tenant)
        return try PostgresCatalog.anomalies(session, """
            SELECT * FROM anomalies WHERE tenant_id = \(tenant) AND type = \(type.rawValue) AND level = \(entity.level.rawValue)
            AND subject = \(entity.value) AND budget_id = \(budgetID)
            ORDER BY last_day DESC, id
            """)
    }

    func openAnomalies(tenant: String) throws -> [Anomaly] {
        try lockTenant(tenant)
        return try PostgresCatalog.anomalies(session, "SELECT * FROM anomalies WHERE tenant_id = \(tenant) AND status = 'open' ORDER BY first_day, id")
    }

    func saveAnomaly(_ anomaly: Anomaly) throws {
        try PostgresCatalog.save(session, anomaly)
    }

    // MARK: Incidents and deliveries

    func incident(id: String) throws -> Incident? {
        guard let tenant = try session.rows("SELECT tenant_id FROM incidents WHERE id = \(id)").first?.decode(String.self) else {
            return nil
        }
        try lockTenant(tenant)
        return try session.rows("SELECT * FROM incidents WHERE id = \(id)").first.map(Rows.incident)
    }

    func unresolvedIncidents(tenant: String) throws -> [Incident] {
        try lockTenant(tenant)
        return try session.rows("SELECT * FROM incidents WHERE tenant_id = \(tenant) AND status <> 'resolved' ORDER BY opened_at, id")
            .map(Rows.incident)
    }

    func anomalies(incident id: String) throws -> [Anomaly] {
        try PostgresCatalog.anomalies(session, incident: id)
    }

    func saveIncident(_ incident: Incident) throws {
        try PostgresCatalog.saveIncident(session, incident)
    }

    func webhook(tenant: String) throws -> Webhook? {
        try session.rows("SELECT * FROM webhooks WHERE tenant_id = \(tenant)").first.map(Rows.webhook)
    }

    func insertDelivery(_ delivery: WebhookDelivery, now: Int64) throws {
        try PostgresCatalog.insertDelivery(session, delivery, now: now)
    }
}
