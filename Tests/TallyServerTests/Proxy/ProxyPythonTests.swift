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

/// The official `openai` and `anthropic` Python packages (Tests/requirements.txt) call the fake provider through a
/// live Tally (`Tests/Proxy/clients.py`), and the copy-paste example of README.md and docs/API.md runs as written.
/// Skipped when python3 lacks the packages, unless TALLY_REQUIRE_TOOLS=1 (`make test`): then they fail.
@Suite("Provider proxy with the official Python clients")
struct ProxyPythonTests {
    static let required = ProcessInfo.processInfo.environment["TALLY_REQUIRE_TOOLS"] == "1"
    static let available: Bool = (try? Python.run(["-c", "import openai, anthropic"], environment: [:]).status) == 0
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()

    /// Runs `body` with the fake and a live Tally proxying to it; gets Tally's base URL and a client of it.
    static func withLiveProxy(_ body: @Sendable (ServerFixture, ProxyRecorder, String, String, any TestClientProtocol) async throws -> Void) async throws {
        let f = try ServerFixture(seed: false, pricing: ProxyTests.pricing)
        try await FakeProvider().run { fakeURL, _ in
            let recorder = ProxyRecorder(analytics: f.analytics, spool: try RecordSpool(directory: f.directory.appending("spool")), logger: quietLogger)
            let setup = ProxySetup(upstreams: [.openai: fakeURL, .anthropic: fakeURL], recorder: recorder, client: ProxySetup.makeClient())
            let server = APIServer(analytics: f.analytics, configuration: f.server.configuration, proxy: setup)
            do {
                try await server.application(logger: quietLogger).test(.live) { client in
                    try await body(f, recorder, fakeURL, "http://127.0.0.1:\(client.port!)", client)
                }
            } catch {
                try? await setup.shutdown()
                throw error
            }
            try await setup.shutdown()
        }
    }

    @Test("openai and anthropic (PyPI) through the proxy: byte-identical answers, streamed or not; the cost breakdown equals the usage they reported",
          .enabled(if: available || required), .timeLimit(.minutes(2)))
    func officialClients() async throws {
        try #require(Self.available, "python3 cannot import openai and anthropic: python3 -m pip install -r Tests/requirements.txt")
        try await Self.withLiveProxy { f, recorder, fakeURL, tallyURL, tally in
            let result = try await Python.run([Self.root.appendingPathComponent("Tests/Proxy/clients.py").path],
                                              environment: ["FAKE_URL": fakeURL, "TALLY_URL": tallyURL, "TALLY_KEY": f.writerA])
            #expect(result.status == 0, "clients.py: \(result.stderr)")
            let report = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any], "\(result.stdout) \(result.stderr)")
            #expect((report["failures"] as? [String]) == [])
            let calls = try #require(report["proxied"] as? [[String: Any]])
            #expect(calls.count == 7)
            await recorder.settle()

