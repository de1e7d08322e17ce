import TallyAnalytics
import TallyQuery
import TallyStore
import TallyText

// The API encoding of the monthly report: the members, in this order, are the wire contract (OpenAPI/openapi.json).

extension CostChangeDecomposition: JSONWritable {
    public func write(to json: inout JSONWriter) {
        json.object { w in
            w.field("method", "sequential substitution: volume (requests), tokens per request, model mix (token shares), "
                + "input/output mix (each model's tokens weighed by its input and output list prices), price (cost per weighted token)")
            w.field("change_cents", cents: changeNanos)
            for (name, nanos) in parts { w.field(name + "_cents", cents: nanos) }
            w.field("unweighted_models", strings: unweightedModels)
        }
    }
}

extension ReportRow: JSONWritable {
    public func write(to json: inout JSONWriter) {
        json.object { w in
            w.field("value", value)
            totals.writeMeasures(to: &w)
            w.field("share_pct", sharePercent)
            w.field("previous_cost_cents", cents: previousCostNanos)
            w.field("change_cents", cents: totals.costNanos - previousCostNanos)
            w.field("change_pct", percent(totals.costNanos - previousCostNanos, of: previousCostNanos))
        }
    }
}

extension ReportBreakdown: JSONWritable {
    public func write(to json: inout JSONWriter) {
        json.object { w in
            w.field("key", dimension.fieldName)
            w.field("groups", groups)
            w.field("rows", array: rows)
            w.field("others", others)
        }
    }
}

extension ReportBudget: JSONWritable {
    public func write(to json: inout JSONWriter) {
        json.object { w in
            w.field("id", budget.id)
            w.field("level", budget.level.rawValue)
            w.field("subject", budget.subject)
            w.field("period", budget.period.rawValue)
            w.field("limit_cents", cents: budget.limitNanos)
            w.field("spent_cents", cents: spentNanos)
            w.field("utilization_pct", utilizationPercent)
            if let maxDayNanos { w.field("max_day_cents", cents: maxDayNanos) }
            if let daysOverLimit { w.field("days_over_limit", daysOverLimit) }
            if let projectedNanos { w.field("projected_cents", cents: projectedNanos) }
            w.field("state", state)
            w.field("enforce", budget.enforce)
        }
    }
}

extension MonthlyReport: JSONWritable {
    public func write(to json: inout JSONWriter) {
        json.object { w in
            w.field("tenant_id", tenant)
            w.field("month", month.description)
            w.field("window", month.window)
            w.field("in_progress", inProgress)
            w.field("totals", totals)
            w.field("comparison") { c in
                c.field("previous_month", month.previous.description)
                c.field("previous_window", month.previous.window)
                c.field("previous_totals", previousTotals)
                c.field("cost_cents_delta", cents: totals.costNanos - previousTotals.costNanos)
                c.field("cost_change_pct", percent(totals.costNanos - previousTotals.costNanos, of: previousTotals.costNanos))
                c.field("records_delta", totals.records - previousTotals.records)
                c.field("records_change_pct", percent(totals.records - previousTotals.records, of: previousTotals.records))
                c.field("decomposition", decomposition)
            }
            w.field("breakdowns") { b in for d in breakdowns { b.field(d.dimension.fieldName, d) } }
            w.field("daily", array: daily)
            w.field("previous_daily", array: previousDaily)
            w.field("budgets", array: budgets)
            events.writeMembers(to: &w)
            w.field("provenance", provenance)
        }
    }
}

extension ReportEvents {
    /// `anomalies` and `incidents`, into the report's open object.
    func writeMembers(to w: inout JSONWriter) {
        w.field("anomalies", array: anomalies)
        w.field("incidents", array: incidents)
    }
}

extension ReportEvents.Item: JSONWritable {
    public func write(to json: inout JSONWriter) {
        json.object { w in
            w.field("id", id)
            w.field("type", kind)
            w.field("severity", severity)
            w.field("status", status)
            w.field("title", title)
            w.field("at", time: at)
            w.field("link", link)
        }
    }
}
