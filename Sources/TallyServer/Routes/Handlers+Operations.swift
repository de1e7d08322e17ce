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
        var capabilities = [
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
                       note: "allow, warn or deny from the enforced budgets; no reservations yet"),
            Capability(name: "rollups", state: analytics.options.useRollups ? "enabled" : "disabled", endpoint: nil,
                       note: "per-hour pre-aggregates answer series and breakdowns over sealed data"),
            Capability(name: "health", state: healthy ? "available" : "degraded", endpoint: Endpoint.health.display, note: nil),
            Capability(name: "metrics", state: "available", endpoint: Endpoint.metrics.display, note: "Prometheus text"),
            Capability(name: "openapi", state: "available", endpoint: Endpoint.openAPI.display, note: nil),
        ]
        let planned = [
            ("feature_tags", "/feature-tags"), ("anomalies", "/statistics/anomalies"),
            ("anomaly_detection", "/anomalies/detect"), ("incidents", "/incidents"),
            ("policy_reservations", "/policy/reservations"),
            ("exports", "/reporting/exports"), ("monthly_reports", "/reports/monthly"),
        ]
        capabilities += planned.map { Capability(name: $0.0, state: "planned", endpoint: Endpoint.root + $0.1, note: nil) }
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
        let (store, walBytes) = try await analytics.blocking { (analytics.store.metrics(), analytics.walBytes()) }
        return Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                        body: .init(byteBuffer: ByteBuffer(string: metrics.render(store: store, walBytes: walBytes, now: analytics.now))))
    }
}
