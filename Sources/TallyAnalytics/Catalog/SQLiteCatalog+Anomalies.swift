import GRDB
import TallyStore

extension SQLiteCatalog {
    public func anomaly(id: String) throws -> Anomaly? {
        try pool.read { db in try Self.anomalies(db, sql: "SELECT * FROM anomalies WHERE id = ?", arguments: [id]).first }
    }

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
        return try pool.read { db in try Self.anomalies(db, sql: sql, arguments: StatementArguments(arguments)) }
    }

    public func tenantsWithConfiguration() throws -> [String] {
        try pool.read { db in
            try String.fetchAll(db, sql: "SELECT tenant_id FROM budgets UNION SELECT tenant_id FROM anomaly_settings ORDER BY 1")
        }
    }

    // MARK: Settings

    public func anomalyThresholds(tenant: String, defaults: AnomalyThresholds = AnomalyThresholds()) throws
        -> (thresholds: AnomalyThresholds, custom: Bool) {
        try pool.read { db in
            guard let stored = try AnomalySettingsRecord.fetchOne(db, key: tenant) else { return (defaults, false) }
            return (stored.thresholds, true)
        }
    }

    public func setAnomalyThresholds(_ t: AnomalyThresholds, tenant: String, actor: String, now: Int64) throws {
        try pool.write { db in
            let before = try Row.fetchOne(db, sql: "SELECT tenant_id FROM anomaly_settings WHERE tenant_id = ?", arguments: [tenant])
            try AnomalySettingsRecord(tenant: tenant, thresholds: t, updatedAt: now, updatedBy: actor).insert(db, onConflict: .replace)
            try Self.appendAudit(db, at: now, actor: actor, tenant: tenant, action: before == nil ? "create" : "update",
                                 entityType: "anomaly_settings", entityID: tenant, before: nil,
                                 after: AuditSnapshot.anomalySettings(tenant: tenant, t))
        }
    }

    // MARK: Rows

    /// Inserts or replaces an anomaly and its drivers.
    static func save(_ db: Database, _ a: Anomaly) throws {
        try AnomalyRecord(a).insert(db, onConflict: .replace)
        try db.execute(sql: "DELETE FROM anomaly_drivers WHERE anomaly_id = ?", arguments: [a.id])
        for (rank, d) in a.drivers.enumerated() {
            try AnomalyDriverRecord(anomalyID: a.id, rank: rank, driver: d).insert(db)
        }
        try db.execute(sql: "DELETE FROM anomaly_entity_drivers WHERE anomaly_id = ?", arguments: [a.id])
        for (rank, d) in a.entityDrivers.enumerated() {
            try AnomalyEntityDriverRecord(anomalyID: a.id, rank: rank, driver: d).insert(db)
        }
    }

    /// The anomalies `sql` selects (every column of `anomalies`), each with its drivers.
    static func anomalies(_ db: Database, sql: String, arguments: StatementArguments) throws -> [Anomaly] {
        try AnomalyRecord.fetchAll(db, sql: sql, arguments: arguments).map { record in
            var a = record.anomaly
            a.drivers = try AnomalyDriverRecord.fetchAll(
                db, sql: "SELECT * FROM anomaly_drivers WHERE anomaly_id = ? ORDER BY rank", arguments: [a.id]).map(\.driver)
            a.entityDrivers = try AnomalyEntityDriverRecord.fetchAll(
                db, sql: "SELECT * FROM anomaly_entity_drivers WHERE anomaly_id = ? ORDER BY rank", arguments: [a.id]).map(\.driver)
            return a
        }
    }
}
