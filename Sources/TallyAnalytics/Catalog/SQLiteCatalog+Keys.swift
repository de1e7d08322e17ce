import Crypto
import Foundation
import GRDB
import TallyStore
import TallyText

extension SQLiteCatalog {
    /// Admin keys have no tenant; reader and writer keys need one.
    public func createKey(tenant: String?, role: Role, now: Int64 = TimeSource.systemWallMillis(),
                          actor: String = SQLiteCatalog.cliActor) throws -> (key: APIKey, secret: String) {
        let (key, secret) = try APIKey.generate(tenant: tenant, role: role, now: now)
        try pool.write { db in
            try APIKeyRecord(key, secretSHA256: APIKey.secretDigest(secret)).insert(db)
            try Self.appendAudit(db, at: now, actor: actor, tenant: key.tenant, action: "create", entityType: "api_key",
                                 entityID: key.id, before: nil, after: AuditSnapshot.apiKey(key))
        }
        return (key, secret)
    }

    public func verify(secret: String) throws -> Principal? {
        guard APIKey.plausibleSecret(secret) else { return nil }
        let digest = APIKey.secretDigest(secret)
        return try pool.read { db in
            // Every request looks its key up here: one statement per connection, compiled once (compiling it ran SQLite's
            // parser and GRDB's authorizer on every request: 6% of the server's CPU on a rollup-answered usage request).
            let statement = try db.cachedStatement(
                sql: "SELECT id, tenant_id, role, created_at, revoked_at FROM api_keys WHERE secret_sha256 = ? AND revoked_at IS NULL")
            return try APIKeyRecord.fetchOne(statement, arguments: [Data(digest)])?.key.principal
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
}
