import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import TallyAnalytics
import Testing

let reservationsPath = "/api/v1/analytics/policy/reservations"

@Suite("Policy reservations")
struct ReservationTests {
    /// Reserves with `key`; returns the answer's JSON after expecting `status`.
    static func reserve(_ client: any TestClientProtocol, _ key: String, _ body: String,
                        expect status: HTTPResponse.Status = .created) async throws -> [String: Any] {
        let r = try await send(client, .post, reservationsPath, key, body)
        #expect(r.status == status, "\(String(buffer: r.body))")
        return try json(r)
    }

    static func id(_ answer: [String: Any]) throws -> String {
        try #require(answer.object("reservation")?.string("id"))
    }

    /// acme's enforced monthly tenant budget of 100 cents (35.7500001 spent in May, so 64.2499999 remain).
    static func tenantBudget(_ client: any TestClientProtocol, _ f: ServerFixture, limit: String = "100") async throws -> String {
        try #require(try await createBudget(
            client, f, #"{"tenant_id":"acme","level":"tenant","period":"monthly","limit_cents":"\#(limit)","enforce":true}"#).string("id"))
    }

    @Test("allow while spend + active reservations + estimate stays within the limit; deny past it, naming the budget and what remains")
    func allowAndDeny() async throws {
        let f = try ServerFixture()
        try await f.withRouter { client in
            let budget = try await Self.tenantBudget(client, f)
            let first = try await Self.reserve(client, f.writerA, #"{"user_id":"u1","feature_tag":"chat","estimated_cost_cents":"60"}"#)
            let r = try #require(first.object("reservation"))
            #expect(r.string("state") == "active")
            #expect(r.string("tenant_id") == "acme")
            #expect(r.string("estimated_cost_cents") == "60.0000000")
            #expect(r["budget_ids"] as? [String] == [budget])
            #expect(r.string("expires_at") == "2025-05-04T00:15:00Z")  // the default 15 minutes
            let held = try #require(first.array("budgets")?.first)
            #expect(held.string("spent_cents") == "35.7500001")
            #expect(held.string("reserved_cents") == "0.0000000")
            #expect(held.string("remaining_after_cents") == "4.2499999")

            let denied = try expectProblem(try await send(client, .post, reservationsPath, f.writerA, #"{"estimated_cost_cents":"4.25"}"#),
                                           .conflict, "budget-exceeded")
            #expect(denied["budget_ids"] as? [String] == [budget])
            #expect(denied.string("remaining_cents") == "4.2499999")
            #expect(denied.string("detail")?.contains(budget) == true)
            #expect(denied.array("budgets")?.first?.string("reserved_cents") == "60.0000000")
            // Exactly up to the limit fits.
            let last = try await Self.reserve(client, f.readerA, #"{"estimated_cost_cents":"4.2499999"}"#)
            #expect(last.array("budgets")?.first?.string("remaining_after_cents") == "0.0000000")
            _ = try await Self.reserve(client, f.writerA, #"{"estimated_cost_cents":"0.0000001"}"#, expect: .conflict)
            // A zero estimate fits a budget with nothing left; Location names the reservation.
            let zero = try await send(client, .post, reservationsPath, f.writerA, #"{"estimated_cost_cents":"0"}"#)
            #expect(zero.status == .created)
            #expect(zero.headers[.location] == reservationsPath + "/" + (try Self.id(try json(zero))))
        }
    }

    @Test("only enforced budgets that apply hold: feature and user budgets by the reservation's feature_tag and user_id")
    func applicableBudgets() async throws {
        let f = try ServerFixture()
        try await f.withRouter { client in
            let chat = try #require(try await createBudget(
                client, f, #"{"tenant_id":"acme","level":"feature","feature_tag":"chat","period":"monthly","limit_cents":"20","enforce":true}"#)
                .string("id"))
            _ = try await createBudget(client, f, #"{"tenant_id":"acme","level":"user","user_id":"u1","period":"monthly","limit_cents":"1"}"#)
            // No enforced budget applies to another feature (the advisory u1 budget never holds).
            let free = try await Self.reserve(client, f.writerA, #"{"user_id":"u1","feature_tag":"search","estimated_cost_cents":"1000"}"#)
            #expect(free.object("reservation")?["budget_ids"] as? [String] == [])
            // chat: 15.5 spent of 20.
            let a = try await Self.reserve(client, f.writerA, #"{"feature_tag":"chat","estimated_cost_cents":"4"}"#)
            #expect(a.object("reservation")?["budget_ids"] as? [String] == [chat])
            let no = try expectProblem(try await send(client, .post, reservationsPath, f.writerA, #"{"feature_tag":"chat","estimated_cost_cents":"0.6"}"#),
                                       .conflict, "budget-exceeded")
            #expect(no.string("remaining_cents") == "0.5000000")
            _ = try await Self.reserve(client, f.writerA, #"{"feature_tag":"chat","estimated_cost_cents":"0.5"}"#)
        }
    }

    @Test("settle and cancel release the hold once; a released reservation cannot be released again")
    func settleAndCancel() async throws {
        let f = try ServerFixture()
        try await f.withRouter { client in
            _ = try await Self.tenantBudget(client, f)
            let a = try Self.id(try await Self.reserve(client, f.writerA, #"{"estimated_cost_cents":"60"}"#))
            _ = try await Self.reserve(client, f.writerA, #"{"estimated_cost_cents":"60"}"#, expect: .conflict)
            f.setNow("2025-05-04T00:05:00Z")
            let settled = try await send(client, .post, reservationsPath + "/\(a)/settle", f.writerA, #"{"actual_cost_cents":"58.25"}"#)
            #expect(settled.status == .ok)
            let s = try #require(try json(settled).object("reservation"))
            #expect(s.string("state") == "settled")
            #expect(s.string("actual_cost_cents") == "58.2500000")
            #expect(s.string("released_at") == "2025-05-04T00:05:00Z")
            try expectProblem(try await send(client, .post, reservationsPath + "/\(a)/settle", f.writerA, #"{"actual_cost_cents":"1"}"#),
                              .conflict, "conflict")
            try expectProblem(try await send(client, .post, reservationsPath + "/\(a)/cancel", f.writerA), .conflict, "conflict")

            let b = try Self.id(try await Self.reserve(client, f.writerA, #"{"estimated_cost_cents":"60"}"#))
            let cancelled = try await send(client, .post, reservationsPath + "/\(b)/cancel", f.writerA)
            #expect(cancelled.status == .ok)
            #expect(try json(cancelled).object("reservation")?.string("state") == "cancelled")
            #expect(try json(cancelled).object("reservation")?["actual_cost_cents"] is NSNull)
            let got = try await send(client, .get, reservationsPath + "/\(b)", f.readerA)
            #expect(got.status == .ok)
            #expect(try json(got).object("reservation")?.string("state") == "cancelled")
            _ = try await Self.reserve(client, f.writerA, #"{"estimated_cost_cents":"64.2499999"}"#)
            // settle needs the actual cost.
            let c = try Self.id(try await Self.reserve(client, f.writerA, #"{"estimated_cost_cents":"0"}"#))
            try expectProblem(try await send(client, .post, reservationsPath + "/\(c)/settle", f.writerA, #"{}"#),
                              .badRequest, "invalid-parameter", parameter: "actual_cost_cents")
            try expectProblem(try await send(client, .post, reservationsPath + "/\(c)/settle", f.writerA, #"{"actual_cost_cents":"-1"}"#),
                              .badRequest, "invalid-parameter", parameter: "actual_cost_cents")
        }
    }

    @Test("an unsettled reservation expires at created + ttl and then holds nothing (pinned clock)")
    func expiry() async throws {
        let f = try ServerFixture()
        try await f.withRouter { client in
            _ = try await Self.tenantBudget(client, f)
            let a = try await Self.reserve(client, f.writerA, #"{"estimated_cost_cents":"60","ttl_seconds":60}"#)
            let id = try Self.id(a)
            #expect(a.object("reservation")?.string("expires_at") == "2025-05-04T00:01:00Z")
            f.setNow("2025-05-04T00:00:59.999Z")
            _ = try await Self.reserve(client, f.writerA, #"{"estimated_cost_cents":"60"}"#, expect: .conflict)
            let check = try await PolicyTests.check(client, f.writerA, #"{"estimated_cost_cents":"0"}"#)
            #expect(check.array("budgets")?.first?.string("reserved_cents") == "60.0000000")
            f.setNow("2025-05-04T00:01:00Z")
            #expect(try json(try await send(client, .get, reservationsPath + "/\(id)", f.writerA)).object("reservation")?.string("state") == "expired")
            let after = try await PolicyTests.check(client, f.writerA, #"{"estimated_cost_cents":"0"}"#)
            #expect(after.array("budgets")?.first?.string("reserved_cents") == "0.0000000")
            try expectProblem(try await send(client, .post, reservationsPath + "/\(id)/settle", f.writerA, #"{"actual_cost_cents":"60"}"#),
                              .conflict, "conflict")
            _ = try await Self.reserve(client, f.writerA, #"{"estimated_cost_cents":"60"}"#)
        }
    }

    @Test("released and expired reservations are purged after the retention (7 days by default), active ones are kept")
    func purge() async throws {
        let f = try ServerFixture()
        try await f.withRouter { client in
            let old = try Self.id(try await Self.reserve(client, f.writerA, #"{"estimated_cost_cents":"1","ttl_seconds":60}"#))
            f.setNow("2025-05-11T00:01:00Z")
            let held = try Self.id(try await Self.reserve(client, f.writerA, #"{"estimated_cost_cents":"1","ttl_seconds":86400}"#))
            #expect(try await send(client, .get, reservationsPath + "/\(old)", f.writerA).status == .ok)  // 7 days less 0 ms: kept
            f.setNow("2025-05-11T01:01:01Z")
            _ = try await Self.reserve(client, f.writerA, #"{"estimated_cost_cents":"1"}"#)
            try expectProblem(try await send(client, .get, reservationsPath + "/\(old)", f.writerA), .notFound, "not-found")
            #expect(try await send(client, .get, reservationsPath + "/\(held)", f.writerA).status == .ok)
        }
    }

    @Test("policy/check counts active reservations: reserved_cents, remaining_cents and the decision")
    func checkCountsReservations() async throws {
        let f = try ServerFixture()
        try await f.withRouter { client in
            let budget = try await Self.tenantBudget(client, f)
            #expect(try await PolicyTests.check(client, f.writerA, #"{"estimated_cost_cents":"50"}"#).string("decision") == "warn")
            _ = try await Self.reserve(client, f.writerA, #"{"estimated_cost_cents":"30"}"#)
            let d = try await PolicyTests.check(client, f.writerA, #"{"estimated_cost_cents":"50"}"#)
            #expect(d.string("decision") == "deny")
            #expect(d["deciding_budgets"] as? [String] == [budget])
            #expect(d.string("remaining_cents") == "34.2499999")
            let b = try #require(d.array("budgets")?.first)
            #expect(b.string("reserved_cents") == "30.0000000")
            #expect(b.string("remaining_cents") == "34.2499999")
            #expect(b.string("remaining_after_cents") == "-15.7500001")
            #expect(try await PolicyTests.check(client, f.writerA, #"{"estimated_cost_cents":"34.2499999"}"#).string("decision") == "warn")
        }
    }

    @Test("concurrent reservations: exactly as many win as fit, and the total held never passes the limit", arguments: [
        ("40", 1),  // each fits alone (64.2499999 remain), any two exceed: exactly one wins
        ("10", 6),
        ("3.2124999", 20),
    ])
    func concurrent(estimate: String, winners: Int) async throws {
        let f = try ServerFixture()
        try await f.withRouter { client in
            _ = try await Self.tenantBudget(client, f)
            let statuses = try await withThrowingTaskGroup(of: HTTPResponse.Status.self) { group in
                for i in 0..<20 {
                    let key = i.isMultiple(of: 2) ? f.writerA : f.readerA
                    group.addTask {
                        try await send(client, .post, reservationsPath, key, #"{"estimated_cost_cents":"\#(estimate)"}"#).status
                    }
                }
                var all: [HTTPResponse.Status] = []
                for try await s in group { all.append(s) }
                return all
            }
            #expect(statuses.filter { $0 == .created }.count == winners)
            #expect(statuses.filter { $0 == .conflict }.count == 20 - winners)
            let held = try #require(try await PolicyTests.check(client, f.writerA, #"{"estimated_cost_cents":"0"}"#).array("budgets")?.first)
            let reservedText = try #require(held.string("reserved_cents"))
            let reserved = try #require(Decimal(string: reservedText))
            let each = try #require(Decimal(string: estimate))
            #expect(reserved == Decimal(winners) * each)
            #expect(reserved + 35.7500001 <= 100)
        }
    }

    @Test("the same race straight on the services, 20 tasks: exactly one wins")
    func concurrentServices() async throws {
        let f = try ServerFixture()
        try await f.withRouter { client in _ = try await Self.tenantBudget(client, f) }
        let writer = try #require(try f.analytics.catalog.verify(secret: f.writerA))
        let wins = try await withThrowingTaskGroup(of: Bool.self) { group in
            for _ in 0..<20 {
                group.addTask {
                    do {
                        _ = try await f.analytics.reserve(ReservationRequest(estimatedCostCents: "33"), principal: writer)
                        return true
                    } catch AnalyticsError.budgetExceeded {
                        return false
                    }
                }
            }
            var n = 0
            for try await won in group where won { n += 1 }
            return n
        }
        #expect(wins == 1)
    }

    @Test("tenant isolation: another tenant's reservation is not found; its holds never count against this tenant")
    func isolation() async throws {
        let f = try ServerFixture()
        try await f.withRouter { client in
            _ = try await Self.tenantBudget(client, f)
            let a = try Self.id(try await Self.reserve(client, f.writerA, #"{"estimated_cost_cents":"60"}"#))
            // globex has no budget: its reservation holds nothing and does not touch acme's.
            let b = try Self.id(try await Self.reserve(client, f.writerB, #"{"estimated_cost_cents":"1000"}"#))
            _ = try await Self.reserve(client, f.writerA, #"{"estimated_cost_cents":"4.2499999"}"#)
            for key in [f.readerB, f.writerB] {
                try expectProblem(try await send(client, .get, reservationsPath + "/\(a)", key), .notFound, "not-found")
                try expectProblem(try await send(client, .post, reservationsPath + "/\(a)/settle", key, #"{"actual_cost_cents":"1"}"#),
                                  .notFound, "not-found")
                try expectProblem(try await send(client, .post, reservationsPath + "/\(a)/cancel", key), .notFound, "not-found")
            }
            try expectProblem(try await send(client, .get, reservationsPath + "/\(b)", f.readerA), .notFound, "not-found")
            try expectProblem(try await send(client, .get, reservationsPath + "/res_nope", f.readerA), .notFound, "not-found")
            #expect(try await send(client, .get, reservationsPath + "/\(a)", f.adminKey).status == .ok)
            // The reservation stayed active: B's attempts changed nothing.
            #expect(try json(try await send(client, .get, reservationsPath + "/\(a)", f.readerA)).object("reservation")?.string("state") == "active")
            try expectProblem(try await send(client, .post, reservationsPath, f.writerB, #"{"tenant_id":"acme","estimated_cost_cents":"1"}"#),
                              .forbidden, "forbidden")
            try expectProblem(try await send(client, .post, reservationsPath, f.adminKey, #"{"estimated_cost_cents":"1"}"#),
                              .badRequest, "invalid-parameter", parameter: "tenant_id")
            _ = try await Self.reserve(client, f.adminKey, #"{"tenant_id":"acme","estimated_cost_cents":"0"}"#)
            try expectProblem(try await send(client, .post, reservationsPath, "tly_nope", #"{"estimated_cost_cents":"1"}"#),
                              .unauthorized, "unauthorized")
        }
    }

    @Test("validation errors name the field", arguments: [
        (#"{}"#, "estimated_cost_cents"),
        (#"{"estimated_cost_cents":"-1"}"#, "estimated_cost_cents"),
        (#"{"estimated_cost_cents":"1","ttl_seconds":0}"#, "ttl_seconds"),
        (#"{"estimated_cost_cents":"1","ttl_seconds":1.5}"#, "ttl_seconds"),
        (#"{"estimated_cost_cents":"1","ttl_seconds":86401}"#, "ttl_seconds"),
        (#"{"estimated_cost_cents":"1","ttl_seconds":"60"}"#, "ttl_seconds"),
        (#"{"estimated_cost_cents":"1","user_id":""}"#, "user_id"),
        (#"{"estimated_cost_cents":"1","model":"x"}"#, "model"),
    ])
    func validation(body: String, parameter: String) async throws {
        let f = try ServerFixture()
        try await f.withRouter { client in
            _ = try expectProblem(try await send(client, .post, reservationsPath, f.writerA, body), .badRequest, "invalid-parameter",
                                  parameter: parameter)
        }
    }
}
