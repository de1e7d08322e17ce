import HTTPTypes
import Hummingbird
import TallyAnalytics

extension Handlers {
    /// `POST policy/reservations`: holds an estimated cost against the enforced budgets that apply; 201, or a 409
    /// `budget-exceeded` problem naming the budgets it would exceed. Any key of the tenant.
    func createReservation(_ request: Request, _ context: APIRequestContext) async throws -> Response {
        let principal = try context.requirePrincipal()
        _ = try QueryParameters(request, allowed: [])
        let body = try await JSONBody.read(request, limit: Self.maxSmallBodyBytes,
                                           allowed: ["tenant_id", "user_id", "feature_tag", "estimated_cost_cents", "ttl_seconds"])
        let reservation = ReservationRequest(
            tenantID: try body.string("tenant_id"), userID: try body.string("user_id"), featureTag: try body.string("feature_tag"),
            estimatedCostCents: try body.string("estimated_cost_cents"), ttlSeconds: try body.number("ttl_seconds"))
        let answer = try await analytics.reserve(reservation, principal: principal)
        var response = JSONCoding.response(answer, status: .created)
        response.headers[.location] = Endpoint.createReservation.path + "/" + answer.reservation.id
        return response
    }

    /// `GET policy/reservations/{id}`.
    func getReservation(_ request: Request, _ context: APIRequestContext) async throws -> Response {
        let principal = try context.requirePrincipal()
        _ = try QueryParameters(request, allowed: [])
        return JSONCoding.response(try await analytics.reservation(id: try resourceID(context, "reservation"), principal: principal))
    }

    /// `POST policy/reservations/{id}/settle` with `actual_cost_cents`: releases the hold.
    func settleReservation(_ request: Request, _ context: APIRequestContext) async throws -> Response {
        let principal = try context.requirePrincipal()
        _ = try QueryParameters(request, allowed: [])
        let id = try resourceID(context, "reservation")
        let body = try await JSONBody.read(request, limit: Self.maxSmallBodyBytes, allowed: ["actual_cost_cents"])
        return JSONCoding.response(try await analytics.settleReservation(
            id: id, actualCostCents: try body.string("actual_cost_cents"), principal: principal))
    }

    /// `POST policy/reservations/{id}/cancel`: releases the hold without a run (no body).
    func cancelReservation(_ request: Request, _ context: APIRequestContext) async throws -> Response {
        let principal = try context.requirePrincipal()
        _ = try QueryParameters(request, allowed: [])
        return JSONCoding.response(try await analytics.cancelReservation(id: try resourceID(context, "reservation"), principal: principal))
    }
}
