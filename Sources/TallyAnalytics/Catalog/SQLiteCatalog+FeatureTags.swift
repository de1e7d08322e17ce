import GRDB

extension SQLiteCatalog {
    public func insertFeatureTag(_ tag: FeatureTag, actor: String) throws {
        try pool.write { db in
            if let other = try String.fetchOne(db, sql: "SELECT id FROM feature_tags WHERE tenant_id = ? AND tag = ?",
                                               arguments: [tag.tenant, tag.tag]) {
                throw AnalyticsError.alreadyExists(reason: "feature tag \(other) already registers this tag; change it with PATCH")
            }
            try FeatureTagRecord(tag).insert(db)
            try Self.appendAudit(db, at: tag.createdAt, actor: actor, tenant: tag.tenant, action: "create", entityType: "feature_tag",
                                 entityID: tag.id, before: nil, after: AuditSnapshot.featureTag(tag))
        }
    }

    public func featureTag(id: String) throws -> FeatureTag? {
        try pool.read { db in try Self.featureTag(db, id: id) }
    }

    public func featureTags(tenant: String) throws -> [FeatureTag] {
        try pool.read { db in
            try FeatureTagRecord.fetchAll(db, sql: "SELECT * FROM feature_tags WHERE tenant_id = ? ORDER BY tag, id", arguments: [tenant])
                .map(\.tag)
        }
    }

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

    /// Records keep their tag, which then shows as unregistered.
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
        try FeatureTagRecord.fetchOne(db, key: id)?.tag
    }
}
