import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import TallyAnalytics
@testable import TallyServer
import TallyTestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Clients that misbehave on purpose: each gets a clean 4xx (or is disconnected) and the server keeps serving.
@Suite("Hostile clients")
struct HostileClientTests {
    /// Runs `body` against a live server on loopback (idle timeout `idleTimeout`, body deadline `bodyTimeout`), then
    /// checks over a fresh connection that the server still answers a normal request.
    func live(idleTimeout: Int = 60, bodyTimeout: Double = 60, maxBodyBytes: Int = 64 << 10,
              _ body: @Sendable (ServerFixture, Int, any TestClientProtocol) async throws -> Void) async throws {
        let f = try ServerFixture(maxBodyBytes: maxBodyBytes)
        var configuration = f.server.configuration
        configuration.idleTimeoutSeconds = idleTimeout
        configuration.bodyTimeoutSeconds = bodyTimeout
        let server = APIServer(analytics: f.analytics, configuration: configuration, metrics: f.server.metrics)
        try await server.application(logger: quietLogger).test(.live) { live in
            let port = try #require(live.port)
            try await body(f, port, ContractCheckingClient(client: live))
            let after = try await RawClient.exchange(
                port, "GET \(usagePath)?from=2025-05-01&to=2025-05-04 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \(f.readerA)\r\n\r\n")
            #expect(after.hasPrefix("HTTP/1.1 200"), "the server stopped answering normal requests: \(after.prefix(80))")
        }
    }

    @Test("a declared or streamed body over the limit gets 413")
    func oversizeBodies() async throws {
        try await live { f, port, _ in
            // Declared: refused from the header alone, before any body byte is read.
            let declared = try await RawClient.exchange(port,
                "POST \(recordsPath) HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \(f.writerA)\r\n"
                    + "Content-Type: application/x-ndjson\r\nContent-Length: 9000000000\r\n\r\n")
            #expect(declared.hasPrefix("HTTP/1.1 413"), "\(declared.prefix(80))")
            // Chunked, no length: refused once the bytes read pass the limit.
            let chunk = String(repeating: "\n", count: 32 << 10)
            let hex = String(chunk.utf8.count, radix: 16)
            let chunked = try await RawClient.exchange(port,
                "POST \(recordsPath) HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \(f.writerA)\r\n"
                    + "Content-Type: application/x-ndjson\r\nTransfer-Encoding: chunked\r\n\r\n"
                    + "\(hex)\r\n\(chunk)\r\n\(hex)\r\n\(chunk)\r\n\(hex)\r\n\(chunk)\r\n0\r\n\r\n")
            #expect(chunked.hasPrefix("HTTP/1.1 413"), "\(chunked.prefix(80))")
            // (A gzip bomb is refused in RecordsTests.)
        }
    }

    @Test("malformed HTTP gets 400 and the connection is closed")
    func malformedHTTP() async throws {
        try await live { _, port, _ in
            for request in [
                "GARBAGE\r\n\r\n",
                "GET /api/v1/analytics/health HTTP/1.1\r\nHost: x\r\nNo colon here\r\n\r\n",
                "POST \(recordsPath) HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n",
                "POST \(recordsPath) HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 7\r\n\r\nhello",
                "GET /api/v1/analytics/health HTTP/1.1\r\nHost: x\r\nX-Bad: a\u{0}b\r\n\r\n",
                "GET /api/v1/analytics/health HTTP/9.9\r\nHost: x\r\n\r\n",
            ] {
                let answer = try await RawClient.exchange(port, request)
                #expect(answer.isEmpty || answer.hasPrefix("HTTP/1.1 400"), "\(request.debugDescription): \(answer.prefix(60))")
            }
        }
    }

