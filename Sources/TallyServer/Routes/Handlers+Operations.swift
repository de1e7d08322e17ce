import HTTPTypes
import Hummingbird
import NIOCore
import TallyAnalytics
import TallyStore

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

extension Handlers {
    /// `GET _status`: each capability with its state and endpoint.
    func status(_ request: Request, _ context: APIRequestContext) async throws -> Response {
        _ = try QueryParameters(request, allowed: [])
        let healthy = await analytics.checkHealth().ok
        let serving = healthy ? "available" : "degraded"
        let capabilities = [
            Capability(name: "ingest", state: serving, endpoint: Endpoint.records.display,
                       note: "NDJSON, JSON array or CSV; gzip; Idempotency-Key; on_error=skip"),
            Capability(name: "usage", state: serving, endpoint: Endpoint.usage.display, note: nil),
            Capability(name: "cost", state: serving, endpoint: Endpoint.cost.display,
                       note: "breakdowns, per-group series, trailing baselines; the summary without group_by"),
            Capability(name: "pricing", state: analytics.options.pricing == nil ? "disabled" : "available",
                       endpoint: Endpoint.pricing.display, note: "the price table records without cost_cents are priced from"),
            Capability(name: "budgets", state: serving, endpoint: Endpoint.root + "/budgets",
                       note: "POST, GET; GET, PATCH, DELETE /budgets/{id}; spend, utilisation, burn rate and projection in the current UTC period"),
            Capability(name: "policy_check", state: serving, endpoint: Endpoint.policyCheck.display,
                       note: "allow, warn or deny from the enforced budgets, counting active reservations"),
            Capability(name: "policy_reservations", state: serving, endpoint: Endpoint.createReservation.display,
                       note: "hold an estimate against the enforced budgets (409 budget-exceeded when it does not fit); "
                           + "POST /{id}/settle, POST /{id}/cancel, GET /{id}; unsettled holds expire"),
            Capability(name: "feature_tags", state: serving, endpoint: Endpoint.root + "/feature-tags",
                       note: "POST, GET; GET, PATCH, DELETE /feature-tags/{id}; spend per tag and the unregistered tags seen"),
            Capability(name: "audit", state: "available", endpoint: Endpoint.audit.display,
                       note: "every change to budgets, feature tags and keys: who, when, before and after"),
            Capability(name: "exports", state: serving, endpoint: Endpoint.createExport.display,
                       note: "records, usage or cost as CSV, NDJSON or JSON, written in the background; GET /{id}, GET /{id}/download "
                           + "(streamed, gzip on request); expire after the export TTL"),
            Capability(name: "monthly_reports", state: serving, endpoint: Endpoint.monthlyReport.display,
                       note: "JSON, CSV or a printable HTML page; the cost change split into volume, tokens per request, model mix and price"),
            Capability(name: "console", state: ConsoleAssets.files.isEmpty ? "disabled" : "available", endpoint: Endpoint.console.display,
                       note: "the web console"),
            Capability(name: "rollups", state: analytics.options.useRollups ? "enabled" : "disabled", endpoint: nil,
                       note: "per-hour pre-aggregates answer series and breakdowns over sealed data"),
            Capability(name: "health", state: healthy ? "available" : "degraded", endpoint: Endpoint.health.display, note: nil),
            Capability(name: "metrics", state: "available", endpoint: Endpoint.metrics.display, note: "Prometheus text"),
            Capability(name: "openapi", state: "available", endpoint: Endpoint.openAPI.display, note: nil),
            Capability(name: "anomalies", state: serving, endpoint: Endpoint.listAnomalies.display,
                       note: "ABSOLUTE_SPIKE, SUSTAINED_DRIFT, BUDGET_WARNING, BUDGET_EXCEEDED episodes with drivers; GET /anomalies/{id}, "
                           + "POST /anomalies/{id}/resolve, GET and PUT /anomalies/settings"),
            Capability(name: "anomaly_detection", state: serving, endpoint: Endpoint.detectAnomalies.display,
                       note: configuration.detectIntervalSeconds > 0
                           ? "also in the background every \(Int(configuration.detectIntervalSeconds)) s" : "background runs off"),
            Capability(name: "incidents", state: serving, endpoint: Endpoint.listIncidents.display,
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
    func health(_ request: Request, _ context: APIRequestContext) async throws -> Response {
        _ = try QueryParameters(request, allowed: [])
        let report = await analytics.checkHealth()
        return JSONCoding.response(report, status: report.ok ? .ok : .serviceUnavailable)
    }

    /// `GET openapi.json`: the OpenAPI 3 document of every route.
    func openAPI(_ request: Request, _ context: APIRequestContext) throws -> Response {
        Response(status: .ok, headers: [.contentType: "application/json"],
                 body: .init(byteBuffer: ByteBuffer(string: OpenAPIDocument.json)))
    }

    /// `GET /metrics`: Prometheus text.
    func metricsText(_ request: Request, _ context: APIRequestContext) async throws -> Response {
        let analytics = self.analytics
        let store = try await analytics.records.metrics()
        return Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                        body: .init(byteBuffer: ByteBuffer(string: metrics.render(store: store, walBytes: store.walBytes, now: analytics.now))))
    }
}
