import GRDB
import TallyStore
import TallyText

/// A rule that held in one detection run, with its drivers: what `Catalog.recordDetection` turns into episodes.
struct AnomalyFinding: Sendable {
    var type: AnomalyType
    var severity: AnomalySeverity
    var entity: AnomalyEntity
    /// The budget of a BUDGET_* finding; empty otherwise.
    var budgetID: String
    /// Start of the first and last UTC day the condition held, ms.
    var firstDay: Int64
    var lastDay: Int64
    var expectedNanos: Int64
    var actualNanos: Int64
    /// Whether the condition holds on the last day the run judged.
    var ongoing: Bool
    var drivers: [AnomalyDriver]
}

/// What one detection run of a tenant changed in the catalog.
public struct DetectionChanges: Sendable, Equatable {
    /// Anomalies created, updated (same episode) and resolved because their condition ended.
    public var created: [String] = []
    public var updated: [String] = []
    public var resolved: [String] = []
    /// Incidents opened.
    public var incidentsOpened: [String] = []

    /// Nothing changed.
    public init() {}
}

extension Catalog {
    /// Records the findings of one detection run of `tenant` in one transaction: each finding updates the episode it
    /// continues (same type and entity, days overlapping or adjacent; for budgets the same budget and period) or
    /// starts one; episodes whose condition ended are resolved; HIGH anomalies and exceeded budgets open or join an
    /// incident. `judgedFrom ... judgedThrough` are the first and last day the run judged: an open spike or drift
    /// whose last day lies in that range and that the run did not find again has ended.
    func recordDetection(tenant: String, findings: [AnomalyFinding], judgedFrom: Int64, judgedThrough: Int64,
                         now: Int64) throws -> DetectionChanges {
        try pool.write { db in
            var changes = DetectionChanges()
            var seen = Set<String>()
            for f in findings {
                var anomaly: Anomaly
                if var existing = try Self.episode(db, tenant: tenant, finding: f) {
                    existing.firstDay = min(existing.firstDay, f.firstDay)
                    existing.lastDay = max(existing.lastDay, f.lastDay)
                    existing.severity = f.severity
                    existing.expectedNanos = f.expectedNanos
                    existing.actualNanos = f.actualNanos
                    existing.drivers = f.drivers
                    existing.updatedAt = now
                    if f.ongoing, existing.status == .resolved, existing.resolvedBy == Anomaly.detectorActor {
                        existing.status = .open
                        existing.resolvedAt = nil
                        existing.resolvedBy = nil
                    }
                    anomaly = existing
                    changes.updated.append(anomaly.id)
                } else {
                    anomaly = Anomaly(
                        id: "anm_" + hex(randomBytes(6)), tenant: tenant, type: f.type, severity: f.severity, entity: f.entity,
                        budgetID: f.budgetID, firstDay: f.firstDay, lastDay: f.lastDay, expectedNanos: f.expectedNanos,
                        actualNanos: f.actualNanos, drivers: f.drivers, status: .open, resolvedAt: nil, resolvedBy: nil,
                        incidentID: nil, detectedAt: now, updatedAt: now)
                    changes.created.append(anomaly.id)
                }
                if !f.ongoing && anomaly.status == .open {
                    anomaly.status = .resolved
                    anomaly.resolvedAt = now
                    anomaly.resolvedBy = Anomaly.detectorActor
                    changes.resolved.append(anomaly.id)
                }
                if anomaly.needsIncident && anomaly.incidentID == nil {
                    let (incident, opened) = try Self.incidentToJoin(db, for: anomaly, now: now)
                    anomaly.incidentID = incident
                    if opened { changes.incidentsOpened.append(incident) }
                }
                try Self.save(db, anomaly)
                seen.insert(anomaly.id)
            }
            // Open episodes the run judged and did not find again have ended.
            let open = try Row.fetchAll(db, sql: """
                SELECT * FROM anomalies WHERE tenant_id = ? AND status = 'open'
                  AND ((type IN ('ABSOLUTE_SPIKE', 'SUSTAINED_DRIFT') AND last_day >= ? AND last_day <= ?)
                       OR type IN ('BUDGET_WARNING', 'BUDGET_EXCEEDED'))
                """, arguments: [tenant, judgedFrom - TimeUnit.dayMillis, judgedThrough])
            for row in open {
                guard var a = try Self.anomaly(db, row: row), !seen.contains(a.id) else { continue }
                a.status = .resolved
                a.resolvedAt = now
                a.resolvedBy = Anomaly.detectorActor
                a.updatedAt = now
                try Self.save(db, a)
                changes.resolved.append(a.id)
            }
            for id in changes.incidentsOpened {
                if let incident = try Self.incident(db, id: id) {
                    try Self.incidentChanged(db, before: nil, after: incident, actor: Anomaly.detectorActor, now: now)
                }
            }
            return changes
        }
    }

