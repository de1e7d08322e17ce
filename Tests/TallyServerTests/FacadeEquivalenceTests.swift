import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import TallyAnalytics
import TallyClickHouse
import TallyServer
import TallyStore
import TallySynthetic
import TallyTestSupport
import TallyText
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The facade equivalence suite (issue 17): the same generated records in the embedded store and in the two-shard
/// ClickHouse cluster (`scripts/clickhouse.sh start`, run by `make test-cluster-clickhouse`), one server app per
/// backend on the same pinned clock, and every record-reading endpoint of the OpenAPI document asked the same
/// questions on both: the answers must be equal byte for byte, except
/// - `generated_at` (when the answer was made) and the provenance `sources` (what was read: parts and rows of the
///   embedded store, none of ClickHouse's), which are blanked;
/// - the random ids of created things (`bud_...`, `anm_...`, `exp_...`), which are renamed by order of first
///   appearance on each side (`<bud#1>`), so a list in another order still shows;
/// - the rows of a records export, compared as a sorted list: a record reader streams a tenant's records "in no
///   particular order across pieces" (`RecordReader.forEachRecordBatch`), and neither store sorts them.
///
/// `coverage` (which runs in `make test` too) fails when an operation under /api/v1/analytics is neither among the
/// routes this suite asks (`askedRoutes`) nor listed in `notRecordReading` with the reason: a new endpoint must
/// come with its equivalence case or say why it needs none.
@Suite("Facade equivalence: embedded store and ClickHouse cluster answer alike", .serialized)
struct FacadeEquivalenceTests {
    static let environment = ProcessInfo.processInfo.environment
    static var clusterURL: String? { environment["TALLY_CLICKHOUSE_URL"] }

    /// Every operation this suite asks on both backends.
    static let askedRoutes: Set<String> = [
        "GET /api/v1/analytics/statistics/usage",
        "GET /api/v1/analytics/statistics/cost",
        "POST /api/v1/analytics/records",
        "POST /api/v1/analytics/budgets",
        "GET /api/v1/analytics/budgets",
        "GET /api/v1/analytics/budgets/{id}",
        "PATCH /api/v1/analytics/budgets/{id}",
        "DELETE /api/v1/analytics/budgets/{id}",
        "POST /api/v1/analytics/policy/check",
        "POST /api/v1/analytics/policy/reservations",
        "GET /api/v1/analytics/policy/reservations/{id}",
        "POST /api/v1/analytics/policy/reservations/{id}/settle",
        "POST /api/v1/analytics/policy/reservations/{id}/cancel",
        "POST /api/v1/analytics/feature-tags",
        "GET /api/v1/analytics/feature-tags",
        "GET /api/v1/analytics/feature-tags/{id}",
        "PATCH /api/v1/analytics/feature-tags/{id}",
        "DELETE /api/v1/analytics/feature-tags/{id}",
        "POST /api/v1/analytics/anomalies/detect",
        "GET /api/v1/analytics/statistics/anomalies",
        "GET /api/v1/analytics/anomalies/{id}",
        "POST /api/v1/analytics/anomalies/{id}/resolve",
        "GET /api/v1/analytics/incidents",
        "GET /api/v1/analytics/incidents/{id}",
        "POST /api/v1/analytics/incidents/{id}/acknowledge",
        "POST /api/v1/analytics/incidents/{id}/resolve",
        "POST /api/v1/analytics/reporting/exports",
        "GET /api/v1/analytics/reporting/exports",
        "GET /api/v1/analytics/reporting/exports/{id}",
        "GET /api/v1/analytics/reporting/exports/{id}/download",
        "GET /api/v1/analytics/reports/monthly",
    ]

    /// Operations under /api/v1/analytics that read no records, and why.
    static let notRecordReading: [String: String] = [
        "GET /api/v1/analytics/anomalies/settings": "a tenant's thresholds, from the catalog",
        "PUT /api/v1/analytics/anomalies/settings": "writes thresholds to the catalog",
        "GET /api/v1/analytics/webhook": "catalog only",
        "PUT /api/v1/analytics/webhook": "catalog only",
        "DELETE /api/v1/analytics/webhook": "catalog only",
        "POST /api/v1/analytics/alert-channels": "catalog only",
        "GET /api/v1/analytics/alert-channels": "catalog only (deliveries)",
        "GET /api/v1/analytics/alert-channels/{id}": "catalog only",
        "PATCH /api/v1/analytics/alert-channels/{id}": "catalog only",
        "DELETE /api/v1/analytics/alert-channels/{id}": "catalog only",
        "POST /api/v1/analytics/alert-channels/{id}/test": "sends a test message; reads no records",
        "POST /api/v1/analytics/v1/traces": "a write: spans become records through the same ingest as POST records (asked)",
        "GET /api/v1/analytics/pricing": "the price table",
        "GET /api/v1/analytics/audit": "the catalog's audit log",
        "GET /api/v1/analytics/_status": "capability probe of the server",
        "GET /api/v1/analytics/health": "the store's own checks differ by nature (WAL and disk vs the cluster's reachability)",
        "GET /api/v1/analytics/openapi.json": "the document itself",
    ]

    @Test("every operation under /api/v1/analytics is asked by the equivalence suite or listed as reading no records")
    func coverage() {
        let documented = Set(ContractCheck.operations.map { "\($0.method) \($0.template)" }.filter { $0.contains(" /api/v1/analytics/") })
        let known = Self.askedRoutes.union(Self.notRecordReading.keys)
        #expect(documented.subtracting(known).sorted() == [], "operations without an equivalence case (or a reason in notRecordReading)")
        #expect(known.subtracting(documented).sorted() == [], "cases for operations the document does not have")
        #expect(Self.askedRoutes.isDisjoint(with: Self.notRecordReading.keys))
    }

