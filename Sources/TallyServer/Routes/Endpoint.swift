import HTTPTypes

/// Every route of the facade: the single list the router registers and the OpenAPI test checks.
enum Endpoint: String, CaseIterable, Sendable {
    case records
    case usage
    case cost
    case status
    case health
    case openAPI
    case metrics

    /// Prefix of the analytics routes.
    static let root = "/api/v1/analytics"

    var method: HTTPRequest.Method {
        switch self {
        case .records: .post
        default: .get
        }
    }

    /// The full path.
    var path: String {
        switch self {
        case .records: Self.root + "/records"
        case .usage: Self.root + "/statistics/usage"
        case .cost: Self.root + "/statistics/cost"
        case .status: Self.root + "/_status"
        case .health: Self.root + "/health"
        case .openAPI: Self.root + "/openapi.json"
        case .metrics: "/metrics"
        }
    }

    /// Whether the route needs an API key (probes, metrics and the API document do not).
    var requiresKey: Bool {
        switch self {
        case .records, .usage, .cost: true
        case .status, .health, .openAPI, .metrics: false
        }
    }

    /// `METHOD /path`, as `_status` shows it.
    var display: String { "\(method.rawValue) \(path)" }
}
