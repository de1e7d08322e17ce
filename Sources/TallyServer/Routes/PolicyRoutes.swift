import HTTPTypes
import Hummingbird
import TallyAnalytics

/// The policy: a check of a planned run, and reservations that hold an estimate until the run settles or cancels it.
struct PolicyRoutes: Sendable {
    typealias Context = AuthenticatedContext
    let analytics: Analytics

    func addRoutes(to group: RouterGroup<Context>) {
        group.post("policy/check", use: checkPolicy)
        group.post("policy/reservations", use: createReservation)
        group.get("policy/reservations/:id", use: getReservation)
        group.post("policy/reservations/:id/settle", use: settleReservation)
        group.post("policy/reservations/:id/cancel", use: cancelReservation)
    }

    /// `POST policy/check`: allow, warn or deny for a planned run, from the enforced budgets that apply; any key.
    @Sendable func checkPolicy(_ request: Request, context: Context) async throws -> Response {
        _ = try QueryParameters(request, allowed: [])
        let body = try await JSONBody.read(request, limit: JSONBody.smallLimit,
                                           allowed: ["tenant_id", "user_id", "feature_tag", "estimated_cost_cents"])
        let check = PolicyRequest(
            tenantID: try body.string("tenant_id"), userID: try body.string("user_id"), featureTag: try body.string("feature_tag"),
            estimatedCostCents: try body.string("estimated_cost_cents"))
        return JSONCoding.response(try await analytics.checkPolicy(check, principal: context.principal))
    }

    /// `POST policy/reservations`: holds an estimated cost against the enforced budgets that apply; 201, or a 409
    /// `budget-exceeded` problem naming the budgets it would exceed. Any key of the tenant.
    @Sendable func createReservation(_ request: Request, context: Context) async throws -> Response {
        _ = try QueryParameters(request, allowed: [])
        let body = try await JSONBody.read(request, limit: JSONBody.smallLimit,
                                           allowed: ["tenant_id", "user_id", "feature_tag", "estimated_cost_cents", "ttl_seconds"])
        let reservation = ReservationRequest(
            tenantID: try body.string("tenant_id"), userID: try body.string("user_id"), featureTag: try body.string("feature_tag"),
            estimatedCostCents: try body.string("estimated_cost_cents"), ttlSeconds: try body.number("ttl_seconds"))
        let answer = try await analytics.reserve(reservation, principal: context.principal)
        var response = JSONCoding.response(answer, status: .created)
        response.headers[.location] = APIPath.root + "/policy/reservations/" + answer.reservation.id
        return response
    }

    /// `GET policy/reservations/{id}`.
    @Sendable func getReservation(_ request: Request, context: Context) async throws -> Response {
        _ = try QueryParameters(request, allowed: [])
        return JSONCoding.response(try await analytics.reservation(id: try context.resourceID("reservation"), principal: context.principal))
    }

    /// `POST policy/reservations/{id}/settle` with `actual_cost_cents`: releases the hold.
    @Sendable func settleReservation(_ request: Request, context: Context) async throws -> Response {
        _ = try QueryParameters(request, allowed: [])
        let id = try context.resourceID("reservation")
        let body = try await JSONBody.read(request, limit: JSONBody.smallLimit, allowed: ["actual_cost_cents"])
        return JSONCoding.response(try await analytics.settleReservation(
            id: id, actualCostCents: try body.string("actual_cost_cents"), principal: context.principal))
    }

    /// `POST policy/reservations/{id}/cancel`: releases the hold without a run (no body).
    @Sendable func cancelReservation(_ request: Request, context: Context) async throws -> Response {
        _ = try QueryParameters(request, allowed: [])
        return JSONCoding.response(try await analytics.cancelReservation(id: try context.resourceID("reservation"), principal: context.principal))
    }
}
