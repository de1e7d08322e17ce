import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import TallyAnalytics
import Testing

let policyPath = "/api/v1/analytics/policy/check"

@Suite("POST policy/check")
struct PolicyTests {
    /// acme's enforced budgets (spend so far in May: tenant 35.7500001, chat 15.5, u2 20.25) and one advisory budget.
    struct Budgets {
        var tenant: String
        var chat: String
        var u2: String
        var u1Advisory: String
    }

    static func setUp(_ client: any TestClientProtocol, _ f: ServerFixture) async throws -> Budgets {
        func make(_ body: String) async throws -> String {
            try #require(try await createBudget(client, f, body).string("id"))
        }
        return Budgets(
            tenant: try await make(#"{"tenant_id":"acme","level":"tenant","period":"monthly","limit_cents":"100","enforce":true}"#),
            chat: try await make(#"{"tenant_id":"acme","level":"feature","feature_tag":"chat","period":"monthly","limit_cents":"20","enforce":true}"#),
            u2: try await make(#"{"tenant_id":"acme","level":"user","user_id":"u2","period":"monthly","limit_cents":"25","enforce":true}"#),
            u1Advisory: try await make(#"{"tenant_id":"acme","level":"user","user_id":"u1","period":"monthly","limit_cents":"1"}"#))
    }

    static func check(_ client: any TestClientProtocol, _ key: String, _ body: String) async throws -> [String: Any] {
        let r = try await send(client, .post, policyPath, key, body)
        #expect(r.status == .ok, "\(String(buffer: r.body))")
        return try json(r)
    }

    @Test("allow: every applicable enforced budget stays at or below its warn threshold; the tightest is named")
    func allow() async throws {
        let f = try ServerFixture()
        try await f.withRouter { client in
            let b = try await Self.setUp(client, f)
            let d = try await Self.check(client, f.writerA, #"{"estimated_cost_cents":"10"}"#)
            #expect(d.string("decision") == "allow")
            #expect(d["deciding_budgets"] as? [String] == [b.tenant])
            #expect(d.string("remaining_cents") == "64.2499999")
            #expect(d.string("tenant_id") == "acme")
            let budgets = try #require(d.array("budgets"))
            #expect(budgets.map { $0.string("budget_id") } == [b.tenant])
            #expect(budgets[0].string("spent_cents") == "35.7500001")
            #expect(budgets[0].string("remaining_after_cents") == "54.2499999")
            #expect(budgets[0].string("warn_at_cents") == "80.0000000")
            // Exactly at the warn threshold still allows.
            let edge = try await Self.check(client, f.writerA, #"{"feature_tag":"chat","estimated_cost_cents":"0.5"}"#)
            #expect(edge.string("decision") == "allow")
            #expect(edge["deciding_budgets"] as? [String] == [b.chat])
        }
    }

    @Test("warn: just above limit x warn_ratio, up to and including the limit")
    func warn() async throws {
        let f = try ServerFixture()
        try await f.withRouter { client in
            let b = try await Self.setUp(client, f)
            let above = try await Self.check(client, f.writerA, #"{"feature_tag":"chat","estimated_cost_cents":"0.5000001"}"#)
            #expect(above.string("decision") == "warn")
            #expect(above["deciding_budgets"] as? [String] == [b.chat])
            #expect(above.string("reason")?.contains(b.chat) == true)
            #expect(above.array("budgets")?.map { $0.string("decision") } == ["warn", "allow"])
            let atLimit = try await Self.check(client, f.writerA, #"{"feature_tag":"chat","estimated_cost_cents":"4.5"}"#)
            #expect(atLimit.string("decision") == "warn")
            // An advisory (not enforced) budget never decides: u1's 1-cent budget is ignored.
            let u1 = try await Self.check(client, f.readerA, #"{"user_id":"u1","estimated_cost_cents":"44.25"}"#)
            #expect(u1.string("decision") == "warn")
            #expect(u1["deciding_budgets"] as? [String] == [b.tenant])
            #expect(u1.array("budgets")?.contains { $0.string("budget_id") == b.u1Advisory } == false)
        }
    }

    @Test("deny: just above a limit; every budget that would be exceeded is named")
    func deny() async throws {
        let f = try ServerFixture()
        try await f.withRouter { client in
            let b = try await Self.setUp(client, f)
            let one = try await Self.check(client, f.writerA, #"{"feature_tag":"chat","estimated_cost_cents":"4.5000001"}"#)
            #expect(one.string("decision") == "deny")
            #expect(one["deciding_budgets"] as? [String] == [b.chat])
            #expect(one.array("budgets")?.first?.string("remaining_after_cents") == "-0.0000001")
            let two = try await Self.check(client, f.writerA, #"{"user_id":"u2","feature_tag":"chat","estimated_cost_cents":"5"}"#)
            #expect(two.string("decision") == "deny")
            #expect(Set(two["deciding_budgets"] as? [String] ?? []) == [b.chat, b.u2])
            #expect(two.array("budgets")?.map { $0.string("decision") } == ["deny", "deny", "allow"])
            #expect(two.string("remaining_cents") == "4.5000000")  // chat: 20 - 15.5
            #expect(two.string("reason")?.contains("exceed") == true)
            // Spend counts: new spend of chat today tips a small estimate over.
            _ = try await client.execute(uri: recordsPath, method: .post, headers: auth(f.writerA, ndjsonType),
                                         body: ndjson([#"{"tenant_id":"acme","request_id":"p1","model":"gpt-4o","input_tokens":1,"output_tokens":1,"feature_tag":"chat","cost_cents":"4.5","created_at":"2025-05-03T12:00:00Z"}"#]))
            let after = try await Self.check(client, f.writerA, #"{"feature_tag":"chat","estimated_cost_cents":"0.0000001"}"#)
            #expect(after.string("decision") == "deny")
            // A later month starts over.
            f.setNow("2025-06-01T00:00:00Z")
            #expect(try await Self.check(client, f.writerA, #"{"feature_tag":"chat","estimated_cost_cents":"5"}"#).string("decision") == "allow")
        }
    }

    @Test("tenants: a key checks against its own tenant's budgets only; admins name the tenant")
    func isolation() async throws {
        let f = try ServerFixture()
        try await f.withRouter { client in
            _ = try await Self.setUp(client, f)
            // globex has no budget: allow, nothing named, nothing remaining to report. acme's budgets never apply.
            let b = try await Self.check(client, f.writerB, #"{"feature_tag":"chat","estimated_cost_cents":"1000000"}"#)
            #expect(b.string("decision") == "allow")
            #expect(b.string("tenant_id") == "globex")
            #expect((b["deciding_budgets"] as? [String])?.isEmpty == true)
            #expect(b["remaining_cents"] is NSNull)
            try expectProblem(try await send(client, .post, policyPath, f.writerB, #"{"tenant_id":"acme","estimated_cost_cents":"1"}"#),
                              .forbidden, "forbidden")
            try expectProblem(try await send(client, .post, policyPath, f.adminKey, #"{"estimated_cost_cents":"1"}"#),
                              .badRequest, "invalid-parameter", parameter: "tenant_id")
            let admin = try await Self.check(client, f.adminKey, #"{"tenant_id":"acme","feature_tag":"chat","estimated_cost_cents":"5"}"#)
            #expect(admin.string("decision") == "deny")
            try expectProblem(try await send(client, .post, policyPath, "tly_nope", #"{"estimated_cost_cents":"1"}"#),
                              .unauthorized, "unauthorized")
        }
    }

    @Test("validation errors name the field", arguments: [
        (#"{}"#, "estimated_cost_cents"),
        (#"{"estimated_cost_cents":"-1"}"#, "estimated_cost_cents"),
        (#"{"estimated_cost_cents":5}"#, "estimated_cost_cents"),
        (#"{"estimated_cost_cents":"1.000000001"}"#, "estimated_cost_cents"),
        (#"{"estimated_cost_cents":"1","user_id":""}"#, "user_id"),
        (#"{"estimated_cost_cents":"1","feature_tag":7}"#, "feature_tag"),
        (#"{"estimated_cost_cents":"1","model":"gpt-4o"}"#, "model"),
    ])
    func validation(body: String, parameter: String) async throws {
        let f = try ServerFixture()
        try await f.withRouter { client in
            _ = try expectProblem(try await send(client, .post, policyPath, f.writerA, body), .badRequest, "invalid-parameter",
                                  parameter: parameter)
        }
    }
}
