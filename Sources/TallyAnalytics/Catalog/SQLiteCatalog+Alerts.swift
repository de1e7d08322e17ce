import GRDB
import TallyStore

extension SQLiteCatalog {
    public func insertAlertChannel(_ channel: AlertChannel) throws {
        try pool.write { db in
            try AlertChannelRecord(channel).insert(db)
            try Self.appendAudit(db, at: channel.updatedAt, actor: channel.updatedBy, tenant: channel.tenant, action: "create",
                                 entityType: "alert_channel", entityID: channel.id, before: nil, after: AuditSnapshot.alertChannel(channel))
        }
    }

    public func alertChannel(id: String) throws -> AlertChannel? {
        try pool.read { db in try AlertChannelRecord.fetchOne(db, key: id)?.channel }
    }

    public func alertChannels(tenant: String?) throws -> [AlertChannel] {
        try pool.read { db in
            if let tenant {
                return try SQLiteCatalogTransaction(db: db).alertChannels(tenant: tenant)
            }
            return try AlertChannelRecord.fetchAll(db, sql: "SELECT * FROM alert_channels ORDER BY tenant_id, created_at, id").map(\.channel)
        }
    }

    public func updateAlertChannel(_ channel: AlertChannel) throws -> Bool {
        try pool.write { db in
            guard let before = try AlertChannelRecord.fetchOne(db, key: channel.id)?.channel else { return false }
            var stored = channel
            stored.createdAt = before.createdAt
            stored.tenant = before.tenant
            stored.kind = before.kind
            try AlertChannelRecord(stored).update(db)
            try Self.appendAudit(db, at: channel.updatedAt, actor: channel.updatedBy, tenant: before.tenant, action: "update",
                                 entityType: "alert_channel", entityID: channel.id, before: AuditSnapshot.alertChannel(before),
                                 after: AuditSnapshot.alertChannel(stored))
            return true
        }
    }

    public func deleteAlertChannel(id: String, actor: String, at: Int64) throws -> Bool {
        try pool.write { db in
            guard let before = try AlertChannelRecord.fetchOne(db, key: id)?.channel else { return false }
            try db.execute(sql: "DELETE FROM alert_channels WHERE id = ?", arguments: [id])
            try db.execute(sql: "UPDATE alert_deliveries SET state = 'failed', last_error = 'channel deleted' "
                           + "WHERE channel_id = ? AND state = 'pending'", arguments: [id])
            try Self.appendAudit(db, at: at, actor: actor, tenant: before.tenant, action: "delete", entityType: "alert_channel",
                                 entityID: id, before: AuditSnapshot.alertChannel(before), after: nil)
            return true
        }
    }

    public func alertDeliveries(channel id: String, limit: Int) throws -> [AlertDelivery] {
        try pool.read { db in
            try AlertDeliveryRecord.fetchAll(db, sql: """
                SELECT * FROM alert_deliveries WHERE channel_id = ? ORDER BY created_at DESC, id DESC LIMIT ?
                """, arguments: [id, limit]).map(\.delivery)
        }
    }

    public func alertDeliveryCounts(channel id: String) throws -> [String: Int] {
        try pool.read { db in
            var counts: [String: Int] = [:]
            for r in try Row.fetchAll(db, sql: "SELECT state, COUNT(*) AS n FROM alert_deliveries WHERE channel_id = ? GROUP BY state",
                                      arguments: [id]) {
                counts[r["state"]] = r["n"]
            }
            return counts
        }
    }

    public func dueAlertDeliveries(now: Int64, limit: Int) throws -> [(AlertDelivery, AlertChannel)] {
        try pool.read { db in
            let due = try AlertDeliveryRecord.fetchAll(db, sql: """
                SELECT d.* FROM alert_deliveries d JOIN alert_channels c ON c.id = d.channel_id
                WHERE d.state = 'pending' AND d.next_attempt_at <= ? ORDER BY d.next_attempt_at, d.created_at, d.id LIMIT ?
                """, arguments: [now, limit])
            return try due.compactMap { record in
                try AlertChannelRecord.fetchOne(db, key: record.delivery.channelID).map { (record.delivery, $0.channel) }
            }
        }
    }

