import Crypto
import Foundation
import GRDB
import TallyStore
import TallyText

/// An API key as the catalog lists it: never its secret, which is shown once at creation and stored hashed.
public struct APIKey: Sendable, Hashable {
    /// Public id, e.g. `key_3f9a0c1d2e4b`.
    public var id: String
    /// The tenant; nil for an admin key.
    public var tenant: String?
    /// What the key may do.
    public var role: Role
    /// Creation time, ms UTC.
    public var createdAt: Int64
    /// Revocation time, ms UTC; nil while the key works.
    public var revokedAt: Int64?

    /// The principal the key authenticates.
    public var principal: Principal { Principal(keyID: id, tenant: tenant, role: role) }
}

extension Catalog {
    /// Prefix of every secret, so leaked keys are easy to recognise and scan for.
    public static let secretPrefix = "tly_"

    /// Creates a key; returns it with its secret, which is not stored and cannot be shown again.
    ///
    /// Admin keys have no tenant; reader and writer keys need one. The creation is audited as made by `actor`.
    public func createKey(tenant: String?, role: Role, now: Int64 = TimeSource.systemWallMillis(),
                          actor: String = Catalog.cliActor) throws -> (key: APIKey, secret: String) {
        switch (role, tenant) {
        case (.admin, .some):
            throw AnalyticsError.invalidParameter(name: "tenant", reason: "an admin key belongs to no tenant")
        case (.reader, nil), (.writer, nil):
            throw AnalyticsError.invalidParameter(name: "tenant", reason: "a \(role.rawValue) key needs a tenant")
        case let (_, .some(t)):
            try AccessPolicy.checkTenantID(t, parameter: "tenant")
        case (.admin, nil):
            break
        }
        let secret = Self.secretPrefix + Base64URL.encode(randomBytes(32))
        let key = APIKey(id: "key_" + hex(randomBytes(6)), tenant: tenant, role: role, createdAt: now, revokedAt: nil)
        try pool.write { db in
            try db.execute(
                sql: "INSERT INTO api_keys (id, tenant_id, role, secret_sha256, created_at) VALUES (?, ?, ?, ?, ?)",
                arguments: [key.id, key.tenant, key.role.rawValue, Data(Self.hash(secret)), key.createdAt])
            try Self.appendAudit(db, at: now, actor: actor, tenant: key.tenant, action: "create", entityType: "api_key",
                                 entityID: key.id, before: nil, after: AuditSnapshot.apiKey(key))
        }
        return (key, secret)
    }

    /// The principal of a working key with this secret; nil when no such key exists or it was revoked.
    public func verify(secret: String) throws -> Principal? {
        guard secret.hasPrefix(Self.secretPrefix), secret.utf8.count < 128 else { return nil }
        let digest = Self.hash(secret)
        return try pool.read { db in
            try Row.fetchOne(
                db, sql: "SELECT id, tenant_id, role FROM api_keys WHERE secret_sha256 = ? AND revoked_at IS NULL",
                arguments: [Data(digest)]
            ).flatMap { row in
                Role(rawValue: row["role"]).map { Principal(keyID: row["id"], tenant: row["tenant_id"], role: $0) }
            }
        }
    }

    /// Every key, oldest first (revoked ones too when asked).
    public func listKeys(includeRevoked: Bool = true) throws -> [APIKey] {
        try pool.read { db in
            try Row.fetchAll(
                db,
                sql: "SELECT id, tenant_id, role, created_at, revoked_at FROM api_keys"
                    + (includeRevoked ? "" : " WHERE revoked_at IS NULL") + " ORDER BY created_at, id"
            ).compactMap { row in
                Role(rawValue: row["role"]).map {
                    APIKey(id: row["id"], tenant: row["tenant_id"], role: $0, createdAt: row["created_at"], revokedAt: row["revoked_at"])
                }
            }
        }
    }

    /// Revokes the key `id` (a key already revoked keeps its first revocation time); nil when there is no such key.
    /// A revocation that changes the key is audited as made by `actor`.
    @discardableResult
    public func revokeKey(id: String, now: Int64 = TimeSource.systemWallMillis(), actor: String = Catalog.cliActor) throws -> APIKey? {
        func fetch(_ db: Database) throws -> APIKey? {
            try Row.fetchOne(db, sql: "SELECT id, tenant_id, role, created_at, revoked_at FROM api_keys WHERE id = ?", arguments: [id])
                .flatMap { row in
                    Role(rawValue: row["role"]).map {
                        APIKey(id: row["id"], tenant: row["tenant_id"], role: $0, createdAt: row["created_at"], revokedAt: row["revoked_at"])
                    }
                }
        }
        return try pool.write { db in
            let before = try fetch(db)
            try db.execute(sql: "UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL", arguments: [now, id])
            let changed = db.changesCount > 0
            let after = try fetch(db)
            if changed, let before, let after {
                try Self.appendAudit(db, at: now, actor: actor, tenant: after.tenant, action: "revoke", entityType: "api_key",
                                     entityID: id, before: AuditSnapshot.apiKey(before), after: AuditSnapshot.apiKey(after))
            }
            return after
        }
    }

    /// SHA-256 of a secret: what the catalog stores and looks keys up by.
    static func hash(_ secret: String) -> [UInt8] {
        Array(SHA256.hash(data: Array(secret.utf8)))
    }
}