            let answer = try await tally.execute(uri: costPath + "?group_by=model&from=2025-05-01&to=2025-05-05", method: .get, headers: auth(f.readerA))
            #expect(answer.status == .ok)
            let groups = try #require(try json(answer).array("groups"))
            for model in ["gpt-4o", ProxyTests.claude] {
                let mine = calls.filter { $0["model"] as? String == model }
                let input = mine.reduce(Int64(0)) { $0 + Int64($1["input"] as! Int) }
                let output = mine.reduce(Int64(0)) { $0 + Int64($1["output"] as! Int) }
                let group = try #require(groups.first { $0.object("key")?.string("model") == model }, "no group for \(model)")
                #expect(group.int("records") == mine.count)
                #expect(group.int("input_tokens").map(Int64.init) == input)
                #expect(group.int("output_tokens").map(Int64.init) == output)
                let cents = mine.reduce(Int64(0)) { $0 + ProxyTests.cost(model, Int64($1["input"] as! Int), Int64($1["output"] as! Int)) }
                #expect(group.string("cost_cents") == Money.formatCents(cents))
            }
            let records = try f.store.snapshot().records(tenant: ServerFixture.tenantA)
            #expect(records.count == 7 && records.allSatisfy { $0.featureTag == "python" && $0.userID == "py-user" })
        }
    }

    @Test("the proxy example of README.md and docs/API.md (the same text) runs as written", .enabled(if: available || required),
          .timeLimit(.minutes(1)))
    func readmeExample() async throws {
        try #require(Self.available, "python3 cannot import openai: python3 -m pip install -r Tests/requirements.txt")
        let readme = try Self.example(in: "README.md")
        #expect(try Self.example(in: "docs/API.md") == readme)
        let script = FileManager.default.temporaryDirectory.appendingPathComponent("tally-proxy-example-\(UUID().uuidString).py")
        try readme.write(to: script, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: script) }
        try await Self.withLiveProxy { f, recorder, _, tallyURL, _ in
            let result = try await Python.run([script.path], environment: ["TALLY_URL": tallyURL, "TALLY_KEY": f.writerA, "OPENAI_API_KEY": FakeProvider.openAIKey])
            #expect(result.status == 0, "\(result.stderr)")
            #expect(result.stdout.contains("Hello from the fake provider."))
            await recorder.settle()
            let records = try f.store.snapshot().records(tenant: ServerFixture.tenantA)
            #expect(records.count == 1)
            #expect(records.first?.featureTag == "chat" && records.first?.userID == "user-42")
            #expect(records.first?.inputTokens == FakeProvider.openAIUsage.prompt)
        }
    }

    /// The Python block between `<!-- proxy-example -->` and `<!-- /proxy-example -->` of a file of the repository.
    static func example(in file: String) throws -> String {
        let text = try String(contentsOf: root.appendingPathComponent(file), encoding: .utf8)
        let begin = try #require(text.range(of: "<!-- proxy-example -->"), "\(file) has no proxy example")
        let end = try #require(text.range(of: "<!-- /proxy-example -->", range: begin.upperBound..<text.endIndex))
        let block = text[begin.upperBound..<end.lowerBound]
        let open = try #require(block.range(of: "```python\n"))
        let close = try #require(block.range(of: "```", range: open.upperBound..<block.endIndex))
        return String(block[open.upperBound..<close.lowerBound])
    }
}

/// python3 run to completion without blocking a thread of the cooperative pool (the servers under test need them).
enum Python {
    struct Result: Sendable {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    static func run(_ arguments: [String], environment: [String: String]) async throws -> Result {
        let started = try start(arguments, environment: environment)
        // The wait blocks: on a Dispatch thread, off the cooperative pool.
        await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
            DispatchQueue.global().async {
                started.0.waitUntilExit()
                done.resume()
            }
        }
        return finish(started)
    }

    static func run(_ arguments: [String], environment: [String: String]) throws -> Result {
        let p = try start(arguments, environment: environment)
        p.0.waitUntilExit()
        return finish(p)
    }

    private static func start(_ arguments: [String], environment: [String: String]) throws -> (ChildProcess, URL, URL) {
        var env = ProcessInfo.processInfo.environment
        for (k, v) in environment { env[k] = v }
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("tally-py-\(UUID().uuidString).out")
        let err = FileManager.default.temporaryDirectory.appendingPathComponent("tally-py-\(UUID().uuidString).err")
        let process = try ChildProcess("/usr/bin/env", ["python3"] + arguments, environment: env, stdin: .null,
                                       stdout: .file(out.path), stderr: .file(err.path))
        return (process, out, err)
    }

    private static func finish(_ p: (ChildProcess, URL, URL)) -> Result {
        defer {
            try? FileManager.default.removeItem(at: p.1)
            try? FileManager.default.removeItem(at: p.2)
        }
        let stdout = (try? String(contentsOf: p.1, encoding: .utf8)) ?? ""
        let stderr = (try? String(contentsOf: p.2, encoding: .utf8)) ?? ""
        return Result(status: p.0.terminationStatus, stdout: stdout, stderr: stderr)
    }
}
