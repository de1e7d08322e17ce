import Hummingbird
import TallyAnalytics

/// Anomalies: detection on demand, the list, one anomaly, resolving it by hand, and the tenant's thresholds.
struct AnomalyRoutes: Sendable {
    typealias Context = AuthenticatedContext
    let analytics: Analytics

    func addRoutes(to group: RouterGroup<Context>) {
        group.post("anomalies/detect", use: detectAnomalies)
        group.get("statistics/anomalies", use: listAnomalies)
        group.get("anomalies/settings", use: getAnomalySettings)
        group.put("anomalies/settings", use: updateAnomalySettings)
        group.get("anomalies/:id", use: getAnomaly)
        group.post("anomalies/:id/resolve", use: resolveAnomaly)
    }

    /// `POST anomalies/detect`: runs detection now over `from ..< to` (whole UTC days; default the 30 complete days
    /// before today) for the key's tenant, or an admin's `tenant_id` (every tenant without one). Writer or admin keys.
    @Sendable func detectAnomalies(_ request: Request, context: Context) async throws -> Response {
        let q = try QueryParameters(request, allowed: ["tenant_id", "from", "to"])
        let report = try await analytics.detectAnomalies(
            tenantID: try q.single("tenant_id"), from: try q.time("from"), to: try q.time("to"), principal: context.principal)
        return JSONCoding.response(report)
    }

    /// `GET statistics/anomalies`: the anomalies the key reaches, filtered.
    @Sendable func listAnomalies(_ request: Request, context: Context) async throws -> Response {
        let q = try QueryParameters(request, allowed: [
            "tenant_id", "from", "to", "type", "severity", "entity_level", "entity_value", "resolved", "limit",
        ])
        var resolved: Bool?
        switch try q.single("resolved") {
        case nil: resolved = nil
        case "true": resolved = true
        case "false": resolved = false
        default: throw Problem.invalidParameter("resolved", "must be true or false")
        }
        let filter = AnomalyFilter(
            tenantID: try q.single("tenant_id"), from: try q.time("from"), to: try q.time("to"),
            type: try q.choice("type", as: AnomalyType.self), severity: try q.choice("severity", as: AnomalySeverity.self),
            level: try q.choice("entity_level", as: Budget.Level.self), value: try q.single("entity_value"), resolved: resolved,
            limit: try q.integer("limit", in: 1...Analytics.maxListed) ?? 100)
        return JSONCoding.response(try await analytics.anomalies(filter, principal: context.principal))
    }

    /// `GET anomalies/{id}`.
    @Sendable func getAnomaly(_ request: Request, context: Context) async throws -> Response {
        _ = try QueryParameters(request, allowed: [])
        return JSONCoding.response(try await analytics.anomaly(id: try context.resourceID("anomaly"), principal: context.principal))
    }

    /// `POST anomalies/{id}/resolve`: resolves an anomaly by hand (writer or admin keys).
    @Sendable func resolveAnomaly(_ request: Request, context: Context) async throws -> Response {
        _ = try QueryParameters(request, allowed: [])
        return JSONCoding.response(try await analytics.resolveAnomaly(id: try context.resourceID("anomaly"), principal: context.principal))
    }

    /// `GET anomalies/settings`: the tenant's thresholds.
    @Sendable func getAnomalySettings(_ request: Request, context: Context) async throws -> Response {
        let q = try QueryParameters(request, allowed: ["tenant_id"])
        return JSONCoding.response(try await analytics.anomalySettings(tenantID: try q.single("tenant_id"), principal: context.principal))
    }

    /// `PUT anomalies/settings`: changes the tenant's thresholds (admin keys); members left out keep their value.
    @Sendable func updateAnomalySettings(_ request: Request, context: Context) async throws -> Response {
        _ = try QueryParameters(request, allowed: [])
        let body = try await JSONBody.read(request, limit: JSONBody.smallLimit, allowed: [
            "tenant_id", "spike_factor", "spike_days", "baseline_days", "drift_factor", "drift_days", "drift_window_days",
            "minimum_daily_cents", "severity_low_pct", "severity_medium_pct", "severity_high_pct",
        ])
        let patch = AnomalySettingsPatch(
            tenantID: try body.string("tenant_id"), spikeFactor: try body.number("spike_factor"),
            spikeDays: try body.number("spike_days"), baselineDays: try body.number("baseline_days"),
            driftFactor: try body.number("drift_factor"), driftDays: try body.number("drift_days"),
            driftWindowDays: try body.number("drift_window_days"), minimumDailyCents: try body.string("minimum_daily_cents"),
            lowPercent: try body.number("severity_low_pct"), mediumPercent: try body.number("severity_medium_pct"),
            highPercent: try body.number("severity_high_pct"))
        return JSONCoding.response(try await analytics.updateAnomalySettings(patch, principal: context.principal))
    }
}
