import Foundation
import HTTPTypes
import Hummingbird
import Logging
import HummingbirdTesting
import NIOCore
import TallyAnalytics
import TallyServer
import TallyStore
import TallyTestSupport
import Synchronization
import TallyText
import Testing

/// A fresh data directory with a store, a catalog, keys for two tenants and an admin, and a few known records.
///
/// Tenant `acme` (A) and tenant `globex` (B); "now" is pinned to 2025-05-04T00:00:00Z.
final class ServerFixture: @unchecked Sendable {
    static let tenantA = "acme"
    static let tenantB = "globex"
    static let now = ms("2025-05-04T00:00:00Z")

    let directory: TemporaryDirectory
    /// "Now" of the services; tests move it (budget periods, burn rates).
    let clock = TestClock(ServerFixture.now)
    let analytics: Analytics
    /// The embedded store behind `analytics`, for tests that write or inspect it directly.
    let store: Store
    let server: APIServer
    let adminKey: String
    let readerA: String
    let writerA: String
    let readerB: String
    let writerB: String

    /// `useRollups`, `maxBodyBytes` and `maxBuckets` as `tally serve` would set them; `seed` stores the known records.
    /// `allowPrivateWebhooks` as `tally serve --allow-private-webhooks` (the test listeners are on loopback).
    init(useRollups: Bool = true, maxBodyBytes: Int = 1 << 20, maxBuckets: Int64 = 5_000, seed: Bool = true,
         pricing: PriceTable? = ServerFixture.defaultPricing, allowPrivateWebhooks: Bool = false) throws {
        directory = try TemporaryDirectory(prefix: "tally-server")
        var storeOptions = StoreOptions()
        storeOptions.background = false
        storeOptions.durability = .buffered
        let store = try Store(path: directory.appending("store"), options: storeOptions)
        self.store = store
        let catalog = try SQLiteCatalog(directory: directory.appending("store"))
        var options = AnalyticsOptions()
        options.useRollups = useRollups
        options.maxBuckets = maxBuckets
        options.pricing = pricing
        options.allowPrivateWebhooks = allowPrivateWebhooks
        analytics = Analytics(store: store, catalog: catalog, options: options, clock: clock.timeSource)
        var configuration = ServerConfiguration()
        configuration.maxBodyBytes = maxBodyBytes
        configuration.port = 0
        server = APIServer(analytics: analytics, configuration: configuration)
        adminKey = try catalog.createKey(tenant: nil, role: .admin).secret
        readerA = try catalog.createKey(tenant: Self.tenantA, role: .reader).secret
        writerA = try catalog.createKey(tenant: Self.tenantA, role: .writer).secret
        readerB = try catalog.createKey(tenant: Self.tenantB, role: .reader).secret
        writerB = try catalog.createKey(tenant: Self.tenantB, role: .writer).secret
        if seed { _ = try store.append(RecordBatch(Self.records)) }
    }

    deinit {
        try? analytics.close()
        directory.remove()
    }

    /// The known records: four of A in the window 2025-05-01 ..< 2025-05-04, one of A the day before, two of B.
    static let records: [CostRecord] = [
        rec(A, "a1", "2025-05-01T10:15:00Z", project: "web", env: "prod", user: "u1", feature: "chat", model: "gpt-4o",
            input: 1000, output: 100, cents: "10.5"),
        rec(A, "a2", "2025-05-01T10:45:00Z", project: "web", env: "staging", user: "u2", feature: "search", model: "claude-3-opus",
            input: 2000, output: 200, cents: "20.25"),
        rec(A, "a3", "2025-05-02T08:00:00Z", project: "api", env: "prod", user: "u1", feature: "chat", model: "gpt-4o",
            input: 500, output: 50, cents: "5"),
        rec(A, "a4", "2025-05-03T23:59:59.999Z", project: "api", env: "prod", user: "u3", feature: "summarize", model: "gpt-4o-mini",
            input: 100, output: 10, cents: "0.0000001"),
        rec(A, "a5", "2025-04-30T12:00:00Z", project: "web", env: "prod", user: "u1", feature: "chat", model: "gpt-4o",
            input: 700, output: 70, cents: "7"),
        rec(B, "b1", "2025-05-01T11:00:00Z", project: "core", env: "prod", user: "x", feature: "chat", model: "gpt-4o",
            input: 10, output: 1, cents: "1000"),
        rec(B, "b2", "2025-05-02T11:00:00Z", project: "core", env: "prod", user: "x", feature: "chat", model: "gpt-4o",
            input: 10, output: 1, cents: "2000"),
    ]
    private static let A = tenantA
    private static let B = tenantB

    static func rec(_ tenant: String, _ id: String, _ at: String, project: String, env: String, user: String, feature: String,
                    model: String, input: Int64, output: Int64, cents: String) -> CostRecord {
        CostRecord(tenantID: tenant, projectID: project, environment: env, userID: user, featureTag: feature, requestID: id,
                   model: model, inputTokens: input, outputTokens: output, costNanos: try! Money.parseCents(cents).get(),
                   createdAtMillis: ms(at))
    }

