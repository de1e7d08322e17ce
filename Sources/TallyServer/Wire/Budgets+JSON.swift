import TallyAnalytics
import TallyQuery
import TallyStore
import TallyText

// The API encoding of budgets: the members, in this order, are the wire contract (OpenAPI/openapi.json).

extension BudgetView: JSONWritable {
    public func write(to json: inout JSONWriter) {
        json.object { w in
            w.field("id", budget.id)
            w.field("tenant_id", budget.tenant)
            w.field("level", budget.level.rawValue)
            w.field("feature_tag", budget.level == .feature ? budget.subject : nil)
            w.field("user_id", budget.level == .user ? budget.subject : nil)
            w.field("period", budget.period.rawValue)
            w.field("limit_cents", cents: budget.limitNanos)
            w.field("warn_ratio", budget.warnRatio)
            w.field("enforce", budget.enforce)
            w.field("created_at", time: budget.createdAt)
            w.field("updated_at", time: budget.updatedAt)
            w.field("current") { c in
                c.field("period_start", time: status.periodStart)
                c.field("period_end", time: status.periodEnd)
                c.field("spent_cents", cents: status.spentNanos)
                c.field("remaining_cents", cents: status.remainingNanos)
                c.field("utilization_pct", status.utilizationPercent)
                c.field("state", status.state.rawValue)
                c.key("burn_rate_cents_per_hour")
                if let burn = status.burnNanosPerHour { c.cents(burn) } else { c.null() }
                c.field("projected_spend_cents", cents: status.projectedNanos)
                c.field("will_exceed", status.willExceed)
                c.field("projected_exceeded_at", time: status.projectedExceededAt)
            }
        }
    }
}

extension BudgetAnswer: JSONWritable {
    public func write(to json: inout JSONWriter) {
        json.object { w in
            w.field("budget", view)
            w.field("provenance", provenance)
        }
    }
}

extension BudgetList: JSONWritable {
    public func write(to json: inout JSONWriter) {
        json.object { w in
            w.field("budgets", array: budgets)
            w.field("provenance", provenance)
        }
    }
}
