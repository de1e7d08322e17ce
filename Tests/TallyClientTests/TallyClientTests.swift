import Foundation
import TallyClient
import TallyTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// `TallyClient` against real `tally serve` processes: a restart in the middle loses and doubles nothing, the queue
/// drops the newest records when full, a bad record is reported and the rest stored, shutdown flushes.
@Suite("TallyClient against a live tally serve", .serialized)
struct TallyClientTests {
    static func configuration(_ server: LiveServer, errors: ErrorLog? = nil) -> TallyClient.Configuration {
        var c = TallyClient.Configuration(baseURL: server.baseURL, apiKey: server.writer, tenantID: "acme")
        c.batchSize = 50
        c.linger = .milliseconds(20)
        c.initialBackoff = .milliseconds(50)
        c.maxBackoff = .milliseconds(400)
        c.maxAttempts = 200
        c.requestTimeout = .seconds(5)
        if let errors { c.onError = { errors.add($0) } }
        return c
    }

    /// A record with an exact cost of `nanos` nano-dollars.
    static func record(_ i: Int, nanos: Int64) -> TallyRecord {
        TallyRecord(model: "gpt-4o", inputTokens: 100 + i % 7, outputTokens: 10 + i % 3,
                    costCents: Decimal(string: cents(nanos))!, featureTag: "swift-client", userID: "u\(i % 5)",
                    requestID: "swift-\(i)")
    }

    @Test("3,100 records with the server SIGKILLed and started again in the middle: totals equal exactly what was sent",
          .timeLimit(.minutes(2)))
    func restartLosesAndDoublesNothing() async throws {
        let server = try LiveServer()
        let errors = ErrorLog()
        do {
            try await server.start()
            var c = Self.configuration(server, errors: errors)
            // AsyncHTTPClient keeps trying to connect until an attempt's deadline: shorter than the time the server
            // is away, so the client's own retries are exercised too (not only the connection pool's).
            c.requestTimeout = .milliseconds(500)
            let client = TallyClient(configuration: c)
            var nanos: Int64 = 0, input = 0
            for i in 0..<3000 {
                let cost = Int64(1_234_567 + i * 7919)
                let r = Self.record(i, nanos: cost)
                #expect(client.record(r))
                nanos += cost
                input += r.inputTokens
                if i == 1000 {
                    await client.flush()
                    // Killed while batches are on their way: the client retries them; records are stored once.
                    for j in 0..<100 { client.record(Self.record(1_000_000 + j, nanos: 0)) }
                    await server.stop(SIGKILL)
                    try await Task.sleep(for: .seconds(1))
                }
                if i == 2000 { try await server.start() }
                if i % 100 == 0 { try await Task.sleep(for: .milliseconds(5)) }
            }
            await client.shutdown()
            let stats = client.statistics
            #expect(stats.accepted == 3100 && stats.dropped == 0 && stats.failed == 0 && stats.rejected == 0 && stats.queued == 0)
            #expect(stats.stored + stats.duplicates == 3100)
            #expect(stats.retries > 0, "the client should have retried while the server was down")
            let totals = try await server.totals()
            #expect(totals.records == 3100)
            #expect(totals.costCents == cents(nanos))
            #expect(totals.inputTokens == input + (0..<100).reduce(0) { $0 + 100 + (1_000_000 + $1) % 7 })
            #expect(errors.all.isEmpty)
        } catch {
            await server.close()
            throw error
        }
        await server.close()
    }

    @Test("the queue full: record() refuses the newest and counts them; the held ones are stored once the server is up",
          .timeLimit(.minutes(1)))
    func overflowDropsNewest() async throws {
        let server = try LiveServer()
        do {
            var c = Self.configuration(server)
            c.maxQueuedRecords = 20
            c.batchSize = 5
            let client = TallyClient(configuration: c)
            // No server yet: the first batch is being retried, the rest wait; 20 are held at most.
            var accepted: [Bool] = []
            for i in 0..<50 { accepted.append(client.record(Self.record(i, nanos: 1000))) }
            #expect(accepted == Array(repeating: true, count: 20) + Array(repeating: false, count: 30))
            #expect(client.statistics.dropped == 30 && client.statistics.queued == 20)
            try await server.start()
            await client.flush()
            #expect(client.statistics.stored == 20 && client.statistics.queued == 0)
            // Room again.
            #expect(client.record(Self.record(100, nanos: 1000)))
            await client.shutdown()
            #expect(!client.record(Self.record(101, nanos: 1000)), "a shut-down client accepts nothing")
            let totals = try await server.totals()
            #expect(totals.records == 21 && totals.costCents == cents(21_000))
        } catch {
            await server.close()
            throw error
        }
        await server.close()
    }

    @Test("a bad record is reported (typed, with its request_id and field) and not retried; the others are stored",
          .timeLimit(.minutes(1)))
    func badRecordIsReported() async throws {
        let server = try LiveServer()
        let errors = ErrorLog()
        do {
            try await server.start()
            var one = Self.configuration(server, errors: errors)
            one.linger = .seconds(30)  // one batch, sent by flush()
            let client = TallyClient(configuration: one)
            for i in 0..<10 { client.record(Self.record(i, nanos: 500)) }
            var bad = Self.record(99, nanos: 500)
            bad.model = ""
            client.record(bad)
            for i in 10..<20 { client.record(Self.record(i, nanos: 500)) }
            await client.flush()
            #expect(errors.all.count == 1)
            guard case .recordsRejected(let refused)? = errors.all.first else {
                Issue.record("expected recordsRejected, got \(errors.all)")
                await client.shutdown()
                await server.close()
                return
            }
            #expect(refused.map(\.requestID) == ["swift-99"] && refused.first?.field == "model")
            #expect(client.statistics.retries == 0 && client.statistics.rejected == 1 && client.statistics.stored == 20)
            await client.shutdown()

            // A revoked or wrong key: the whole batch is refused (401), reported once, never retried.
            var c = Self.configuration(server, errors: errors)
            c.apiKey = "tly_not-a-key"
            let wrong = TallyClient(configuration: c)
            wrong.record(Self.record(200, nanos: 500))
            await wrong.shutdown()
            #expect(wrong.statistics.retries == 0 && wrong.statistics.rejected == 1)
            guard case .batchRejected(let status, _, _, let records)? = errors.all.last else {
                Issue.record("expected batchRejected, got \(errors.all)")
                await server.close()
                return
            }
            #expect(status == 401 && records == 1)
            let totals = try await server.totals()
            #expect(totals.records == 20 && totals.costCents == cents(20 * 500))
        } catch {
            await server.close()
            throw error
        }
        await server.close()
    }

