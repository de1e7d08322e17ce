import TallyQuery
import TallyStore
import TallyText

/// A budget as the API shows it: its settings and where it stands in the current period.
public struct BudgetView: Sendable {
    public var budget: Budget
    public var status: BudgetStatus
}

/// One budget with its provenance (`GET`, `POST`, `PATCH budgets`).
public struct BudgetAnswer: Sendable {
    public var view: BudgetView
    public var provenance: Provenance
}

/// `{ budgets, provenance }`: the budgets a key reaches.
public struct BudgetList: Sendable {
    public var budgets: [BudgetView]
    public var provenance: Provenance
}

extension Analytics {
    /// Creates a budget (admin keys; see `AccessPolicy`). Every invalid field is named.
    public func createBudget(_ draft: BudgetDraft, principal: Principal) async throws -> BudgetAnswer {
        let tenant = try AccessPolicy.check(.changeBudgets, principal, tenant: draft.tenantID)
        guard let levelName = draft.level else { throw AnalyticsError.invalidParameter(name: "level", reason: "is required: tenant, feature or user") }
        guard let level = Budget.Level(rawValue: levelName) else {
            throw AnalyticsError.invalidParameter(name: "level", reason: "must be tenant, feature or user")
        }
        let subject: String
        switch level {
        case .tenant:
            if draft.featureTag != nil { throw AnalyticsError.invalidParameter(name: "feature_tag", reason: "only a feature budget takes one") }
            if draft.userID != nil { throw AnalyticsError.invalidParameter(name: "user_id", reason: "only a user budget takes one") }
            subject = ""
        case .feature:
            if draft.userID != nil { throw AnalyticsError.invalidParameter(name: "user_id", reason: "only a user budget takes one") }
            guard let tag = draft.featureTag else { throw AnalyticsError.invalidParameter(name: "feature_tag", reason: "is required for a feature budget") }
            try Budget.checkSubject(tag, field: "feature_tag")
            subject = tag
        case .user:
            if draft.featureTag != nil { throw AnalyticsError.invalidParameter(name: "feature_tag", reason: "only a feature budget takes one") }
            guard let user = draft.userID else { throw AnalyticsError.invalidParameter(name: "user_id", reason: "is required for a user budget") }
            try Budget.checkSubject(user, field: "user_id")
            subject = user
        }
        guard let periodName = draft.period else { throw AnalyticsError.invalidParameter(name: "period", reason: "is required: daily or monthly") }
        guard let period = Budget.Period(rawValue: periodName) else {
            throw AnalyticsError.invalidParameter(name: "period", reason: "must be daily or monthly (UTC)")
        }
        guard let limitText = draft.limitCents else {
            throw AnalyticsError.invalidParameter(name: "limit_cents", reason: "is required, as a decimal string such as \"2500\"")
        }
        let limit = try Budget.parseLimit(limitText)
        let warnRatio = draft.warnRatio ?? Budget.defaultWarnRatio
        try Budget.checkWarnRatio(warnRatio)
        let now = self.now
        let budget = Budget(
            id: "bud_" + hex(randomBytes(6)), tenant: tenant, level: level, subject: subject, period: period,
            limitNanos: limit, warnRatio: warnRatio, enforce: draft.enforce ?? false, createdAt: now, updatedAt: now,
            createdBy: principal.keyID)
        try await blocking { [self] in try catalog.insertBudget(budget, actor: principal.keyID) }
        return try await answer(budget, now: now)
    }

    /// The budgets `principal` reaches (an admin's of `tenantID`, or of every tenant), each with its status.
    public func budgets(tenantID: String?, principal: Principal) async throws -> BudgetList {
        let tenants = try AccessPolicy.check(.readBudgets, principal, tenants: tenantID)
        let now = self.now
        let budgets = try await blocking { [catalog] in try catalog.budgets(tenant: tenants.scopeTenant) }
        var run = try await QueryRun(records, useRollups: options.useRollups)
        var views: [BudgetView] = []
        for b in budgets {
            views.append(BudgetView(budget: b, status: BudgetStatus(budget: b, spentNanos: try await spend(&run, b, now: now), now: now)))
        }
        return BudgetList(budgets: views, provenance: budgetProvenance(run, budgets: budgets, now: now))
    }