    @Test("every record-reading endpoint answers the same JSON on the embedded store and on the ClickHouse cluster",
          .enabled(if: FacadeEquivalenceTests.clusterURL != nil, "needs TALLY_CLICKHOUSE_URL (make test-cluster-clickhouse)"))
    func everyEndpointAnswersAlike() async throws {
        let world = try EquivalenceWorld()
        let (embedded, cluster) = try await world.backends()
        defer {
            let c = cluster
            Task { try? await c.clickHouse?.dropDatabase() }
        }
        let appA = Application(router: embedded.server.router(), logger: quietLogger)
        let appB = Application(router: cluster.server.router(), logger: quietLogger)
        try await appA.test(.router) { clientA in
            try await appB.test(.router) { clientB in
                let ask = EquivalenceAsker(a: (embedded, ContractCheckingClient(client: clientA)),
                                           b: (cluster, ContractCheckingClient(client: clientB)))
                try await world.askEverything(ask)
                #expect(ask.asked.subtracting(Self.askedRoutes).sorted() == [], "asked routes missing from askedRoutes")
                #expect(Self.askedRoutes.subtracting(ask.asked).sorted() == [], "routes in askedRoutes that were never asked")
                #expect(ask.compared >= 150, "\(ask.compared) answers compared")
            }
        }
    }
}

/// One side of the comparison: a server app over one record store, its catalog, keys and "now".
final class EquivalenceBackend: @unchecked Sendable {
    let name: String
    let directory: TemporaryDirectory
    let analytics: Analytics
    let server: APIServer
    let clickHouse: ClickHouseRecordStore?
    let admin: String
    /// A reader and a writer key of the first tenant.
    let reader: String
    let writer: String
    /// Ids of things created on this side, by the name the suite gives them.
    var ids: [String: String] = [:]

    init(name: String, records: any RecordStore, clickHouse: ClickHouseRecordStore?, directory: TemporaryDirectory, pool: BlockingPool,
         clock: TestClock, tenant: String) throws {
        self.name = name
        self.directory = directory
        self.clickHouse = clickHouse
        let catalog = try SQLiteCatalog(directory: directory.appending("catalog"))
        var options = AnalyticsOptions()
        options.pricing = ServerFixture.defaultPricing
        analytics = Analytics(records: records, catalog: catalog, options: options, pool: pool, clock: clock.timeSource)
        var configuration = ServerConfiguration()
        configuration.port = 0
        server = APIServer(analytics: analytics, configuration: configuration)
        admin = try catalog.createKey(tenant: nil, role: .admin).secret
        reader = try catalog.createKey(tenant: tenant, role: .reader).secret
        writer = try catalog.createKey(tenant: tenant, role: .writer).secret
    }

    deinit {
        try? analytics.close()
        directory.remove()
    }
}

/// Sends each request to both backends and expects the same answer.
final class EquivalenceAsker: @unchecked Sendable {
    typealias Side = (backend: EquivalenceBackend, client: any TestClientProtocol)
    let a: Side
    let b: Side
    /// The operations asked ("GET /api/v1/analytics/budgets/{id}").
    private(set) var asked: Set<String> = []
    private(set) var compared = 0
    /// Per side: each random id seen, by the placeholder it became.
    private var placeholders: [[String: String]] = [[:], [:]]
    private var counts: [[String: Int]] = [[:], [:]]

    init(a: Side, b: Side) {
        self.a = a
        self.b = b
    }

    /// How much of an answer that holds incidents is compared. Which incident an anomaly joins depends on the catalog's
    /// order of unresolved incidents opened at the same instant, `(opened_at, id)`, so on random ids: a control run with
    /// two embedded stores (TALLY_EQUIV_CONTROL=1) groups differently too. The anomalies themselves (every amount read
    /// from the records) are compared whole; an incident list as the multiset of its member anomalies; one incident by
    /// its status code only.
    enum IncidentComparison {
        case whole, memberAnomalies, statusOnly
    }

    /// Whether the lines of an answer may come in any order (a records export): all of them, or all after a header.
    enum UnorderedLines {
        case no, afterHeader, all
    }

    struct Answer {
        let status: HTTPResponse.Status
        let body: [UInt8]
        let normalized: String
        var json: [String: Any]? { (try? JSONSerialization.jsonObject(with: Data(body))) as? [String: Any] }
    }