    public func recordAlertAttempt(id: String, delivered: Bool, error: String?, retryAt: Int64?, now: Int64) throws {
        try pool.write { db in
            if delivered {
                try db.execute(sql: """
                    UPDATE alert_deliveries SET state = 'delivered', attempts = attempts + 1, delivered_at = ?, last_error = NULL
                    WHERE id = ? AND state = 'pending'
                    """, arguments: [now, id])
            } else {
                try db.execute(sql: """
                    UPDATE alert_deliveries SET state = ?, attempts = attempts + 1, next_attempt_at = ?, last_error = ?
                    WHERE id = ? AND state = 'pending'
                    """, arguments: [retryAt == nil ? "failed" : "pending", retryAt ?? now, error, id])
            }
        }
    }
}

/// An alert channel row: the email settings in nullable columns, the recipients one per line.
struct AlertChannelRecord: FetchableRecord, PersistableRecord {
    static let databaseTableName = "alert_channels"
    var channel: AlertChannel

    init(_ channel: AlertChannel) { self.channel = channel }

    init(row: Row) throws {
        let r = RowReader(row: row, table: Self.databaseTableName, idColumn: "id")
        let kind: AlertChannel.Kind = try r("kind")
        var smtp: AlertChannel.SMTPSettings?
        if kind == .email {
            let to: String = try r("mail_to")
            smtp = AlertChannel.SMTPSettings(host: try r("smtp_host"), port: try r("smtp_port"), username: try r("smtp_username"),
                                             password: try r("smtp_password"), from: try r("mail_from"),
                                             to: to.split(separator: "\n").map(String.init))
        }
        let enabled: Int = try r("enabled")
        channel = AlertChannel(id: try r("id"), tenant: try r("tenant_id"), name: try r("name"), kind: kind, url: try r("url"), smtp: smtp,
                               minSeverity: try r("min_severity"), quietMillis: try r("quiet_millis"), enabled: enabled != 0,
                               createdAt: try r("created_at"), updatedAt: try r("updated_at"), updatedBy: try r("updated_by"))
    }

    func encode(to container: inout PersistenceContainer) {
        container["id"] = channel.id
        container["tenant_id"] = channel.tenant
        container["name"] = channel.name
        container["kind"] = channel.kind.rawValue
        container["url"] = channel.url
        container["smtp_host"] = channel.smtp?.host
        container["smtp_port"] = channel.smtp?.port
        container["smtp_username"] = channel.smtp?.username
        container["smtp_password"] = channel.smtp?.password
        container["mail_from"] = channel.smtp?.from
        container["mail_to"] = channel.smtp?.to.joined(separator: "\n")
        container["min_severity"] = channel.minSeverity.rawValue
        container["quiet_millis"] = channel.quietMillis
        container["enabled"] = channel.enabled ? 1 : 0
        container["created_at"] = channel.createdAt
        container["updated_at"] = channel.updatedAt
        container["updated_by"] = channel.updatedBy
    }
}

/// An alert delivery row.
struct AlertDeliveryRecord: FetchableRecord, PersistableRecord {
    static let databaseTableName = "alert_deliveries"
    var delivery: AlertDelivery

    init(_ delivery: AlertDelivery) { self.delivery = delivery }

    init(row: Row) throws {
        let r = RowReader(row: row, table: Self.databaseTableName, idColumn: "id")
        delivery = AlertDelivery(
            id: try r("id"), channelID: try r("channel_id"), tenant: try r("tenant_id"), anomalyID: try r("anomaly_id"),
            series: try r("series"), severity: try r("severity"), subject: try r("subject"), body: try r("body"), state: try r("state"),
            attempts: try r("attempts"), nextAttemptAt: try r("next_attempt_at"), lastError: try r("last_error"),
            createdAt: try r("created_at"), deliveredAt: try r("delivered_at"))
    }

    func encode(to container: inout PersistenceContainer) {
        container["id"] = delivery.id
        container["channel_id"] = delivery.channelID
        container["tenant_id"] = delivery.tenant
        container["anomaly_id"] = delivery.anomalyID
        container["series"] = delivery.series
        container["severity"] = delivery.severity.rawValue
        container["subject"] = delivery.subject
        container["body"] = delivery.body
        container["state"] = delivery.state
        container["attempts"] = delivery.attempts
        container["next_attempt_at"] = delivery.nextAttemptAt
        container["last_error"] = delivery.lastError
        container["created_at"] = delivery.createdAt
        container["delivered_at"] = delivery.deliveredAt
    }
}
