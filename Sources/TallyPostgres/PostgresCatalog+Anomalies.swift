import Foundation
import PostgresNIO
import TallyAnalytics
import TallyStore

// Anomalies, settings, incidents, webhooks and deliveries.

extension PostgresCatalog {
    // MARK: Anomalies

    public func anomaly(id: String) throws -> Anomaly? {
        try session { try Self.anomalies($0, "SELECT * FROM anomalies WHERE id = \(id)").first }
    }

    public func anomalies(tenant: String?, filter: AnomalyFilter) throws -> [Anomaly] {
        var q = SQL("SELECT * FROM anomalies WHERE TRUE")
        if let tenant { q.add(" AND tenant_id = ", tenant) }
        // Days overlap the window: the last day ends after `from`, the first day starts before `to`.
        if let from = filter.from { q.add(" AND last_day > ", from - TimeUnit.dayMillis) }
        if let to = filter.to { q.add(" AND first_day < ", to) }
        if let type = filter.type { q.add(" AND type = ", type.rawValue) }
        if let severity = filter.severity { q.add(" AND severity = ", severity.rawValue) }
        if let level = filter.level { q.add(" AND level = ", level.rawValue) }
        if let value = filter.value { q.add(" AND subject = ", value) }
        if let resolved = filter.resolved { q.add(" AND status = ", resolved ? "resolved" : "open") }
        q.add(" ORDER BY last_day DESC, first_day DESC, id LIMIT ", filter.limit)
        return try session { try Self.anomalies($0, q.query) }
    }

    public func tenantsWithConfiguration() throws -> [String] {
        try session { s in
            try s.rows("SELECT tenant_id FROM budgets UNION SELECT tenant_id FROM anomaly_settings ORDER BY 1").map { try $0.decode(String.self) }
        }
    }

    public func anomalyThresholds(tenant: String, defaults: AnomalyThresholds) throws -> (thresholds: AnomalyThresholds, custom: Bool) {
        try session { s in
            guard let row = try s.rows("SELECT * FROM anomaly_settings WHERE tenant_id = \(tenant)").first else { return (defaults, false) }
            return (try Rows.thresholds(row), true)
        }
    }

    public func setAnomalyThresholds(_ t: AnomalyThresholds, tenant: String, actor: String, now: Int64) throws {
        try transaction { s in
            // The row may not exist yet: a lock on the name, so two nodes agree on which change creates it.
            try Self.lock(s, "tally.anomaly_settings." + tenant)
            let existed = try !s.rows("SELECT tenant_id FROM anomaly_settings WHERE tenant_id = \(tenant)").isEmpty
            try s.run("""
                INSERT INTO anomaly_settings (tenant_id, spike_factor_ppm, spike_days, baseline_days, drift_factor_ppm, drift_days,
                                              drift_window_days, minimum_daily_nanos, low_percent, medium_percent, high_percent,
                                              updated_at, updated_by)
                VALUES (\(tenant), \(t.spikeFactorPPM), \(Int64(t.spikeDays)), \(Int64(t.baselineDays)), \(t.driftFactorPPM),
                        \(Int64(t.driftDays)), \(Int64(t.driftWindowDays)), \(t.minimumDailyNanos), \(t.lowPercent), \(t.mediumPercent),
                        \(t.highPercent), \(now), \(actor))
                ON CONFLICT (tenant_id) DO UPDATE SET
                    spike_factor_ppm = EXCLUDED.spike_factor_ppm, spike_days = EXCLUDED.spike_days,
                    baseline_days = EXCLUDED.baseline_days, drift_factor_ppm = EXCLUDED.drift_factor_ppm,
                    drift_days = EXCLUDED.drift_days, drift_window_days = EXCLUDED.drift_window_days,
                    minimum_daily_nanos = EXCLUDED.minimum_daily_nanos, low_percent = EXCLUDED.low_percent,
                    medium_percent = EXCLUDED.medium_percent, high_percent = EXCLUDED.high_percent,
                    updated_at = EXCLUDED.updated_at, updated_by = EXCLUDED.updated_by
                """)
            try Self.appendAudit(s, at: now, actor: actor, tenant: tenant, action: existed ? "update" : "create",
                                 entityType: "anomaly_settings", entityID: tenant, before: nil,
                                 after: AuditSnapshot.anomalySettings(tenant: tenant, t))
        }
    }

