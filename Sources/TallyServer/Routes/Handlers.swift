import Hummingbird
import TallyAnalytics

/// The route handlers: each turns HTTP (parameters, headers, body) into an analytics call and its answer into JSON.
struct Handlers: Sendable {
    let analytics: Analytics
    let configuration: ServerConfiguration
    let metrics: ServerMetrics

    func respond(_ endpoint: Endpoint, _ request: Request, _ context: APIRequestContext) async throws -> Response {
        switch endpoint {
        case .records: try await records(request, context)
        case .usage: try await usage(request, context)
        case .cost: try await cost(request, context)
        case .pricing: try pricing(request, context)
        case .createBudget: try await createBudget(request, context)
        case .listBudgets: try await listBudgets(request, context)
        case .getBudget: try await getBudget(request, context)
        case .updateBudget: try await updateBudget(request, context)
        case .deleteBudget: try await deleteBudget(request, context)
        case .policyCheck: try await checkPolicy(request, context)
        case .status: try await status(request, context)
        case .health: try await health(request, context)
        case .openAPI: try openAPI(request, context)
        case .metrics: try await metricsText(request, context)
        }
    }
}
