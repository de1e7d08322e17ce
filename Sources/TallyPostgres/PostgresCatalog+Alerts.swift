import PostgresNIO
import TallyAnalytics
import TallyStore

// Alert channels and their deliveries.
extension PostgresCatalog {
    public func insertAlertChannel(_ c: AlertChannel) throws {
        try transaction { s in
            try Self.insertOrUpdate(s, c, insert: true)
            try Self.appendAudit(s, at: c.updatedAt, actor: c.updatedBy, tenant: c.tenant, action: "create", entityType: "alert_channel",
                                 entityID: c.id, before: nil, after: AuditSnapshot.alertChannel(c))
        }
    }

    public func alertChannel(id: String) throws -> AlertChannel? {
        try session { try $0.rows("SELECT * FROM alert_channels WHERE id = \(id)").first.map(Rows.alertChannel) }
    }

    public func alertChannels(tenant: String?) throws -> [AlertChannel] {
        try session { s in
            if let tenant {
                return try s.rows("SELECT * FROM alert_channels WHERE tenant_id = \(tenant) ORDER BY created_at, id").map(Rows.alertChannel)
            }
            return try s.rows("SELECT * FROM alert_channels ORDER BY tenant_id, created_at, id").map(Rows.alertChannel)
        }
    }

    public func updateAlertChannel(_ channel: AlertChannel) throws -> Bool {
        try transaction { s in
            guard let before = try s.rows("SELECT * FROM alert_channels WHERE id = \(channel.id) FOR UPDATE").first.map(Rows.alertChannel) else {
                return false
            }
            var stored = channel
            stored.createdAt = before.createdAt
            stored.tenant = before.tenant
            stored.kind = before.kind
            try Self.insertOrUpdate(s, stored, insert: false)
            try Self.appendAudit(s, at: channel.updatedAt, actor: channel.updatedBy, tenant: before.tenant, action: "update",
                                 entityType: "alert_channel", entityID: channel.id, before: AuditSnapshot.alertChannel(before),
                                 after: AuditSnapshot.alertChannel(stored))
            return true
        }
    }

    public func deleteAlertChannel(id: String, actor: String, at: Int64) throws -> Bool {
        try transaction { s in
            guard let before = try s.rows("SELECT * FROM alert_channels WHERE id = \(id) FOR UPDATE").first.map(Rows.alertChannel) else {
                return false
            }
            try s.run("DELETE FROM alert_channels WHERE id = \(id)")
            try s.run("""
                UPDATE alert_deliveries SET state = 'failed', last_error = 'channel deleted' WHERE channel_id = \(id) AND state = 'pending'
                """)
            try Self.appendAudit(s, at: at, actor: actor, tenant: before.tenant, action: "delete", entityType: "alert_channel",
                                 entityID: id, before: AuditSnapshot.alertChannel(before), after: nil)
            return true
        }
    }

    public func alertDeliveries(channel id: String, limit: Int) throws -> [AlertDelivery] {
        try session { s in
            try s.rows("SELECT * FROM alert_deliveries WHERE channel_id = \(id) ORDER BY created_at DESC, id DESC LIMIT \(limit)")
                .map(Rows.alertDelivery)
        }
    }

    public func alertDeliveryCounts(channel id: String) throws -> [String: Int] {
        try session { s in
            var counts: [String: Int] = [:]
            for row in try s.rows("SELECT state, COUNT(*) FROM alert_deliveries WHERE channel_id = \(id) GROUP BY state") {
                let (state, n) = try row.decode((String, Int).self)
                counts[state] = n
            }
            return counts
        }
    }

    public func dueAlertDeliveries(now: Int64, limit: Int) throws -> [(AlertDelivery, AlertChannel)] {
        try session { s in
            // Two statements on one connection (not one snapshot): a channel deleted in between drops its delivery here,
            // and deleting it gave the delivery up anyway.
            let due = try s.rows("""
                SELECT d.* FROM alert_deliveries d JOIN alert_channels c ON c.id = d.channel_id
                WHERE d.state = 'pending' AND d.next_attempt_at <= \(now) ORDER BY d.next_attempt_at, d.created_at, d.id LIMIT \(limit)
                """).map(Rows.alertDelivery)
            guard !due.isEmpty else { return [] }
            let ids = Array(Set(due.map(\.channelID)))
            var channels: [String: AlertChannel] = [:]
            for c in try s.rows("SELECT * FROM alert_channels WHERE id = ANY(\(ids))").map(Rows.alertChannel) { channels[c.id] = c }
            return due.compactMap { d in channels[d.channelID].map { (d, $0) } }
        }
    }

    public func recordAlertAttempt(id: String, delivered: Bool, error: String?, retryAt: Int64?, now: Int64) throws {
        try session { s in
            if delivered {
                try s.run("""
                    UPDATE alert_deliveries SET state = 'delivered', attempts = attempts + 1, delivered_at = \(now), last_error = NULL
                    WHERE id = \(id) AND state = 'pending'
                    """)
            } else {
                try s.run("""
                    UPDATE alert_deliveries SET state = \(retryAt == nil ? "failed" : "pending"), attempts = attempts + 1,
                        next_attempt_at = \(retryAt ?? now), last_error = \(error)
                    WHERE id = \(id) AND state = 'pending'
                    """)
            }
        }
    }

    static func insertOrUpdate(_ s: PostgresSession, _ c: AlertChannel, insert: Bool) throws {
        let to = c.smtp.map { $0.to.joined(separator: "\n") }
        if insert {
            try s.run("""
                INSERT INTO alert_channels (id, tenant_id, name, kind, url, smtp_host, smtp_port, smtp_username, smtp_password, mail_from,
                                            mail_to, min_severity, quiet_millis, enabled, created_at, updated_at, updated_by)
                VALUES (\(c.id), \(c.tenant), \(c.name), \(c.kind.rawValue), \(c.url), \(c.smtp?.host), \(c.smtp?.port), \(c.smtp?.username),
                        \(c.smtp?.password), \(c.smtp?.from), \(to), \(c.minSeverity.rawValue), \(c.quietMillis), \(c.enabled), \(c.createdAt),
                        \(c.updatedAt), \(c.updatedBy))
                """)
        } else {
            try s.run("""
                UPDATE alert_channels SET name = \(c.name), url = \(c.url), smtp_host = \(c.smtp?.host), smtp_port = \(c.smtp?.port),
                    smtp_username = \(c.smtp?.username), smtp_password = \(c.smtp?.password), mail_from = \(c.smtp?.from), mail_to = \(to),
                    min_severity = \(c.minSeverity.rawValue), quiet_millis = \(c.quietMillis), enabled = \(c.enabled),
                    updated_at = \(c.updatedAt), updated_by = \(c.updatedBy)
                WHERE id = \(c.id)
                """)
        }
    }
}