    // MARK: Incidents

    public func incident(id: String) throws -> IncidentView? {
        try session { s in
            guard let incident = try s.rows("SELECT * FROM incidents WHERE id = \(id)").first.map(Rows.incident) else { return nil }
            return IncidentView(incident: incident, anomalies: try Self.anomalies(s, incident: id))
        }
    }

    public func incidents(tenant: String?, status: Incident.Status?, limit: Int) throws -> [IncidentView] {
        var q = SQL("SELECT * FROM incidents WHERE TRUE")
        if let tenant { q.add(" AND tenant_id = ", tenant) }
        if let status { q.add(" AND status = ", status.rawValue) }
        q.add(" ORDER BY opened_at DESC, id LIMIT ", limit)
        return try session { s in
            let incidents = try s.rows(q.query).map(Rows.incident)
            let anomalies = try Self.anomalies(s, "SELECT * FROM anomalies WHERE incident_id = ANY(\(incidents.map(\.id))) ORDER BY first_day, id")
            return incidents.map { i in IncidentView(incident: i, anomalies: anomalies.filter { $0.incidentID == i.id }) }
        }
    }

    // MARK: Webhooks and deliveries

    public func setWebhook(_ webhook: Webhook) throws {
        try transaction { s in
            try Self.lock(s, "tally.webhooks." + webhook.tenant)
            let before = try s.rows("SELECT * FROM webhooks WHERE tenant_id = \(webhook.tenant)").first.map(Rows.webhook)
            let createdAt = before?.createdAt ?? webhook.createdAt
            try s.run("""
                INSERT INTO webhooks (tenant_id, url, secret, created_at, updated_at, updated_by)
                VALUES (\(webhook.tenant), \(webhook.url), \(webhook.secret), \(createdAt), \(webhook.updatedAt), \(webhook.updatedBy))
                ON CONFLICT (tenant_id) DO UPDATE SET url = EXCLUDED.url, secret = EXCLUDED.secret, created_at = EXCLUDED.created_at,
                    updated_at = EXCLUDED.updated_at, updated_by = EXCLUDED.updated_by
                """)
            try Self.appendAudit(s, at: webhook.updatedAt, actor: webhook.updatedBy, tenant: webhook.tenant,
                                 action: before == nil ? "create" : "update", entityType: "webhook", entityID: webhook.tenant,
                                 before: before.map(AuditSnapshot.webhook), after: AuditSnapshot.webhook(webhook))
        }
    }

    public func webhook(tenant: String) throws -> Webhook? {
        try session { try $0.rows("SELECT * FROM webhooks WHERE tenant_id = \(tenant)").first.map(Rows.webhook) }
    }

    public func deleteWebhook(tenant: String, actor: String, now: Int64) throws -> Bool {
        try transaction { s in
            try Self.lock(s, "tally.webhooks." + tenant)
            guard let before = try s.rows("SELECT * FROM webhooks WHERE tenant_id = \(tenant)").first.map(Rows.webhook) else { return false }
            try s.run("DELETE FROM webhooks WHERE tenant_id = \(tenant)")
            try s.run("""
                UPDATE webhook_deliveries SET state = 'failed', last_error = 'webhook deleted' WHERE tenant_id = \(tenant) AND state = 'pending'
                """)
            try Self.appendAudit(s, at: now, actor: actor, tenant: tenant, action: "delete", entityType: "webhook",
                                 entityID: tenant, before: AuditSnapshot.webhook(before), after: nil)
            return true
        }
    }

    public func deliveryCounts(tenant: String) throws -> [String: Int] {
        try session { s in
            var counts: [String: Int] = [:]
            for row in try s.rows("SELECT state, COUNT(*) FROM webhook_deliveries WHERE tenant_id = \(tenant) GROUP BY state") {
                let (state, n) = try row.decode((String, Int).self)
                counts[state] = n
            }
            return counts
        }
    }

