import Hummingbird
import TallyAnalytics

/// Incidents (list, read, acknowledge, resolve) and the tenant's incident webhook.
struct IncidentRoutes: Sendable {
    typealias Context = AuthenticatedContext
    let analytics: Analytics

    func addRoutes(to group: RouterGroup<Context>) {
        group.get("incidents", use: listIncidents)
        group.get("incidents/:id", use: getIncident)
        group.post("incidents/:id/acknowledge") { request, context in
            try await changeIncident(request, context: context, to: .acknowledged)
        }
        group.post("incidents/:id/resolve") { request, context in
            try await changeIncident(request, context: context, to: .resolved)
        }
        group.get("webhook", use: getWebhook)
        group.put("webhook", use: setWebhook)
        group.delete("webhook", use: deleteWebhook)
    }

    /// `GET incidents`: the incidents the key reaches, newest first, optionally with one `status`.
    @Sendable func listIncidents(_ request: Request, context: Context) async throws -> Response {
        let q = try QueryParameters(request, allowed: ["tenant_id", "status", "limit"])
        return JSONCoding.response(try await analytics.incidents(
            tenantID: try q.single("tenant_id"), status: try q.choice("status", as: Incident.Status.self),
            limit: try q.integer("limit", in: 1...Analytics.maxListed) ?? 100, principal: context.principal))
    }

    /// `GET incidents/{id}`: the incident, its anomalies and their cost impact.
    @Sendable func getIncident(_ request: Request, context: Context) async throws -> Response {
        _ = try QueryParameters(request, allowed: [])
        return JSONCoding.response(try await analytics.incident(id: try context.resourceID("incident"), principal: context.principal))
    }

    /// `POST incidents/{id}/acknowledge` and `.../resolve` (writer or admin keys); 409 when the lifecycle forbids it.
    func changeIncident(_ request: Request, context: Context, to status: Incident.Status) async throws -> Response {
        _ = try QueryParameters(request, allowed: [])
        return JSONCoding.response(try await analytics.changeIncident(
            id: try context.resourceID("incident"), to: status, principal: context.principal))
    }

    /// `PUT webhook`: sets the tenant's webhook `{ url, secret }` (writer or admin keys).
    @Sendable func setWebhook(_ request: Request, context: Context) async throws -> Response {
        _ = try QueryParameters(request, allowed: [])
        let body = try await JSONBody.read(request, limit: JSONBody.smallLimit, allowed: ["tenant_id", "url", "secret"])
        return JSONCoding.response(try await analytics.setWebhook(
            tenantID: try body.string("tenant_id"), url: try body.string("url"), secret: try body.string("secret"),
            principal: context.principal))
    }

    /// `GET webhook`: the tenant's webhook without its secret, with delivery counts.
    @Sendable func getWebhook(_ request: Request, context: Context) async throws -> Response {
        let q = try QueryParameters(request, allowed: ["tenant_id"])
        return JSONCoding.response(try await analytics.webhook(tenantID: try q.single("tenant_id"), principal: context.principal))
    }

    /// `DELETE webhook`: 204.
    @Sendable func deleteWebhook(_ request: Request, context: Context) async throws -> Response {
        let q = try QueryParameters(request, allowed: ["tenant_id"])
        try await analytics.deleteWebhook(tenantID: try q.single("tenant_id"), principal: context.principal)
        return Response(status: .noContent)
    }
}
