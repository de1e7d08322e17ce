import Hummingbird
import TallyAnalytics

extension Handlers {
    /// `GET audit`: a page of the audit log, newest first (reader keys: their tenant's; admin keys: all or `tenant_id`'s).
    func audit(_ request: Request, _ context: APIRequestContext) async throws -> Response {
        let principal = try context.requirePrincipal()
        let q = try QueryParameters(request, allowed: [
            "tenant_id", "from", "to", "entity_type", "entity_id", "action", "limit", "cursor",
        ])
        let audit = AuditRequest(
            tenantID: try q.single("tenant_id"), from: try q.time("from"), to: try q.time("to"),
            entityType: try q.single("entity_type"), entityID: try q.single("entity_id"), action: try q.single("action"),
            limit: try q.integer("limit", in: 1...analytics.options.maxLimit), cursor: try q.single("cursor"))
        return JSONCoding.response(try await analytics.audit(audit, principal: principal))
    }
}
