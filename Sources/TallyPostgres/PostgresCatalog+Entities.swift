import Foundation
import PostgresNIO
import Synchronization
import TallyAnalytics
import TallyStore

// Keys, idempotent answers, budgets and reservations. Each change and its audit entry commit in one transaction; a
// read that decides a change locks the row it read (`FOR UPDATE`), so two nodes changing one entity go one after the
// other. Uniqueness races between nodes end in the table's UNIQUE constraint and are answered as `alreadyExists`.

extension PostgresCatalog {
    // MARK: Keys

    public func createKey(tenant: String?, role: Role, now: Int64, actor: String) throws -> (key: APIKey, secret: String) {
        let (key, secret) = try APIKey.generate(tenant: tenant, role: role, now: now)
        try transaction { s in
            try s.run("""
                INSERT INTO api_keys (id, tenant_id, role, secret_sha256, created_at, revoked_at)
                VALUES (\(key.id), \(key.tenant), \(key.role.rawValue), \(Data(APIKey.secretDigest(secret))), \(key.createdAt), NULL)
                """)
            try Self.appendAudit(s, at: now, actor: actor, tenant: key.tenant, action: "create", entityType: "api_key",
                                 entityID: key.id, before: nil, after: AuditSnapshot.apiKey(key))
        }
        return (key, secret)
    }

    public func verify(secret: String) throws -> Principal? {
        guard APIKey.plausibleSecret(secret) else { return nil }
        let digest = Data(APIKey.secretDigest(secret))
        return try session { s in
            try s.rows("""
                SELECT id, tenant_id, role, created_at, revoked_at FROM api_keys WHERE secret_sha256 = \(digest) AND revoked_at IS NULL
                """).first.map(Rows.apiKey)?.principal
        }
    }

    public func listKeys(includeRevoked: Bool) throws -> [APIKey] {
        let sql = "SELECT id, tenant_id, role, created_at, revoked_at FROM api_keys"
            + (includeRevoked ? "" : " WHERE revoked_at IS NULL") + " ORDER BY created_at, id"
        return try session { try $0.rows(PostgresQuery(unsafeSQL: sql)).map(Rows.apiKey) }
    }

    /// Only a revocation that changes the key is audited.
    public func revokeKey(id: String, now: Int64, actor: String) throws -> APIKey? {
        // After the transaction ends, whatever its outcome: a principal cached before it is not used again here.
        defer { keyChanges.add(1, ordering: .releasing) }
        return try transaction { s in
            guard let before = try s.rows("""
                SELECT id, tenant_id, role, created_at, revoked_at FROM api_keys WHERE id = \(id) FOR UPDATE
                """).first.map(Rows.apiKey) else { return nil }
            guard before.revokedAt == nil else { return before }
            try s.run("UPDATE api_keys SET revoked_at = \(now) WHERE id = \(id)")
            var after = before
            after.revokedAt = now
            try Self.appendAudit(s, at: now, actor: actor, tenant: after.tenant, action: "revoke", entityType: "api_key",
                                 entityID: id, before: AuditSnapshot.apiKey(before), after: AuditSnapshot.apiKey(after))
            return after
        }
    }

    // MARK: Idempotent answers

    public func idempotentAnswer(scope: String, key: String, now: Int64) throws -> IdempotentAnswer? {
        let after = now - Self.idempotencyRetentionMillis
        return try session { s in
            try s.rows("""
                SELECT * FROM idempotent_answers WHERE scope = \(scope) AND key = \(key) AND created_at > \(after)
                """).first.map(Rows.idempotentAnswer)
        }
    }

    public func saveIdempotentAnswer(scope: String, key: String, answer: IdempotentAnswer) throws {
        let expired = answer.createdAt - Self.idempotencyRetentionMillis
        try transaction { s in
            try s.run("DELETE FROM idempotent_answers WHERE created_at <= \(expired)")
            try s.run("""
                INSERT INTO idempotent_answers (scope, key, fingerprint, status, content_type, body, created_at)
                VALUES (\(scope), \(key), \(Data(answer.fingerprint)), \(answer.status), \(answer.contentType), \(Data(answer.body)),
                        \(answer.createdAt))
                ON CONFLICT (scope, key) DO NOTHING
                """)
        }
    }

    // MARK: Budgets

    public func insertBudget(_ budget: Budget, actor: String) throws {
        func existing(_ s: PostgresSession) throws -> String? {
            try s.rows("""
                SELECT id FROM budgets WHERE tenant_id = \(budget.tenant) AND level = \(budget.level.rawValue)
                AND subject = \(budget.subject) AND period = \(budget.period.rawValue)
                """).first?.decode(String.self)
        }
        func refusal(_ other: String) -> AnalyticsError {
            .alreadyExists(reason: "budget \(other) already limits this \(budget.level.rawValue) \(budget.period.rawValue); change it with PATCH")
        }
        do {
            try transaction { s in
                if let other = try existing(s) { throw refusal(other) }
                try s.run("""
                    INSERT INTO budgets (id, tenant_id, level, subject, period, limit_nanos, warn_ratio, enforce, created_at, updated_at,
                                         created_by)
                    VALUES (\(budget.id), \(budget.tenant), \(budget.level.rawValue), \(budget.subject), \(budget.period.rawValue),
                            \(budget.limitNanos), \(budget.warnRatio), \(budget.enforce), \(budget.createdAt), \(budget.updatedAt),
                            \(budget.createdBy))
                    """)
                try Self.appendAudit(s, at: budget.createdAt, actor: actor, tenant: budget.tenant, action: "create",
                                     entityType: "budget", entityID: budget.id, before: nil, after: AuditSnapshot.budget(budget))
            }
        } catch let error as PostgresCatalogError where error.isUniqueViolation {
            // Another node inserted the same budget between our check and our insert.
            guard let other = try session(existing) else { throw error }
            throw refusal(other)
        }
    }

