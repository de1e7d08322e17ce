import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import TallyAnalytics
import TallyServer
import TallyStore
import TallyTestSupport
import TallyText
import Testing

/// The provider proxy against the fake provider on loopback: forwarding, byte-identical answers (server-sent events
/// included), usage records, `include_usage` added and its traces removed, headers, upstream errors, an unreachable
/// upstream, and the spool when the store cannot take a record.
@Suite("Provider proxy")
struct ProxyTests {
    static let claude = "claude-3-5-sonnet"
    /// gpt-4o as the fixture prices it, and claude-3-5-sonnet at 300 / 1500 cents per million tokens.
    static let pricing = PriceTable(entries: [
        "gpt-4o": [PriceEntry(effectiveFromMillis: 0, inputPerMillionNanos: 250 * Money.nanosPerCent, outputPerMillionNanos: 1000 * Money.nanosPerCent)],
        claude: [PriceEntry(effectiveFromMillis: 0, inputPerMillionNanos: 300 * Money.nanosPerCent, outputPerMillionNanos: 1500 * Money.nanosPerCent)],
    ])

    struct Harness: @unchecked Sendable {
        let fixture: ServerFixture
        let fake: FakeProvider
        let recorder: ProxyRecorder
        /// Tally, through the real router (every answer checked against the API document).
        let tally: any TestClientProtocol
        /// The fake, called directly.
        let direct: any TestClientProtocol

        /// The records of tenant A.
        func records() throws -> [CostRecord] { try fixture.store.snapshot().records(tenant: ServerFixture.tenantA) }
    }

    /// Runs `body` with the fake running and a Tally proxying to it (or to `upstream`).
    static func withProxy(upstream: String? = nil, maxInFlight: Int = 256, sink: ProxyRecorder.Sink? = nil, timeoutSeconds: Double = 30,
                          _ body: @Sendable (Harness) async throws -> Void) async throws {
        let f = try ServerFixture(seed: false, pricing: pricing)
        let fake = FakeProvider()
        try await fake.run { url, direct in
            let recorder = ProxyRecorder(analytics: f.analytics, spool: try RecordSpool(directory: f.directory.appending("spool")),
                                         logger: quietLogger, maxInFlight: maxInFlight, sink: sink)
            let setup = ProxySetup(upstreams: [.openai: upstream ?? url, .anthropic: upstream ?? url], recorder: recorder,
                                   client: ProxySetup.makeClient(connectTimeoutSeconds: 1), timeoutSeconds: timeoutSeconds)
            let server = APIServer(analytics: f.analytics, configuration: f.server.configuration, proxy: setup)
            do {
                try await Application(router: server.router(), logger: quietLogger).test(.router) { client in
                    try await body(Harness(fixture: f, fake: fake, recorder: recorder, tally: ContractCheckingClient(client: client), direct: direct))
                }
                await recorder.settle()
            } catch {
                try? await setup.shutdown()
                throw error
            }
            try await setup.shutdown()
        }
    }

    static let chatPath = "/proxy/openai/v1/chat/completions"
    static let messagesPath = "/proxy/anthropic/v1/messages"

    static func openAIHeaders(tally key: String?, _ more: HTTPFields = [:]) -> HTTPFields {
        var h: HTTPFields = [.authorization: "Bearer \(FakeProvider.openAIKey)", .contentType: "application/json"]
        if let key { h[HTTPField.Name("X-Tally-Key")!] = key }
        h.append(contentsOf: more)
        return h
    }

    static func anthropicHeaders(tally key: String?, _ more: HTTPFields = [:]) -> HTTPFields {
        var h: HTTPFields = [HTTPField.Name("x-api-key")!: FakeProvider.anthropicKey, HTTPField.Name("anthropic-version")!: "2023-06-01",
                             .contentType: "application/json"]
        if let key { h[HTTPField.Name("X-Tally-Key")!] = key }
        h.append(contentsOf: more)
        return h
    }

    static let attribution: HTTPFields = [
        HTTPField.Name("X-Tally-Feature")!: "chat", HTTPField.Name("X-Tally-User")!: "u9", HTTPField.Name("X-Tally-Project")!: "web",
        HTTPField.Name("X-Tally-Environment")!: "staging", HTTPField.Name("X-Tally-Workflow")!: "wf-1", HTTPField.Name("X-Tally-Skill")!: "sk-2",
    ]

