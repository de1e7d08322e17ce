import HTTPTypes
import Hummingbird
import TallyAnalytics

/// Budgets: create, list, read, change and delete, each with its current status.
struct BudgetRoutes: Sendable {
    typealias Context = AuthenticatedContext
    let analytics: Analytics

    func addRoutes(to group: RouterGroup<Context>) {
        group.post("budgets", use: createBudget)
        group.get("budgets", use: listBudgets)
        group.get("budgets/:id", use: getBudget)
        group.patch("budgets/:id", use: updateBudget)
        group.delete("budgets/:id", use: deleteBudget)
    }

    /// `POST budgets`: creates a budget (admin keys); 201 with the budget and its current status.
    @Sendable func createBudget(_ request: Request, context: Context) async throws -> Response {
        _ = try QueryParameters(request, allowed: [])
        let body = try await JSONBody.read(request, limit: JSONBody.smallLimit, allowed: [
            "tenant_id", "level", "feature_tag", "user_id", "period", "limit_cents", "warn_ratio", "enforce",
        ])
        let draft = BudgetDraft(
            tenantID: try body.string("tenant_id"), level: try body.string("level"), featureTag: try body.string("feature_tag"),
            userID: try body.string("user_id"), period: try body.string("period"), limitCents: try body.string("limit_cents"),
            warnRatio: try body.number("warn_ratio"), enforce: try body.bool("enforce"))
        let answer = try await analytics.createBudget(draft, principal: context.principal)
        var response = JSONCoding.response(answer, status: .created)
        response.headers[.location] = APIPath.root + "/budgets/" + answer.view.budget.id
        return response
    }

    /// `GET budgets`: the budgets the key reaches, each with its current status.
    @Sendable func listBudgets(_ request: Request, context: Context) async throws -> Response {
        let q = try QueryParameters(request, allowed: ["tenant_id"])
        return JSONCoding.response(try await analytics.budgets(tenantID: try q.single("tenant_id"), principal: context.principal))
    }

    /// `GET budgets/{id}`.
    @Sendable func getBudget(_ request: Request, context: Context) async throws -> Response {
        _ = try QueryParameters(request, allowed: [])
        return JSONCoding.response(try await analytics.budget(id: try context.resourceID("budget"), principal: context.principal))
    }

    /// `PATCH budgets/{id}`: changes `limit_cents`, `warn_ratio` or `enforce` (admin keys).
    @Sendable func updateBudget(_ request: Request, context: Context) async throws -> Response {
        _ = try QueryParameters(request, allowed: [])
        let id = try context.resourceID("budget")
        let body = try await JSONBody.read(request, limit: JSONBody.smallLimit, allowed: [
            "limit_cents", "warn_ratio", "enforce", "tenant_id", "level", "feature_tag", "user_id", "period",
        ])
        for fixed in ["tenant_id", "level", "feature_tag", "user_id", "period"] where try body.isPresent(fixed) {
            throw Problem.invalidParameter(fixed, "cannot be changed; delete the budget and create another")
        }
        let patch = BudgetPatch(limitCents: try body.string("limit_cents"), warnRatio: try body.number("warn_ratio"),
                                enforce: try body.bool("enforce"))
        return JSONCoding.response(try await analytics.updateBudget(id: id, patch, principal: context.principal))
    }

    /// `DELETE budgets/{id}`: 204 (admin keys).
    @Sendable func deleteBudget(_ request: Request, context: Context) async throws -> Response {
        _ = try QueryParameters(request, allowed: [])
        try await analytics.deleteBudget(id: try context.resourceID("budget"), principal: context.principal)
        return Response(status: .noContent)
    }
}
