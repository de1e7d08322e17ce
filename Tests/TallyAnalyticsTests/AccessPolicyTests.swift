import TallyAnalytics
import TallyQuery
import Testing

@Suite("Access policy")
struct AccessPolicyTests {
    let reader = Principal(keyID: "key_r", tenant: "acme", role: .reader)
    let writer = Principal(keyID: "key_w", tenant: "acme", role: .writer)
    let admin = Principal(keyID: "key_a", tenant: nil, role: .admin)

    @Test("roles allow exactly their actions")
    func roles() throws {
        try AccessPolicy.check(.readStatistics, reader)
        try AccessPolicy.check(.writeRecords, writer)
        try AccessPolicy.check(.readStatistics, admin)
        try AccessPolicy.check(.writeRecords, admin)
        #expect(throws: AnalyticsError.self) { try AccessPolicy.check(.writeRecords, reader) }
        #expect(throws: AnalyticsError.self) { try AccessPolicy.check(.readStatistics, writer) }
    }

    /// Who may take each action, and words of its refusal that name it: written out here apart from the policy's
    /// table, so a changed rule or a refusal that names another action fails.
    static let expected: [AccessPolicy.Action: (roles: Set<Role>, names: String)] = [
        .readStatistics: ([.reader, .admin], "statistics"),
        .groupByTenant: ([.admin], "group_by=tenant"),
        .writeRecords: ([.writer, .admin], "write records"),
        .checkPolicy: ([.reader, .writer, .admin], "policy"),
        .readBudgets: ([.reader, .admin], "read budgets"),
        .changeBudgets: ([.admin], "budgets are changed"),
        .readFeatureTags: ([.reader, .admin], "read feature tags"),
        .changeFeatureTags: ([.admin], "feature tags are registered and changed"),
        .readAnomalies: ([.reader, .admin], "read anomalies"),
        .detectAnomalies: ([.writer, .admin], "run anomaly detection"),
        .resolveAnomalies: ([.writer, .admin], "resolve anomalies"),
        .readAnomalySettings: ([.reader, .admin], "read anomaly settings"),
        .changeAnomalySettings: ([.admin], "anomaly settings are changed"),
        .readIncidents: ([.reader, .admin], "read incidents"),
        .changeIncidents: ([.writer, .admin], "acknowledge or resolve incidents"),
        .manageWebhooks: ([.writer, .admin], "webhooks"),
        .manageAlertChannels: ([.admin], "alert channels are managed"),
        .exportData: ([.reader, .admin], "exports"),
        .readReports: ([.reader, .admin], "reports"),
        .readAudit: ([.reader, .admin], "audit log"),
    ]

    @Test("every action × role: allowed exactly as the table says; a refusal names the action", arguments: AccessPolicy.Action.allCases, Role.allCases)
    func table(action: AccessPolicy.Action, role: Role) throws {
        let expected = try #require(Self.expected[action], "action \(action) has no expected rule")
        let principal = Principal(keyID: "key_x", tenant: role == .admin ? nil : "acme", role: role)
        let rule = AccessPolicy.rule(action)
        #expect(rule.refusal.contains(expected.names))
        if expected.roles.contains(role) {
            #expect(throws: Never.self) { try AccessPolicy.check(action, principal) }
            #expect(try AccessPolicy.check(action, principal, tenant: "acme") == "acme")
        } else {
            #expect(throws: AnalyticsError.forbidden(reason: rule.refusal)) { try AccessPolicy.check(action, principal) }
            // The role is refused before the tenant is looked at, whatever the key names.
            #expect(throws: AnalyticsError.forbidden(reason: rule.refusal)) { try AccessPolicy.check(action, principal, tenant: "globex") }
            #expect(throws: AnalyticsError.forbidden(reason: rule.refusal)) { try AccessPolicy.check(action, principal, tenants: nil) }
        }
    }

    @Test("the table covers every action")
    func coverage() {
        #expect(Set(Self.expected.keys) == Set(AccessPolicy.Action.allCases))
    }

    @Test("tenant keys reach their tenant only; admins the one they name or all")
    func tenants() throws {
        #expect(try AccessPolicy.tenants(for: reader, requested: nil) == .one("acme"))
        #expect(try AccessPolicy.tenants(for: reader, requested: "acme") == .one("acme"))
        #expect(throws: AnalyticsError.forbidden(reason: "this key belongs to another tenant than tenant_id names")) {
            try AccessPolicy.tenants(for: reader, requested: "globex")
        }
        // Byte-exact: a differently normalised or cased id is another tenant.
        #expect(throws: AnalyticsError.self) { try AccessPolicy.tenants(for: reader, requested: "ACME") }
        #expect(try AccessPolicy.tenants(for: admin, requested: nil) == .all)
        #expect(try AccessPolicy.tenants(for: admin, requested: "globex") == .one("globex"))
        #expect(throws: AnalyticsError.invalidParameter(name: "tenant_id", reason: "a tenant id has 1 to 64 characters of A-Z a-z 0-9 . _ : -")) {
            try AccessPolicy.tenants(for: admin, requested: "a/b")
        }
    }
}