    @Test("a slowloris client (headers never finished) is disconnected by the idle timeout while others are served")
    func slowHeadersAreDropped() async throws {
        try await live(idleTimeout: 1) { _, port, client in
            let closed = try await RawClient.offPool {
                let slow = try RawClient(port: port)
                try slow.send("GET /api/v1/analytics/health HTTP/1.1\r\nHost: x\r\n")
                // Keep trickling header bytes: the idle timer restarts only on whole request parts, so it still fires.
                for _ in 0..<40 {
                    try? slow.send("X-Slow: 1\r\n")
                    if slow.isClosed(waitingMilliseconds: 250) { return true }
                }
                return false
            }
            #expect(closed, "the slow client still holds its connection after 10 s with a 1 s idle timeout")
            _ = client
        }
    }

    @Test("a body trickled byte by byte gets 408 once the body deadline passes")
    func slowBodyGets408() async throws {
        try await live(idleTimeout: 1, bodyTimeout: 1) { f, port, _ in
            let answer = try await RawClient.offPool {
                let slow = try RawClient(port: port)
                let body = line("acme", "slow-1")
                try slow.send("POST \(recordsPath) HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \(f.writerA)\r\n"
                              + "Content-Type: application/x-ndjson\r\nContent-Length: \(body.utf8.count + 1)\r\n\r\n")
                for byte in (body + "\n").utf8 {
                    try? slow.send(String(UnicodeScalar(byte)))
                    let answer = slow.receive(waitingMilliseconds: 200)
                    if !answer.isEmpty { return answer }
                }
                return ""
            }
            #expect(answer.hasPrefix("HTTP/1.1 408"), "\(answer.prefix(80))")
            #expect(answer.contains("urn:tally:problem:request-timeout"))
        }
    }

    @Test("deeply nested or huge JSON gets a clean 4xx, never a stack overflow")
    func deepAndHugeJSON() async throws {
        try await live { f, _, client in
            let deep = String(repeating: "[", count: 7_000) + String(repeating: "]", count: 7_000)
            let records = try await client.execute(uri: recordsPath, method: .post,
                                                   headers: auth(f.writerA, [.contentType: "application/json"]),
                                                   body: ByteBuffer(string: deep))
            #expect((400..<500).contains(Int(records.status.code)))
            let deepObject = String(repeating: "{\"a\":", count: 2_500) + "1" + String(repeating: "}", count: 2_500)
            for body in [deep, deepObject] {
                let budget = try await client.execute(uri: "/api/v1/analytics/budgets", method: .post,
                                                      headers: auth(f.adminKey, [.contentType: "application/json"]),
                                                      body: ByteBuffer(string: body))
                try expectProblem(budget, .badRequest, "invalid-parameter")
            }
            let huge = "{\"name\":\"" + String(repeating: "x", count: 100 << 10) + "\"}"
            let tooBig = try await client.execute(uri: "/api/v1/analytics/budgets", method: .post,
                                                  headers: auth(f.adminKey, [.contentType: "application/json"]),
                                                  body: ByteBuffer(string: huge))
            try expectProblem(tooBig, .contentTooLarge, "body-too-large")
        }
    }

    @Test("invalid UTF-8 in bodies, query parameters and ids gets a 4xx")
    func invalidUTF8() async throws {
        try await live { f, port, client in
            var bad = ByteBuffer(string: "{\"tenant_id\":\"acme\",\"request_id\":\"")
            bad.writeBytes([0xFF, 0xFE, 0xC0, 0x80])
            bad.writeString("\",\"model\":\"gpt-4o\",\"input_tokens\":1,\"output_tokens\":1,\"created_at\":\"2025-05-02T12:00:00Z\"}\n")
            let records = try await client.execute(uri: recordsPath, method: .post, headers: auth(f.writerA, ndjsonType), body: bad)
            try expectProblem(records, .unprocessableContent, "invalid-records")
            var badJSON = ByteBuffer(string: "{\"name\":\"")
            badJSON.writeBytes([0xFF, 0xC3])
            badJSON.writeString("\"}")
            let budget = try await client.execute(uri: "/api/v1/analytics/budgets", method: .post,
                                                  headers: auth(f.adminKey, [.contentType: "application/json"]), body: badJSON)
            #expect((400..<500).contains(Int(budget.status.code)))
            let query = try await client.execute(uri: usagePath + "?from=2025-05-01&to=2025-05-04&project_id=%FF%FE",
                                                 method: .get, headers: auth(f.readerA))
            #expect((400..<500).contains(Int(query.status.code)))
            // Raw bytes, not percent-encoded, in the request target.
            let raw = try await RawClient.exchange(port,
                "GET /api/v1/analytics/budgets/\u{FF}\u{FE} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \(f.adminKey)\r\n\r\n",
                latin1: true)
            #expect(raw.isEmpty || raw.hasPrefix("HTTP/1.1 4"), "\(raw.prefix(60))")
        }
    }

