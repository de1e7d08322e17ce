import HTTPTypes

/// Every route of the facade: the single list the router registers and the OpenAPI test checks.
enum Endpoint: String, CaseIterable, Sendable {
    case records
    case usage
    case cost
    case pricing
    case createBudget
    case listBudgets
    case getBudget
    case updateBudget
    case deleteBudget
    case policyCheck
    case status
    case health
    case openAPI
    case metrics

    /// Prefix of the analytics routes.
    static let root = "/api/v1/analytics"

    var method: HTTPRequest.Method {
        switch self {
        case .records, .createBudget, .policyCheck: .post
        case .updateBudget: .patch
        case .deleteBudget: .delete
        default: .get
        }
    }

    /// The full path.
    var path: String {
        switch self {
        case .records: Self.root + "/records"
        case .usage: Self.root + "/statistics/usage"
        case .cost: Self.root + "/statistics/cost"
        case .pricing: Self.root + "/pricing"
        case .createBudget, .listBudgets: Self.root + "/budgets"
        case .getBudget, .updateBudget, .deleteBudget: Self.root + "/budgets/:id"
        case .policyCheck: Self.root + "/policy/check"
        case .status: Self.root + "/_status"
        case .health: Self.root + "/health"
        case .openAPI: Self.root + "/openapi.json"
        case .metrics: "/metrics"
        }
    }

    /// Whether the route needs an API key (probes, metrics and the API document do not).
    var requiresKey: Bool {
        switch self {
        case .records, .usage, .cost, .pricing, .createBudget, .listBudgets, .getBudget, .updateBudget, .deleteBudget,
             .policyCheck: true
        case .status, .health, .openAPI, .metrics: false
        }
    }

    /// The path as the OpenAPI document writes it: `{id}` for a `:id` parameter.
    var openAPIPath: String {
        path.split(separator: "/", omittingEmptySubsequences: false)
            .map { $0.hasPrefix(":") ? "{" + $0.dropFirst() + "}" : String($0) }
            .joined(separator: "/")
    }

    /// Whether the path has a parameter.
    var hasParameters: Bool { path.contains(":") }

    /// `METHOD /path`, as `_status` shows it.
    var display: String { "\(method.rawValue) \(openAPIPath)" }
}