    public func dueDeliveries(now: Int64, limit: Int) throws -> [(WebhookDelivery, Webhook)] {
        try session { s in
            // One statement: each delivery with its tenant's webhook as of the same snapshot.
            try s.rows("""
                SELECT d.id, d.tenant_id, d.incident_id, d.event, d.body, d.attempts, d.next_attempt_at,
                       w.url, w.secret, w.created_at, w.updated_at, w.updated_by
                FROM webhook_deliveries d JOIN webhooks w ON w.tenant_id = d.tenant_id
                WHERE d.state = 'pending' AND d.next_attempt_at <= \(now) ORDER BY d.next_attempt_at, d.created_at LIMIT \(limit)
                """).map { row in (try Rows.delivery(row), try Rows.webhook(row)) }
        }
    }

    public func recordDeliveryAttempt(id: String, delivered: Bool, error: String?, retryAt: Int64?, now: Int64) throws {
        try session { s in
            if delivered {
                try s.run("""
                    UPDATE webhook_deliveries SET state = 'delivered', attempts = attempts + 1, delivered_at = \(now), last_error = NULL
                    WHERE id = \(id) AND state = 'pending'
                    """)
            } else {
                try s.run("""
                    UPDATE webhook_deliveries SET state = \(retryAt == nil ? "failed" : "pending"), attempts = attempts + 1,
                        next_attempt_at = \(retryAt ?? now), last_error = \(error)
                    WHERE id = \(id) AND state = 'pending'
                    """)
            }
        }
    }

    public func deliveryState(id: String) throws -> (state: String, attempts: Int, lastError: String?)? {
        try session { s in
            guard let row = try s.rows("SELECT id, state, attempts, last_error FROM webhook_deliveries WHERE id = \(id)").first else {
                return nil
            }
            let r = RowReader(row, table: "webhook_deliveries")
            return (try r("state"), try r("attempts"), try r("last_error"))
        }
    }

    // MARK: Rows

    /// Inserts or replaces an anomaly and its drivers.
    static func save(_ s: PostgresSession, _ a: Anomaly) throws {
        try s.run("""
            INSERT INTO anomalies (id, tenant_id, type, severity, level, subject, budget_id, first_day, last_day, expected_nanos,
                                   actual_nanos, status, resolved_at, resolved_by, incident_id, detected_at, updated_at, provisional)
            VALUES (\(a.id), \(a.tenant), \(a.type.rawValue), \(a.severity.rawValue), \(a.entity.level.rawValue), \(a.entity.value),
                    \(a.budgetID), \(a.firstDay), \(a.lastDay), \(a.expectedNanos), \(a.actualNanos), \(a.status.rawValue), \(a.resolvedAt),
                    \(a.resolvedBy), \(a.incidentID), \(a.detectedAt), \(a.updatedAt), \(a.provisional))
            ON CONFLICT (id) DO UPDATE SET
                tenant_id = EXCLUDED.tenant_id, type = EXCLUDED.type, severity = EXCLUDED.severity, level = EXCLUDED.level,
                subject = EXCLUDED.subject, budget_id = EXCLUDED.budget_id, first_day = EXCLUDED.first_day, last_day = EXCLUDED.last_day,
                expected_nanos = EXCLUDED.expected_nanos, actual_nanos = EXCLUDED.actual_nanos, status = EXCLUDED.status,
                resolved_at = EXCLUDED.resolved_at, resolved_by = EXCLUDED.resolved_by, incident_id = EXCLUDED.incident_id,
                detected_at = EXCLUDED.detected_at, updated_at = EXCLUDED.updated_at, provisional = EXCLUDED.provisional
            """)
        try s.run("DELETE FROM anomaly_drivers WHERE anomaly_id = \(a.id)")
        for (rank, d) in a.drivers.enumerated() {
            try s.run("""
                INSERT INTO anomaly_drivers (anomaly_id, rank, dimension, value, expected_nanos, actual_nanos, share_ppm)
                VALUES (\(a.id), \(rank), \(d.dimension.fieldName), \(d.value), \(d.expectedNanos), \(d.actualNanos), \(d.sharePPM))
                """)
        }
        try s.run("DELETE FROM anomaly_entity_drivers WHERE anomaly_id = \(a.id)")
        for (rank, d) in a.entityDrivers.enumerated() {
            try s.run("""
                INSERT INTO anomaly_entity_drivers (anomaly_id, rank, level, subject, type, severity, first_day, last_day,
                                                    expected_nanos, actual_nanos, share_ppm)
                VALUES (\(a.id), \(rank), \(d.entity.level.rawValue), \(d.entity.value), \(d.type.rawValue), \(d.severity.rawValue),
                        \(d.firstDay), \(d.lastDay), \(d.expectedNanos), \(d.actualNanos), \(d.sharePPM))
                """)
        }
    }

