import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import TallyAnalytics
import TallyServer
import TallyStore
import TallyTestSupport
import Testing

@Suite("Access: keys, roles and tenant isolation")
struct AccessTests {
    enum Who: String, CaseIterable, Sendable { case reader, writer, admin }
    enum Whose: String, CaseIterable, Sendable { case own, other }
    enum Route: String, CaseIterable, Sendable { case usage, cost, costGrouped, records }

    /// What each role gets on each route for its own tenant and for another one: data only for the own tenant
    /// (any tenant for an admin), 403 for the wrong role or another tenant, 422 (the records rejected) for a
    /// writer's records of another tenant.
    static func expected(_ who: Who, _ whose: Whose, _ route: Route) -> HTTPResponse.Status {
        switch (who, route) {
        case (.admin, _): .ok
        case (.reader, .records): .forbidden
        case (.writer, .usage), (.writer, .cost), (.writer, .costGrouped): .forbidden
        case (.writer, .records): whose == .own ? .ok : .unprocessableContent
        case (.reader, _): whose == .own ? .ok : .forbidden
        }
    }

    static var matrix: [(Who, Whose, Route)] {
        Who.allCases.flatMap { who in Whose.allCases.flatMap { whose in Route.allCases.map { (who, whose, $0) } } }
    }

    @Test("role x tenant x route", arguments: matrix)
    func isolation(who: Who, whose: Whose, route: Route) async throws {
        let f = try ServerFixture()
        let key = switch who {
        case .reader: f.readerA
        case .writer: f.writerA
        case .admin: f.adminKey
        }
        // The admin's "own" tenant is A, like the others'; "other" is B.
        let tenant = whose == .own ? ServerFixture.tenantA : ServerFixture.tenantB
        let window = "from=2025-05-01&to=2025-05-04"
        try await f.withRouter { client in
            let r: TestResponse = switch route {
            case .usage:
                try await client.execute(uri: usagePath + "?\(window)&tenant_id=\(tenant)", method: .get, headers: auth(key))
            case .cost:
                try await client.execute(uri: costPath + "?\(window)&tenant_id=\(tenant)", method: .get, headers: auth(key))
            case .costGrouped:
                try await client.execute(uri: costPath + "?\(window)&tenant_id=\(tenant)&group_by=user", method: .get, headers: auth(key))
            case .records:
                try await client.execute(uri: recordsPath, method: .post, headers: auth(key, ndjsonType),
                                         body: ndjson([line(tenant, "iso-1")]))
            }
            let status = Self.expected(who, whose, route)
            #expect(r.status == status)
            let body = try json(r)
            switch status {
            case .ok where route != .records:
                #expect(body.object("scope")?.string("tenant_id") == tenant)
                let cents = body.object("totals")?.string("cost_cents")
                #expect(cents == (tenant == ServerFixture.tenantA ? "35.7500001" : "3000.0000000"))
            case .forbidden:
                try expectProblem(r, .forbidden, "forbidden")
                #expect(body["totals"] == nil && body["series"] == nil && body["groups"] == nil)
            case .unprocessableContent:
                let problem = try expectProblem(r, .unprocessableContent, "invalid-records")
                #expect(problem.array("errors")?.first?.string("field") == "tenant_id")
            default:
                break
            }
        }
        if route == .records {
            let stored = try f.store.snapshot().records(tenant: tenant).contains { $0.requestID == "iso-1" }
            #expect(stored == (Self.expected(who, whose, route) == .ok))
        }
    }

    @Test("a tenant key without tenant_id reads only its own tenant")
    func implicitTenant() async throws {
        let f = try ServerFixture()
        try await f.withRouter { client in
            let a = try json(try await client.execute(uri: usagePath + "?from=2025-05-01&to=2025-05-04", method: .get, headers: auth(f.readerA)))
            let b = try json(try await client.execute(uri: usagePath + "?from=2025-05-01&to=2025-05-04", method: .get, headers: auth(f.readerB)))
            #expect(a.object("totals")?.string("cost_cents") == "35.7500001")
            #expect(b.object("totals")?.string("cost_cents") == "3000.0000000")
            let summary = try json(try await client.execute(uri: costPath + "?from=2025-05-01&to=2025-05-04", method: .get, headers: auth(f.readerB)))
            #expect(summary.object("top")?.array("user_id")?.map { $0.object("key")?.string("user_id") } == ["x"])
        }
    }

    @Test("missing, malformed, unknown and revoked keys get 401 on every keyed route", arguments: [usagePath, costPath, recordsPath])
    func unauthorized(path: String) async throws {
        let f = try ServerFixture()
        let revoked = try f.analytics.catalog.createKey(tenant: ServerFixture.tenantA, role: .reader)
        try f.analytics.catalog.revokeKey(id: revoked.key.id)
        let method: HTTPRequest.Method = path == recordsPath ? .post : .get
        let body = path == recordsPath ? ndjson([line("acme", "u1")]) : nil
        let headerSets: [HTTPFields] = [
            ndjsonType,
            [.authorization: "Basic dXNlcjpwYXNz", .contentType: "application/x-ndjson"],
            [.authorization: "Bearer", .contentType: "application/x-ndjson"],
            auth("tly_notakey", ndjsonType),
            auth(f.readerA + "x", ndjsonType),
            auth(revoked.secret, ndjsonType),
        ]
        try await f.withRouter { client in
            for headers in headerSets {
                let r = try await client.execute(uri: path, method: method, headers: headers, body: body)
                try expectProblem(r, .unauthorized, "unauthorized", parameter: "Authorization")
                #expect(r.headers[.wwwAuthenticate] == "Bearer realm=\"tally\"")
            }
        }
    }

    @Test("a key that answered, then revoked through the server's own catalog, gets 401 on its next request")
    func revokeAfterUseInProcess() async throws {
        let f = try ServerFixture()
        let made = try f.analytics.catalog.createKey(tenant: ServerFixture.tenantA, role: .reader)
        try await f.withRouter { client in
            for _ in 0..<3 {
                #expect(try await client.execute(uri: usagePath, method: .get, headers: auth(made.secret)).status == .ok)
            }
            try f.analytics.catalog.revokeKey(id: made.key.id)
            let r = try await client.execute(uri: usagePath, method: .get, headers: auth(made.secret))
            try expectProblem(r, .unauthorized, "unauthorized", parameter: "Authorization")
        }
    }

    @Test("a key revoked while the server runs stops working at once")
    func revokeWhileServing() async throws {
        let f = try ServerFixture()
        let made = try f.analytics.catalog.createKey(tenant: ServerFixture.tenantA, role: .reader)
        try await f.withRouter { client in
            #expect(try await client.execute(uri: usagePath, method: .get, headers: auth(made.secret)).status == .ok)
            // Another process (`tally keys revoke`) changes the same catalog file.
            let other = try SQLiteCatalog(directory: f.directory.appending("store"))
            try other.revokeKey(id: made.key.id)
            #expect(try await client.execute(uri: usagePath, method: .get, headers: auth(made.secret)).status == .unauthorized)
        }
    }
}
