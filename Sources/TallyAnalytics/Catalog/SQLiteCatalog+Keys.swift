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

    /// A key as a catalog reads it back.
    package init(id: String, tenant: String?, role: Role, createdAt: Int64, revokedAt: Int64?) {
        self.id = id
        self.tenant = tenant
        self.role = role
        self.createdAt = createdAt
        self.revokedAt = revokedAt
    }

    /// A new key of `tenant` with `role` (admin keys have no tenant; reader and writer keys need one), created at
    /// `now`, and its secret: what every catalog's `createKey` stores (the secret only as `secretDigest`).
    package static func generate(tenant: String?, role: Role, now: Int64) throws -> (key: APIKey, secret: String) {
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
        let secret = SQLiteCatalog.secretPrefix + Base64URL.encode(randomBytes(32))
        return (APIKey(id: "key_" + hex(randomBytes(6)), tenant: tenant, role: role, createdAt: now, revokedAt: nil), secret)
    }

    /// SHA-256 of a secret: what catalogs store and look keys up by.
    package static func secretDigest(_ secret: String) -> [UInt8] {
        Array(SHA256.hash(data: Array(secret.utf8)))
    }

    /// Whether `secret` can be a key's secret at all (checked before any lookup).
    package static func plausibleSecret(_ secret: String) -> Bool {
        secret.hasPrefix(SQLiteCatalog.secretPrefix) && secret.utf8.count < 128
    }

    /// The principal the key authenticates.
    public var principal: Principal { Principal(keyID: id, tenant: tenant, role: role) }
}

extension SQLiteCatalog {
    /// Admin keys have no tenant; reader and writer keys need one.
    public func createKey(tenant: String?, role: Role, now: Int64 = TimeSource.systemWallMillis(),
                          actor: String = SQLiteCatalog.cliActor) throws -> (key: APIKey, secret: String) {
        let (key, secret) = try APIKey.generate(tenant: tenant, role: role, now: now)
        try pool.write { db in
            try APIKeyRecord(key, secretSHA256: Self.hash(secret)).insert(db)
            try Self.appendAudit(db, at: now, actor: actor, tenant: key.tenant, action: "create", entityType: "api_key",
                                 entityID: key.id, before: nil, after: AuditSnapshot.apiKey(key))
        }
        return (key, secret)
    }

    public func verify(secret: String) throws -> Principal? {
        guard APIKey.plausibleSecret(secret) else { return nil }
        let digest = Self.hash(secret)
        return try pool.read { db in
            // Every request looks its key up here: plain SQL, as before the record types, so no query is built per call.
            try APIKeyRecord.fetchOne(
                db, sql: "SELECT id, tenant_id, role, created_at, revoked_at FROM api_keys WHERE secret_sha256 = ? AND revoked_at IS NULL",
                arguments: [Data(digest)])?.key.principal
        }
    }

    public func listKeys(includeRevoked: Bool = true) throws -> [APIKey] {
        try pool.read { db in
            var request = APIKeyRecord.order(Column("created_at"), Column("id"))
            if !includeRevoked { request = request.filter(Column("revoked_at") == nil) }
            return try request.fetchAll(db).map(\.key)
        }
    }

    /// Only a revocation that changes the key is audited.
    @discardableResult
    public func revokeKey(id: String, now: Int64 = TimeSource.systemWallMillis(), actor: String = SQLiteCatalog.cliActor) throws -> APIKey? {
        try pool.write { db in
            let before = try APIKeyRecord.fetchOne(db, key: id)?.key
            try db.execute(sql: "UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL", arguments: [now, id])
            let changed = db.changesCount > 0
            let after = try APIKeyRecord.fetchOne(db, key: id)?.key
            if changed, let before, let after {
                try Self.appendAudit(db, at: now, actor: actor, tenant: after.tenant, action: "revoke", entityType: "api_key",
                                     entityID: id, before: AuditSnapshot.apiKey(before), after: AuditSnapshot.apiKey(after))
            }
            return after
        }
    }

    /// SHA-256 of a secret: what the catalog stores and looks keys up by.
    static func hash(_ secret: String) -> [UInt8] {
        APIKey.secretDigest(secret)
    }
}
