import GRDB
import TallyStore
import TallyText

extension Catalog {
    /// The incident `anomaly` joins: the tenant's unresolved incident with an anomaly whose days overlap or touch its
    /// days, else a new one (`opened` true).
    static func incidentToJoin(_ db: Database, for a: Anomaly, now: Int64) throws -> (id: String, opened: Bool) {
        if let id = try String.fetchOne(db, sql: """
            SELECT i.id FROM incidents i JOIN anomalies a ON a.incident_id = i.id
            WHERE i.tenant_id = ? AND i.status != 'resolved' AND a.first_day <= ? AND a.last_day >= ?
            ORDER BY i.opened_at, i.id LIMIT 1
            """, arguments: [a.tenant, a.lastDay + TimeUnit.dayMillis, a.firstDay - TimeUnit.dayMillis]) {
            return (id, false)
        }
        let entity = a.entity.level == .tenant ? "tenant \(a.tenant)" : "\(a.entity.level.rawValue) \(a.entity.value)"
        let incident = Incident(
            id: "inc_" + hex(randomBytes(6)), tenant: a.tenant, status: .open, severity: a.type == .budgetExceeded ? .high : a.severity,
            title: "\(a.type.rawValue) on \(entity)", openedAt: now, acknowledgedAt: nil, acknowledgedBy: nil, resolvedAt: nil,
            resolvedBy: nil, updatedAt: now)
        try saveIncident(db, incident)
        return (incident.id, true)
    }

    /// The incident `id` with its anomalies.
    public func incident(id: String) throws -> IncidentView? {
        try pool.read { db in
            guard let incident = try Self.incident(db, id: id) else { return nil }
            return IncidentView(incident: incident, anomalies: try Self.anomalies(db, incident: id))
        }
    }

    /// The incidents of `tenant` (every tenant's when nil), optionally with one status, newest first.
    public func incidents(tenant: String?, status: Incident.Status?, limit: Int) throws -> [IncidentView] {
        var sql = "SELECT * FROM incidents WHERE 1 = 1"
        var arguments: [any DatabaseValueConvertible] = []
        if let tenant { sql += " AND tenant_id = ?"; arguments.append(tenant) }
        if let status { sql += " AND status = ?"; arguments.append(status.rawValue) }
        sql += " ORDER BY opened_at DESC, id LIMIT ?"
        arguments.append(limit)
        return try pool.read { db in
            try Row.fetchAll(db, sql: sql, arguments: StatementArguments(arguments)).compactMap(Self.incident(row:)).map {
                IncidentView(incident: $0, anomalies: try Self.anomalies(db, incident: $0.id))
            }
        }
    }

    /// Moves incident `id` to `next` if its lifecycle allows it, with an audit entry and a webhook delivery in the same
    /// transaction. nil when there is no such incident; `invalidTransition` carries the current status otherwise.
    func transitionIncident(id: String, to next: Incident.Status, actor: String, now: Int64,
                            reaches: (String) -> Bool) throws -> Result<IncidentView, AnalyticsError>? {
        try pool.write { db in
            guard var incident = try Self.incident(db, id: id), reaches(incident.tenant) else { return nil }
            guard incident.status.allows(next) else {
                return .failure(.invalidTransition(
                    reason: "incident \(id) is \(incident.status.rawValue); it cannot become \(next.rawValue) "
                        + "(open -> acknowledged -> resolved)"))
            }
            let before = incident
            incident.status = next
            incident.updatedAt = now
            if next == .acknowledged {
                incident.acknowledgedAt = now
                incident.acknowledgedBy = actor
            } else {
                incident.resolvedAt = now
                incident.resolvedBy = actor
            }
            try Self.saveIncident(db, incident)
            try Self.incidentChanged(db, before: before, after: incident, actor: actor, now: now)
            return .success(IncidentView(incident: incident, anomalies: try Self.anomalies(db, incident: id)))
        }
    }

