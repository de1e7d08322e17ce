import TallyAnalytics
import TallyQuery
import TallyStore
import TallyText

// The API encoding of usage, cost, freshness and health: the members, in this order, are the wire contract
// (OpenAPI/openapi.json).

extension CostGroup.Trailing: JSONWritable {
    public func write(to json: inout JSONWriter) {
        json.object { w in
            w.field("days", days)
            w.field("through", time: through)
            w.field("average_daily_cost_cents", cents: averageNanos)
            w.field("previous_average_daily_cost_cents", cents: previousAverageNanos)
            w.field("change_pct", percent(averageNanos - previousAverageNanos, of: previousAverageNanos))
        }
    }
}

extension CostGroup: JSONWritable {
    public func write(to json: inout JSONWriter) {
        json.object { w in
            w.field("key") { k in for (field, value) in key { k.field(field, value) } }
            totals.writeMeasures(to: &w)
            w.field("share_pct", sharePercent)
            if let series { w.field("series", array: series) }
            if let trailing { w.field("trailing", trailing) }
        }
    }
}

extension CostReport: JSONWritable {
    public func write(to json: inout JSONWriter) {
        json.object { w in
            w.field("scope") { s in s.field("tenant_id", tenantID) }
            w.field("window", window)
            w.field("group_by", strings: groupBy.map(\.fieldName))
            w.field("order", CostRequest.orderName(order))
            w.field("limit", limit)
            w.field("totals", totals)
            w.field("groups", array: groups)
            w.field("others", others)
            w.field("provenance", provenance)
        }
    }
}

extension CostSummary: JSONWritable {
    public func write(to json: inout JSONWriter) {
        json.object { w in
            w.field("scope") { s in s.field("tenant_id", tenantID) }
            w.field("window", window)
            w.field("totals", totals)
            if let series { w.field("series", array: series) }
            w.field("top") { t in for (key, groups) in top { t.field(key.fieldName, array: groups) } }
            w.field("provenance", provenance)
        }
    }
}

extension CostAnswer: JSONWritable {
    public func write(to json: inout JSONWriter) {
        switch self {
        case let .breakdown(r): r.write(to: &json)
        case let .summary(s): s.write(to: &json)
        }
    }
}

extension Freshness: JSONWritable {
    public func write(to json: inout JSONWriter) {
        json.object { w in
            w.field("newest_record_at", time: newestRecord)
            w.field("lag_seconds", lagSeconds)
        }
    }
}

extension HealthReport.Check: JSONWritable {
    public func write(to json: inout JSONWriter) {
        json.object { w in
            w.field("name", name)
            w.field("ok", ok)
            if degraded { w.field("degraded", true) }
            w.field("detail", detail)
        }
    }
}

extension HealthReport: JSONWritable {
    public func write(to json: inout JSONWriter) {
        json.object { w in
            w.field("status", status)
            w.field("checks", array: checks)
            if !walLosses.isEmpty {
                w.key("wal_losses")
                w.array { a in
                    for loss in walLosses {
                        a.object { o in
                            o.field("segment", loss.segmentFile)
                            o.field("start", Int64(loss.start))
                            o.field("end", Int64(loss.end))
                            o.field("damaged_at", Int64(loss.damagedAt))
                            o.field("reason", loss.reason)
                            o.field("batches", Int64(loss.batches))
                            o.field("records", Int64(loss.records))
                            o.field("exact", loss.exact)
                            o.field("record", "quarantine/" + loss.recordName)
                            if let copy = loss.copy { o.field("copy", "quarantine/" + copy) }
                        }
                    }
                }
            }
        }
    }
}

extension UsageScope: JSONWritable {
    public func write(to json: inout JSONWriter) { json.string(rawValue) }
}

extension UsageReport.Scope: JSONWritable {
    public func write(to json: inout JSONWriter) {
        json.object { w in
            w.field("tenant_id", tenantID)
            w.field("kind", kind)
            if let projectID { w.field("project_id", projectID) }
            if let environment { w.field("environment", environment) }
        }
    }
}

extension UsageReport.Change: JSONWritable {
    public func write(to json: inout JSONWriter) {
        json.object { w in
            w.field("previous_window", previousWindow)
            w.field("previous_totals", previousTotals)
            w.field("cost_cents_delta", cents: costDeltaNanos)
            w.field("cost_change_pct", costChangePercent)
            w.field("records_delta", recordsDelta)
            w.field("records_change_pct", recordsChangePercent)
        }
    }
}

extension UsageReport.Signals: JSONWritable {
    public func write(to json: inout JSONWriter) {
        json.object { w in
            w.field("change", change)
            w.field("peak", peak)
            w.field("freshness", freshness)
            w.field("anomalies", array: anomalies)
            w.field("budgets", array: budgets)
        }
    }
}

extension UsageReport: JSONWritable {
    public func write(to json: inout JSONWriter) {
        json.object { w in
            w.field("scope", scope)
            w.field("window", window)
            w.field("totals", totals)
            w.field("series", array: series)
            w.field("signals", signals)
            w.field("provenance", provenance)
        }
    }
}
