import HTTPTypes
import Hummingbird
import NIOCore
import TallyAnalytics
import TallyStore

/// One capability of the facade as `_status` lists it.
struct Capability: Encodable {
    var name: String
    /// `available`, `degraded`, `enabled`, `disabled` or `planned`.
    var state: String
    /// `METHOD /path`, or the path it will have.
    var endpoint: String?
    var note: String?
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
            Capability(name: "rollups", state: analytics.options.useRollups ? "enabled" : "disabled", endpoint: nil,
                       note: "per-hour pre-aggregates answer series and breakdowns over sealed data"),
            Capability(name: "health", state: healthy ? "available" : "degraded", endpoint: Endpoint.health.display, note: nil),
            Capability(name: "metrics", state: "available", endpoint: Endpoint.metrics.display, note: "Prometheus text"),
            Capability(name: "openapi", state: "available", endpoint: Endpoint.openAPI.display, note: nil),
        ]
        let planned = [
            ("budgets", "/budgets"), ("feature_tags", "/feature-tags"), ("anomalies", "/statistics/anomalies"),
            ("anomaly_detection", "/anomalies/detect"), ("incidents", "/incidents"), ("policy_check", "/policy/check"),
            ("exports", "/reporting/exports"), ("monthly_reports", "/reports/monthly"),
        ]
        capabilities += planned.map { Capability(name: $0.0, state: "planned", endpoint: Endpoint.root + $0.1, note: nil) }
        struct Status: Encodable {
            var service: String
            var apiVersion: String
            var capabilities: [Capability]
            enum CodingKeys: String, CodingKey { case service, apiVersion = "api_version", capabilities }
        }
        return try JSONCoding.response(Status(service: "tally", apiVersion: "v1", capabilities: capabilities))
    }

    /// `GET health`: 200 when the store is open, its WAL writable and the disk has room; 503 otherwise.
    func health(_ request: Request, _ context: APIRequestContext) async throws -> Response {
        _ = try QueryParameters(request, allowed: [])
        let report = await analytics.checkHealth()
        return try JSONCoding.response(report, status: report.ok ? .ok : .serviceUnavailable)
    }

    /// `GET openapi.json`: the OpenAPI 3 document of every route.
    func openAPI(_ request: Request, _ context: APIRequestContext) throws -> Response {
        Response(status: .ok, headers: [.contentType: "application/json"],
                 body: .init(byteBuffer: ByteBuffer(string: OpenAPIDocument.json)))
    }

    /// `GET /metrics`: Prometheus text.
    func metricsText(_ request: Request, _ context: APIRequestContext) async throws -> Response {
        let store = analytics.store
        let stats = try await analytics.blocking { store.stats() }
        return Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                        body: .init(byteBuffer: ByteBuffer(string: metrics.render(store: stats))))
    }
}