    /// Records an incident state change: the audit entry and, when the tenant has a webhook, the delivery to make.
    static func incidentChanged(_ db: Database, before: Incident?, after: Incident, actor: String, now: Int64) throws {
        let action = before == nil ? "open" : after.status == .acknowledged ? "acknowledge" : "resolve"
        try appendAudit(db, at: now, actor: actor, tenant: after.tenant, action: action, entityType: "incident",
                        entityID: after.id, before: before.map(AuditSnapshot.incident), after: AuditSnapshot.incident(after))
        guard try Bool.fetchOne(db, sql: "SELECT 1 FROM webhooks WHERE tenant_id = ?", arguments: [after.tenant]) == true else {
            return
        }
        let event = "incident." + (before == nil ? "opened" : after.status.rawValue)
        let deliveryID = "dlv_" + hex(randomBytes(8))
        let view = IncidentView(incident: after, anomalies: try anomalies(db, incident: after.id))
        var w = JSONWriter(capacity: 1024)
        w.object { w in
            w.field("event", event)
            w.field("delivery_id", deliveryID)
            w.field("occurred_at", time: now)
            w.field("previous_status", before?.status.rawValue)
            w.field("incident", view)
        }
        try db.execute(sql: """
            INSERT INTO webhook_deliveries (id, tenant_id, incident_id, event, body, state, attempts, next_attempt_at, created_at)
            VALUES (?, ?, ?, ?, ?, 'pending', 0, ?, ?)
            """, arguments: [deliveryID, after.tenant, after.id, event, String(decoding: w.bytes, as: UTF8.self), now, now])
    }

    // MARK: Webhooks

    /// Sets (creates or replaces) the webhook of `webhook.tenant`, with an audit entry (never the secret).
    package func setWebhook(_ webhook: Webhook) throws {
        try pool.write { db in
            let before = try Self.webhook(db, tenant: webhook.tenant)
            try db.execute(sql: """
                INSERT OR REPLACE INTO webhooks (tenant_id, url, secret, created_at, updated_at, updated_by) VALUES (?, ?, ?, ?, ?, ?)
                """, arguments: [webhook.tenant, webhook.url, webhook.secret, before?.createdAt ?? webhook.createdAt,
                                 webhook.updatedAt, webhook.updatedBy])
            try Self.appendAudit(db, at: webhook.updatedAt, actor: webhook.updatedBy, tenant: webhook.tenant,
                                 action: before == nil ? "create" : "update", entityType: "webhook", entityID: webhook.tenant,
                                 before: before.map(AuditSnapshot.webhook), after: AuditSnapshot.webhook(webhook))
        }
    }

    /// The webhook of `tenant`.
    public func webhook(tenant: String) throws -> Webhook? {
        try pool.read { db in try Self.webhook(db, tenant: tenant) }
    }

    /// Counts of the deliveries of `tenant` by state.
    func deliveryCounts(tenant: String) throws -> [String: Int] {
        try pool.read { db in
            var counts: [String: Int] = [:]
            for r in try Row.fetchAll(db, sql: "SELECT state, COUNT(*) AS n FROM webhook_deliveries WHERE tenant_id = ? GROUP BY state",
                                      arguments: [tenant]) {
                counts[r["state"]] = r["n"]
            }
            return counts
        }
    }

    /// Deletes the webhook of `tenant` and drops its pending deliveries; false when there was none.
    func deleteWebhook(tenant: String, actor: String, now: Int64) throws -> Bool {
        try pool.write { db in
            guard let before = try Self.webhook(db, tenant: tenant) else { return false }
            try db.execute(sql: "DELETE FROM webhooks WHERE tenant_id = ?", arguments: [tenant])
            try db.execute(sql: "UPDATE webhook_deliveries SET state = 'failed', last_error = 'webhook deleted' "
                           + "WHERE tenant_id = ? AND state = 'pending'", arguments: [tenant])
            try Self.appendAudit(db, at: now, actor: actor, tenant: tenant, action: "delete", entityType: "webhook",
                                 entityID: tenant, before: AuditSnapshot.webhook(before), after: nil)
            return true
        }
    }

