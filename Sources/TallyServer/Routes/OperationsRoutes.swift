import HTTPTypes
import Hummingbird
import NIOCore
import TallyAnalytics
import TallyStore
import TallyText

/// One capability of the facade as `_status` lists it.
struct Capability: JSONWritable {
    var name: String
    /// `available`, `degraded`, `enabled`, `disabled` or `planned`.
    var state: String
    /// `METHOD /path`, or the path it will have.
    var endpoint: String?
    var note: String?

    func write(to json: inout JSONWriter) {
        json.object { w in
            w.field("name", name)
            w.field("state", state)
            if let endpoint { w.field("endpoint", endpoint) }
            if let note { w.field("note", note) }
        }
    }
}

/// The routes of a router as `_status` shows them: `METHOD /path`, with `{id}` for a parameter.
struct RouteList: Sendable {
    private let displays: Set<String>

    init(_ routes: [Router<APIRequestContext>.RouteDescription]) {
        displays = Set(routes.map(\.description))
    }

    /// `METHOD /path` of the route at `path` under the API root, nil when there is no such route.
    func api(_ method: HTTPRequest.Method, _ path: String) -> String? {
        site(method, APIPath.root + "/" + path)
    }

    /// `METHOD /path` of the route at the absolute `path`, nil when there is no such route.
    func site(_ method: HTTPRequest.Method, _ path: String) -> String? {
        let display = "\(method) \(path)"
        return displays.contains(display) ? display : nil
    }
}

/// The server's own routes, open to all: `_status`, `health`, `openapi.json` and `/metrics`.
struct OperationsRoutes: Sendable {
    typealias Context = APIRequestContext
    let analytics: Analytics
    let configuration: ServerConfiguration
    let metrics: ServerMetrics

    /// Adds the routes; added last, because `_status` names the routes of every capability and so lists the
    /// router's routes as they are once the others are in.
    func addRoutes(to router: Router<Context>) {
        let api = router.group(RouterPath(APIPath.root))
        api.get("health", use: health)
        api.get("openapi.json", use: openAPI)
        router.get("metrics", use: metricsText)
        let routes = RouteList(router.routes)
        api.get("_status") { request, _ in try await status(request, routes: routes) }
    }

    /// `GET _status`: each capability with its state and endpoint.
    func status(_ request: Request, routes: RouteList) async throws -> Response {
        _ = try QueryParameters(request, allowed: [])
        let healthy = await analytics.checkHealth().ok
        let serving = healthy ? "available" : "degraded"
        let capabilities = [
            Capability(name: "ingest", state: serving, endpoint: routes.api(.post, "records"),
                       note: "NDJSON, JSON array or CSV; gzip; Idempotency-Key; on_error=skip"),
            Capability(name: "usage", state: serving, endpoint: routes.api(.get, "statistics/usage"), note: nil),
            Capability(name: "cost", state: serving, endpoint: routes.api(.get, "statistics/cost"),
                       note: "breakdowns, per-group series, trailing baselines; the summary without group_by"),
            Capability(name: "pricing", state: analytics.options.pricing == nil ? "disabled" : "available",
                       endpoint: routes.api(.get, "pricing"), note: "the price table records without cost_cents are priced from"),
            Capability(name: "budgets", state: serving, endpoint: APIPath.root + "/budgets",
                       note: "POST, GET; GET, PATCH, DELETE /budgets/{id}; spend, utilisation, burn rate and projection in the current UTC period"),
            Capability(name: "policy_check", state: serving, endpoint: routes.api(.post, "policy/check"),
                       note: "allow, warn or deny from the enforced budgets, counting active reservations"),
            Capability(name: "policy_reservations", state: serving, endpoint: routes.api(.post, "policy/reservations"),
                       note: "hold an estimate against the enforced budgets (409 budget-exceeded when it does not fit); "
                           + "POST /{id}/settle, POST /{id}/cancel, GET /{id}; unsettled holds expire"),
            Capability(name: "feature_tags", state: serving, endpoint: APIPath.root + "/feature-tags",
                       note: "POST, GET; GET, PATCH, DELETE /feature-tags/{id}; spend per tag and the unregistered tags seen"),
            Capability(name: "audit", state: "available", endpoint: routes.api(.get, "audit"),
                       note: "every change to budgets, feature tags and keys: who, when, before and after"),
            Capability(name: "exports", state: serving, endpoint: routes.api(.post, "reporting/exports"),
                       note: "records, usage or cost as CSV, NDJSON or JSON, written in the background; GET /{id}, GET /{id}/download "
                           + "(streamed, gzip on request); expire after the export TTL"),
            Capability(name: "monthly_reports", state: serving, endpoint: routes.api(.get, "reports/monthly"),
                       note: "JSON, CSV or a printable HTML page; the cost change split into volume, tokens per request, model mix and price"),
            Capability(name: "console", state: ConsoleAssets.files.isEmpty ? "disabled" : "available", endpoint: routes.site(.get, "/console"),
                       note: "the web console"),
            Capability(name: "rollups", state: analytics.options.useRollups ? "enabled" : "disabled", endpoint: nil,
                       note: "per-hour pre-aggregates answer series and breakdowns over sealed data"),
            Capability(name: "health", state: healthy ? "available" : "degraded", endpoint: routes.api(.get, "health"), note: nil),
            Capability(name: "metrics", state: "available", endpoint: routes.site(.get, "/metrics"), note: "Prometheus text"),
            Capability(name: "openapi", state: "available", endpoint: routes.api(.get, "openapi.json"), note: nil),
            Capability(name: "anomalies", state: serving, endpoint: routes.api(.get, "statistics/anomalies"),
                       note: "ABSOLUTE_SPIKE, SUSTAINED_DRIFT, BUDGET_WARNING, BUDGET_EXCEEDED episodes with drivers; GET /anomalies/{id}, "
                           + "POST /anomalies/{id}/resolve, GET and PUT /anomalies/settings"),
            Capability(name: "anomaly_detection", state: serving, endpoint: routes.api(.post, "anomalies/detect"),
                       note: configuration.detectIntervalSeconds > 0
                           ? "also in the background every \(Int(configuration.detectIntervalSeconds)) s" : "background runs off"),
            Capability(name: "incidents", state: serving, endpoint: routes.api(.get, "incidents"),
                       note: "opened by HIGH anomalies and exceeded budgets; POST /incidents/{id}/acknowledge and /resolve; "
                           + "signed webhook per tenant (PUT /webhook)"),
        ]
        var w = JSONWriter()
        w.object { w in
            w.field("service", "tally")
            w.field("api_version", "v1")
            w.field("capabilities", array: capabilities)
        }
        return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: w.bytes)))
    }

    /// `GET health`: 200 when the store is open, its WAL writable and the disk has room; 503 otherwise.
    @Sendable func health(_ request: Request, context: Context) async throws -> Response {
        _ = try QueryParameters(request, allowed: [])
        let report = await analytics.checkHealth()
        return JSONCoding.response(report, status: report.ok ? .ok : .serviceUnavailable)
    }

    /// `GET openapi.json`: the OpenAPI 3 document of every route.
    @Sendable func openAPI(_ request: Request, context: Context) throws -> Response {
        guard let bytes = OpenAPIDocument.bytes else { throw Problem(.notFound, "the OpenAPI document is not installed beside this binary") }
        return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
    }

    /// `GET /metrics`: Prometheus text.
    @Sendable func metricsText(_ request: Request, context: Context) async throws -> Response {
        Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                 body: .init(byteBuffer: ByteBuffer(bytes: try await metrics.render(analytics: analytics))))
    }
}