    /// The anomaly `id`, with its drivers.
    public func anomaly(id: String) throws -> Anomaly? {
        try pool.read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM anomalies WHERE id = ?", arguments: [id]).flatMap { try Self.anomaly(db, row: $0) }
        }
    }

    /// The anomalies of `tenant` (every tenant's when nil) that pass `filter`, newest last day first.
    public func anomalies(tenant: String?, filter: AnomalyFilter) throws -> [Anomaly] {
        var sql = "SELECT * FROM anomalies WHERE 1 = 1"
        var arguments: [any DatabaseValueConvertible] = []
        if let tenant { sql += " AND tenant_id = ?"; arguments.append(tenant) }
        // Days overlap the window: the last day ends after `from`, the first day starts before `to`.
        if let from = filter.from { sql += " AND last_day + ? > ?"; arguments += [TimeUnit.dayMillis, from] }
        if let to = filter.to { sql += " AND first_day < ?"; arguments.append(to) }
        if let type = filter.type { sql += " AND type = ?"; arguments.append(type.rawValue) }
        if let severity = filter.severity { sql += " AND severity = ?"; arguments.append(severity.rawValue) }
        if let level = filter.level { sql += " AND level = ?"; arguments.append(level.rawValue) }
        if let value = filter.value { sql += " AND subject = ?"; arguments.append(value) }
        if let resolved = filter.resolved { sql += " AND status = ?"; arguments.append(resolved ? "resolved" : "open") }
        sql += " ORDER BY last_day DESC, first_day DESC, id LIMIT ?"
        arguments.append(filter.limit)
        return try pool.read { db in
            try Row.fetchAll(db, sql: sql, arguments: StatementArguments(arguments)).compactMap { try Self.anomaly(db, row: $0) }
        }
    }

    /// Resolves the anomaly `id` by hand (`actor` is the key), with an audit entry; returns it as it is after.
    /// An anomaly already resolved is returned unchanged.
    func resolveAnomaly(id: String, actor: String, now: Int64) throws -> Anomaly? {
        try pool.write { db in
            guard let row = try Row.fetchOne(db, sql: "SELECT * FROM anomalies WHERE id = ?", arguments: [id]),
                  var a = try Self.anomaly(db, row: row) else { return nil }
            guard a.status == .open else { return a }
            let before = AuditSnapshot.anomaly(a)
            a.status = .resolved
            a.resolvedAt = now
            a.resolvedBy = actor
            a.updatedAt = now
            try Self.save(db, a)
            try Self.appendAudit(db, at: now, actor: actor, tenant: a.tenant, action: "resolve", entityType: "anomaly",
                                 entityID: a.id, before: before, after: AuditSnapshot.anomaly(a))
            return a
        }
    }

    /// The tenants with records or budgets to judge: every tenant that has a budget or an anomaly setting, plus `more`.
    func tenantsWithConfiguration() throws -> [String] {
        try pool.read { db in
            try String.fetchAll(db, sql: "SELECT tenant_id FROM budgets UNION SELECT tenant_id FROM anomaly_settings ORDER BY 1")
        }
    }

    // MARK: Settings

    /// The thresholds of `tenant`: its settings, or `defaults`.
    public func anomalyThresholds(tenant: String, defaults: AnomalyThresholds = AnomalyThresholds()) throws
        -> (thresholds: AnomalyThresholds, custom: Bool) {
        try pool.read { db in
            guard let r = try Row.fetchOne(db, sql: "SELECT * FROM anomaly_settings WHERE tenant_id = ?", arguments: [tenant]) else {
                return (defaults, false)
            }
            var t = AnomalyThresholds()
            t.spikeFactorPPM = r["spike_factor_ppm"]
            t.spikeDays = r["spike_days"]
            t.baselineDays = r["baseline_days"]
            t.driftFactorPPM = r["drift_factor_ppm"]
            t.driftDays = r["drift_days"]
            t.driftWindowDays = r["drift_window_days"]
            t.minimumDailyNanos = r["minimum_daily_nanos"]
            t.lowPercent = r["low_percent"]
            t.mediumPercent = r["medium_percent"]
            t.highPercent = r["high_percent"]
            return (t, true)
        }
    }

    /// Stores the thresholds of `tenant`, with an audit entry.
    func setAnomalyThresholds(_ t: AnomalyThresholds, tenant: String, actor: String, now: Int64) throws {
        try pool.write { db in
            let before = try Row.fetchOne(db, sql: "SELECT tenant_id FROM anomaly_settings WHERE tenant_id = ?", arguments: [tenant])
            try db.execute(sql: """
                INSERT OR REPLACE INTO anomaly_settings (tenant_id, spike_factor_ppm, spike_days, baseline_days, drift_factor_ppm,
                    drift_days, drift_window_days, minimum_daily_nanos, low_percent, medium_percent, high_percent, updated_at,
                    updated_by)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """, arguments: [tenant, t.spikeFactorPPM, t.spikeDays, t.baselineDays, t.driftFactorPPM, t.driftDays,
                                 t.driftWindowDays, t.minimumDailyNanos, t.lowPercent, t.mediumPercent, t.highPercent, now, actor])
            try Self.appendAudit(db, at: now, actor: actor, tenant: tenant, action: before == nil ? "create" : "update",
                                 entityType: "anomaly_settings", entityID: tenant, before: nil,
                                 after: AuditSnapshot.anomalySettings(tenant: tenant, t))
        }
    }

    // MARK: Rows

    /// The stored episode a finding continues, if any.
    private static func episode(_ db: Database, tenant: String, finding f: AnomalyFinding) throws -> Anomaly? {
        let row: Row?
        if f.type.isBudget {
            row = try Row.fetchOne(db, sql: """
                SELECT * FROM anomalies WHERE tenant_id = ? AND type = ? AND budget_id = ? AND first_day = ?
                ORDER BY last_day DESC LIMIT 1
                """, arguments: [tenant, f.type.rawValue, f.budgetID, f.firstDay])
        } else {
            row = try Row.fetchOne(db, sql: """
                SELECT * FROM anomalies WHERE tenant_id = ? AND type = ? AND level = ? AND subject = ? AND budget_id = ''
                  AND last_day >= ? AND first_day <= ?
                ORDER BY last_day DESC LIMIT 1
                """, arguments: [tenant, f.type.rawValue, f.entity.level.rawValue, f.entity.value,
                                 f.firstDay - TimeUnit.dayMillis, f.lastDay + TimeUnit.dayMillis])
        }
        return try row.flatMap { try anomaly(db, row: $0) }
    }

    static func save(_ db: Database, _ a: Anomaly) throws {
        try db.execute(sql: """
            INSERT OR REPLACE INTO anomalies (id, tenant_id, type, severity, level, subject, budget_id, first_day, last_day,
                expected_nanos, actual_nanos, status, resolved_at, resolved_by, incident_id, detected_at, updated_at)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """, arguments: [a.id, a.tenant, a.type.rawValue, a.severity.rawValue, a.entity.level.rawValue, a.entity.value,
                             a.budgetID, a.firstDay, a.lastDay, a.expectedNanos, a.actualNanos, a.status.rawValue, a.resolvedAt,
                             a.resolvedBy, a.incidentID, a.detectedAt, a.updatedAt])
        try db.execute(sql: "DELETE FROM anomaly_drivers WHERE anomaly_id = ?", arguments: [a.id])
        for (rank, d) in a.drivers.enumerated() {
            try db.execute(sql: """
                INSERT INTO anomaly_drivers (anomaly_id, rank, dimension, value, expected_nanos, actual_nanos, share_ppm)
                VALUES (?, ?, ?, ?, ?, ?, ?)
                """, arguments: [a.id, rank, d.dimension.fieldName, d.value, d.expectedNanos, d.actualNanos, d.sharePPM])
        }
    }

    static func anomaly(_ db: Database, row r: Row) throws -> Anomaly? {
        guard let type = AnomalyType(rawValue: r["type"]), let severity = AnomalySeverity(rawValue: r["severity"]),
              let level = Budget.Level(rawValue: r["level"]), let status = Anomaly.Status(rawValue: r["status"]) else { return nil }
        let id: String = r["id"]
        let drivers = try Row.fetchAll(db, sql: "SELECT * FROM anomaly_drivers WHERE anomaly_id = ? ORDER BY rank", arguments: [id])
            .compactMap { d -> AnomalyDriver? in
                guard let dimension = Dimension.allCases.first(where: { $0.fieldName == (d["dimension"] as String) }) else { return nil }
                return AnomalyDriver(dimension: dimension, value: d["value"], expectedNanos: d["expected_nanos"],
                                     actualNanos: d["actual_nanos"], sharePPM: d["share_ppm"])
            }
        return Anomaly(
            id: id, tenant: r["tenant_id"], type: type, severity: severity, entity: AnomalyEntity(level: level, value: r["subject"]),
            budgetID: r["budget_id"], firstDay: r["first_day"], lastDay: r["last_day"], expectedNanos: r["expected_nanos"],
            actualNanos: r["actual_nanos"], drivers: drivers, status: status, resolvedAt: r["resolved_at"],
            resolvedBy: r["resolved_by"], incidentID: r["incident_id"], detectedAt: r["detected_at"], updatedAt: r["updated_at"])
    }
}
