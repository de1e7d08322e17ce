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
    case createExport
    case listExports
    case getExport
    case downloadExport
    case monthlyReport
    case console
    case consoleAsset
    case audit
    case createReservation
    case getReservation
    case settleReservation
    case cancelReservation
    case createFeatureTag
    case listFeatureTags
    case getFeatureTag
    case updateFeatureTag
    case deleteFeatureTag
    case detectAnomalies
    case listAnomalies
    case getAnomaly
    case resolveAnomaly
    case getAnomalySettings
    case updateAnomalySettings
    case listIncidents
    case getIncident
    case acknowledgeIncident
    case resolveIncident
    case getWebhook
    case setWebhook
    case deleteWebhook
    case status
    case health
    case openAPI
    case metrics

    /// Prefix of the analytics routes.
    static let root = "/api/v1/analytics"

    var method: HTTPRequest.Method {
        switch self {
        case .records, .createBudget, .policyCheck, .createExport: .post
        case .updateBudget: .patch
        case .createReservation, .settleReservation, .cancelReservation, .createFeatureTag: .post
        case .updateFeatureTag: .patch
        case .deleteFeatureTag: .delete
        case .deleteBudget: .delete
        case .detectAnomalies, .resolveAnomaly, .acknowledgeIncident, .resolveIncident: .post
        case .updateAnomalySettings, .setWebhook: .put
        case .deleteWebhook: .delete
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
        case .createExport, .listExports: Self.root + "/reporting/exports"
        case .getExport: Self.root + "/reporting/exports/:id"
        case .downloadExport: Self.root + "/reporting/exports/:id/download"
        case .monthlyReport: Self.root + "/reports/monthly"
        case .console: "/console"
        case .consoleAsset: "/console/:file"
        case .audit: Self.root + "/audit"
        case .createReservation: Self.root + "/policy/reservations"
        case .getReservation: Self.root + "/policy/reservations/:id"
        case .settleReservation: Self.root + "/policy/reservations/:id/settle"
        case .cancelReservation: Self.root + "/policy/reservations/:id/cancel"
        case .createFeatureTag, .listFeatureTags: Self.root + "/feature-tags"
        case .getFeatureTag, .updateFeatureTag, .deleteFeatureTag: Self.root + "/feature-tags/:id"
        case .detectAnomalies: Self.root + "/anomalies/detect"
        case .listAnomalies: Self.root + "/statistics/anomalies"
        case .getAnomaly: Self.root + "/anomalies/:id"
        case .resolveAnomaly: Self.root + "/anomalies/:id/resolve"
        case .getAnomalySettings, .updateAnomalySettings: Self.root + "/anomalies/settings"
        case .listIncidents: Self.root + "/incidents"
        case .getIncident: Self.root + "/incidents/:id"
        case .acknowledgeIncident: Self.root + "/incidents/:id/acknowledge"
        case .resolveIncident: Self.root + "/incidents/:id/resolve"
        case .getWebhook, .setWebhook, .deleteWebhook: Self.root + "/webhook"
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
             .policyCheck, .audit, .createExport, .listExports, .getExport, .downloadExport,
             .monthlyReport: true
        case .detectAnomalies, .listAnomalies, .getAnomaly, .resolveAnomaly, .getAnomalySettings, .updateAnomalySettings,
             .listIncidents, .getIncident, .acknowledgeIncident, .resolveIncident, .getWebhook, .setWebhook, .deleteWebhook: true
        case .createReservation, .getReservation, .settleReservation, .cancelReservation: true
        case .createFeatureTag, .listFeatureTags, .getFeatureTag, .updateFeatureTag, .deleteFeatureTag: true
        case .status, .health, .openAPI, .metrics, .console, .consoleAsset: false
        }
    }

    /// The path as the OpenAPI document writes it: `{id}` for a `:id` parameter.
    var openAPIPath: String {
        path.split(separator: "/", omittingEmptySubsequences: false)
            .map { $0.hasPrefix(":") ? "{" + $0.dropFirst() + "}" : String($0) }
            .joined(separator: "/")
    }

    /// `METHOD /path`, as `_status` shows it.
    var display: String { "\(method.rawValue) \(openAPIPath)" }
}
