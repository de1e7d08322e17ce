import Foundation
import TallyAnalytics
import TallyStore
import TallyTestSupport
import TallyText
import Testing

@Suite("Audit log: every catalog change with its before and after, atomically")
struct AuditLogTests {
    static func object(_ text: String?) throws -> [String: Any] {
        let data = Data(try #require(text).utf8)
        return try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    }

    static func budget(_ id: String = "bud_1", tenant: String = "acme", limit: Int64 = 100 * Money.nanosPerCent) -> Budget {
        Budget(id: id, tenant: tenant, level: .feature, subject: "chat", period: .monthly, limitNanos: limit, warnRatio: 0.8,
               enforce: true, createdAt: 1_000, updatedAt: 1_000, createdBy: "key_admin")
    }

    @Test("budget create, update and delete each write one entry: actor, tenant, before and after")
    func budgets() async throws {
        try await withTemporaryDirectory(prefix: "tally-audit") { dir in
            let catalog = try SQLiteCatalog(directory: dir)
            try catalog.insertBudget(Self.budget(), actor: "key_admin")
            var changed = Self.budget()
            changed.limitNanos = 250 * Money.nanosPerCent
            changed.enforce = false
            changed.updatedAt = 2_000
            #expect(try catalog.updateBudget(changed, actor: "key_other"))
            #expect(try catalog.deleteBudget(id: "bud_1", actor: "key_admin", at: 3_000))
            // Nothing to change: no entries.
            #expect(try catalog.updateBudget(Self.budget("bud_gone"), actor: "key_admin") == false)
            #expect(try catalog.deleteBudget(id: "bud_gone", actor: "key_admin", at: 4_000) == false)

            let entries = try catalog.auditEntries(AuditFilter(entityType: "budget"))
            #expect(entries.map(\.action) == ["delete", "update", "create"])
            #expect(entries.map(\.at) == [3_000, 2_000, 1_000])
            #expect(entries.map(\.actor) == ["key_admin", "key_other", "key_admin"])
            #expect(entries.allSatisfy { $0.tenant == "acme" && $0.entityID == "bud_1" })
            let (delete, update, create) = (entries[0], entries[1], entries[2])
            #expect(create.before == nil)
            let created = try Self.object(create.after)
            #expect(created["limit_cents"] as? String == "100.0000000")
            #expect(created["feature_tag"] as? String == "chat")
            #expect(created["enforce"] as? Bool == true)
            let before = try Self.object(update.before), after = try Self.object(update.after)
            #expect(before["limit_cents"] as? String == "100.0000000")
            #expect(after["limit_cents"] as? String == "250.0000000")
            #expect(before["enforce"] as? Bool == true)
            #expect(after["enforce"] as? Bool == false)
            #expect(after["feature_tag"] as? String == "chat")  // what a patch cannot change is kept from the stored budget
            #expect(try Self.object(delete.before)["limit_cents"] as? String == "250.0000000")
            #expect(delete.after == nil)
        }
    }

    @Test("a stored row is the entity's audit snapshot, byte for byte (format 1, docs/FORMAT.md)")
    func snapshotFormat() async throws {
        try await withTemporaryDirectory(prefix: "tally-audit") { dir in
            let catalog = try SQLiteCatalog(directory: dir)
            try catalog.insertBudget(Self.budget(), actor: "key_admin")
            let entry = try #require(try catalog.auditEntries(AuditFilter(entityType: "budget")).first)
            #expect(entry.after == #"{"id":"bud_1","tenant_id":"acme","level":"feature","feature_tag":"chat","user_id":null,"#
                    + #""period":"monthly","limit_cents":"100.0000000","warn_ratio":0.8,"enforce":true,"#
                    + #""created_at":"1970-01-01T00:00:01Z","updated_at":"1970-01-01T00:00:01Z","created_by":"key_admin"}"#)
            #expect(AuditSnapshot.format == 1)
            let webhook = Webhook(tenant: "acme", url: "https://example.com/hook", secret: "s3cret", createdAt: 1_000, updatedAt: 1_000,
                                  updatedBy: "key_admin")
            #expect(AuditSnapshot.webhook(webhook) == #"{"tenant_id":"acme","url":"https://example.com/hook"}"#)
        }
    }

    @Test("a refused change writes no entry (change and entry commit together)")
    func atomic() async throws {
        try await withTemporaryDirectory(prefix: "tally-audit") { dir in
            let catalog = try SQLiteCatalog(directory: dir)
            try catalog.insertBudget(Self.budget(), actor: "key_admin")
            #expect(throws: AnalyticsError.self) { try catalog.insertBudget(Self.budget("bud_2"), actor: "key_admin") }
            #expect(try catalog.auditEntries(AuditFilter()).filter { $0.entityType == "budget" }.count == 1)
        }
    }

    @Test("keys: creation and revocation are audited (actor cli by default), never with the secret; a second revoke adds nothing")
    func keys() async throws {
        try await withTemporaryDirectory(prefix: "tally-audit") { dir in
            let catalog = try SQLiteCatalog(directory: dir)
            let (admin, _) = try catalog.createKey(tenant: nil, role: .admin, now: 10)
            let (reader, secret) = try catalog.createKey(tenant: "acme", role: .reader, now: 20, actor: "key_x")
            try catalog.revokeKey(id: reader.id, now: 30)
            try catalog.revokeKey(id: reader.id, now: 40)
            let entries = try catalog.auditEntries(AuditFilter(entityType: "api_key"))
            #expect(entries.map(\.action) == ["revoke", "create", "create"])
            #expect(entries.map(\.actor) == [SQLiteCatalog.cliActor, "key_x", SQLiteCatalog.cliActor])
            #expect(entries.map(\.entityID) == [reader.id, reader.id, admin.id])
            #expect(entries.map(\.tenant) == ["acme", "acme", nil])
            #expect(try Self.object(entries[0].before)["revoked_at"] is NSNull)
            #expect(try Self.object(entries[0].after)["revoked_at"] as? String == "1970-01-01T00:00:00.030Z")
            #expect(try Self.object(entries[1].after)["role"] as? String == "reader")
            for e in entries {
                #expect(e.after?.contains(secret.dropFirst(4)) == false)
                #expect(e.before?.contains(secret.dropFirst(4)) != true)
            }
        }
    }

    @Test("filters (tenant, window, entity, action) and paging by cursor, newest first")
    func filtersAndPaging() async throws {
        try await withTemporaryDirectory(prefix: "tally-audit") { dir in
            let catalog = try SQLiteCatalog(directory: dir)
            for i in 0..<5 {
                var b = Self.budget("bud_a\(i)", tenant: "acme")
                b.subject = "f\(i)"
                b.createdAt = Int64(100 + i)
                try catalog.insertBudget(b, actor: "k")
            }
            var other = Self.budget("bud_b", tenant: "globex")
            other.createdAt = 102
            try catalog.insertBudget(other, actor: "k")
            #expect(try catalog.auditEntries(AuditFilter(tenant: "globex")).map(\.entityID) == ["bud_b"])
            #expect(try catalog.auditEntries(AuditFilter(tenant: "acme", from: 101, to: 103)).map(\.entityID) == ["bud_a2", "bud_a1"])
            #expect(try catalog.auditEntries(AuditFilter(entityID: "bud_a3")).count == 1)
            #expect(try catalog.auditEntries(AuditFilter(action: "delete")).isEmpty)
            let first = try catalog.auditEntries(AuditFilter(tenant: "acme", limit: 2))
            #expect(first.map(\.entityID) == ["bud_a4", "bud_a3"])
            let second = try catalog.auditEntries(AuditFilter(tenant: "acme", beforeID: first.last?.id, limit: 2))
            #expect(second.map(\.entityID) == ["bud_a2", "bud_a1"])
        }
    }
}
