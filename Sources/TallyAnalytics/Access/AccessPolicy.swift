import TallyQuery

/// The access rules of the facade: which role may do what, and which tenants a request reaches.
///
/// A tenant key reaches its own tenant only; naming another one is refused, never answered with data.
/// An admin key reaches the tenant it names, or every tenant when it names none.
///
/// Budgets are configuration, changed with admin keys only: writer keys live in the applications whose
/// spend the budgets limit (an application must not raise its own limit), and reader keys are for dashboards.
/// Reader keys read their tenant's budgets; the policy check, asked by the applications before a run,
/// takes any key of the tenant.
public enum AccessPolicy {
    /// What a request does.
    public enum Action: Sendable {
        /// Reads statistics.
        case read
        /// Writes records.
        case write
        /// Creates, changes or deletes budgets.
        case configure
        /// Asks whether a planned run fits the budgets.
        case checkPolicy
    }

    /// Throws unless `principal`'s role allows `action`.
    public static func authorize(_ principal: Principal, _ action: Action) throws(AnalyticsError) {
        switch (principal.role, action) {
        case (.admin, _), (.reader, .read), (.writer, .write), (_, .checkPolicy):
            return
        case (.reader, .configure), (.writer, .configure):
            throw .forbidden(reason: "budgets are changed with an admin key")
        case (.reader, .write):
            throw .forbidden(reason: "a reader key cannot write records; use a writer key")
        case (.writer, .read):
            throw .forbidden(reason: "a writer key cannot read statistics; use a reader key")
        }
    }

    /// The tenants a request of `principal` reads, given the `tenant_id` it named (if any).
    public static func tenants(for principal: Principal, requested: String?) throws(AnalyticsError) -> Query.Tenants {
        if let requested {
            try checkTenantID(requested, parameter: "tenant_id")
        }
        guard let own = principal.tenant else {
            return requested.map { .one($0) } ?? .all
        }
        if let requested, !requested.utf8.elementsEqual(own.utf8) {
            throw .forbidden(reason: "this key belongs to another tenant than tenant_id names")
        }
        return .one(own)
    }

    /// The one tenant a request of `principal` acts on: a tenant key's own (naming another is refused);
    /// the tenant an admin key names, which it must.
    public static func tenant(for principal: Principal, requested: String?, parameter: String = "tenant_id") throws(AnalyticsError) -> String {
        if let requested {
            try checkTenantID(requested, parameter: parameter)
        }
        guard let own = principal.tenant else {
            guard let requested else { throw .invalidParameter(name: parameter, reason: "an admin key must name the tenant") }
            return requested
        }
        if let requested, !requested.utf8.elementsEqual(own.utf8) {
            throw .forbidden(reason: "this key belongs to another tenant than \(parameter) names")
        }
        return own
    }

    /// Whether `principal` reaches the data of `tenant`.
    public static func reaches(_ principal: Principal, tenant: String) -> Bool {
        principal.tenant.map { $0.utf8.elementsEqual(tenant.utf8) } ?? true
    }

    /// Throws unless `id` follows the data contract: 1-64 characters of `[A-Za-z0-9._:-]`.
    public static func checkTenantID(_ id: String, parameter: String) throws(AnalyticsError) {
        guard isValidTenantID(id) else {
            throw .invalidParameter(name: parameter, reason: "a tenant id has 1 to 64 characters of A-Z a-z 0-9 . _ : -")
        }
    }

    /// Whether `id` is a valid tenant id.
    public static func isValidTenantID(_ id: String) -> Bool {
        let bytes = id.utf8
        guard !bytes.isEmpty, bytes.count <= 64 else { return false }
        return bytes.allSatisfy { c in
            (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A)
                || c == 0x2E || c == 0x5F || c == 0x3A || c == 0x2D
        }
    }
}
