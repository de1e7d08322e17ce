import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import TallyAnalytics
import TallyStore
import Testing

let budgetsPath = "/api/v1/analytics/budgets"
let jsonType: HTTPFields = [.contentType: "application/json"]

/// Sends `body` (a JSON object literal) to `uri` with `key`.
func send(_ client: any TestClientProtocol, _ method: HTTPRequest.Method, _ uri: String, _ key: String,
          _ body: String? = nil) async throws -> TestResponse {
    try await client.execute(uri: uri, method: method, headers: auth(key, body == nil ? [:] : jsonType),
                             body: body.map { ByteBuffer(string: $0) })
}

/// Creates a budget with the admin key and returns its JSON.
func createBudget(_ client: any TestClientProtocol, _ f: ServerFixture, _ body: String) async throws -> [String: Any] {
    let r = try await send(client, .post, budgetsPath, f.adminKey, body)
    #expect(r.status == .created, "\(String(buffer: r.body))")
    return try #require(try json(r).object("budget"))
}

@Suite("Budgets: CRUD, status, validation, isolation")
struct BudgetTests {
    @Test("create, read, list, change and delete a budget; status from the tenant's spend in the month")
    func lifecycle() async throws {
        let f = try ServerFixture()
        try await f.withRouter { client in
            let r = try await send(client, .post, budgetsPath, f.adminKey,
                                   #"{"tenant_id":"acme","level":"tenant","period":"monthly","limit_cents":"100"}"#)
            #expect(r.status == .created)
            let created = try #require(try json(r).object("budget"))
            let id = try #require(created.string("id"))
            #expect(r.headers[.location] == budgetsPath + "/" + id)
            #expect(created.string("tenant_id") == "acme")
            #expect(created.string("level") == "tenant")
            #expect(created["feature_tag"] is NSNull)
            #expect(created.string("limit_cents") == "100.0000000")
            #expect(created["warn_ratio"] as? Double == 0.8)
            #expect(created["enforce"] as? Bool == false)
            // May 1-3 of acme: 10.5 + 20.25 + 5 + 0.0000001; April 30's 7 is another month. 3 of 31 days gone.
            let current = try #require(created.object("current"))
            #expect(current.string("period_start") == "2025-05-01T00:00:00Z")
            #expect(current.string("period_end") == "2025-06-01T00:00:00Z")
            #expect(current.string("spent_cents") == "35.7500001")
            #expect(current.string("remaining_cents") == "64.2499999")
            #expect(current["utilization_pct"] as? Double == 35.75)
            #expect(current.string("state") == "ok")
            #expect(current.string("burn_rate_cents_per_hour") == "0.4965278")  // 35.7500001 / 72
            #expect(current.string("projected_spend_cents") == "369.4166677")  // x 31 / 3
            #expect(current["will_exceed"] as? Bool == true)
            // 100 cents are reached after 72 h x 100 / 35.7500001 = 201.398... h: 2025-05-09T09:23:54.964Z.
            #expect(current.string("projected_exceeded_at") == "2025-05-09T09:23:54.964Z")

            let read = try json(try await send(client, .get, budgetsPath + "/" + id, f.readerA))
            #expect(read.object("budget")?.string("id") == id)
            #expect(read.object("budget")?.object("current")?.string("spent_cents") == "35.7500001")
            #expect(read.object("provenance")?.string("aggregation")?.isEmpty == false)

            let listA = try json(try await send(client, .get, budgetsPath, f.readerA))
            #expect(listA.array("budgets")?.map { $0.string("id") } == [id])
            let listB = try json(try await send(client, .get, budgetsPath, f.readerB))
            #expect(listB.array("budgets")?.isEmpty == true)

            let patched = try await send(client, .patch, budgetsPath + "/" + id, f.adminKey,
                                         #"{"limit_cents":"40","warn_ratio":0.5,"enforce":true}"#)
            #expect(patched.status == .ok)
            let after = try #require(try json(patched).object("budget"))
            #expect(after.string("limit_cents") == "40.0000000")
            #expect(after["warn_ratio"] as? Double == 0.5)
            #expect(after["enforce"] as? Bool == true)
            #expect(after.object("current")?.string("state") == "warning")  // 35.75 > 20, <= 40
            #expect(after.object("current")?.string("projected_exceeded_at") == "2025-05-04T08:33:33.986Z")
            // Later the same month the spend is the same but more time has gone: a lower burn rate.
            f.setNow("2025-05-31T00:00:00Z")
            let late = try json(try await send(client, .get, budgetsPath + "/" + id, f.readerA))
            #expect(late.object("budget")?.object("current")?.string("burn_rate_cents_per_hour") == "0.0496528")  // / 720 h
            #expect(late.object("budget")?.object("current")?.string("projected_exceeded_at") == nil)
            // In June the month starts over.
            f.setNow("2025-06-01T00:00:00Z")
            let june = try json(try await send(client, .get, budgetsPath + "/" + id, f.readerA))
            #expect(june.object("budget")?.object("current")?.string("spent_cents") == "0.0000000")
            #expect(june.object("budget")?.object("current")?["burn_rate_cents_per_hour"] is NSNull)

            let deleted = try await send(client, .delete, budgetsPath + "/" + id, f.adminKey)
            #expect(deleted.status == .noContent)
            try expectProblem(try await send(client, .get, budgetsPath + "/" + id, f.readerA), .notFound, "not-found")
            try expectProblem(try await send(client, .delete, budgetsPath + "/" + id, f.adminKey), .notFound, "not-found")
        }
    }

    @Test("feature and user budgets count only their feature's or user's records")
    func featureAndUser() async throws {
        let f = try ServerFixture()
        try await f.withRouter { client in
            let chat = try await createBudget(client, f,
                #"{"tenant_id":"acme","level":"feature","feature_tag":"chat","period":"monthly","limit_cents":"20"}"#)
            #expect(chat.string("feature_tag") == "chat")
            #expect(chat.object("current")?.string("spent_cents") == "15.5000000")  // a1 + a3
            let u2 = try await createBudget(client, f,
                #"{"tenant_id":"acme","level":"user","user_id":"u2","period":"daily","limit_cents":"1"}"#)
            #expect(u2.string("user_id") == "u2")
            // Daily at 2025-05-04T00:00Z: nothing yet today.
            #expect(u2.object("current")?.string("spent_cents") == "0.0000000")
            f.setNow("2025-05-01T12:00:00Z")
            let read = try json(try await send(client, .get, budgetsPath + "/" + (u2.string("id") ?? ""), f.readerA))
            #expect(read.object("budget")?.object("current")?.string("spent_cents") == "20.2500000")
            #expect(read.object("budget")?.object("current")?.string("state") == "exceeded")
            #expect(read.object("budget")?.object("current")?["projected_exceeded_at"] is NSNull)
        }
    }

    @Test("the leap day: February 2024's month and day count the records of their own UTC bounds")
    func leapDay() async throws {
        let f = try ServerFixture(seed: false)
        let A = ServerFixture.tenantA
        func r(_ id: String, _ at: String, _ cents: String) -> CostRecord {
            ServerFixture.rec(A, id, at, project: "p", env: "prod", user: "u", feature: "f", model: "gpt-4o", input: 1, output: 1, cents: cents)
        }
        _ = try f.store.append(RecordBatch([
            r("jan", "2024-01-31T23:59:59.999Z", "1000"),
            r("feb1", "2024-02-01T00:00:00Z", "1"),
            r("feb28", "2024-02-28T23:59:59.999Z", "2"),
            r("leap", "2024-02-29T00:00:00Z", "4"),
            r("leap2", "2024-02-29T23:59:59.999Z", "8"),
            r("mar", "2024-03-01T00:00:00Z", "1000"),
        ]))
        f.setNow("2024-02-29T12:00:00Z")
        try await f.withRouter { client in
            let month = try await createBudget(client, f, #"{"tenant_id":"acme","level":"tenant","period":"monthly","limit_cents":"29"}"#)
            let current = try #require(month.object("current"))
            #expect(current.string("period_end") == "2024-03-01T00:00:00Z")
            #expect(current.string("spent_cents") == "15.0000000")
            // 684 of 696 hours gone: 15 x 696 / 684.
            #expect(current.string("projected_spend_cents") == "15.2631579")
            let day = try await createBudget(client, f, #"{"tenant_id":"acme","level":"tenant","period":"daily","limit_cents":"20"}"#)
            #expect(day.object("current")?.string("period_start") == "2024-02-29T00:00:00Z")
            #expect(day.object("current")?.string("spent_cents") == "12.0000000")
            #expect(day.object("current")?.string("projected_spend_cents") == "24.0000000")
            #expect(day.object("current")?.string("projected_exceeded_at") == "2024-02-29T20:00:00.001Z")
        }
    }

    static let invalid: [(body: String, parameter: String)] = [
        (#"{"tenant_id":"acme","period":"monthly","limit_cents":"1"}"#, "level"),
        (#"{"tenant_id":"acme","level":"org","period":"monthly","limit_cents":"1"}"#, "level"),
        (#"{"tenant_id":"acme","level":"feature","period":"monthly","limit_cents":"1"}"#, "feature_tag"),
        (#"{"tenant_id":"acme","level":"user","user_id":"","period":"monthly","limit_cents":"1"}"#, "user_id"),
        (#"{"tenant_id":"acme","level":"tenant","user_id":"u1","period":"monthly","limit_cents":"1"}"#, "user_id"),
        (#"{"tenant_id":"acme","level":"feature","feature_tag":"chat","user_id":"u1","period":"monthly","limit_cents":"1"}"#, "user_id"),
        (#"{"tenant_id":"acme","level":"tenant","period":"weekly","limit_cents":"1"}"#, "period"),
        (#"{"tenant_id":"acme","level":"tenant","limit_cents":"1"}"#, "period"),
        (#"{"tenant_id":"acme","level":"tenant","period":"daily"}"#, "limit_cents"),
        (#"{"tenant_id":"acme","level":"tenant","period":"daily","limit_cents":"0"}"#, "limit_cents"),
        (#"{"tenant_id":"acme","level":"tenant","period":"daily","limit_cents":"-5"}"#, "limit_cents"),
        (#"{"tenant_id":"acme","level":"tenant","period":"daily","limit_cents":"1.23456789"}"#, "limit_cents"),
        (#"{"tenant_id":"acme","level":"tenant","period":"daily","limit_cents":"12abc"}"#, "limit_cents"),
        (#"{"tenant_id":"acme","level":"tenant","period":"daily","limit_cents":"1000000001"}"#, "limit_cents"),
        (#"{"tenant_id":"acme","level":"tenant","period":"daily","limit_cents":12.5}"#, "limit_cents"),
        (#"{"tenant_id":"acme","level":"tenant","period":"daily","limit_cents":"1","warn_ratio":0}"#, "warn_ratio"),
        (#"{"tenant_id":"acme","level":"tenant","period":"daily","limit_cents":"1","warn_ratio":1.01}"#, "warn_ratio"),
        (#"{"tenant_id":"acme","level":"tenant","period":"daily","limit_cents":"1","warn_ratio":"0.8"}"#, "warn_ratio"),
        (#"{"tenant_id":"acme","level":"tenant","period":"daily","limit_cents":"1","enforce":"yes"}"#, "enforce"),
        (#"{"tenant_id":"acme","level":"tenant","period":"daily","limit_cents":"1","enforce":1}"#, "enforce"),
        (#"{"tenant_id":"acme","level":"tenant","period":"daily","limit_cents":"1","colour":"red"}"#, "colour"),
        (#"{"level":"tenant","period":"daily","limit_cents":"1"}"#, "tenant_id"),
        (#"{"tenant_id":"no spaces","level":"tenant","period":"daily","limit_cents":"1"}"#, "tenant_id"),
        (#"["not","an","object"]"#, "body"),
        (#"{"tenant_id":"acme","#, "body"),
    ]

    @Test("validation errors are 400 problems naming the field", arguments: invalid)
    func validation(body: String, parameter: String) async throws {
        let f = try ServerFixture()
        try await f.withRouter { client in
            try expectProblem(try await send(client, .post, budgetsPath, f.adminKey, body), .badRequest, "invalid-parameter",
                              parameter: parameter)
            // Nothing was stored.
            #expect(try json(try await send(client, .get, budgetsPath, f.adminKey)).array("budgets")?.isEmpty == true)
        }
    }

    @Test("PATCH validates its fields and refuses to change what a budget limits")
    func patchValidation() async throws {
        let f = try ServerFixture()
        try await f.withRouter { client in
            let id = try #require(try await createBudget(client, f,
                #"{"tenant_id":"acme","level":"tenant","period":"daily","limit_cents":"5","enforce":true}"#).string("id"))
            for (body, parameter) in [(#"{"limit_cents":"0"}"#, "limit_cents"), (#"{"warn_ratio":-1}"#, "warn_ratio"),
                                      (#"{"period":"monthly"}"#, "period"), (#"{"level":"user"}"#, "level"),
                                      (#"{"tenant_id":"globex"}"#, "tenant_id"), (#"{"enforce":null,"x":1}"#, "x")] {
                try expectProblem(try await send(client, .patch, budgetsPath + "/" + id, f.adminKey, body), .badRequest,
                                  "invalid-parameter", parameter: parameter)
            }
            let unchanged = try json(try await send(client, .get, budgetsPath + "/" + id, f.adminKey))
            #expect(unchanged.object("budget")?.string("limit_cents") == "5.0000000")
            #expect(unchanged.object("budget")?["enforce"] as? Bool == true)
            let r = try await client.execute(uri: budgetsPath, method: .post, headers: auth(f.adminKey, [.contentType: "text/plain"]),
                                             body: ByteBuffer(string: "{}"))
            try expectProblem(r, .unsupportedMediaType, "unsupported-media-type", parameter: "Content-Type")
        }
    }

    @Test("one budget per tenant, level, subject and period: a second is a 409 conflict")
    func duplicate() async throws {
        let f = try ServerFixture()
        try await f.withRouter { client in
            let body = #"{"tenant_id":"acme","level":"feature","feature_tag":"chat","period":"daily","limit_cents":"5"}"#
            _ = try await createBudget(client, f, body)
            try expectProblem(try await send(client, .post, budgetsPath, f.adminKey, body), .conflict, "conflict")
            // Another period, feature or tenant is another budget.
            _ = try await createBudget(client, f, body.replacingOccurrences(of: "daily", with: "monthly"))
            _ = try await createBudget(client, f, body.replacingOccurrences(of: "\"chat\"", with: "\"search\""))
            _ = try await createBudget(client, f, body.replacingOccurrences(of: "acme", with: "globex"))
        }
    }

    @Test("roles and tenants: admins change budgets; readers read their own tenant's; another tenant's budget is not found")
    func isolation() async throws {
        let f = try ServerFixture()
        try await f.withRouter { client in
            let a = try #require(try await createBudget(client, f,
                #"{"tenant_id":"acme","level":"tenant","period":"daily","limit_cents":"5"}"#).string("id"))
            let b = try #require(try await createBudget(client, f,
                #"{"tenant_id":"globex","level":"tenant","period":"daily","limit_cents":"5"}"#).string("id"))
            let body = #"{"level":"user","user_id":"u1","period":"daily","limit_cents":"5"}"#
            for key in [f.readerA, f.writerA] {
                try expectProblem(try await send(client, .post, budgetsPath, key, body), .forbidden, "forbidden")
                try expectProblem(try await send(client, .patch, budgetsPath + "/" + a, key, #"{"limit_cents":"9"}"#), .forbidden, "forbidden")
                try expectProblem(try await send(client, .delete, budgetsPath + "/" + a, key), .forbidden, "forbidden")
            }
            try expectProblem(try await send(client, .get, budgetsPath, f.writerA), .forbidden, "forbidden")
            try expectProblem(try await send(client, .get, budgetsPath + "/" + a, f.writerA), .forbidden, "forbidden")
            // Reader A: its budget, never B's (404, not 403: ids of other tenants are not confirmed).
            #expect(try await send(client, .get, budgetsPath + "/" + a, f.readerA).status == .ok)
            try expectProblem(try await send(client, .get, budgetsPath + "/" + b, f.readerA), .notFound, "not-found")
            try expectProblem(try await send(client, .get, budgetsPath + "?tenant_id=globex", f.readerA), .forbidden, "forbidden")
            #expect(try json(try await send(client, .get, budgetsPath, f.readerA)).array("budgets")?.map { $0.string("id") } == [a])
            // The admin sees both, or one tenant's.
            #expect(try json(try await send(client, .get, budgetsPath, f.adminKey)).array("budgets")?.count == 2)
            #expect(try json(try await send(client, .get, budgetsPath + "?tenant_id=globex", f.adminKey))
                .array("budgets")?.map { $0.string("id") } == [b])
            try expectProblem(try await send(client, .get, budgetsPath + "/" + a, "tly_unknown"), .unauthorized, "unauthorized")
        }
    }
}