    /// The budget `id` with its status; `notFound` when there is none the key reaches.
    public func budget(id: String, principal: Principal) async throws -> BudgetAnswer {
        try AccessPolicy.check(.readBudgets, principal)
        let now = self.now
        let budget = try await blocking { [self] in try reachableBudget(id: id, principal: principal) }
        return try await answer(budget, now: now)
    }

    /// Changes the limit, warn ratio or enforcement of budget `id` (admin keys).
    public func updateBudget(id: String, _ patch: BudgetPatch, principal: Principal) async throws -> BudgetAnswer {
        try AccessPolicy.check(.changeBudgets, principal)
        let limit = try patch.limitCents.map { text throws(AnalyticsError) in try Budget.parseLimit(text) }
        if let ratio = patch.warnRatio { try Budget.checkWarnRatio(ratio) }
        let now = self.now
        let budget = try await blocking { [self] in
            var budget = try reachableBudget(id: id, principal: principal)
            if let limit { budget.limitNanos = limit }
            if let ratio = patch.warnRatio { budget.warnRatio = ratio }
            if let enforce = patch.enforce { budget.enforce = enforce }
            budget.updatedAt = now
            guard try catalog.updateBudget(budget, actor: principal.keyID) else { throw AnalyticsError.notFound(reason: "no budget \(id)") }
            return budget
        }
        return try await answer(budget, now: now)
    }

    /// Deletes budget `id` (admin keys).
    public func deleteBudget(id: String, principal: Principal) async throws {
        try AccessPolicy.check(.changeBudgets, principal)
        let now = self.now
        try await blocking { [self] in
            let budget = try reachableBudget(id: id, principal: principal)
            guard try catalog.deleteBudget(id: budget.id, actor: principal.keyID, at: now) else { throw AnalyticsError.notFound(reason: "no budget \(id)") }
        }
    }

    /// The budget `id` if `principal` reaches its tenant; another tenant's budget is "not found", not "forbidden",
    /// so ids of other tenants cannot be probed.
    func reachableBudget(id: String, principal: Principal) throws -> Budget {
        guard let budget = try catalog.budget(id: id), AccessPolicy.reaches(principal, tenant: budget.tenant) else {
            throw AnalyticsError.notFound(reason: "no budget \(id)")
        }
        return budget
    }

    func answer(_ budget: Budget, now: Int64) async throws -> BudgetAnswer {
        var run = try await QueryRun(records, useRollups: options.useRollups)
        let spent = try await spend(&run, budget, now: now)
        return BudgetAnswer(view: BudgetView(budget: budget, status: BudgetStatus(budget: budget, spentNanos: spent, now: now)),
                            provenance: budgetProvenance(run, budgets: [budget], now: now))
    }

    /// Spend of the records `budget` counts in its period that holds `now`: one query, the tenant and the
    /// budget's feature or user as filters, daily buckets summed (so the answer comes from per-hour rollups
    /// where the store has them).
    func spend(_ run: inout QueryRun, _ budget: Budget, now: Int64) async throws -> Int64 {
        let (start, end) = budget.period.bounds(containing: now)
        let result = try await run.run(try Self.query(
            tenants: .one(budget.tenant), from: start, to: end, filters: budget.filters, bucket: .day,
            useRollups: options.useRollups))
        return result.cost.reduce(0, +)
    }

    func budgetProvenance(_ run: QueryRun, budgets: [Budget], now: Int64) -> Provenance {
        let bounds = budgets.map { $0.period.bounds(containing: now) }
        let window = Window(from: bounds.map(\.start).min() ?? now, to: bounds.map(\.end).max() ?? now)
        return run.provenance(
            window: window,
            aggregation: "cost per budget over its current UTC period (daily spend summed), filtered by its tenant and its "
                + "feature_tag or user_id; burn rate = spend / hours elapsed; projection = burn rate x period length",
            now: now)
    }
}
