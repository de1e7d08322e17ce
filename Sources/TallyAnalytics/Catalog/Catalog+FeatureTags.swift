import GRDB

extension Catalog {
    /// Registers a tag and audits it as made by `actor`; `alreadyExists` when the tenant has registered it.
    public func insertFeatureTag(_ tag: FeatureTag, actor: String) throws {
        try pool.write { db in
            if let other = try String.fetchOne(db, sql: "SELECT id FROM feature_tags WHERE tenant_id = ? AND tag = ?",
                                               arguments: [tag.tenant, tag.tag]) {
                throw AnalyticsError.alreadyExists(reason: "feature tag \(other) already registers this tag; change it with PATCH")
            }
            try db.execute(
                sql: """
                    INSERT INTO feature_tags (id, tenant_id, tag, description, owner, created_at, updated_at, created_by)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [tag.id, tag.tenant, tag.tag, tag.description, tag.owner, tag.createdAt, tag.updatedAt, tag.createdBy])
            try Self.appendAudit(db, at: tag.createdAt, actor: actor, tenant: tag.tenant, action: "create", entityType: "feature_tag",
                                 entityID: tag.id, before: nil, after: AuditSnapshot.featureTag(tag))
        }
    }

    /// The tag registration `id`, if any.
    public func featureTag(id: String) throws -> FeatureTag? {
        try pool.read { db in try Self.featureTag(db, id: id) }
    }

    /// The registered tags of `tenant`, by tag.
    public func featureTags(tenant: String) throws -> [FeatureTag] {
        try pool.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM feature_tags WHERE tenant_id = ? ORDER BY tag, id", arguments: [tenant])
                .map(Self.featureTag(row:))
        }
    }

    /// Replaces the description, owner and update time of a registered tag and audits the change as made by
    /// `actor`; nil when it is gone.
    public func updateFeatureTag(id: String, _ patch: FeatureTagPatch, at: Int64, actor: String) throws -> FeatureTag? {
        try pool.write { db in
            guard let before = try Self.featureTag(db, id: id) else { return nil }
            var after = before
            if let description = patch.description { after.description = description }
            if let owner = patch.owner { after.owner = owner }
            after.updatedAt = at
            try db.execute(sql: "UPDATE feature_tags SET description = ?, owner = ?, updated_at = ? WHERE id = ?",
                           arguments: [after.description, after.owner, after.updatedAt, id])
            try Self.appendAudit(db, at: at, actor: actor, tenant: before.tenant, action: "update", entityType: "feature_tag",
                                 entityID: id, before: AuditSnapshot.featureTag(before), after: AuditSnapshot.featureTag(after))
            return after
        }
    }

    /// Deletes the registration `id` (records keep their tag, which shows as unregistered) and audits it; false when
    /// there was none.
    public func deleteFeatureTag(id: String, at: Int64, actor: String) throws -> Bool {
        try pool.write { db in
            guard let before = try Self.featureTag(db, id: id) else { return false }
            try db.execute(sql: "DELETE FROM feature_tags WHERE id = ?", arguments: [id])
            try Self.appendAudit(db, at: at, actor: actor, tenant: before.tenant, action: "delete", entityType: "feature_tag",
                                 entityID: id, before: AuditSnapshot.featureTag(before), after: nil)
            return true
        }
    }

    static func featureTag(_ db: Database, id: String) throws -> FeatureTag? {
        try Row.fetchOne(db, sql: "SELECT * FROM feature_tags WHERE id = ?", arguments: [id]).map(featureTag(row:))
    }

    static func featureTag(row: Row) -> FeatureTag {
        FeatureTag(id: row["id"], tenant: row["tenant_id"], tag: row["tag"], description: row["description"], owner: row["owner"],
                   createdAt: row["created_at"], updatedAt: row["updated_at"], createdBy: row["created_by"])
    }
}
