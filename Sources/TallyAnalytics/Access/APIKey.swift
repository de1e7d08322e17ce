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