    /// gpt-4o at 250 cents per million input tokens and 1000 per million output tokens, since 1970.
    static let defaultPricing = PriceTable(entries: [
        "gpt-4o": [PriceEntry(effectiveFromMillis: 0, inputPerMillionNanos: 250 * Money.nanosPerCent,
                              outputPerMillionNanos: 1000 * Money.nanosPerCent)]
    ])

    /// Sets "now".
    func setNow(_ text: String) { clock.set(ms(text)) }

    /// Runs `body` against the real router; every response is checked against the OpenAPI document.
    func withRouter<R: Sendable>(_ body: @Sendable (any TestClientProtocol) async throws -> R) async throws -> R {
        let app = Application(router: server.router(), logger: quietLogger)
        return try await app.test(.router) { client in try await body(ContractCheckingClient(client: client)) }
    }
}

/// A clock tests set by hand: wall time always; monotonic time once `pinMonotonic` is called (until then the
/// system's, so latencies stay real).
final class TestClock: Sendable {
    private let value: Mutex<Int64>
    private let monotonic = Mutex<Double?>(nil)

    init(_ start: Int64) { value = Mutex(start) }

    var now: Int64 { value.withLock { $0 } }

    func set(_ millis: Int64) { value.withLock { $0 = millis } }

    /// Pins monotonic time at `seconds`.
    func pinMonotonic(_ seconds: Double) { monotonic.withLock { $0 = seconds } }

    /// Moves pinned monotonic time on by `seconds`.
    func advanceMonotonic(_ seconds: Double) { monotonic.withLock { $0! += seconds } }

    /// This clock as the services' time source.
    var timeSource: TimeSource {
        TimeSource(wallMillis: { self.now },
                   monotonicSeconds: { self.monotonic.withLock { $0 } ?? TimeSource.systemMonotonicSeconds() })
    }
}

/// A logger that keeps expected failures (a closed store, say) out of the test output.
let quietLogger: Logger = {
    var logger = Logger(label: "tally-test")
    logger.logLevel = .critical
    return logger
}()

/// Milliseconds of an RFC 3339 time.
func ms(_ text: String) -> Int64 { try! Timestamp.parse(text).get() }

/// `Authorization: Bearer <key>` headers, plus any others.
func auth(_ key: String, _ more: HTTPFields = [:]) -> HTTPFields {
    var h = more
    h[.authorization] = "Bearer " + key
    return h
}

/// The JSON object of a response body.
func json(_ response: TestResponse) throws -> [String: Any] {
    let object = try JSONSerialization.jsonObject(with: Data(response.body.readableBytesView))
    return try #require(object as? [String: Any])
}

extension Dictionary where Key == String, Value == Any {
    func object(_ key: String) -> [String: Any]? { self[key] as? [String: Any] }
    func array(_ key: String) -> [[String: Any]]? { self[key] as? [[String: Any]] }
    func string(_ key: String) -> String? { self[key] as? String }
    func int(_ key: String) -> Int? { (self[key] as? NSNumber)?.intValue }
}

extension HTTPField.Name {
    static let idempotencyKey = HTTPField.Name("Idempotency-Key")!
}

/// Expects an `application/problem+json` response with this status and type, and returns its members.
@discardableResult
func expectProblem(_ response: TestResponse, _ status: HTTPResponse.Status, _ type: String, parameter: String? = nil,
                   sourceLocation: SourceLocation = #_sourceLocation) throws -> [String: Any] {
    #expect(response.status == status, sourceLocation: sourceLocation)
    #expect(response.headers[.contentType] == "application/problem+json", sourceLocation: sourceLocation)
    let body = try json(response)
    #expect(body.string("type") == "urn:tally:problem:" + type, sourceLocation: sourceLocation)
    #expect(body.int("status") == Int(status.code), sourceLocation: sourceLocation)
    #expect(body.string("title")?.isEmpty == false, sourceLocation: sourceLocation)
    #expect(body.string("detail")?.isEmpty == false, sourceLocation: sourceLocation)
    if let parameter { #expect(body.string("parameter") == parameter, sourceLocation: sourceLocation) }
    return body
}

/// NDJSON lines of records.
func ndjson(_ lines: [String]) -> ByteBuffer { ByteBuffer(string: lines.joined(separator: "\n") + "\n") }

/// One NDJSON record line.
func line(_ tenant: String, _ id: String, at: String = "2025-05-02T12:00:00Z", cents: String? = "1.5", model: String = "gpt-4o") -> String {
    var fields = ["\"tenant_id\":\"\(tenant)\"", "\"request_id\":\"\(id)\"", "\"model\":\"\(model)\"", "\"input_tokens\":10",
                  "\"output_tokens\":5", "\"created_at\":\"\(at)\""]
    if let cents { fields.append("\"cost_cents\":\(cents)") }
    return "{" + fields.joined(separator: ",") + "}"
}

let ndjsonType: HTTPFields = [.contentType: "application/x-ndjson"]
let usagePath = "/api/v1/analytics/statistics/usage"
let costPath = "/api/v1/analytics/statistics/cost"
let recordsPath = "/api/v1/analytics/records"