    @Test("shutdown() sends what waits for a long linger; a batch given up after maxAttempts is reported",
          .timeLimit(.minutes(1)))
    func shutdownFlushes() async throws {
        let server = try LiveServer()
        let errors = ErrorLog()
        do {
            try await server.start()
            var c = Self.configuration(server, errors: errors)
            c.linger = .seconds(3600)
            c.batchSize = 1000
            let client = TallyClient(configuration: c)
            for i in 0..<7 { client.record(Self.record(i, nanos: 3)) }
            try await Task.sleep(for: .milliseconds(100))
            #expect(client.statistics.queued == 7, "nothing leaves before the linger or a flush")
            await client.shutdown()
            #expect(client.statistics.stored == 7)
            let totals = try await server.totals()
            #expect(totals.records == 7 && totals.costCents == cents(21))

            await server.stop(SIGTERM)
            c.maxAttempts = 3
            // AsyncHTTPClient keeps trying to connect until an attempt's deadline: keep the three attempts short.
            c.requestTimeout = .milliseconds(500)
            let unlucky = TallyClient(configuration: c)
            unlucky.record(Self.record(50, nanos: 3))
            await unlucky.shutdown()
            #expect(unlucky.statistics.failed == 1 && unlucky.statistics.retries == 2)
            guard case .retriesExhausted(let attempts, _, let records)? = errors.all.last else {
                Issue.record("expected retriesExhausted, got \(errors.all)")
                await server.close()
                return
            }
            #expect(attempts == 3 && records == 1)
        } catch {
            await server.close()
            throw error
        }
        await server.close()
    }

    @Test("records are NDJSON lines the server reads as written: escapes, defaults left out, milliseconds")
    func encoding() async throws {
        let server = try LiveServer()
        do {
            try await server.start()
            let client = TallyClient(configuration: Self.configuration(server))
            let at = Date(timeIntervalSince1970: Date().timeIntervalSince1970.rounded(.down) + 0.25)
            client.record(TallyRecord(model: "gpt-4o", inputTokens: 1000, outputTokens: 100, featureTag: "quote\"back\\slash\nline",
                                      userID: "ü-ñ", requestID: "enc-1", createdAt: at))
            await client.shutdown()
            #expect(client.statistics.stored == 1)
            let totals = try await server.totals()
            // Priced by the server from its price table (gpt-4o: $2.50 in, $10 out per million): 0.25 + 0.1 cents.
            #expect(totals.records == 1 && totals.costCents == "0.3500000" && totals.inputTokens == 1000)
        } catch {
            await server.close()
            throw error
        }
        await server.close()
    }
}

extension TallyClientTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// The lines between `// NAME:start` and `// NAME:end` of a Swift file, less their indentation; or of the
    /// ```swift block between `<!-- NAME:start -->` and `<!-- NAME:end -->` of a Markdown file, less its imports.
    static func example(_ file: String, _ name: String) throws -> [String] {
        let text = try String(contentsOf: root.appendingPathComponent(file), encoding: .utf8)
        let markdown = file.hasSuffix(".md")
        let begin = try #require(text.range(of: markdown ? "<!-- \(name):start -->" : "// \(name):start"), "\(file): no \(name)")
        let end = try #require(text.range(of: markdown ? "<!-- \(name):end -->" : "// \(name):end", range: begin.upperBound..<text.endIndex))
        var lines = text[begin.upperBound..<end.lowerBound].split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        if markdown {
            lines = lines.filter { !$0.hasPrefix("```") && !$0.hasPrefix("import ") }
        } else {
            lines = lines.map { $0.hasPrefix("    ") ? String($0.dropFirst(4)) : $0 }
        }
        while lines.first?.trimmingCharacters(in: .whitespaces) == "" { lines.removeFirst() }
        while lines.last?.trimmingCharacters(in: .whitespaces) == "" { lines.removeLast() }
        return lines
    }

    @Test("README.md's Swift client example is the code compiled here, and it stores its two records", .timeLimit(.minutes(1)))
    func readmeSwiftExampleRuns() async throws {
        #expect(try Self.example("README.md", "swift-client-example") == Self.example("Tests/TallyClientTests/ReadmeExample.swift", "swift-client-example"))
        let server = try LiveServer()
        do {
            try await server.start()
            let tally = await readmeSwiftExample(baseURL: server.baseURL, writerKey: server.writer, tenantID: "acme")
            #expect(tally.statistics.stored == 2)
            let totals = try await server.totals()
            // gpt-4o from the shipped price table ($2.50 / $10 per million: 0.3 + 0.3 cents) and the record's own cost.
            #expect(totals.records == 2 && totals.costCents == "3.7415926")
        } catch {
            await server.close()
            throw error
        }
        await server.close()
    }
}
