import GRDB

extension Catalog {
    /// Stores a new export.
    public func insertExport(_ e: Export) throws {
        try pool.write { db in
            try db.execute(
                sql: """
                    INSERT INTO exports (id, tenant_id, kind, format, request_json, status, file, rows, bytes, error,
                                         created_by, created_at, completed_at, expires_at)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [e.id, e.tenant, e.spec.kind.rawValue, e.spec.format.rawValue, e.spec.storedJSON, e.status.rawValue,
                            e.file, e.rows, e.bytes, e.error, e.createdBy, e.createdAt, e.completedAt, e.expiresAt])
        }
    }

    /// The export `id`, if any.
    public func export(id: String) throws -> Export? {
        try pool.read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM exports WHERE id = ?", arguments: [id]).flatMap(Self.export(row:))
        }
    }

    /// The exports of `tenant` (every tenant's when nil), newest first, at most `limit`.
    public func exports(tenant: String?, limit: Int = 100) throws -> [Export] {
        try pool.read { db in
            let rows = if let tenant {
                try Row.fetchAll(db, sql: "SELECT * FROM exports WHERE tenant_id = ? ORDER BY created_at DESC, id LIMIT ?",
                                 arguments: [tenant, limit])
            } else {
                try Row.fetchAll(db, sql: "SELECT * FROM exports ORDER BY created_at DESC, id LIMIT ?", arguments: [limit])
            }
            return rows.compactMap(Self.export(row:))
        }
    }

    /// Sets the status of an export, and when given its rows, bytes, completion time and error.
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

    /// Exports not yet expired whose `expires_at` is at or before `now`.
    public func exportsDue(now: Int64) throws -> [Export] {
        try pool.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM exports WHERE status != 'expired' AND expires_at <= ? ORDER BY expires_at",
                             arguments: [now]).compactMap(Self.export(row:))
        }
    }

    /// Exports pending or running.
    public func exportsInProgress() throws -> [Export] {
        try pool.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM exports WHERE status IN ('pending', 'running')").compactMap(Self.export(row:))
        }
    }

    private static func export(row: Row) -> Export? {
        guard let status = ExportStatus(rawValue: row["status"]), let spec = ExportSpec.fromStored(row["request_json"]) else {
            return nil
        }
        return Export(
            id: row["id"], tenant: row["tenant_id"], spec: spec, status: status, file: row["file"], rows: row["rows"],
            bytes: row["bytes"], error: row["error"], createdBy: row["created_by"], createdAt: row["created_at"],
            completedAt: row["completed_at"], expiresAt: row["expires_at"])
    }
}