    /// Asks `method uri` (built per side, for ids) on both sides, compares, and returns both answers (embedded first).
    @discardableResult
    func ask(_ route: String, _ method: HTTPRequest.Method, _ uri: (EquivalenceBackend) -> String, key: (EquivalenceBackend) -> String,
             body: String? = nil, contentType: String = "application/json", expect status: HTTPResponse.Status = .ok,
             unorderedLines: UnorderedLines = .no, catalogOrder: Bool = false, incidents: IncidentComparison = .whole,
             sourceLocation: SourceLocation = #_sourceLocation) async throws -> (Answer, Answer) {
        asked.insert(route)
        var answers: [Answer] = []
        for (i, side) in [a, b].enumerated() {
            var headers = auth(key(side.backend))
            if body != nil { headers[.contentType] = contentType }
            let r = try await side.client.execute(uri: uri(side.backend), method: method, headers: headers, body: body.map { ByteBuffer(string: $0) })
            let bytes = Array(r.body.readableBytesView)
            var text = String(decoding: bytes, as: UTF8.self)
            if catalogOrder, let object = try? JSONSerialization.jsonObject(with: Data(bytes)) {
                var value = Self.canonical(object)
                switch incidents {
                case .whole: break
                case .memberAnomalies: value = Self.memberAnomalies(value)
                case .statusOnly: value = [:] as [String: Any]
                }
                text = String(decoding: try JSONSerialization.data(withJSONObject: value, options: [.sortedKeys]), as: UTF8.self)
            }
            text = normalize(text, side: i, blankIDs: catalogOrder)
            if unorderedLines != .no {
                var lines = text.split(separator: "\n", omittingEmptySubsequences: false)
                let header = lines.isEmpty || unorderedLines == .all ? [] : [lines.removeFirst()]
                text = (header + lines.sorted()).joined(separator: "\n")
            }
            let location = r.headers[.location].map { normalize($0, side: i) } ?? ""
            answers.append(Answer(status: r.status, body: bytes,
                                  normalized: "\(r.status.code) \(r.headers[.contentType] ?? "") \(location)\n" + text))
        }
        compared += 1
        let label = "\(method) \(uri(a.backend))"
        #expect(answers[0].status == status, "\(label): \(answers[0].status) \(String(answers[0].normalized.prefix(600)))",
                sourceLocation: sourceLocation)
        if answers[0].normalized != answers[1].normalized {
            Issue.record("\(label) answers differently:\n\(Self.difference(answers[0].normalized, answers[1].normalized))",
                         sourceLocation: sourceLocation)
        }
        return (answers[0], answers[1])
    }

    /// A `GET` asked with the admin key.
    @discardableResult
    func get(_ route: String, _ query: String = "", catalogOrder: Bool = false,
             sourceLocation: SourceLocation = #_sourceLocation) async throws -> (Answer, Answer) {
        let path = route.split(separator: " ", maxSplits: 1).last.map(String.init) ?? route
        return try await ask(route, .get, { _ in path + query }, key: { $0.admin }, catalogOrder: catalogOrder, sourceLocation: sourceLocation)
    }

    /// `value` with every array of objects that carry a random `id` sorted by their content (ids blanked). The catalog
    /// lists anomalies by `(last_day, first_day, id)` and incidents by `(opened_at, id)`: ties (common, since detection
    /// finds many at once) fall in the order of random ids, which differ between the two sides whatever the records.
    static func canonical(_ value: Any) -> Any {
        if var object = value as? [String: Any] {
            // Which incident an anomaly joined is not compared (see `IncidentComparison`).
            if object["incident_id"] is String { object["incident_id"] = "-" }
            return object.mapValues(canonical)
        }
        guard let array = value as? [Any] else { return value }
        let elements = array.map(canonical)
        guard !elements.isEmpty, elements.allSatisfy({ (($0 as? [String: Any])?["id"] as? String).map(isRandomID) ?? false }) else {
            return elements
        }
        func key(_ element: Any) -> String {
            let data = (try? JSONSerialization.data(withJSONObject: element, options: [.sortedKeys])) ?? Data()
            return replace(randomID, in: String(decoding: data, as: UTF8.self)) { _ in "-" }
        }
        return elements.map { (key($0), $0) }.sorted { $0.0 < $1.0 }.map(\.1)
    }

    /// The incident count and every member anomaly, sorted (see `IncidentComparison`).
    static func memberAnomalies(_ value: Any) -> Any {
        let incidents = ((value as? [String: Any])?["incidents"] as? [[String: Any]]) ?? []
        let members = incidents.flatMap { ($0["anomalies"] as? [Any]) ?? [] }
        return ["incidents": incidents.count, "anomalies": canonical(members)]
    }

    static let randomID = #"\b(bud|anm|inc|exp|res|ftg|alr|ach|dlv|key)_[0-9a-f]{6,}\b"#

    static func isRandomID(_ s: String) -> Bool { replace(randomID, in: s) { _ in "" }.isEmpty }

    /// `generated_at` and provenance `sources` blanked; random ids renamed by order of first appearance on this side.
    /// With `blankIDs` (answers in catalog order), every random id becomes its prefix alone (`<inc>`): which id is
    /// which follows the catalog's tie order, so numbering them by first appearance would differ.
    func normalize(_ text: String, side: Int, blankIDs: Bool = false) -> String {
        var s = text
        s = Self.replace(#""generated_at":"[^"]*""#, in: s) { _ in #""generated_at":"-""# }
        s = Self.replace(#""sources":\[[^\]]*\]"#, in: s) { _ in #""sources":[-]"# }
        s = Self.replace(Self.randomID, in: s) { id in
            if blankIDs { return "<" + id.prefix { $0 != "_" } + ">" }
            if let p = placeholders[side][id] { return p }
            let prefix = String(id.prefix { $0 != "_" })
            counts[side][prefix, default: 0] += 1
            let p = "<\(prefix)#\(counts[side][prefix]!)>"
            placeholders[side][id] = p
            return p
        }
        return s
    }

    static func replace(_ pattern: String, in text: String, _ with: (String) -> String) -> String {
        let regex = try! NSRegularExpression(pattern: pattern)
        let ns = text as NSString
        var out = ""
        var last = 0
        for m in regex.matches(in: text, range: NSRange(location: 0, length: ns.length)) {
            out += ns.substring(with: NSRange(location: last, length: m.range.location - last))
            out += with(ns.substring(with: m.range))
            last = m.range.location + m.range.length
        }
        return out + ns.substring(from: last)
    }

    /// Where two texts part, with some context.
    static func difference(_ x: String, _ y: String) -> String {
        let a = Array(x.utf8), b = Array(y.utf8)
        var i = 0
        while i < a.count && i < b.count && a[i] == b[i] { i += 1 }
        let start = max(0, i - 300)
        func around(_ bytes: [UInt8]) -> String { String(decoding: bytes[start..<min(bytes.count, i + 300)], as: UTF8.self) }
        return "at byte \(i):\n  embedded:   \(around(a))\n  clickhouse: \(around(b))"
    }

    /// The string at `path` (object members, then array indices) of a JSON answer on each side, for ids.
    func remember(_ name: String, _ answers: (Answer, Answer), _ path: [Any]) throws {
        for (side, answer) in [(a, answers.0), (b, answers.1)] {
            // In canonical order, so the same element is taken on both sides (see `canonical`).
            var value: Any? = answer.json.map(Self.canonical)
            for step in path {
                if let member = step as? String { value = (value as? [String: Any])?[member] }
                if let index = step as? Int { value = (value as? [Any]).flatMap { index < $0.count ? $0[index] : nil } }
            }
            side.backend.ids[name] = try #require(value as? String, "\(name) at \(path) on \(side.backend.name)")
        }
    }
}

/// The records and the questions.
struct EquivalenceWorld {
    static let base = "/api/v1/analytics"
    static let now = ms("2025-05-31T18:00:00Z")
    let clock = TestClock(EquivalenceWorld.now)
    let generator: SyntheticGenerator
    let records: [CostRecord]
    /// The generated tenants, largest first, and the tenant of the hand-made ties.
    let tenants: [String]
    static let tieTenant = "tie-co"
    var tieTenant: String { Self.tieTenant }

    init() throws {
        generator = SyntheticGenerator(.init(rows: 24_000, days: 28, seed: 17, tenants: 6, end: ms("2025-06-01T00:00:00Z"), users: 300))
        var spend: [String: Int64] = [:]
        var generated = generator.records()
        for r in generated { spend[r.tenantID, default: 0] += r.costNanos }
        tenants = spend.keys.sorted { (spend[$0]!, $1) > (spend[$1]!, $0) }
        // Ties on purpose: features and users with equal cost, equal counts and equal tokens, so top-k and limits cut
        // through ties (broken by key bytes on both).
        let day = ms("2025-05-20T00:00:00Z")
        for (i, (feature, user, model)) in [("alpha", "u-b", "m1"), ("beta", "u-a", "m2"), ("gamma", "u-c", "m1"), ("Beta", "u-d", "m2"),
                                            ("alpha", "u-a", "m2"), ("beta", "u-b", "m1"), ("gamma", "u-d", "m2"), ("Beta", "u-c", "m1"),
                                            ("é", "u-e", "m1"), ("e", "u-f", "m2")].enumerated() {
            generated.append(CostRecord(tenantID: Self.tieTenant, projectID: "p", environment: "prod", userID: user, featureTag: feature,
                                        requestID: "tie-\(i)", model: model, inputTokens: 100, outputTokens: 10,
                                        costNanos: 5 * Money.nanosPerCent, createdAtMillis: day + Int64(i % 4) * 3_600_000 + 1_234))
        }
        records = generated
    }

    /// Both backends loaded with the same records: the embedded store sealed into parts (hour index and rollups in
    /// use) with the last few hundred records left in its head; the cluster through `ClickHouseRecordStore.append`.
    func backends() async throws -> (EquivalenceBackend, EquivalenceBackend) {
        let embedded = try embeddedBackend("embedded")
        // TALLY_EQUIV_CONTROL=1: a second embedded store instead of the cluster (a control run of the suite itself).
        if FacadeEquivalenceTests.environment["TALLY_EQUIV_CONTROL"] == "1" { return (embedded, try embeddedBackend("embedded-control")) }
        return (embedded, try await clusterBackend())
    }

    func embeddedBackend(_ name: String) throws -> EquivalenceBackend {
        let directory = try TemporaryDirectory(prefix: "tally-equiv-" + name)
        var storeOptions = StoreOptions()
        storeOptions.background = false
        storeOptions.durability = .buffered
        let store = try Store(path: directory.appending("store"), options: storeOptions)
        let pool = BlockingPool(maxThreads: 4)
        let head = records.count - 300
        _ = try store.append(RecordBatch(Array(records[..<head])))
        try store.flush()
        _ = try store.append(RecordBatch(Array(records[head...])))
        return try EquivalenceBackend(name: name, records: EmbeddedRecordStore(store: store, pool: pool), clickHouse: nil,
                                      directory: directory, pool: pool, clock: clock, tenant: tenants[0])
    }

    func clusterBackend() async throws -> EquivalenceBackend {
        let env = FacadeEquivalenceTests.environment
        let url = try #require(FacadeEquivalenceTests.clusterURL)
        let shards = (env["TALLY_CLICKHOUSE_SHARDS"] ?? url).split(separator: ",").map(String.init)
        let database = "tally_equiv_" + String(UInt64.random(in: 0...UInt64.max), radix: 16)
        let pool = BlockingPool(maxThreads: 4)
        let clickHouse = try ClickHouseRecordStore(
            configuration: .init(url: url, cluster: env["TALLY_CLICKHOUSE_CLUSTER"] ?? "tally_cluster", database: database, shardURLs: shards),
            pool: pool)
        try await clickHouse.migrate()
        for start in stride(from: 0, to: records.count, by: 10_000) {
            let receipt = try await clickHouse.append(RecordBatch(Array(records[start..<min(start + 10_000, records.count)])))
            #expect(receipt.duplicates.isEmpty)
        }
        return try EquivalenceBackend(name: "clickhouse", records: clickHouse, clickHouse: clickHouse,
                                      directory: try TemporaryDirectory(prefix: "tally-equiv-clickhouse"), pool: pool,
                                      clock: clock, tenant: tenants[0])
    }

    /// The most frequent value of `field` among `tenant`'s records.
    func common(_ tenant: String, _ field: (CostRecord) -> String, rank: Int = 0) -> String {
        var counts: [String: Int] = [:]
        for r in records where r.tenantID == tenant { counts[field(r), default: 0] += 1 }
        let sorted = counts.keys.sorted { (counts[$0]!, $1) > (counts[$1]!, $0) }
        return sorted[min(rank, sorted.count - 1)]
    }

    func askEverything(_ ask: EquivalenceAsker) async throws {
        try await usage(ask)
        try await cost(ask)
        try await budgetsAndPolicy(ask)
        try await featureTags(ask)
        try await anomalies(ask)
        try await exports(ask)
        try await reports(ask)
        try await ingest(ask)
    }

    // MARK: - Usage

    func usage(_ ask: EquivalenceAsker) async throws {
        let route = "GET \(Self.base)/statistics/usage"
        let t0 = tenants[0]
        let project = common(t0, \.projectID)
        let environment = common(t0, \.environment)
        for tenant in [t0, tenants[1], tenants[4], tieTenant] {
            let t = "tenant_id=\(tenant)"
            try await ask.get(route, "?\(t)")
            try await ask.get(route, "?\(t)&resolution=day&from=2025-05-04&to=2025-06-01")
            try await ask.get(route, "?\(t)&resolution=hour&from=2025-05-29&to=2025-05-31T06:00:00Z")
            try await ask.get(route, "?\(t)&resolution=hour&from=2025-05-30T05:30:00Z&to=2025-05-30T17:45:10.500Z")
            try await ask.get(route, "?\(t)&resolution=day&from=2025-05-01T07:00:00Z&to=2025-05-20T13:00:00Z")
            try await ask.get(route, "?\(t)&resolution=day&from=2025-04-01&to=2025-05-10")
        }
        for scope in ["scope=project&project_id=\(project)", "scope=env&environment=\(environment)", "scope=project&project_id=no-such"] {
            try await ask.get(route, "?tenant_id=\(t0)&\(scope)&resolution=day&from=2025-05-10&to=2025-06-01")
            try await ask.get(route, "?tenant_id=\(t0)&\(scope)&resolution=hour&from=2025-05-30&to=2025-05-31")
        }
        // A tenant key's own tenant, and a window past the data.
        try await ask.ask(route, .get, { _ in Self.base + "/statistics/usage?resolution=hour&from=2025-05-31&to=2025-06-02" }, key: { $0.reader })
        try await ask.get(route, "?tenant_id=\(t0)&resolution=day&from=2025-06-01&to=2025-06-08")
    }

    // MARK: - Cost

    func cost(_ ask: EquivalenceAsker) async throws {
        let route = "GET \(Self.base)/statistics/cost"
        let t0 = tenants[0]
        let model = common(t0, \.model)
        let model2 = common(t0, \.model, rank: 1)
        let feature = common(t0, \.featureTag)
        let user = common(t0, \.userID)
        let environment = common(t0, \.environment)
        let window = "from=2025-05-04&to=2025-06-01"
        for tenant in [t0, tenants[2], tieTenant] {
            let t = "tenant_id=\(tenant)"
            try await ask.get(route, "?\(t)")
            try await ask.get(route, "?\(t)&\(window)")
            for group in ["feature", "model", "user", "project", "environment", "workflow", "skill", "feature,model", "model,user,feature"] {
                try await ask.get(route, "?\(t)&\(window)&group_by=\(group)")
            }
            for order in ["cost", "records", "tokens", "input_tokens", "output_tokens", "key"] {
                try await ask.get(route, "?\(t)&\(window)&group_by=user&order=\(order)&limit=3")
                try await ask.get(route, "?\(t)&\(window)&group_by=feature,model&order=\(order)&limit=5")
            }
            try await ask.get(route, "?\(t)&\(window)&group_by=model&resolution=day")
            try await ask.get(route, "?\(t)&from=2025-05-30T03:00:00Z&to=2025-05-31T01:30:00Z&group_by=feature&resolution=hour&limit=4")
            try await ask.get(route, "?\(t)&from=2025-05-20&to=2025-06-01&resolution=day&trailing_days=7&group_by=model")
            try await ask.get(route, "?\(t)&from=2025-05-20&to=2025-06-01&resolution=day&trailing_days=3&group_by=feature&limit=2")
            try await ask.get(route, "?\(t)&from=2025-05-25T12:00:00Z&to=2025-05-31T12:00:00Z&resolution=day&trailing_days=1&group_by=model")
        }
        // Filters: one value, several values, several dimensions, a value nobody has.
        let t = "tenant_id=\(t0)&\(window)"
        try await ask.get(route, "?\(t)&model=\(model)&group_by=feature")
        try await ask.get(route, "?\(t)&model=\(model)&model=\(model2)&group_by=user&limit=10")
        try await ask.get(route, "?\(t)&feature_tag=\(feature)&environment=\(environment)&group_by=model&resolution=day")
        try await ask.get(route, "?\(t)&user_id=\(user)&group_by=feature,model&order=records")
        try await ask.get(route, "?\(t)&model=no-such-model&group_by=feature")
        try await ask.get(route, "?\(t)&model=no-such-model")
        try await ask.get(route, "?\(t)&feature_tag=\(feature)&resolution=day&trailing_days=7&group_by=model")
        // Every tenant (admin): group by tenant, top-k.
        try await ask.get(route, "?\(window)&group_by=tenant")
        try await ask.get(route, "?\(window)&group_by=tenant,model&limit=4&order=records")
        try await ask.get(route, "?\(window)")
        // The tenant key's own view.
        try await ask.ask(route, .get, { _ in Self.base + "/statistics/cost?group_by=feature&limit=3&" + window }, key: { $0.reader })
    }

    // MARK: - Budgets, policy, reservations

    func budgetsAndPolicy(_ ask: EquivalenceAsker) async throws {
        let t0 = tenants[0]
        let feature = common(t0, \.featureTag)
        let user = common(t0, \.userID)
        let budgets = "\(Self.base)/budgets"
        let create = "POST \(budgets)"
        func make(_ name: String, _ body: String) async throws {
            let answers = try await ask.ask(create, .post, { _ in budgets }, key: { $0.admin }, body: body, expect: .created)
            try ask.remember(name, answers, ["budget", "id"])
        }
        try await make("tenant", #"{"tenant_id":"\#(t0)","level":"tenant","period":"monthly","limit_cents":"5000000","enforce":true}"#)
        try await make("feature", #"{"tenant_id":"\#(t0)","level":"feature","feature_tag":"\#(feature)","period":"monthly","limit_cents":"9000000","warn_ratio":0.5,"enforce":true}"#)
        try await make("user", #"{"tenant_id":"\#(t0)","level":"user","user_id":"\#(user)","period":"daily","limit_cents":"3"}"#)
        try await make("other", #"{"tenant_id":"\#(tenants[1])","level":"tenant","period":"daily","limit_cents":"1"}"#)
        try await ask.get("GET \(budgets)", "?tenant_id=\(t0)")
        try await ask.get("GET \(budgets)")
        for name in ["tenant", "feature", "user", "other"] {
            try await ask.ask("GET \(budgets)/{id}", .get, { budgets + "/" + $0.ids[name]! }, key: { $0.admin })
        }
        try await ask.ask("PATCH \(budgets)/{id}", .patch, { budgets + "/" + $0.ids["tenant"]! }, key: { $0.admin },
                          body: #"{"limit_cents":"9000000.5","warn_ratio":0.9}"#)

        let check = "\(Self.base)/policy/check"
        for body in [#"{"estimated_cost_cents":"10"}"#, #"{"estimated_cost_cents":"100000","feature_tag":"\#(feature)"}"#,
                     #"{"estimated_cost_cents":"0.5","user_id":"\#(user)","feature_tag":"\#(feature)"}"#] {
            try await ask.ask("POST \(check)", .post, { _ in check }, key: { $0.writer }, body: body)
        }
        try await ask.ask("POST \(check)", .post, { _ in check }, key: { $0.admin },
                          body: #"{"tenant_id":"\#(tenants[1])","estimated_cost_cents":"2"}"#)

        let reservations = "\(Self.base)/policy/reservations"
        var answers = try await ask.ask("POST \(reservations)", .post, { _ in reservations }, key: { $0.writer },
                                        body: #"{"estimated_cost_cents":"25","feature_tag":"\#(feature)"}"#, expect: .created)
        try ask.remember("reservation1", answers, ["reservation", "id"])
        answers = try await ask.ask("POST \(reservations)", .post, { _ in reservations }, key: { $0.writer },
                                    body: #"{"estimated_cost_cents":"40","user_id":"\#(user)"}"#, expect: .created)
        try ask.remember("reservation2", answers, ["reservation", "id"])
        try await ask.ask("POST \(check)", .post, { _ in check }, key: { $0.writer }, body: #"{"estimated_cost_cents":"1","feature_tag":"\#(feature)"}"#)
        // Denied: more than the feature budget has left after spend and the holds.
        try await ask.ask("POST \(reservations)", .post, { _ in reservations }, key: { $0.writer },
                          body: #"{"estimated_cost_cents":"9500000","feature_tag":"\#(feature)"}"#, expect: .conflict)
        try await ask.ask("GET \(reservations)/{id}", .get, { reservations + "/" + $0.ids["reservation1"]! }, key: { $0.writer })
        try await ask.ask("POST \(reservations)/{id}/settle", .post, { reservations + "/" + $0.ids["reservation1"]! + "/settle" },
                          key: { $0.writer }, body: #"{"actual_cost_cents":"20"}"#)
        try await ask.ask("POST \(reservations)/{id}/cancel", .post, { reservations + "/" + $0.ids["reservation2"]! + "/cancel" },
                          key: { $0.writer })
        try await ask.ask("DELETE \(budgets)/{id}", .delete, { budgets + "/" + $0.ids["other"]! }, key: { $0.admin }, expect: .noContent)
        try await ask.get("GET \(budgets)")
    }

    // MARK: - Feature tags

    func featureTags(_ ask: EquivalenceAsker) async throws {
        let t0 = tenants[0]
        let tags = "\(Self.base)/feature-tags"
        let feature = common(t0, \.featureTag)
        let answers = try await ask.ask("POST \(tags)", .post, { _ in tags }, key: { $0.admin },
                                        body: #"{"tenant_id":"\#(t0)","tag":"\#(feature)","description":"the main one","owner":"team-a"}"#,
                                        expect: .created)
        try ask.remember("tag", answers, ["feature_tag", "id"])
        let other = try await ask.ask("POST \(tags)", .post, { _ in tags }, key: { $0.admin },
                                      body: #"{"tenant_id":"\#(t0)","tag":"never-used","description":"nothing yet","owner":"team-b"}"#,
                                      expect: .created)
        try ask.remember("unused-tag", other, ["feature_tag", "id"])
        try await ask.get("GET \(tags)", "?tenant_id=\(t0)")
        try await ask.get("GET \(tags)", "?tenant_id=\(t0)&from=2025-05-10&to=2025-05-20T12:00:00Z")
        try await ask.get("GET \(tags)", "?tenant_id=\(tieTenant)")
        try await ask.ask("GET \(tags)/{id}", .get, { tags + "/" + $0.ids["tag"]! + "?from=2025-05-15&to=2025-06-01" }, key: { $0.admin })
        try await ask.ask("GET \(tags)/{id}", .get, { tags + "/" + $0.ids["tag"]! }, key: { $0.reader })
        try await ask.ask("PATCH \(tags)/{id}", .patch, { tags + "/" + $0.ids["tag"]! }, key: { $0.admin }, body: #"{"owner":"team-c"}"#)
        try await ask.ask("DELETE \(tags)/{id}", .delete, { tags + "/" + $0.ids["unused-tag"]! }, key: { $0.admin }, expect: .noContent)
    }

    // MARK: - Anomalies and incidents

    func anomalies(_ ask: EquivalenceAsker) async throws {
        let detect = "\(Self.base)/anomalies/detect"
        try await ask.ask("POST \(detect)", .post, { _ in detect }, key: { $0.admin }, catalogOrder: true)
        // A second run opens nothing new; a run over a window of its own.
        try await ask.ask("POST \(detect)", .post, { _ in detect + "?tenant_id=" + tenants[0] }, key: { $0.admin }, catalogOrder: true)
        try await ask.ask("POST \(detect)", .post, { _ in detect + "?tenant_id=\(tenants[1])&from=2025-05-10&to=2025-05-25" }, key: { $0.admin }, catalogOrder: true)
        let list = "GET \(Self.base)/statistics/anomalies"
        var anyAnomaly: String?
        for tenant in tenants + [tieTenant] {
            let (a, _) = try await ask.get(list, "?tenant_id=\(tenant)&limit=500", catalogOrder: true)
            if anyAnomaly == nil, let first = (a.json?["anomalies"] as? [[String: Any]])?.first, first["id"] is String { anyAnomaly = tenant }
        }
        try await ask.get(list, "?limit=500", catalogOrder: true)
        try await ask.get(list, "?type=ABSOLUTE_SPIKE&limit=50", catalogOrder: true)
        try await ask.get(list, "?entity_level=feature&severity=HIGH", catalogOrder: true)
        try await ask.get(list, "?from=2025-05-20&to=2025-06-01&resolved=false", catalogOrder: true)
        let tenant = try #require(anyAnomaly, "detection found no anomaly in the generated data: the anomaly cases would prove nothing")
        let answers = try await ask.get(list, "?tenant_id=\(tenant)&limit=500", catalogOrder: true)
        try ask.remember("anomaly", answers, ["anomalies", 0, "id"])
        let anomalies = "\(Self.base)/anomalies"
        try await ask.ask("GET \(anomalies)/{id}", .get, { anomalies + "/" + $0.ids["anomaly"]! }, key: { $0.admin }, catalogOrder: true)

        let incidents = "\(Self.base)/incidents"
        let (found, _) = try await ask.ask("GET \(incidents)", .get, { _ in incidents + "?limit=100" }, key: { $0.admin }, catalogOrder: true, incidents: .memberAnomalies)
        try await ask.ask("GET \(incidents)", .get, { _ in incidents + "?tenant_id=\(tenant)&status=open" }, key: { $0.admin },
                          catalogOrder: true, incidents: .memberAnomalies)
        let count = (found.json?["incidents"] as? [Any])?.count ?? 0
        #expect(count >= 2, "detection opened \(count) incidents: the incident cases need two")
        if count >= 2 {
            let listed = try await ask.ask("GET \(incidents)", .get, { _ in incidents + "?limit=100" }, key: { $0.admin }, catalogOrder: true, incidents: .memberAnomalies)
            try ask.remember("incident1", listed, ["incidents", 0, "id"])
            try ask.remember("incident2", listed, ["incidents", 1, "id"])
            try await ask.ask("GET \(incidents)/{id}", .get, { incidents + "/" + $0.ids["incident1"]! }, key: { $0.admin }, catalogOrder: true, incidents: .statusOnly)
            try await ask.ask("POST \(incidents)/{id}/acknowledge", .post, { incidents + "/" + $0.ids["incident1"]! + "/acknowledge" },
                              key: { $0.admin }, catalogOrder: true, incidents: .statusOnly)
            try await ask.ask("POST \(incidents)/{id}/resolve", .post, { incidents + "/" + $0.ids["incident2"]! + "/resolve" },
                              key: { $0.admin }, catalogOrder: true, incidents: .statusOnly)
            try await ask.ask("GET \(incidents)/{id}", .get, { incidents + "/" + $0.ids["incident2"]! }, key: { $0.admin }, catalogOrder: true, incidents: .statusOnly)
        }
        try await ask.ask("POST \(anomalies)/{id}/resolve", .post, { anomalies + "/" + $0.ids["anomaly"]! + "/resolve" }, key: { $0.admin }, catalogOrder: true)
        try await ask.get(list, "?tenant_id=\(tenant)&limit=500", catalogOrder: true)
    }

    // MARK: - Exports

    func exports(_ ask: EquivalenceAsker) async throws {
        let t0 = tenants[0]
        let exports = "\(Self.base)/reporting/exports"
        let feature = common(t0, \.featureTag)
        let specs: [(name: String, body: String, lines: EquivalenceAsker.UnorderedLines)] = [
            ("records-csv", #"{"tenant_id":"\#(t0)","kind":"records","format":"csv","from":"2025-05-20T00:00:00Z","to":"2025-05-27T00:00:00Z"}"#, .afterHeader),
            ("records-ndjson", #"{"tenant_id":"\#(t0)","kind":"records","format":"ndjson","from":"2025-05-04T00:00:00Z","to":"2025-06-01T00:00:00Z","filters":{"feature_tag":["\#(feature)"]}}"#, .all),
            ("usage-json", #"{"tenant_id":"\#(t0)","kind":"usage","format":"json","from":"2025-05-04T00:00:00Z","to":"2025-06-01T00:00:00Z","resolution":"day"}"#, .no),
            ("usage-csv-hour", #"{"tenant_id":"\#(tenants[1])","kind":"usage","format":"csv","from":"2025-05-29T00:00:00Z","to":"2025-05-31T00:00:00Z","resolution":"hour"}"#, .no),
            ("cost-csv", #"{"tenant_id":"\#(t0)","kind":"cost","format":"csv","from":"2025-05-04T00:00:00Z","to":"2025-06-01T00:00:00Z","group_by":["model","feature_tag"],"resolution":"day"}"#, .no),
            ("cost-ndjson", #"{"tenant_id":"\#(tieTenant)","kind":"cost","format":"ndjson","from":"2025-05-04T00:00:00Z","to":"2025-06-01T00:00:00Z","group_by":["user_id"]}"#, .no),
        ]
        for spec in specs {
            let answers = try await ask.ask("POST \(exports)", .post, { _ in exports }, key: { $0.admin }, body: spec.body, expect: .accepted)
            try ask.remember(spec.name, answers, ["id"])
            for side in [ask.a, ask.b] { await side.backend.analytics.waitForExport(id: side.backend.ids[spec.name]!) }
            try await ask.ask("GET \(exports)/{id}", .get, { exports + "/" + $0.ids[spec.name]! }, key: { $0.admin })
            let (download, _) = try await ask.ask("GET \(exports)/{id}/download", .get, { exports + "/" + $0.ids[spec.name]! + "/download" },
                                                  key: { $0.admin }, unorderedLines: spec.lines)
            #expect(download.body.count > 200, "\(spec.name): \(download.body.count) bytes: the comparison would prove little")
        }
        try await ask.get("GET \(exports)", "?tenant_id=\(t0)", catalogOrder: true)
    }

    // MARK: - Monthly report

    func reports(_ ask: EquivalenceAsker) async throws {
        let route = "GET \(Self.base)/reports/monthly"
        for tenant in [tenants[0], tenants[3], tieTenant] {
            try await ask.get(route, "?tenant_id=\(tenant)&month=2025-05", catalogOrder: true)
            try await ask.ask(route, .get, { _ in Self.base + "/reports/monthly?tenant_id=\(tenant)&month=2025-05&format=csv" },
                              key: { $0.admin }, unorderedLines: .afterHeader, catalogOrder: true)
        }
        try await ask.get(route, "?tenant_id=\(tenants[0])&month=2025-04", catalogOrder: true)
        try await ask.ask(route, .get, { _ in Self.base + "/reports/monthly?month=2025-05" }, key: { $0.reader }, catalogOrder: true)
    }

    // MARK: - Ingest, then the answers again

    func ingest(_ ask: EquivalenceAsker) async throws {
        let t0 = tenants[0]
        let existing = records.filter { $0.tenantID == t0 }.suffix(3)
        var lines = existing.map { r in
            "{\"tenant_id\":\"\(t0)\",\"request_id\":\"\(r.requestID)\",\"model\":\"\(r.model)\",\"input_tokens\":1,\"output_tokens\":1,"
                + "\"cost_cents\":\"1\",\"created_at\":\"\(Timestamp.format(r.createdAtMillis))\"}"
        }
        for i in 0..<20 {
            lines.append("{\"tenant_id\":\"\(t0)\",\"request_id\":\"late-\(i)\",\"model\":\"gpt-4o\",\"input_tokens\":\(1_000 + i),"
                + "\"output_tokens\":\(i),\"created_at\":\"2025-05-31T17:\(String(format: "%02d", i)):00Z\"}")
        }
        lines.append(lines[lines.count - 1])  // a duplicate within the batch
        let path = "\(Self.base)/records"
        try await ask.ask("POST \(path)", .post, { _ in path }, key: { $0.writer }, body: lines.joined(separator: "\n") + "\n",
                          contentType: "application/x-ndjson")
        try await ask.ask("POST \(path)", .post, { _ in path }, key: { $0.writer }, body: lines.joined(separator: "\n") + "\n",
                          contentType: "application/x-ndjson")
        try await ask.get("GET \(Self.base)/statistics/usage", "?tenant_id=\(t0)&resolution=hour&from=2025-05-31&to=2025-06-01")
        try await ask.get("GET \(Self.base)/statistics/cost", "?tenant_id=\(t0)&from=2025-05-31&to=2025-06-01&group_by=model")
    }
}
