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
        case .createExport: try await createExport(request, context)
        case .listExports: try await listExports(request, context)
        case .getExport: try await getExport(request, context)
        case .downloadExport: try await downloadExport(request, context)
        case .monthlyReport: try await monthlyReport(request, context)
        case .console: try console(request, context)
        case .consoleAsset: try consoleAsset(request, context)
        case .audit: try await audit(request, context)
        case .createReservation: try await createReservation(request, context)
        case .getReservation: try await getReservation(request, context)
        case .settleReservation: try await settleReservation(request, context)
        case .cancelReservation: try await cancelReservation(request, context)
        case .createFeatureTag: try await createFeatureTag(request, context)
        case .listFeatureTags: try await listFeatureTags(request, context)
        case .getFeatureTag: try await getFeatureTag(request, context)
        case .updateFeatureTag: try await updateFeatureTag(request, context)
        case .deleteFeatureTag: try await deleteFeatureTag(request, context)
        case .detectAnomalies: try await detectAnomalies(request, context)
        case .listAnomalies: try await listAnomalies(request, context)
        case .getAnomaly: try await getAnomaly(request, context)
        case .resolveAnomaly: try await resolveAnomaly(request, context)
        case .getAnomalySettings: try await getAnomalySettings(request, context)
        case .updateAnomalySettings: try await updateAnomalySettings(request, context)
        case .listIncidents: try await listIncidents(request, context)
        case .getIncident: try await getIncident(request, context)
        case .acknowledgeIncident: try await changeIncident(request, context, to: .acknowledged)
        case .resolveIncident: try await changeIncident(request, context, to: .resolved)
        case .getWebhook: try await getWebhook(request, context)
        case .setWebhook: try await setWebhook(request, context)
        case .deleteWebhook: try await deleteWebhook(request, context)
        case .status: try await status(request, context)
        case .health: try await health(request, context)
        case .openAPI: try openAPI(request, context)
        case .metrics: try await metricsText(request, context)
        }
    }

    /// The `:id` of a route; an id no resource can have is "not found".
    func resourceID(_ context: APIRequestContext, _ kind: String) throws -> String {
        guard let id = context.parameters.get("id"), !id.isEmpty, id.utf8.count <= 64 else {
            throw Problem(.notFound, "no such \(kind)")
        }
        return id
    }
}