    static func chat(_ text: String, model: String = "gpt-4o", stream: Bool? = nil, options: String? = nil) -> ByteBuffer {
        var body = #"{"model":"\#(model)","messages":[{"role":"user","content":"\#(text)"}]"#
        if let stream { body += #","stream":\#(stream)"# }
        if let options { body += #","stream_options":\#(options)"# }
        return ByteBuffer(string: body + "}")
    }

    static func message(_ text: String, model: String = claude, stream: Bool = false) -> ByteBuffer {
        ByteBuffer(string: #"{"model":"\#(model)","max_tokens":64,"stream":\#(stream),"messages":[{"role":"user","content":"\#(text)"}]}"#)
    }

    static func cost(_ model: String, _ input: Int64, _ output: Int64) -> Int64 {
        pricing.costNanos(model: model, inputTokens: input, outputTokens: output, at: ServerFixture.now)!
    }

    @Test("a chat completion passes through byte for byte and its usage becomes a priced, attributed record")
    func openAIChat() async throws {
        try await Self.withProxy { h in
            let body = Self.chat("hi")
            let direct = try await h.direct.execute(uri: "/v1/chat/completions", method: .post, headers: Self.openAIHeaders(tally: nil), body: body)
            let proxied = try await h.tally.execute(uri: Self.chatPath, method: .post,
                                                    headers: Self.openAIHeaders(tally: h.fixture.writerA, Self.attribution), body: body)
            #expect(proxied.status == .ok)
            #expect(proxied.body == direct.body)
            #expect(proxied.headers[.contentType] == "application/json")
            await h.recorder.settle()
            let records = try h.records()
            let r = try #require(records.first)
            #expect(records.count == 1)
            let u = FakeProvider.openAIUsage
            #expect(r.model == "gpt-4o" && r.inputTokens == u.prompt && r.outputTokens == u.completion)
            #expect(r.costNanos == Self.cost("gpt-4o", u.prompt, u.completion))
            #expect(r.requestID.hasPrefix("chatcmpl-") && r.featureTag == "chat" && r.userID == "u9" && r.projectID == "web")
            #expect(r.environment == "staging" && r.workflowID == "wf-1" && r.skillID == "sk-2")
            #expect(r.createdAtMillis == ServerFixture.now)
            // The upstream got the caller's body unchanged and its provider key, and none of the X-Tally-* headers.
            let sent = try #require(h.fake.requests.last)
            #expect(sent.body == Array(body.readableBytesView))
            #expect(sent.headers[.authorization] == "Bearer \(FakeProvider.openAIKey)")
            #expect(!sent.headers.contains { $0.name.canonicalName.hasPrefix("x-tally-") })
            #expect(h.recorder.counts.stored == 1)
        }
    }

    @Test("a streamed chat completion: include_usage is asked for upstream and its traces removed, so the caller gets the bytes it would have")
    func openAIStreamInjected() async throws {
        try await Self.withProxy { h in
            let body = Self.chat("stream me", stream: true)
            let direct = try await h.direct.execute(uri: "/v1/chat/completions", method: .post, headers: Self.openAIHeaders(tally: nil), body: body)
            let proxied = try await h.tally.execute(uri: Self.chatPath, method: .post, headers: Self.openAIHeaders(tally: h.fixture.writerA), body: body)
            #expect(proxied.status == .ok)
            #expect(String(buffer: proxied.body) == String(buffer: direct.body))
            #expect(!String(buffer: direct.body).contains("usage"))
            #expect(proxied.headers[.contentType]?.hasPrefix("text/event-stream") == true)
            let sent = try #require(h.fake.requests.last)
            let upstream = try #require(try JSONSerialization.jsonObject(with: Data(sent.body)) as? [String: Any])
            #expect((upstream["stream_options"] as? [String: Any])?["include_usage"] as? Bool == true)
            await h.recorder.settle()
            let r = try #require(try h.records().first)
            let u = FakeProvider.openAIUsage
            #expect(r.inputTokens == u.prompt && r.outputTokens == u.completion && r.featureTag == "untagged")
        }
    }

    @Test("a streamed chat completion that asked for its usage itself gets the usage chunk, unchanged",
          arguments: [#"{"include_usage":true}"#, #"{"include_usage": true, "x": 1}"#])
    func openAIStreamWithUsage(options: String) async throws {
        try await Self.withProxy { h in
            let body = Self.chat("with usage", stream: true, options: options)
            let direct = try await h.direct.execute(uri: "/v1/chat/completions", method: .post, headers: Self.openAIHeaders(tally: nil), body: body)
            let proxied = try await h.tally.execute(uri: Self.chatPath, method: .post, headers: Self.openAIHeaders(tally: h.fixture.writerA), body: body)
            #expect(proxied.body == direct.body)
            #expect(String(buffer: proxied.body).contains(#""prompt_tokens":1234"#))
            #expect(h.fake.requests.last?.body == Array(body.readableBytesView))
            await h.recorder.settle()
            #expect(try h.records().map(\.inputTokens) == [FakeProvider.openAIUsage.prompt])
        }
    }

    @Test("Anthropic messages, plain and streamed: byte-identical answers; input counts cache reads and writes")
    func anthropicMessages() async throws {
        try await Self.withProxy { h in
            for stream in [false, true] {
                let body = Self.message("hello \(stream)", stream: stream)
                let direct = try await h.direct.execute(uri: "/v1/messages", method: .post, headers: Self.anthropicHeaders(tally: nil), body: body)
                let proxied = try await h.tally.execute(uri: Self.messagesPath, method: .post,
                                                        headers: Self.anthropicHeaders(tally: h.fixture.writerA, Self.attribution), body: body)
                #expect(proxied.status == .ok)
                #expect(proxied.body == direct.body)
                #expect(h.fake.requests.last?.body == Array(body.readableBytesView))
                #expect(h.fake.requests.last?.headers[HTTPField.Name("anthropic-version")!] == "2023-06-01")
            }
            await h.recorder.settle()
            let records = try h.records()
            #expect(records.count == 2)
            let u = FakeProvider.anthropicUsage
            let input = u.input + u.cacheWrite + u.cacheRead
            for r in records {
                #expect(r.model == Self.claude && r.inputTokens == input && r.outputTokens == u.output && r.requestID.hasPrefix("msg_"))
                #expect(r.costNanos == Self.cost(Self.claude, input, u.output))
            }
        }
    }

    @Test("the provider's errors reach the caller unchanged (status and body), and make no record")
    func upstreamErrors() async throws {
        try await Self.withProxy { h in
            for model in ["fail-400", "fail-500"] {
                let chat = Self.chat("x", model: model)
                let d1 = try await h.direct.execute(uri: "/v1/chat/completions", method: .post, headers: Self.openAIHeaders(tally: nil), body: chat)
                let p1 = try await h.tally.execute(uri: Self.chatPath, method: .post, headers: Self.openAIHeaders(tally: h.fixture.writerA), body: chat)
                #expect(p1.status == d1.status && p1.body == d1.body && p1.status.code >= 400)
                let message = Self.message("x", model: model)
                let d2 = try await h.direct.execute(uri: "/v1/messages", method: .post, headers: Self.anthropicHeaders(tally: nil), body: message)
                let p2 = try await h.tally.execute(uri: Self.messagesPath, method: .post, headers: Self.anthropicHeaders(tally: h.fixture.writerA), body: message)
                #expect(p2.status == d2.status && p2.body == d2.body && p2.status.code >= 400)
            }
            // A wrong provider key is the provider's 401, passed through (not Tally's).
            var wrong = Self.openAIHeaders(tally: h.fixture.writerA)
            wrong[.authorization] = "Bearer sk-wrong"
            let denied = try await h.tally.execute(uri: Self.chatPath, method: .post, headers: wrong, body: Self.chat("x"))
            #expect(denied.status == .unauthorized && String(buffer: denied.body).contains("invalid_api_key"))
            // Other paths and methods pass through too (no usage: no record).
            let models = try await h.tally.execute(uri: "/proxy/openai/v1/models", method: .get, headers: Self.openAIHeaders(tally: h.fixture.writerA))
            #expect(models.status == .ok && String(buffer: models.body).contains("gpt-4o"))
            await h.recorder.settle()
            #expect(try h.records().isEmpty)
        }
    }

    @Test("an unreachable upstream is a 502 naming it")
    func unreachable() async throws {
        try await Self.withProxy(upstream: "http://127.0.0.1:1") { h in
            let answer = try await h.tally.execute(uri: Self.chatPath, method: .post, headers: Self.openAIHeaders(tally: h.fixture.writerA), body: Self.chat("x"))
            let problem = try expectProblem(answer, .badGateway, "upstream-unreachable")
            #expect(problem.string("detail")?.contains("127.0.0.1:1") == true)
        }
    }

    @Test("an upstream slower than --proxy-timeout is a 504")
    func upstreamTimeout() async throws {
        try await Self.withProxy(timeoutSeconds: 1) { h in
            let answer = try await h.tally.execute(uri: Self.chatPath, method: .post, headers: Self.openAIHeaders(tally: h.fixture.writerA),
                                                   body: Self.chat("x", model: "slow"))
            try expectProblem(answer, .gatewayTimeout, "upstream-timeout")
        }
    }

    @Test("the Tally key: required, a writer's or an admin's naming the tenant; attribution headers checked")
    func keysAndHeaders() async throws {
        try await Self.withProxy { h in
            let f = h.fixture
            let none = try await h.tally.execute(uri: Self.chatPath, method: .post, headers: Self.openAIHeaders(tally: nil), body: Self.chat("x"))
            try expectProblem(none, .unauthorized, "unauthorized", parameter: "X-Tally-Key")
            let unknown = try await h.tally.execute(uri: Self.chatPath, method: .post, headers: Self.openAIHeaders(tally: "tly_nope"), body: Self.chat("x"))
            try expectProblem(unknown, .unauthorized, "unauthorized", parameter: "X-Tally-Key")
            let reader = try await h.tally.execute(uri: Self.chatPath, method: .post, headers: Self.openAIHeaders(tally: f.readerA), body: Self.chat("x"))
            try expectProblem(reader, .forbidden, "forbidden")
            let admin = try await h.tally.execute(uri: Self.chatPath, method: .post, headers: Self.openAIHeaders(tally: f.adminKey), body: Self.chat("x"))
            try expectProblem(admin, .badRequest, "invalid-parameter", parameter: "X-Tally-Tenant")
            let badTenant = try await h.tally.execute(uri: Self.chatPath, method: .post,
                                                      headers: Self.openAIHeaders(tally: f.adminKey, [HTTPField.Name("X-Tally-Tenant")!: "a b"]),
                                                      body: Self.chat("x"))
            try expectProblem(badTenant, .badRequest, "invalid-parameter", parameter: "X-Tally-Tenant")
            let long = try await h.tally.execute(uri: Self.chatPath, method: .post,
                                                 headers: Self.openAIHeaders(tally: f.writerA, [HTTPField.Name("X-Tally-Feature")!: String(repeating: "f", count: 300)]),
                                                 body: Self.chat("x"))
            try expectProblem(long, .badRequest, "invalid-parameter", parameter: "X-Tally-Feature")
            #expect(h.fake.requests.isEmpty, "nothing refused by Tally reached the provider")
            // An admin key names the tenant; X-Tally-Request-Id names the record, so a retry is recorded once.
            let named = Self.openAIHeaders(tally: f.adminKey, [HTTPField.Name("X-Tally-Tenant")!: ServerFixture.tenantA,
                                                               HTTPField.Name("X-Tally-Request-Id")!: "call-1"])
            for _ in 0..<2 {
                let ok = try await h.tally.execute(uri: Self.chatPath, method: .post, headers: named, body: Self.chat("retry"))
                #expect(ok.status == .ok)
                await h.recorder.settle()
            }
            #expect(try h.records().map(\.requestID) == ["call-1"])
            #expect(h.recorder.counts.stored == 1 && h.recorder.counts.duplicates == 1)
        }
    }

    @Test("without --proxy-upstream the proxy routes answer 404 (after the key check)")
    func proxyOff() async throws {
        let f = try ServerFixture(seed: false)
        try await f.withRouter { client in
            let answer = try await client.execute(uri: Self.chatPath, method: .post, headers: Self.openAIHeaders(tally: f.writerA), body: Self.chat("x"))
            try expectProblem(answer, .notFound, "not-found")
        }
    }

    @Test("when the store fails (injected ENOSPC on the WAL) the caller still gets its answer; the record is spooled and stored once the store recovers")
    func spoolOnStoreFailure() async throws {
        try await Self.withProxy { h in
            let wal = h.fixture.directory.appending("store")
            FaultInjection.install(.init(prefix: wal, contains: "/wal/", operation: .write, fault: .fail(errno: ENOSPC)))
            defer { FaultInjection.remove(under: wal) }
            for i in 0..<3 {
                let body = i == 2 ? Self.chat("spooled \(i)", stream: true) : Self.chat("spooled \(i)")
                let direct = try await h.direct.execute(uri: "/v1/chat/completions", method: .post, headers: Self.openAIHeaders(tally: nil), body: body)
                let answer = try await h.tally.execute(uri: Self.chatPath, method: .post, headers: Self.openAIHeaders(tally: h.fixture.writerA), body: body)
                #expect(answer.status == .ok && answer.body == direct.body)
            }
            await h.recorder.settle()
            #expect(h.recorder.counts.spooled == 3)
            #expect(h.recorder.spool.pendingRecords() == 3)
            #expect(try h.records().isEmpty)
            // Still failing: the drain keeps every record for the next one.
            await #expect(throws: (any Error).self) { try await h.recorder.drain() }
            #expect(h.recorder.spool.pendingRecords() == 3)
            FaultInjection.remove(under: wal)
            let report = try await h.recorder.drain()
            #expect(report.inserted == 3 && report.read == 3)
            #expect(h.recorder.spool.pendingRecords() == 0)
            let records = try h.records()
            #expect(records.count == 3)
            #expect(records.allSatisfy { $0.inputTokens == FakeProvider.openAIUsage.prompt && $0.costNanos > 0 })
            #expect(try await h.recorder.drain() == SpoolDrainReport())
        }
    }

    @Test("a spooled record already stored is stored once; a torn last line is dropped; an invalid one is kept apart")
    func spoolDedup() async throws {
        try await Self.withProxy { h in
            let answer = try await h.tally.execute(uri: Self.chatPath, method: .post, headers: Self.openAIHeaders(tally: h.fixture.writerA), body: Self.chat("once"))
            #expect(answer.status == .ok)
            await h.recorder.settle()
            let stored = try #require(try h.records().first)
            let spool = h.recorder.spool
            let line = #"{"tenant_id":"acme","request_id":"\#(stored.requestID)","model":"gpt-4o","input_tokens":1234,"output_tokens":56,"created_at":"2025-05-04T00:00:00Z"}"#
            try spool.append(Array(line.utf8))
            try spool.append(Array(#"{"tenant_id":"acme","request_id":"unpriced","model":"no-such-model","input_tokens":1,"output_tokens":1,"created_at":"2025-05-04T00:00:00Z"}"#.utf8))
            // A crash in the middle of an append leaves part of a line.
            let handle = try #require(FileHandle(forWritingAtPath: spool.directory + "/spool.ndjson"))
            handle.seekToEndOfFile()
            handle.write(Data(#"{"tenant_id":"acme","requ"#.utf8))
            try handle.close()
            let report = try await h.recorder.drain()
            #expect(report.read == 2 && report.inserted == 0 && report.duplicates == 1 && report.rejected == 1)
            #expect(try h.records().count == 1)
            let rejected = try String(contentsOfFile: spool.rejectedPath, encoding: .utf8)
            #expect(rejected.contains("no-such-model") && rejected.hasSuffix("\n"))
        }
    }

    @Test("overload (too many records in flight) and a failing spool: records wait, none is lost")
    func overloadAndSpoolFailure() async throws {
        try await Self.withProxy(maxInFlight: 0) { h in
            let spoolDir = h.recorder.spool.directory
            FaultInjection.install(.init(prefix: spoolDir, operation: .write, fault: .fail(errno: EIO)))
            let answer = try await h.tally.execute(uri: Self.chatPath, method: .post, headers: Self.openAIHeaders(tally: h.fixture.writerA), body: Self.chat("busy"))
            #expect(answer.status == .ok)
            await h.recorder.settle()
            #expect(h.recorder.counts.held == 1 && h.recorder.counts.spooled == 0)
            await #expect(throws: (any Error).self) { try await h.recorder.drain() }
            FaultInjection.remove(under: spoolDir)
            let report = try await h.recorder.drain()
            #expect(report.inserted == 1)
            #expect(try h.records().count == 1)
        }
    }
}
