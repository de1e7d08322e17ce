import TallyQuery

/// The access rules of the facade, in one table: every action a request can take, which roles may take it, and
/// what a refused caller is told. The services call `check` and hold no other role checks.
///
/// Tenant scope is the same for every action: a tenant key reaches its own tenant only (naming another one is
/// refused, never answered with data; another tenant's entity by id is "not found"); an admin key reaches the
/// tenant it names, or every tenant when it names none where the action allows it (`check(_:_:tenants:)`).
///
/// Configuration (budgets, feature tags, anomaly settings, alert channels) is changed with admin keys only: writer keys live in the
/// applications whose spend it governs (an application must not raise its own limit or silence its own alerts),
/// and reader keys are for dashboards. Detection, anomaly and incident state and webhooks are operations: writer
/// or admin keys. The policy check and reservations, asked by the applications before a run, take any key.
public enum AccessPolicy {
    /// What a request does.
    public enum Action: String, Sendable, CaseIterable {
        /// Reads usage and cost statistics.
        case readStatistics
        /// Breaks cost down by tenant (`group_by=tenant`): across tenants.
        case groupByTenant
        /// Writes records.
        case writeRecords
        /// Asks whether a planned run fits the budgets, or reserves, settles and cancels a hold.
        case checkPolicy
        /// Reads budgets and their status.
        case readBudgets
        /// Creates, changes or deletes budgets.
        case changeBudgets
        /// Reads registered feature tags.
        case readFeatureTags
        /// Registers, changes or deletes feature tags.
        case changeFeatureTags
        /// Reads anomalies.
        case readAnomalies
        /// Runs anomaly detection.
        case detectAnomalies
        /// Resolves an anomaly by hand.
        case resolveAnomalies
        /// Reads the anomaly thresholds.
        case readAnomalySettings
        /// Changes the anomaly thresholds.
        case changeAnomalySettings
        /// Reads incidents.
        case readIncidents
        /// Acknowledges or resolves incidents.
        case changeIncidents
        /// Reads, sets or deletes the tenant's webhook.
        case manageWebhooks
        /// Creates, lists, changes, deletes and tests the tenant's alert channels (Slack, email).
        case manageAlertChannels
        /// Creates, lists and downloads exports.
        case exportData
        /// Reads the monthly report.
        case readReports
        /// Reads the audit log.
        case readAudit
    }

    /// Who may take an action, and what everyone else is told.
    public struct Rule: Sendable, Equatable {
        /// The roles allowed.
        public var roles: Set<Role>
        /// The reason a refused caller gets (the problem's `detail`); it names the action.
        public var refusal: String
    }

    /// The rule of `action`: the one table of who may do what.
    public static func rule(_ action: Action) -> Rule {
        let readers: Set<Role> = [.reader, .admin]
        let writers: Set<Role> = [.writer, .admin]
        let admins: Set<Role> = [.admin]
        func read(_ what: String) -> Rule { Rule(roles: readers, refusal: "a writer key cannot read \(what); use a reader key") }
        func operate(_ what: String) -> Rule { Rule(roles: writers, refusal: "a reader key cannot \(what); use a writer key") }
        func configure(_ what: String) -> Rule { Rule(roles: admins, refusal: "\(what) with an admin key") }
        return switch action {
        case .readStatistics: read("statistics")
        case .groupByTenant: Rule(roles: admins, refusal: "group_by=tenant needs an admin key")
        case .writeRecords: Rule(roles: writers, refusal: "a reader key cannot write records; use a writer key")
        case .checkPolicy: Rule(roles: Set(Role.allCases), refusal: "this key cannot check the policy or reserve")
        case .readBudgets: read("budgets")
        case .changeBudgets: configure("budgets are changed")
        case .readFeatureTags: read("feature tags")
        case .changeFeatureTags: configure("feature tags are registered and changed")
        case .readAnomalies: read("anomalies")
        case .detectAnomalies: operate("run anomaly detection")
        case .resolveAnomalies: operate("resolve anomalies")
        case .readAnomalySettings: read("anomaly settings")
        case .changeAnomalySettings: configure("anomaly settings are changed")
        case .readIncidents: read("incidents")
        case .changeIncidents: operate("acknowledge or resolve incidents")
        case .manageWebhooks: operate("read or change webhooks")
        case .manageAlertChannels: configure("alert channels are managed")
        case .exportData: read("exports")
        case .readReports: read("reports")
        case .readAudit: read("the audit log")
        }
    }

    /// Throws `forbidden` with the action's refusal unless `principal`'s role may take `action`.
    public static func check(_ action: Action, _ principal: Principal) throws(AnalyticsError) {
        let rule = rule(action)
        guard rule.roles.contains(principal.role) else { throw .forbidden(reason: rule.refusal) }
    }

    /// Checks `action`, then the one tenant it acts on: a tenant key's own (naming another is refused); the tenant
    /// an admin key names, which it must.
    public static func check(_ action: Action, _ principal: Principal, tenant requested: String?,
                             parameter: String = "tenant_id") throws(AnalyticsError) -> String {
        try check(action, principal)
        return try tenant(for: principal, requested: requested, parameter: parameter)
    }

    /// Checks `action`, then the tenants it reads: a tenant key's own; an admin key's named tenant, or every tenant.
    public static func check(_ action: Action, _ principal: Principal, tenants requested: String?) throws(AnalyticsError)
        -> Query.Tenants {
        try check(action, principal)
        return try tenants(for: principal, requested: requested)
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