    @Test("path traversal in ids finds nothing")
    func pathTraversal() async throws {
        try await live { f, port, client in
            for id in ["..%2F..%2F..%2Fetc%2Fpasswd", "..%2F..%2Fstore%2FMANIFEST", "%2e%2e%2f%2e%2e%2fcatalog.sqlite", "....//....//etc"] {
                let r = try await client.execute(uri: "/api/v1/analytics/budgets/" + id, method: .get, headers: auth(f.adminKey))
                #expect(r.status == .notFound || r.status == .badRequest, "\(id): \(r.status)")
                #expect(!String(buffer: r.body).contains("root:"))
            }
            // Unnormalised dot segments on the wire.
            let raw = try await RawClient.exchange(port,
                "GET /api/v1/analytics/budgets/../../../../etc/passwd HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \(f.adminKey)\r\n\r\n")
            #expect(raw.hasPrefix("HTTP/1.1 404") || raw.hasPrefix("HTTP/1.1 400"), "\(raw.prefix(60))")
            #expect(!raw.contains("root:"))
        }
    }

    @Test("CR and LF in ids and headers are never reflected into response headers")
    func headerInjection() async throws {
        try await live { f, port, client in
            let id = "x%0D%0ASet-Cookie:%20evil=1%0D%0A"
            let r = try await client.execute(uri: "/api/v1/analytics/budgets/" + id, method: .get, headers: auth(f.adminKey))
            #expect(r.status == .notFound || r.status == .badRequest)
            #expect(r.headers[.setCookie] == nil)
            let raw = try await RawClient.exchange(port,
                "GET /api/v1/analytics/budgets/\(id) HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \(f.adminKey)\r\n\r\n")
            let head = raw.components(separatedBy: "\r\n\r\n").first ?? ""
            #expect(!head.lowercased().contains("set-cookie"), "\(head)")
            // A bare CR inside a header value is malformed HTTP.
            let bareCR = try await RawClient.exchange(port,
                "POST \(recordsPath) HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \(f.writerA)\r\n"
                    + "Idempotency-Key: abc\rSet-Cookie: evil=1\r\nContent-Length: 0\r\n\r\n")
            #expect(!(bareCR.components(separatedBy: "\r\n\r\n").first ?? "").lowercased().contains("set-cookie"))
            // Control and non-ASCII bytes in an Idempotency-Key: refused, not echoed.
            let key = try await client.execute(
                uri: recordsPath, method: .post,
                headers: auth(f.writerA, [.contentType: "application/x-ndjson", .idempotencyKey: "k\u{7F}\u{E9}"]),
                body: ndjson([line("acme", "inj-1")]))
            let problem = try expectProblem(key, .badRequest, "invalid-parameter", parameter: "Idempotency-Key")
            #expect(!(problem.string("detail") ?? "").contains("k\u{7F}"))
        }
    }