    /// The anomalies `query` selects (every column of `anomalies`), each with its drivers in rank order.
    static func anomalies(_ s: PostgresSession, _ query: PostgresQuery) throws -> [Anomaly] {
        var anomalies = try s.rows(query).map(Rows.anomaly)
        guard !anomalies.isEmpty else { return [] }
        var drivers: [String: [AnomalyDriver]] = [:]
        for row in try s.rows("SELECT * FROM anomaly_drivers WHERE anomaly_id = ANY(\(anomalies.map(\.id))) ORDER BY anomaly_id, rank") {
            let (id, driver) = try Rows.driver(row)
            drivers[id, default: []].append(driver)
        }
        var entityDrivers: [String: [AnomalyEntityDriver]] = [:]
        for row in try s.rows("""
            SELECT * FROM anomaly_entity_drivers WHERE anomaly_id = ANY(\(anomalies.map(\.id))) ORDER BY anomaly_id, rank
            """) {
            let (id, driver) = try Rows.entityDriver(row)
            entityDrivers[id, default: []].append(driver)
        }
        for i in anomalies.indices {
            anomalies[i].drivers = drivers[anomalies[i].id] ?? []
            anomalies[i].entityDrivers = entityDrivers[anomalies[i].id] ?? []
        }
        return anomalies
    }

    static func anomalies(_ s: PostgresSession, incident: String) throws -> [Anomaly] {
        try anomalies(s, "SELECT * FROM anomalies WHERE incident_id = \(incident) ORDER BY first_day, id")
    }

    static func saveIncident(_ s: PostgresSession, _ i: Incident) throws {
        try s.run("""
            INSERT INTO incidents (id, tenant_id, status, severity, title, opened_at, acknowledged_at, acknowledged_by, resolved_at,
                                   resolved_by, updated_at)
            VALUES (\(i.id), \(i.tenant), \(i.status.rawValue), \(i.severity.rawValue), \(i.title), \(i.openedAt), \(i.acknowledgedAt),
                    \(i.acknowledgedBy), \(i.resolvedAt), \(i.resolvedBy), \(i.updatedAt))
            ON CONFLICT (id) DO UPDATE SET
                tenant_id = EXCLUDED.tenant_id, status = EXCLUDED.status, severity = EXCLUDED.severity, title = EXCLUDED.title,
                opened_at = EXCLUDED.opened_at, acknowledged_at = EXCLUDED.acknowledged_at, acknowledged_by = EXCLUDED.acknowledged_by,
                resolved_at = EXCLUDED.resolved_at, resolved_by = EXCLUDED.resolved_by, updated_at = EXCLUDED.updated_at
            """)
    }

    static func insertDelivery(_ s: PostgresSession, _ d: WebhookDelivery, now: Int64) throws {
        try s.run("""
            INSERT INTO webhook_deliveries (id, tenant_id, incident_id, event, body, state, attempts, next_attempt_at, last_error,
                                            created_at, delivered_at)
            VALUES (\(d.id), \(d.tenant), \(d.incidentID), \(d.event), \(String(decoding: d.body, as: UTF8.self)), 'pending',
                    \(d.attempts), \(d.nextAttemptAt), NULL, \(now), NULL)
            """)
    }
}
