import TallyAnalytics
import TallyQuery
import TallyStore
import TallyText

// The API encoding of the policy check and reservations: the members, in this order, are the wire contract
// (OpenAPI/openapi.json).

extension PolicyDecision.Check: JSONWritable {
    public func write(to json: inout JSONWriter) {
        json.object { w in
            w.field("budget_id", budget.id)
            w.field("level", budget.level.rawValue)
            w.field("feature_tag", budget.level == .feature ? budget.subject : nil)
            w.field("user_id", budget.level == .user ? budget.subject : nil)
            w.field("period", budget.period.rawValue)
            w.field("period_end", time: status.periodEnd)
            w.field("limit_cents", cents: budget.limitNanos)
            w.field("warn_at_cents", cents: budget.warnThresholdNanos)
            w.field("spent_cents", cents: status.spentNanos)
            w.field("reserved_cents", cents: reservedNanos)
            w.field("remaining_cents", cents: status.remainingNanos.subtractingSaturated(reservedNanos))
            w.field("remaining_after_cents", cents: budget.limitNanos - afterNanos)
            w.field("decision", outcome.rawValue)
        }
    }
}

extension PolicyDecision: JSONWritable {
    public func write(to json: inout JSONWriter) {
        json.object { w in
            w.field("decision", outcome.rawValue)
            w.field("reason", reason)
            w.field("tenant_id", tenant)
            w.field("estimated_cost_cents", cents: estimatedNanos)
            w.field("deciding_budgets", strings: deciding)
            w.key("remaining_cents")
            if let remainingNanos { w.cents(remainingNanos) } else { w.null() }
            w.field("budgets", array: checks)
            w.field("generated_at", time: generatedAt)
            w.field("provenance", provenance)
        }
    }
}

extension ReservationAnswer: JSONWritable {
    public func write(to json: inout JSONWriter) {
        let r = reservation
        json.object { w in
            w.field("reservation") { o in
                o.field("id", r.id)
                o.field("tenant_id", r.tenant)
                o.field("user_id", r.userID)
                o.field("feature_tag", r.featureTag)
                o.field("estimated_cost_cents", cents: r.estimatedNanos)
                o.field("state", r.state(at: now).rawValue)
                o.field("created_at", time: r.createdAt)
                o.field("expires_at", time: r.expiresAt)
                o.field("released_at", time: r.releasedAt)
                o.key("actual_cost_cents")
                if let actual = r.actualNanos { o.cents(actual) } else { o.null() }
                o.field("budget_ids", strings: r.budgetIDs)
            }
            if let checks { w.field("budgets", array: checks) }
            w.field("generated_at", time: now)
            w.field("provenance", provenance)
        }
    }
}

extension ReservationCheck: JSONWritable {
    public func write(to json: inout JSONWriter) {
        json.object { w in
            w.field("budget_id", budgetID)
            w.field("level", level.rawValue)
            w.field("feature_tag", level == .feature ? subject : nil)
            w.field("user_id", level == .user ? subject : nil)
            w.field("period", period.rawValue)
            w.field("limit_cents", cents: limitNanos)
            w.field("spent_cents", cents: spentNanos)
            w.field("reserved_cents", cents: reservedNanos)
            w.field("remaining_cents", cents: remainingNanos)
            w.field("remaining_after_cents", cents: remainingAfterNanos)
        }
    }
}
