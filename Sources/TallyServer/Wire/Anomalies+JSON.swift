import TallyAnalytics
import TallyQuery
import TallyStore
import TallyText

// The API encoding of anomaly lists, detection runs, settings and usage signals (an anomaly itself is written by the
// domain: it is part of the webhook payload): the members, in this order, are the wire contract (OpenAPI/openapi.json).

extension TenantDetection: JSONWritable {
    public func write(to json: inout JSONWriter) {
        json.object { w in
            w.field("tenant_id", tenant)
            w.field("judged_from", time: judgedFrom)
            w.field("judged_through", time: judgedThrough)
            w.field("created", strings: changes.created)
            w.field("updated", strings: changes.updated)
            w.field("resolved", strings: changes.resolved)
            w.field("incidents_opened", strings: changes.incidentsOpened)
            if !skippedFor.isEmpty {
                w.field("skipped", "unreadable parts hold days this run reads; the tenant was not judged (GET health, tally verify)")
                w.field("missing", array: skippedFor.map(MissingHours.init))
            }
            w.field("anomalies", array: anomalies)
        }
    }
}

extension DetectionReport: JSONWritable {
    public func write(to json: inout JSONWriter) {
        json.object { w in
            w.field("tenants", array: tenants)
            w.field("generated_at", time: generatedAt)
            w.field("provenance", provenance)
        }
    }
}

extension AnomalyList: JSONWritable {
    public func write(to json: inout JSONWriter) {
        json.object { w in
            if let window { w.field("window", window) }
            w.field("anomalies", array: anomalies)
            w.field("count", anomalies.count)
            w.field("generated_at", time: generatedAt)
            w.field("provenance", provenance)
        }
    }
}

extension AnomalyAnswer: JSONWritable {
    public func write(to json: inout JSONWriter) {
        json.object { w in
            w.field("anomaly", anomaly)
            w.field("provenance", provenance)
        }
    }
}

extension AnomalySettingsView: JSONWritable {
    public func write(to json: inout JSONWriter) {
        json.object { w in
            w.field("tenant_id", tenant)
            w.field("custom", custom)
            w.field("spike_factor", Double(thresholds.spikeFactorPPM) / 1_000_000)
            w.field("spike_days", thresholds.spikeDays)
            w.field("baseline_days", thresholds.baselineDays)
            w.field("drift_factor", Double(thresholds.driftFactorPPM) / 1_000_000)
            w.field("drift_days", thresholds.driftDays)
            w.field("drift_window_days", thresholds.driftWindowDays)
            w.field("minimum_daily_cents", cents: thresholds.minimumDailyNanos)
            w.field("severity_low_pct", thresholds.lowPercent)
            w.field("severity_medium_pct", thresholds.mediumPercent)
            w.field("severity_high_pct", thresholds.highPercent)
        }
    }
}

extension BudgetUtilisation: JSONWritable {
    public func write(to json: inout JSONWriter) {
        json.object { w in
            w.field("budget_id", budget.id)
            w.field("tenant_id", budget.tenant)
            w.field("level", budget.level.rawValue)
            w.field("subject", budget.level == .tenant ? nil : budget.subject)
            w.field("period", budget.period.rawValue)
            w.field("limit_cents", cents: budget.limitNanos)
            w.field("spent_cents", cents: status.spentNanos)
            w.field("utilization_pct", status.utilizationPercent)
            w.field("state", status.state.rawValue)
        }
    }
}