    /// Pending deliveries due at `now`, oldest first, with their webhook.
    public func dueDeliveries(now: Int64, limit: Int) throws -> [(WebhookDelivery, Webhook)] {
        try pool.read { db in
            try Row.fetchAll(db, sql: """
                SELECT d.*, w.url, w.secret, w.created_at AS w_created, w.updated_at AS w_updated, w.updated_by AS w_by
                FROM webhook_deliveries d JOIN webhooks w ON w.tenant_id = d.tenant_id
                WHERE d.state = 'pending' AND d.next_attempt_at <= ? ORDER BY d.next_attempt_at, d.created_at LIMIT ?
                """, arguments: [now, limit]).map { r in
                (WebhookDelivery(id: r["id"], tenant: r["tenant_id"], incidentID: r["incident_id"], event: r["event"],
                                 body: Array((r["body"] as String).utf8), attempts: r["attempts"], nextAttemptAt: r["next_attempt_at"]),
                 Webhook(tenant: r["tenant_id"], url: r["url"], secret: r["secret"], createdAt: r["w_created"],
                         updatedAt: r["w_updated"], updatedBy: r["w_by"]))
            }
        }
    }

    /// Records the outcome of an attempt: delivered, retried at `retryAt`, or given up (`retryAt` nil after a failure).
    public func recordDeliveryAttempt(id: String, delivered: Bool, error: String?, retryAt: Int64?, now: Int64) throws {
        try pool.write { db in
            if delivered {
                try db.execute(sql: """
                    UPDATE webhook_deliveries SET state = 'delivered', attempts = attempts + 1, delivered_at = ?, last_error = NULL
                    WHERE id = ? AND state = 'pending'
                    """, arguments: [now, id])
            } else {
                try db.execute(sql: """
                    UPDATE webhook_deliveries SET state = ?, attempts = attempts + 1, next_attempt_at = ?, last_error = ?
                    WHERE id = ? AND state = 'pending'
                    """, arguments: [retryAt == nil ? "failed" : "pending", retryAt ?? now, error, id])
            }
        }
    }

    /// State, attempts and last error of delivery `id` (tests and diagnostics).
    public func deliveryState(id: String) throws -> (state: String, attempts: Int, lastError: String?)? {
        try pool.read { db in
            try Row.fetchOne(db, sql: "SELECT state, attempts, last_error FROM webhook_deliveries WHERE id = ?", arguments: [id])
                .map { ($0["state"], $0["attempts"], $0["last_error"]) }
        }
    }

    // MARK: Rows

    static func incident(_ db: Database, id: String) throws -> Incident? {
        try Row.fetchOne(db, sql: "SELECT * FROM incidents WHERE id = ?", arguments: [id]).flatMap(incident(row:))
    }

    static func anomalies(_ db: Database, incident: String) throws -> [Anomaly] {
        try Row.fetchAll(db, sql: "SELECT * FROM anomalies WHERE incident_id = ? ORDER BY first_day, id", arguments: [incident])
            .compactMap { try anomaly(db, row: $0) }
    }

    static func saveIncident(_ db: Database, _ i: Incident) throws {
        try db.execute(sql: """
            INSERT OR REPLACE INTO incidents (id, tenant_id, status, severity, title, opened_at, acknowledged_at, acknowledged_by,
                resolved_at, resolved_by, updated_at)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """, arguments: [i.id, i.tenant, i.status.rawValue, i.severity.rawValue, i.title, i.openedAt, i.acknowledgedAt,
                             i.acknowledgedBy, i.resolvedAt, i.resolvedBy, i.updatedAt])
    }

    static func incident(row r: Row) -> Incident? {
        guard let status = Incident.Status(rawValue: r["status"]), let severity = AnomalySeverity(rawValue: r["severity"]) else {
            return nil
        }
        return Incident(id: r["id"], tenant: r["tenant_id"], status: status, severity: severity, title: r["title"],
                        openedAt: r["opened_at"], acknowledgedAt: r["acknowledged_at"], acknowledgedBy: r["acknowledged_by"],
                        resolvedAt: r["resolved_at"], resolvedBy: r["resolved_by"], updatedAt: r["updated_at"])
    }

    private static func webhook(_ db: Database, tenant: String) throws -> Webhook? {
        try Row.fetchOne(db, sql: "SELECT * FROM webhooks WHERE tenant_id = ?", arguments: [tenant]).map { r in
            Webhook(tenant: r["tenant_id"], url: r["url"], secret: r["secret"], createdAt: r["created_at"],
                    updatedAt: r["updated_at"], updatedBy: r["updated_by"])
        }
    }

}
