import HTTPTypes
import HummingbirdTesting
import NIOCore
import Testing

/// `GET /console` and its files (the page itself is tested in a browser: Tests/Browser).
@Suite("Console")
struct ConsoleTests {
    @Test("the console page, script and style are served without a key, under a self-only content security policy")
    func served() async throws {
        let f = try ServerFixture()
        try await f.withRouter { client in
            for (path, type) in [("/console", "text/html"), ("/console/console.js", "text/javascript"), ("/console/console.css", "text/css")] {
                let r = try await client.execute(uri: path, method: .get)
                #expect(r.status == .ok, "\(path)")
                #expect(r.headers[.contentType]?.hasPrefix(type) == true, "\(path)")
                #expect(r.headers[.contentSecurityPolicy]?.contains("default-src 'none'") == true)
                #expect(r.headers[.contentSecurityPolicy]?.contains("connect-src 'self'") == true)
                #expect(r.body.readableBytes > 500)
            }
            let page = String(buffer: try await client.execute(uri: "/console", method: .get).body)
            #expect(page.contains("/console/console.js") && page.contains("/console/console.css"))
            #expect(!page.contains("http://") && !page.contains("https://"), "no external request")
            let script = String(buffer: try await client.execute(uri: "/console/console.js", method: .get).body)
            #expect(script.contains("sessionStorage") && !script.contains("localStorage"), "the key stays in the tab's session")
            try expectProblem(try await client.execute(uri: "/console/secrets.txt", method: .get), .notFound, "not-found")
            try expectProblem(try await client.execute(uri: "/console/index.html", method: .get), .notFound, "not-found")
        }
    }

    @Test("_status lists exports, monthly reports and the console as available")
    func status() async throws {
        let f = try ServerFixture()
        try await f.withRouter { client in
            let caps = try #require(try json(try await client.execute(uri: "/api/v1/analytics/_status", method: .get)).array("capabilities"))
            let state = Dictionary(uniqueKeysWithValues: caps.map { ($0.string("name")!, $0.string("state")!) })
            #expect(state["exports"] == "available")
            #expect(state["monthly_reports"] == "available")
            #expect(state["console"] == "available")
            #expect(caps.first { $0.string("name") == "exports" }?.string("endpoint") == "POST /api/v1/analytics/reporting/exports")
        }
    }
}
