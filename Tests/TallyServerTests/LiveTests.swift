import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import TallyAnalytics
import TallyServer
import TallyStore
import TallyTestSupport
import Testing

@Suite("Over a real socket on loopback")
struct LiveTests {
    @Test("ingest, read back, and refuse an oversized body over HTTP/1.1")
    func roundTrip() async throws {
        let f = try ServerFixture(maxBodyBytes: 64 << 10)
        let app = f.server.application(logger: quietLogger)
        try await app.test(.live) { live in
            let client = ContractCheckingClient(client: live)
            #expect(client.port != nil)
            let body = ndjson((0..<200).map { line("acme", "live-\($0)", at: "2025-05-02T1\($0 % 10):00:00Z") })
            let r = try await client.execute(uri: recordsPath, method: .post, headers: auth(f.writerA, ndjsonType), body: body)
            #expect(r.status == .ok)
            #expect(try json(r).int("inserted") == 200)
            let usage = try json(try await client.execute(uri: usagePath + "?from=2025-05-02&to=2025-05-03&resolution=hour",
                                                          method: .get, headers: auth(f.readerA)))
            #expect(usage.object("totals")?.int("records") == 201)
            #expect(usage.array("series")?.count == 24)

            let big = ByteBuffer(repeating: UInt8(ascii: "\n"), count: 200 << 10)
            let tooBig = try await client.execute(uri: recordsPath, method: .post, headers: auth(f.writerA, ndjsonType), body: big)
            try expectProblem(tooBig, .contentTooLarge, "body-too-large")
            let health = try await client.execute(uri: "/api/v1/analytics/health", method: .get)
            #expect(health.status == .ok)
        }
    }
}