    public func budget(id: String) throws -> Budget? {
        try session { try $0.rows("SELECT * FROM budgets WHERE id = \(id)").first.map(Rows.budget) }
    }

    public func budgets(tenant: String?) throws -> [Budget] {
        var q = SQL("SELECT * FROM budgets")
        if let tenant { q.add(" WHERE tenant_id = ", tenant) }
        q.add(" ORDER BY tenant_id, level, subject, period, id")
        return try session { try $0.rows(q.query).map(Rows.budget) }
    }

    public func updateBudget(_ budget: Budget, actor: String) throws -> Bool {
        try transaction { s in
            guard let before = try s.rows("SELECT * FROM budgets WHERE id = \(budget.id) FOR UPDATE").first.map(Rows.budget) else {
                return false
            }
            try s.run("""
                UPDATE budgets SET limit_nanos = \(budget.limitNanos), warn_ratio = \(budget.warnRatio), enforce = \(budget.enforce),
                                   updated_at = \(budget.updatedAt)
                WHERE id = \(budget.id)
                """)
            var after = before
            after.limitNanos = budget.limitNanos
            after.warnRatio = budget.warnRatio
            after.enforce = budget.enforce
            after.updatedAt = budget.updatedAt
            try Self.appendAudit(s, at: budget.updatedAt, actor: actor, tenant: before.tenant, action: "update",
                                 entityType: "budget", entityID: budget.id, before: AuditSnapshot.budget(before),
                                 after: AuditSnapshot.budget(after))
            return true
        }
    }

    public func deleteBudget(id: String, actor: String, at: Int64) throws -> Bool {
        try transaction { s in
            guard let before = try s.rows("SELECT * FROM budgets WHERE id = \(id) FOR UPDATE").first.map(Rows.budget) else { return false }
            try s.run("DELETE FROM budgets WHERE id = \(id)")
            try Self.appendAudit(s, at: at, actor: actor, tenant: before.tenant, action: "delete",
                                 entityType: "budget", entityID: id, before: AuditSnapshot.budget(before), after: nil)
            return true
        }
    }

    // MARK: Reservations

    public func reservedNanos(for budget: Budget, now: Int64) throws -> Int64 {
        try session { try Self.reservedNanos($0, budget: budget, now: now) }
    }

    public func reservation(id: String) throws -> Reservation? {
        try session { try $0.rows("SELECT * FROM reservations WHERE id = \(id)").first.map(Rows.reservation) }
    }

    @discardableResult
    public func purgeReservations(before cutoff: Int64) throws -> Int {
        try session { s in
            try s.run("""
                DELETE FROM reservations WHERE (state = 'active' AND expires_at < \(cutoff)) OR (state <> 'active' AND released_at < \(cutoff))
                """)
        }
    }

    static func reservedNanos(_ s: PostgresSession, budget: Budget, now: Int64) throws -> Int64 {
        var q = SQL("SELECT COALESCE(SUM(estimated_nanos), 0)::BIGINT FROM reservations WHERE state = 'active'")
        q.add(" AND tenant_id = ", budget.tenant)
        q.add(" AND expires_at > ", now)
        switch budget.level {
        case .tenant: break
        case .feature: q.add(" AND feature_tag = ", budget.subject)
        case .user: q.add(" AND user_id = ", budget.subject)
        }
        return try s.rows(q.query).first?.decode(Int64.self) ?? 0
    }

    static func insertReservation(_ s: PostgresSession, _ x: Reservation) throws {
        try s.run("""
            INSERT INTO reservations (id, tenant_id, user_id, feature_tag, estimated_nanos, state, created_at, expires_at, released_at,
                                      actual_nanos, budget_ids, created_by)
            VALUES (\(x.id), \(x.tenant), \(x.userID), \(x.featureTag), \(x.estimatedNanos), \(x.storedState.rawValue), \(x.createdAt),
                    \(x.expiresAt), \(x.releasedAt), \(x.actualNanos), \(x.budgetIDs.joined(separator: ",")), \(x.createdBy))
            """)
    }

    // MARK: Feature tags

