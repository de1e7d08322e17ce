/// What an API key may do.
public enum Role: String, Sendable, Hashable, CaseIterable, Codable {
    /// Reads its tenant's statistics.
    case reader
    /// Writes its tenant's records (and nothing else: ingestion keys live in applications).
    case writer
    /// Reads and writes every tenant.
    case admin
}

/// Who is calling: the key that authenticated a request, its tenant and its role.
public struct Principal: Sendable, Hashable {
    /// The key's public id (never the secret).
    public var keyID: String
    /// The tenant the key belongs to; nil for an admin key.
    public var tenant: String?
    /// What the key may do.
    public var role: Role

    /// A principal.
    public init(keyID: String, tenant: String?, role: Role) {
        self.keyID = keyID
        self.tenant = tenant
        self.role = role
    }

    /// Whether the key reaches every tenant.
    public var isAdmin: Bool { role == .admin }
}
