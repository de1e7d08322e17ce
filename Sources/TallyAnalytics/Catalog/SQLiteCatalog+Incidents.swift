import GRDB
import TallyStore

extension SQLiteCatalog {
    public func incident(id: String) throws -> IncidentView? {
        try pool.read { db in
            guard let incident = try IncidentRecord.fetchOne(db, key: id)?.incident else { return nil }
            return IncidentView(incident: incident, anomalies: try Self.anomalies(db, incident: id))
        }
    }

    public func incidents(tenant: String?, status: Incident.Status?, limit: Int) throws -> [IncidentView] {
        var sql = "SELECT * FROM incidents WHERE 1 = 1"
        var arguments: [any DatabaseValueConvertible] = []
        if let tenant { sql += " AND tenant_id = ?"; arguments.append(tenant) }
        if let status { sql += " AND status = ?"; arguments.append(status.rawValue) }
        sql += " ORDER BY opened_at DESC, id LIMIT ?"
        arguments.append(limit)
        return try pool.read { db in
            try IncidentRecord.fetchAll(db, sql: sql, arguments: StatementArguments(arguments)).map {
                IncidentView(incident: $0.incident, anomalies: try Self.anomalies(db, incident: $0.incident.id))
            }
        }
    }

    // MARK: Webhooks

    public func setWebhook(_ webhook: Webhook) throws {
        try pool.write { db in
            let before = try WebhookRecord.fetchOne(db, key: webhook.tenant)?.webhook
            var stored = webhook
            stored.createdAt = before?.createdAt ?? webhook.createdAt
            try WebhookRecord(stored).insert(db, onConflict: .replace)
            try Self.appendAudit(db, at: webhook.updatedAt, actor: webhook.updatedBy, tenant: webhook.tenant,
                                 action: before == nil ? "create" : "update", entityType: "webhook", entityID: webhook.tenant,
                                 before: before.map(AuditSnapshot.webhook), after: AuditSnapshot.webhook(webhook))
        }
    }

    public func webhook(tenant: String) throws -> Webhook? {
        try pool.read { db in try WebhookRecord.fetchOne(db, key: tenant)?.webhook }
    }

    public func deliveryCounts(tenant: String) throws -> [String: Int] {
        try pool.read { db in
            var counts: [String: Int] = [:]
            for r in try Row.fetchAll(db, sql: "SELECT state, COUNT(*) AS n FROM webhook_deliveries WHERE tenant_id = ? GROUP BY state",
                                      arguments: [tenant]) {
                counts[r["state"]] = r["n"]
            }
            return counts
        }
    }

    public func deleteWebhook(tenant: String, actor: String, now: Int64) throws -> Bool {
        try pool.write { db in
            guard let before = try WebhookRecord.fetchOne(db, key: tenant)?.webhook else { return false }
            try db.execute(sql: "DELETE FROM webhooks WHERE tenant_id = ?", arguments: [tenant])
            try db.execute(sql: "UPDATE webhook_deliveries SET state = 'failed', last_error = 'webhook deleted' "
                           + "WHERE tenant_id = ? AND state = 'pending'", arguments: [tenant])
            try Self.appendAudit(db, at: now, actor: actor, tenant: tenant, action: "delete", entityType: "webhook",
                                 entityID: tenant, before: AuditSnapshot.webhook(before), after: nil)
            return true
        }
    }

    public func dueDeliveries(now: Int64, limit: Int) throws -> [(WebhookDelivery, Webhook)] {
        try pool.read { db in
            let due = try WebhookDeliveryRecord.fetchAll(db, sql: """
                SELECT d.* FROM webhook_deliveries d JOIN webhooks w ON w.tenant_id = d.tenant_id
                WHERE d.state = 'pending' AND d.next_attempt_at <= ? ORDER BY d.next_attempt_at, d.created_at LIMIT ?
                """, arguments: [now, limit])
            return try due.compactMap { record in
                // The join above keeps only deliveries whose tenant has a webhook, and this read sees the same snapshot.
                try WebhookRecord.fetchOne(db, key: record.delivery.tenant).map { (record.delivery, $0.webhook) }
            }
        }
    }

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

    public func deliveryState(id: String) throws -> (state: String, attempts: Int, lastError: String?)? {
        try pool.read { db in
            guard let row = try Row.fetchOne(db, sql: "SELECT id, state, attempts, last_error FROM webhook_deliveries WHERE id = ?",
                                             arguments: [id]) else { return nil }
            let r = RowReader(row: row, table: "webhook_deliveries", idColumn: "id")
            return (try r("state"), try r("attempts"), try r("last_error"))
        }
    }

    // MARK: Rows

    static func anomalies(_ db: Database, incident: String) throws -> [Anomaly] {
        try anomalies(db, sql: "SELECT * FROM anomalies WHERE incident_id = ? ORDER BY first_day, id", arguments: [incident])
    }
}
