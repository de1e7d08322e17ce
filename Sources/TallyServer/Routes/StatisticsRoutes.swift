import Hummingbird
import TallyAnalytics
import TallyQuery
import TallyStore

/// Statistics: the usage report, cost breakdowns and the price table costs are computed with.
struct StatisticsRoutes: Sendable {
    typealias Context = AuthenticatedContext
    let analytics: Analytics
    let metrics: ServerMetrics

    func addRoutes(to group: RouterGroup<Context>) {
        group.get("statistics/usage", use: usage)
        group.get("statistics/cost", use: cost)
        group.get("pricing", use: pricing)
    }

    /// `GET pricing`: the price table (per model, its prices with their effective dates); any key.
    @Sendable func pricing(_ request: Request, context: Context) throws -> Response {
        _ = try QueryParameters(request, allowed: [])
        return JSONCoding.response(analytics.pricing())
    }

    /// `GET statistics/usage`: `{ scope, window, totals, series, signals, provenance }`.
    @Sendable func usage(_ request: Request, context: Context) async throws -> Response {
        let started = analytics.clock.monotonicSeconds()
        let q = try QueryParameters(request, allowed: ["tenant_id", "from", "to", "resolution", "scope", "project_id", "environment"])
        let usage = UsageRequest(
            tenantID: try q.single("tenant_id"), from: try q.time("from"), to: try q.time("to"),
            resolution: try q.choice("resolution", as: Resolution.self) ?? .day,
            scope: try q.choice("scope", as: UsageScope.self) ?? .org,
            projectID: try q.single("project_id"), environment: try q.single("environment"))
        let report = try await analytics.usage(usage, principal: context.principal)
        let response = JSONCoding.response(report)
        metrics.recordQuery(.usage, seconds: analytics.clock.monotonicSeconds() - started)
        return response
    }

    /// Filter parameters of the cost endpoint: one per dimension, by its field name, repeatable.
    static let filterParameters: [(name: String, dimension: Dimension)] = Dimension.allCases.map { ($0.fieldName, $0) }

    /// `GET statistics/cost`: a breakdown by `group_by`, or the summary without it.
    @Sendable func cost(_ request: Request, context: Context) async throws -> Response {
        let started = analytics.clock.monotonicSeconds()
        let allowed = Set(["tenant_id", "from", "to", "group_by", "limit", "order", "resolution", "trailing_days"])
            .union(Self.filterParameters.map(\.name))
        let q = try QueryParameters(request, allowed: allowed)
        var groupBy: [Query.Key] = []
        for name in q.all("group_by", commas: true) {
            guard let key = Query.Key(name: name) else {
                throw Problem.invalidParameter(
                    "group_by", "unknown key; use feature, user, model, project, environment, workflow, skill or (admin) tenant")
            }
            guard !groupBy.contains(key) else { throw Problem.invalidParameter("group_by", "a key appears twice") }
            groupBy.append(key)
        }
        var filters: [Dimension: [String]] = [:]
        for (name, dimension) in Self.filterParameters {
            let values = q.all(name)
            if !values.isEmpty { filters[dimension] = values }
        }
        var order = Query.Order.cost
        if let name = try q.single("order") {
            guard let o = CostRequest.order(named: name) else {
                throw Problem.invalidParameter("order", "must be one of cost, records, tokens, input_tokens, output_tokens, key")
            }
            order = o
        }
        let cost = CostRequest(
            tenantID: try q.single("tenant_id"), from: try q.time("from"), to: try q.time("to"), groupBy: groupBy,
            filters: filters, limit: try q.integer("limit", in: 1...analytics.options.maxLimit), order: order,
            resolution: try q.choice("resolution", as: Resolution.self),
            trailingDays: try q.integer("trailing_days", in: 1...Query.maxTrailingDays))
        let answer = try await analytics.cost(cost, principal: context.principal)
        let response = JSONCoding.response(answer)
        metrics.recordQuery(.cost, seconds: analytics.clock.monotonicSeconds() - started)
        return response
    }
}
