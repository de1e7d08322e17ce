import Hummingbird
import TallyAnalytics

extension Handlers {
    /// `POST policy/check`: allow, warn or deny for a planned run, from the enforced budgets that apply; any key.
    func checkPolicy(_ request: Request, _ context: APIRequestContext) async throws -> Response {
        let principal = try context.requirePrincipal()
        _ = try QueryParameters(request, allowed: [])
        let body = try await JSONBody.read(request, limit: Self.maxSmallBodyBytes,
                                           allowed: ["tenant_id", "user_id", "feature_tag", "estimated_cost_cents"])
        let check = PolicyRequest(
            tenantID: try body.string("tenant_id"), userID: try body.string("user_id"), featureTag: try body.string("feature_tag"),
            estimatedCostCents: try body.string("estimated_cost_cents"))
        return JSONCoding.response(try await analytics.checkPolicy(check, principal: principal))
    }
}
