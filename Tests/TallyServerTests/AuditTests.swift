import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import TallyAnalytics
import Testing

let auditPath = "/api/v1/analytics/audit"

/// The entries of a `GET audit` page, after expecting 200.
func auditEntries(_ client: any TestClientProtocol, _ key: String, _ query: String = "") async throws -> [[String: Any]] {
    let r = try await client.execute(uri: auditPath + query, method: .get, headers: auth(key))
    #expect(r.status == .ok, "\(String(buffer: r.body))")
    return try #require(try json(r).array("entries"))
}

@Suite("GET audit")
struct AuditTests {
    @Test("budget create, patch and delete are audited with the admin key's id, the tenant, before and after")
    func budgetChanges() async throws {
        let f = try ServerFixture()
        let adminID = try #require(try f.analytics.catalog.verify(secret: f.adminKey)).keyID
        try await f.withRouter { client in
            let id = try #require(try await createBudget(client, f, #"{"tenant_id":"acme","level":"tenant","period":"monthly","limit_cents":"100"}"#)
                .string("id"))
            f.setNow("2025-05-04T01:00:00Z")
            let patched = try await send(client, .patch, budgetsPath + "/" + id, f.adminKey, #"{"limit_cents":"150","enforce":true}"#)
            #expect(patched.status == .ok)
            f.setNow("2025-05-04T02:00:00Z")
            #expect(try await send(client, .delete, budgetsPath + "/" + id, f.adminKey).status == .noContent)

            let entries = try await auditEntries(client, f.readerA, "?entity_type=budget")
            #expect(entries.map { $0.string("action") } == ["delete", "update", "create"])
            #expect(entries.map { $0.string("at") } == ["2025-05-04T02:00:00Z", "2025-05-04T01:00:00Z", "2025-05-04T00:00:00Z"])
            #expect(entries.allSatisfy { $0.string("actor") == adminID && $0.string("tenant_id") == "acme" && $0.string("entity_id") == id })
            #expect(entries[2]["before"] is NSNull)
            #expect(entries[2].object("after")?.string("limit_cents") == "100.0000000")
            #expect(entries[1].object("before")?.string("limit_cents") == "100.0000000")
            #expect(entries[1].object("after")?.string("limit_cents") == "150.0000000")
            #expect(entries[1].object("before")?["enforce"] as? Bool == false)
            #expect(entries[1].object("after")?["enforce"] as? Bool == true)
            #expect(entries[0].object("before")?.string("limit_cents") == "150.0000000")
            #expect(entries[0]["after"] is NSNull)
            // Filters: by entity and action.
            #expect(try await auditEntries(client, f.readerA, "?entity_id=\(id)&action=update").count == 1)
            #expect(try await auditEntries(client, f.readerA, "?from=2025-05-04T01:00:00Z&to=2025-05-04T02:00:00Z").map { $0.string("action") } == ["update"])
        }
    }

    @Test("tenant isolation: a tenant key sees its own entries only; writers may not read; admin sees all or one tenant")
    func isolation() async throws {
        let f = try ServerFixture()
        try await f.withRouter { client in
            _ = try await createBudget(client, f, #"{"tenant_id":"acme","level":"tenant","period":"monthly","limit_cents":"100"}"#)
            let b = try #require(try await createBudget(client, f, #"{"tenant_id":"globex","level":"tenant","period":"daily","limit_cents":"5"}"#)
                .string("id"))
            let a = try await auditEntries(client, f.readerA)
            #expect(!a.isEmpty)
            #expect(a.allSatisfy { $0.string("tenant_id") == "acme" })
            #expect(!a.contains { $0.string("entity_id") == b })
            let bEntries = try await auditEntries(client, f.readerB)
            #expect(bEntries.allSatisfy { $0.string("tenant_id") == "globex" })
            #expect(bEntries.contains { $0.string("entity_id") == b })
            // Another tenant's entity id yields nothing, not its entries.
            #expect(try await auditEntries(client, f.readerA, "?entity_id=\(b)").isEmpty)
            try expectProblem(try await client.execute(uri: auditPath + "?tenant_id=globex", method: .get, headers: auth(f.readerA)),
                              .forbidden, "forbidden")
            try expectProblem(try await client.execute(uri: auditPath, method: .get, headers: auth(f.writerA)), .forbidden, "forbidden")
            try expectProblem(try await client.execute(uri: auditPath, method: .get), .unauthorized, "unauthorized")

            let all = try await auditEntries(client, f.adminKey, "?limit=1000")
            // Five keys created by the fixture (one admin key without a tenant) and two budgets.
            #expect(all.filter { $0.string("entity_type") == "api_key" }.count == 5)
            #expect(all.contains { $0["tenant_id"] is NSNull && $0.string("actor") == "cli" })
            #expect(all.filter { $0.string("entity_type") == "budget" }.count == 2)
            let onlyB = try await auditEntries(client, f.adminKey, "?tenant_id=globex")
            #expect(onlyB.allSatisfy { $0.string("tenant_id") == "globex" })
            #expect(onlyB.count == bEntries.count)
        }
    }

    @Test("_status lists the audit log, feature tags and policy reservations as available")
    func status() async throws {
        let f = try ServerFixture()
        try await f.withRouter { client in
            let r = try await client.execute(uri: "/api/v1/analytics/_status", method: .get)
            let caps = try #require(try json(r).array("capabilities"))
            let state = Dictionary(uniqueKeysWithValues: caps.compactMap { c in c.string("name").map { ($0, c.string("state")) } })
            #expect(state["audit"] == "available")
            #expect(state["feature_tags"] == "available")
            #expect(state["policy_reservations"] == "available")
            #expect(caps.first { $0.string("name") == "audit" }?.string("endpoint") == "GET /api/v1/analytics/audit")
        }
    }

    @Test("paging: limit and next_cursor walk the log newest first without repeats; bad parameters are named")
    func paging() async throws {
        let f = try ServerFixture()
        try await f.withRouter { client in
            var seen: [Int] = []
            var cursor: String?
            var pages = 0
            repeat {
                let r = try await client.execute(uri: auditPath + "?limit=2" + (cursor.map { "&cursor=" + $0 } ?? ""), method: .get,
                                                 headers: auth(f.adminKey))
                #expect(r.status == .ok)
                let body = try json(r)
                let ids = try #require(body.array("entries")).compactMap { $0.int("id") }
                #expect(ids.count <= 2)
                seen += ids
                cursor = body.string("next_cursor")
                pages += 1
            } while cursor != nil && pages < 10
            #expect(seen.count == 5)  // the fixture's five keys
            #expect(seen == seen.sorted(by: >))
            #expect(Set(seen).count == seen.count)
            try expectProblem(try await client.execute(uri: auditPath + "?limit=0", method: .get, headers: auth(f.adminKey)),
                              .badRequest, "invalid-parameter", parameter: "limit")
            try expectProblem(try await client.execute(uri: auditPath + "?cursor=abc", method: .get, headers: auth(f.adminKey)),
                              .badRequest, "invalid-parameter", parameter: "cursor")
            try expectProblem(try await client.execute(uri: auditPath + "?from=2025-05-04&to=2025-05-03", method: .get, headers: auth(f.adminKey)),
                              .badRequest, "invalid-parameter", parameter: "from")
            try expectProblem(try await client.execute(uri: auditPath + "?who=me", method: .get, headers: auth(f.adminKey)),
                              .badRequest, "invalid-parameter", parameter: "who")
        }
    }
}