    public func insertFeatureTag(_ tag: FeatureTag, actor: String) throws {
        func existing(_ s: PostgresSession) throws -> String? {
            try s.rows("SELECT id FROM feature_tags WHERE tenant_id = \(tag.tenant) AND tag = \(tag.tag)").first?.decode(String.self)
        }
        func refusal(_ other: String) -> AnalyticsError {
            .alreadyExists(reason: "feature tag \(other) already registers this tag; change it with PATCH")
        }
        do {
            try transaction { s in
                if let other = try existing(s) { throw refusal(other) }
                try s.run("""
                    INSERT INTO feature_tags (id, tenant_id, tag, description, owner, created_at, updated_at, created_by)
                    VALUES (\(tag.id), \(tag.tenant), \(tag.tag), \(tag.description), \(tag.owner), \(tag.createdAt), \(tag.updatedAt),
                            \(tag.createdBy))
                    """)
                try Self.appendAudit(s, at: tag.createdAt, actor: actor, tenant: tag.tenant, action: "create", entityType: "feature_tag",
                                     entityID: tag.id, before: nil, after: AuditSnapshot.featureTag(tag))
            }
        } catch let error as PostgresCatalogError where error.isUniqueViolation {
            guard let other = try session(existing) else { throw error }
            throw refusal(other)
        }
    }

    public func featureTag(id: String) throws -> FeatureTag? {
        try session { try $0.rows("SELECT * FROM feature_tags WHERE id = \(id)").first.map(Rows.featureTag) }
    }

    public func featureTags(tenant: String) throws -> [FeatureTag] {
        try session { try $0.rows("SELECT * FROM feature_tags WHERE tenant_id = \(tenant) ORDER BY tag, id").map(Rows.featureTag) }
    }

    public func updateFeatureTag(id: String, _ patch: FeatureTagPatch, at: Int64, actor: String) throws -> FeatureTag? {
        try transaction { s in
            guard let before = try s.rows("SELECT * FROM feature_tags WHERE id = \(id) FOR UPDATE").first.map(Rows.featureTag) else {
                return nil
            }
            var after = before
            if let description = patch.description { after.description = description }
            if let owner = patch.owner { after.owner = owner }
            after.updatedAt = at
            try s.run("""
                UPDATE feature_tags SET description = \(after.description), owner = \(after.owner), updated_at = \(after.updatedAt)
                WHERE id = \(id)
                """)
            try Self.appendAudit(s, at: at, actor: actor, tenant: before.tenant, action: "update", entityType: "feature_tag",
                                 entityID: id, before: AuditSnapshot.featureTag(before), after: AuditSnapshot.featureTag(after))
            return after
        }
    }

    public func deleteFeatureTag(id: String, at: Int64, actor: String) throws -> Bool {
        try transaction { s in
            guard let before = try s.rows("SELECT * FROM feature_tags WHERE id = \(id) FOR UPDATE").first.map(Rows.featureTag) else {
                return false
            }
            try s.run("DELETE FROM feature_tags WHERE id = \(id)")
            try Self.appendAudit(s, at: at, actor: actor, tenant: before.tenant, action: "delete", entityType: "feature_tag",
                                 entityID: id, before: AuditSnapshot.featureTag(before), after: nil)
            return true
        }
    }

    // MARK: Exports

    public func insertExport(_ e: Export) throws {
        try session { s in
            try s.run("""
                INSERT INTO exports (id, tenant_id, kind, format, request_json, status, file, rows, bytes, error, created_by, created_at,
                                     completed_at, expires_at)
                VALUES (\(e.id), \(e.tenant), \(e.spec.kind.rawValue), \(e.spec.format.rawValue), \(e.spec.storedJSON), \(e.status.rawValue),
                        \(e.file), \(e.rows), \(e.bytes), \(e.error), \(e.createdBy), \(e.createdAt), \(e.completedAt), \(e.expiresAt))
                """)
        }
    }

    public func export(id: String) throws -> Export? {
        try session { try $0.rows("SELECT * FROM exports WHERE id = \(id)").first.map(Rows.export) }
    }

    public func exports(tenant: String?, limit: Int) throws -> [Export] {
        var q = SQL("SELECT * FROM exports")
        if let tenant { q.add(" WHERE tenant_id = ", tenant) }
        q.add(" ORDER BY created_at DESC, id LIMIT ", limit)
        return try session { try $0.rows(q.query).map(Rows.export) }
    }

    public func updateExport(id: String, status: ExportStatus, rows: Int64?, bytes: Int64?, completedAt: Int64?, error: String?) throws {
        try session { s in
            try s.run("""
                UPDATE exports SET status = \(status.rawValue), rows = COALESCE(\(rows), rows), bytes = COALESCE(\(bytes), bytes),
                                   completed_at = COALESCE(\(completedAt), completed_at), error = COALESCE(\(error), error)
                WHERE id = \(id)
                """)
        }
    }

    public func exportsDue(now: Int64) throws -> [Export] {
        try session { s in
            try s.rows("SELECT * FROM exports WHERE status <> 'expired' AND expires_at <= \(now) ORDER BY expires_at, id").map(Rows.export)
        }
    }

    public func exportsInProgress() throws -> [Export] {
        try session { s in
            try s.rows("SELECT * FROM exports WHERE status IN ('pending', 'running') ORDER BY created_at, id").map(Rows.export)
        }
    }
}
