import Hummingbird
import TallyAnalytics

/// The audit log.
struct AuditRoutes: Sendable {
    typealias Context = AuthenticatedContext
    let analytics: Analytics

    func addRoutes(to group: RouterGroup<Context>) {
        group.get("audit", use: audit)
    }

    /// `GET audit`: a page of the audit log, newest first (reader keys: their tenant's; admin keys: all or `tenant_id`'s).
    @Sendable func audit(_ request: Request, context: Context) async throws -> Response {
        let q = try QueryParameters(request, allowed: [
            "tenant_id", "from", "to", "entity_type", "entity_id", "action", "limit", "cursor",
        ])
        let audit = AuditRequest(
            tenantID: try q.single("tenant_id"), from: try q.time("from"), to: try q.time("to"),
            entityType: try q.single("entity_type"), entityID: try q.single("entity_id"), action: try q.single("action"),
            limit: try q.integer("limit", in: 1...analytics.options.maxLimit), cursor: try q.single("cursor"))
        return JSONCoding.response(try await analytics.audit(audit, principal: context.principal))
    }
}
