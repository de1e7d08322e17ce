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
        try AccessPolicy.authorize(reader, .read)
        try AccessPolicy.authorize(writer, .write)
        try AccessPolicy.authorize(admin, .read)
        try AccessPolicy.authorize(admin, .write)
        #expect(throws: AnalyticsError.self) { try AccessPolicy.authorize(reader, .write) }
        #expect(throws: AnalyticsError.self) { try AccessPolicy.authorize(writer, .read) }
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
