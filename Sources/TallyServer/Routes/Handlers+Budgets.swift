import HTTPTypes
import Hummingbird
import TallyAnalytics

extension Handlers {
    /// The largest budget or policy request body: a handful of short members.
    static let maxSmallBodyBytes = 16 << 10

    /// `POST budgets`: creates a budget (admin keys); 201 with the budget and its current status.
    func createBudget(_ request: Request, _ context: APIRequestContext) async throws -> Response {
        let principal = try context.requirePrincipal()
        _ = try QueryParameters(request, allowed: [])
        let body = try await JSONBody.read(request, limit: Self.maxSmallBodyBytes, allowed: [
            "tenant_id", "level", "feature_tag", "user_id", "period", "limit_cents", "warn_ratio", "enforce",
        ])
        let draft = BudgetDraft(
            tenantID: try body.string("tenant_id"), level: try body.string("level"), featureTag: try body.string("feature_tag"),
            userID: try body.string("user_id"), period: try body.string("period"), limitCents: try body.string("limit_cents"),
            warnRatio: try body.number("warn_ratio"), enforce: try body.bool("enforce"))
        let answer = try await analytics.createBudget(draft, principal: principal)
        var response = JSONCoding.response(answer, status: .created)
        response.headers[.location] = Endpoint.listBudgets.path + "/" + answer.view.budget.id
        return response
    }

    /// `GET budgets`: the budgets the key reaches, each with its current status.
    func listBudgets(_ request: Request, _ context: APIRequestContext) async throws -> Response {
        let principal = try context.requirePrincipal()
        let q = try QueryParameters(request, allowed: ["tenant_id"])
        return JSONCoding.response(try await analytics.budgets(tenantID: try q.single("tenant_id"), principal: principal))
    }

    /// `GET budgets/{id}`.
    func getBudget(_ request: Request, _ context: APIRequestContext) async throws -> Response {
        let principal = try context.requirePrincipal()
        _ = try QueryParameters(request, allowed: [])
        return JSONCoding.response(try await analytics.budget(id: try resourceID(context, "budget"), principal: principal))
    }

    /// `PATCH budgets/{id}`: changes `limit_cents`, `warn_ratio` or `enforce` (admin keys).
    func updateBudget(_ request: Request, _ context: APIRequestContext) async throws -> Response {
        let principal = try context.requirePrincipal()
        _ = try QueryParameters(request, allowed: [])
        let id = try resourceID(context, "budget")
        let body = try await JSONBody.read(request, limit: Self.maxSmallBodyBytes, allowed: [
            "limit_cents", "warn_ratio", "enforce", "tenant_id", "level", "feature_tag", "user_id", "period",
        ])
        for fixed in ["tenant_id", "level", "feature_tag", "user_id", "period"] where try body.isPresent(fixed) {
            throw Problem.invalidParameter(fixed, "cannot be changed; delete the budget and create another")
        }
        let patch = BudgetPatch(limitCents: try body.string("limit_cents"), warnRatio: try body.number("warn_ratio"),
                                enforce: try body.bool("enforce"))
        return JSONCoding.response(try await analytics.updateBudget(id: id, patch, principal: principal))
    }

    /// `DELETE budgets/{id}`: 204 (admin keys).
    func deleteBudget(_ request: Request, _ context: APIRequestContext) async throws -> Response {
        let principal = try context.requirePrincipal()
        _ = try QueryParameters(request, allowed: [])
        try await analytics.deleteBudget(id: try resourceID(context, "budget"), principal: principal)
        return Response(status: .noContent)
    }
}