    @Test("wrong keys get 401, are counted in /metrics, and the count is logged at most every 10 s")
    func keyGuessing() async throws {
        try await live { f, _, client in
            let guesses = ["tly_" + String(repeating: "A", count: 43), "tly_", String(f.readerA.dropLast()) + "x",
                           f.readerA + "x", "not-a-key", String(repeating: "z", count: 4000)]
            for guess in guesses {
                let r = try await client.execute(uri: usagePath, method: .get, headers: auth(guess))
                try expectProblem(r, .unauthorized, "unauthorized")
                #expect(!String(buffer: r.body).contains(guess))
            }
            let basic = try await client.execute(uri: usagePath, method: .get, headers: [.authorization: "Basic YWRtaW46YWRtaW4="])
            try expectProblem(basic, .unauthorized, "unauthorized")
            let metrics = String(buffer: try await client.execute(uri: "/metrics", method: .get).body)
            #expect(metrics.contains("tally_http_auth_failures_total \(guesses.count + 1)\n"), "\(metrics)")
        }
        // The log line's rate limit, on a pinned clock.
        let m = ServerMetrics()
        #expect(m.recordAuthFailure(now: 100) == 1)
        #expect(m.recordAuthFailure(now: 101) == nil)
        #expect(m.recordAuthFailure(now: 109.9) == nil)
        #expect(m.recordAuthFailure(now: 110) == 3)
        #expect(m.recordAuthFailure(now: 115) == nil)
    }
}

/// A blocking TCP client on loopback that writes raw bytes, for requests no HTTP client would send.
///
/// Used on threads of its own (`offPool`): blocking the cooperative pool would starve the server under test.
final class RawClient: @unchecked Sendable {
    let fd: Int32

    init(port: Int) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let ok = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard ok == 0 else {
            close(fd)
            throw POSIXError(.ECONNREFUSED)
        }
    }

    deinit { close(fd) }

    /// Sends `text` (as UTF-8, or byte per scalar when `latin1`).
    func send(_ text: String, latin1: Bool = false) throws {
        let bytes = latin1 ? text.unicodeScalars.map { UInt8(truncatingIfNeeded: $0.value) } : Array(text.utf8)
        var off = 0
        while off < bytes.count {
            let n = bytes[off...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard n > 0 else { throw POSIXError(.EPIPE) }
            off += n
        }
    }

    /// What arrives within `waitingMilliseconds` of silence (empty if nothing).
    func receive(waitingMilliseconds ms: Int32) -> String {
        var out: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 65536)
        while true {
            var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard poll(&p, 1, ms) > 0 else { break }
            let n = recv(fd, &buf, buf.count, 0)
            if n <= 0 { break }
            out.append(contentsOf: buf[0..<n])
            if Self.isComplete(out) { break }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Whether `bytes` hold a whole response: its head and `Content-Length` bytes of body.
    static func isComplete(_ bytes: [UInt8]) -> Bool {
        let text = String(decoding: bytes, as: UTF8.self)
        guard let end = text.range(of: "\r\n\r\n") else { return false }
        let head = text[..<end.lowerBound].lowercased()
        guard let line = head.split(separator: "\r\n").first(where: { $0.hasPrefix("content-length:") }),
              let length = Int(line.dropFirst("content-length:".count).trimmingCharacters(in: .whitespaces))
        else { return false }
        return text[end.upperBound...].utf8.count >= length
    }

    /// Whether the server has closed the connection (reads end of file within the wait).
    func isClosed(waitingMilliseconds ms: Int32) -> Bool {
        var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        guard poll(&p, 1, ms) > 0 else { return false }
        var buf = [UInt8](repeating: 0, count: 4096)
        let n = recv(fd, &buf, buf.count, Int32(MSG_DONTWAIT))
        return n <= 0
    }

    /// Sends `request` on a new connection and returns the answer (up to 30 s of silence: it returns as soon as the
    /// answer is whole or the server closes; a loaded machine running the whole suite has taken more than 5 s to
    /// answer), off the cooperative pool.
    static func exchange(_ port: Int, _ request: String, latin1: Bool = false) async throws -> String {
        try await offPool {
            let c = try RawClient(port: port)
            try? c.send(request, latin1: latin1)
            return c.receive(waitingMilliseconds: 30_000)
        }
    }

    /// Runs blocking `body` on a thread of its own.
    static func offPool<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            Thread { continuation.resume(with: Result { try body() }) }.start()
        }
    }
}
