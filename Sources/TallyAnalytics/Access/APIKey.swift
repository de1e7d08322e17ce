import Crypto
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
