import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import Synchronization
import TallyClient
import TallyTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// A real `tally serve` process on a loopback port of its own, over a data directory with a writer and a reader
/// key of tenant `acme`; it can be killed and started again on the same directory and port.
final class LiveServer: @unchecked Sendable {
    let directory: TemporaryDirectory
    let data: String
    let port: Int
    let writer: String
    let reader: String
    let http = HTTPClient(eventLoopGroupProvider: .singleton)
    private let lock = NSLock()
    private var process: ChildProcess?

    var baseURL: String { "http://127.0.0.1:\(port)" }

    init() throws {
        directory = try TemporaryDirectory(prefix: "tally-client")
        data = directory.appending("store")
        port = try Self.freePort()
        writer = try Self.key(data, ["--tenant", "acme", "--role", "writer"])
        reader = try Self.key(data, ["--tenant", "acme", "--role", "reader"])
    }

    /// Starts `tally serve` (through `launch`, one process start at a time in the test process, with Foundation's
    /// closing of inherited descriptors: a server that kept other suites' pipes open would hold their readers) and
    /// waits until it answers its health check.
    func start() async throws {
        let log = directory.appending("serve.log")
        let process = try Self.spawn([tallyExecutable(), "serve", "--data", data, "--port", String(port), "--detect-interval", "0"], output: log)
        lock.withLock { self.process = process }
        let deadline = ContinuousClock.now + .seconds(30)
        while ContinuousClock.now < deadline {
            var health = HTTPClientRequest(url: baseURL + "/api/v1/analytics/health")
            health.headers.add(name: "Connection", value: "close")  // no idle connection to hold up a SIGTERM stop
            if let r = try? await http.execute(health, timeout: .seconds(1)), r.status == .ok {
                return
            }
            if !process.isRunning {
                lock.withLock { self.process = nil }
                break
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        let said = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        throw LiveServerError.didNotStart(said)
    }

    /// Sends `signal` to the server and waits for its end.
    func stop(_ signal: Int32 = SIGTERM) async {
        guard let process = lock.withLock({ () -> ChildProcess? in defer { self.process = nil }; return self.process }) else { return }
        kill(process.processIdentifier, signal)
        while process.isRunning { try? await Task.sleep(for: .milliseconds(10)) }
    }

    /// Starts `arguments` (the first the executable's path) with stdout and stderr appended to `output`, with
    /// SWIFT_BACKTRACE=enable=no (the tests kill it).
    static func spawn(_ arguments: [String], output: String) throws -> ChildProcess {
        var environment = ProcessInfo.processInfo.environment
        environment["SWIFT_BACKTRACE"] = "enable=no"
        return try ChildProcess(arguments[0], Array(arguments.dropFirst()), environment: environment, stdin: .null,
                                stdout: .file(output), stderr: .file(output))
    }

    /// Stops the server and the HTTP client, and deletes the directory.
    func close() async {
        await stop(SIGKILL)
        try? await http.shutdown()
        directory.remove()
    }

    /// The usage totals of tenant acme around now: records and cost_cents (exact decimal string).
    func totals() async throws -> (records: Int, costCents: String, inputTokens: Int) {
        let day: Double = 86_400
        let from = Self.date(Date().addingTimeInterval(-2 * day)), to = Self.date(Date().addingTimeInterval(2 * day))
        var request = HTTPClientRequest(url: baseURL + "/api/v1/analytics/statistics/usage?from=\(from)&to=\(to)&resolution=day")
        request.headers.add(name: "Authorization", value: "Bearer " + reader)
        request.headers.add(name: "Connection", value: "close")
        let response = try await http.execute(request, timeout: .seconds(30))
        let body = try await response.body.collect(upTo: 16 << 20)
        #expect(response.status == .ok, "\(String(buffer: body))")
        let doc = try #require(try JSONSerialization.jsonObject(with: Data(body.readableBytesView)) as? [String: Any])
        let totals = try #require(doc["totals"] as? [String: Any], "\(doc)")
        return (totals["records"] as? Int ?? -1, totals["cost_cents"] as? String ?? "", totals["input_tokens"] as? Int ?? -1)
    }

    static func date(_ d: Date) -> String {
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.timeZone = TimeZone(identifier: "UTC")
        f.dateFormat = "yyyy-MM-dd"
        return f.string(from: d)
    }

    static func key(_ data: String, _ args: [String]) throws -> String {
        let run = try runTally(["keys", "create", "--data", data] + args)
        guard run.status == 0, let key = run.out.split(separator: "\n").last.map(String.init) else {
            throw LiveServerError.didNotStart("keys create: \(run.err)")
        }
        return key.trimmingCharacters(in: .whitespaces)
    }

    /// A loopback port nothing listens on now (bound to port 0 and closed again).
    static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw LiveServerError.didNotStart("socket: errno \(errno)") }
        defer { Glibc.close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = 0
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &addr) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) == 0 && getsockname(fd, $0, &len) == 0 }
        }
        guard bound else { throw LiveServerError.didNotStart("bind: errno \(errno)") }
        return Int(UInt16(bigEndian: addr.sin_port))
    }
}

enum LiveServerError: Error {
    case didNotStart(String)
}

/// Errors the client reported, gathered for the test to read.
final class ErrorLog: Sendable {
    private let errors = Mutex<[TallyClientError]>([])

    func add(_ e: TallyClientError) { errors.withLock { $0.append(e) } }
    var all: [TallyClientError] { errors.withLock { $0 } }
}

/// Cents of `nanos` nano-dollars as the API writes money: 7 fraction digits.
func cents(_ nanos: Int64) -> String {
    let whole = nanos / 10_000_000, frac = nanos % 10_000_000
    let f = String(frac)
    return "\(whole)." + String(repeating: "0", count: 7 - f.count) + f
}
