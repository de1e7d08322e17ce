import Hummingbird
import TallyAnalytics

extension Handlers {
    /// `GET incidents`: the incidents the key reaches, newest first, optionally with one `status`.
    func listIncidents(_ request: Request, _ context: APIRequestContext) async throws -> Response {
        let principal = try context.requirePrincipal()
        let q = try QueryParameters(request, allowed: ["tenant_id", "status", "limit"])
        return JSONCoding.response(try await analytics.incidents(
            tenantID: try q.single("tenant_id"), status: try q.choice("status", as: Incident.Status.self),
            limit: try q.integer("limit", in: 1...Analytics.maxListed) ?? 100, principal: principal))
    }

    /// `GET incidents/{id}`: the incident, its anomalies and their cost impact.
    func getIncident(_ request: Request, _ context: APIRequestContext) async throws -> Response {
        let principal = try context.requirePrincipal()
        _ = try QueryParameters(request, allowed: [])
        return JSONCoding.response(try await analytics.incident(id: try resourceID(context, "incident"), principal: principal))
    }

    /// `POST incidents/{id}/acknowledge` and `.../resolve` (writer or admin keys); 409 when the lifecycle forbids it.
    func changeIncident(_ request: Request, _ context: APIRequestContext, to status: Incident.Status) async throws -> Response {
        let principal = try context.requirePrincipal()
        _ = try QueryParameters(request, allowed: [])
        return JSONCoding.response(try await analytics.changeIncident(
            id: try resourceID(context, "incident"), to: status, principal: principal))
    }

    /// `PUT webhook`: sets the tenant's webhook `{ url, secret }` (writer or admin keys).
    func setWebhook(_ request: Request, _ context: APIRequestContext) async throws -> Response {
        let principal = try context.requirePrincipal()
        _ = try QueryParameters(request, allowed: [])
        let body = try await JSONBody.read(request, limit: Self.maxSmallBodyBytes, allowed: ["tenant_id", "url", "secret"])
        return JSONCoding.response(try await analytics.setWebhook(
            tenantID: try body.string("tenant_id"), url: try body.string("url"), secret: try body.string("secret"),
            principal: principal))
    }

    /// `GET webhook`: the tenant's webhook without its secret, with delivery counts.
    func getWebhook(_ request: Request, _ context: APIRequestContext) async throws -> Response {
        let principal = try context.requirePrincipal()
        let q = try QueryParameters(request, allowed: ["tenant_id"])
        return JSONCoding.response(try await analytics.webhook(tenantID: try q.single("tenant_id"), principal: principal))
    }

    /// `DELETE webhook`: 204.
    func deleteWebhook(_ request: Request, _ context: APIRequestContext) async throws -> Response {
        let principal = try context.requirePrincipal()
        let q = try QueryParameters(request, allowed: ["tenant_id"])
        try await analytics.deleteWebhook(tenantID: try q.single("tenant_id"), principal: principal)
        return Response(status: .noContent)
    }
}
