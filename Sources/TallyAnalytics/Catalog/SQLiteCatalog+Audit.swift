import GRDB
import TallyText

extension SQLiteCatalog {
    /// Appends one entry to the audit log.
    ///
    /// Call it inside the write transaction that makes the change, so the change and its entry commit together
    /// or not at all. `before` and `after` are `AuditSnapshot`s (they are served as they are).
    static func appendAudit(_ db: Database, at: Int64, actor: String, tenant: String?, action: String, entityType: String,
                            entityID: String, before: String?, after: String?) throws {
        try AuditRecord(AuditEntry(id: 0, at: at, actor: actor, tenant: tenant, action: action, entityType: entityType,
                                   entityID: entityID, before: before, after: after)).insert(db)
    }

    public func auditEntries(_ filter: AuditFilter) throws -> [AuditEntry] {
        var clauses: [String] = []
        var arguments: [(any DatabaseValueConvertible)?] = []
        func add(_ clause: String, _ value: (any DatabaseValueConvertible)?) {
            clauses.append(clause)
            arguments.append(value)
        }
        if let tenant = filter.tenant { add("tenant_id = ?", tenant) }
        if let from = filter.from { add("at >= ?", from) }
        if let to = filter.to { add("at < ?", to) }
        if let type = filter.entityType { add("entity_type = ?", type) }
        if let id = filter.entityID { add("entity_id = ?", id) }
        if let action = filter.action { add("action = ?", action) }
        if let before = filter.beforeID { add("id < ?", before) }
        let sql = "SELECT * FROM audit_log" + (clauses.isEmpty ? "" : " WHERE " + clauses.joined(separator: " AND "))
            + " ORDER BY id DESC LIMIT ?"
        arguments.append(max(0, filter.limit))
        return try pool.read { db in
            try AuditRecord.fetchAll(db, sql: sql, arguments: StatementArguments(arguments)).map(\.entry)
        }
    }
}
