import GRDB

extension SQLiteCatalog {
    public func insertExport(_ e: Export) throws {
        try pool.write { db in try ExportRecord(e).insert(db) }
    }

    public func export(id: String) throws -> Export? {
        try pool.read { db in try ExportRecord.fetchOne(db, key: id)?.export }
    }

    public func exports(tenant: String?, limit: Int = 100) throws -> [Export] {
        try pool.read { db in
            let records = if let tenant {
                try ExportRecord.fetchAll(db, sql: "SELECT * FROM exports WHERE tenant_id = ? ORDER BY created_at DESC, id LIMIT ?",
                                          arguments: [tenant, limit])
            } else {
                try ExportRecord.fetchAll(db, sql: "SELECT * FROM exports ORDER BY created_at DESC, id LIMIT ?", arguments: [limit])
            }
            return records.map(\.export)
        }
    }

    public func updateExport(id: String, status: ExportStatus, rows: Int64? = nil, bytes: Int64? = nil,
                             completedAt: Int64? = nil, error: String? = nil) throws {
        try pool.write { db in
            try db.execute(
                sql: """
                    UPDATE exports SET status = ?, rows = COALESCE(?, rows), bytes = COALESCE(?, bytes),
                                       completed_at = COALESCE(?, completed_at), error = COALESCE(?, error)
                    WHERE id = ?
                    """,
                arguments: [status.rawValue, rows, bytes, completedAt, error, id])
        }
    }

    public func exportsDue(now: Int64) throws -> [Export] {
        try pool.read { db in
            try ExportRecord.fetchAll(db, sql: "SELECT * FROM exports WHERE status != 'expired' AND expires_at <= ? ORDER BY expires_at, id",
                                      arguments: [now]).map(\.export)
        }
    }

    public func exportsInProgress() throws -> [Export] {
        try pool.read { db in
            try ExportRecord.fetchAll(db, sql: "SELECT * FROM exports WHERE status IN ('pending', 'running') ORDER BY created_at, id")
                .map(\.export)
        }
    }
}
