import TallyQuery
import TallyStore
import TallyText

/// A planned run to check against the budgets: who runs it, for which feature, at what estimated cost.
public struct PolicyRequest: Sendable {
    /// The tenant (admin keys must name it; tenant keys may only name their own).
    public var tenantID: String?
    public var userID: String?
    public var featureTag: String?
    /// Exact decimal string of cents, >= 0.
    public var estimatedCostCents: String?

    /// A request.
    public init(tenantID: String? = nil, userID: String? = nil, featureTag: String? = nil, estimatedCostCents: String? = nil) {
        self.tenantID = tenantID
        self.userID = userID
        self.featureTag = featureTag
        self.estimatedCostCents = estimatedCostCents
    }
}

/// The answer of the policy check: allow, warn or deny, the budgets that decide, and what remains.
public struct PolicyDecision: Sendable {
    /// What the run may do; ordered from the mildest.
    public enum Outcome: String, Sendable, Comparable {
        /// Every applicable enforced budget stays at or below its warn threshold.
        case allow
        /// Some budget would pass `limit x warn_ratio` but none its limit.
        case warn
        /// Some budget would pass its limit.
        case deny

        var rank: Int {
            switch self {
            case .allow: 0
            case .warn: 1
            case .deny: 2
            }
        }

        public static func < (a: Outcome, b: Outcome) -> Bool { a.rank < b.rank }
    }

    /// One applicable enforced budget and what the run would do to it.
    public struct Check: Sendable {
        public var budget: Budget
        public var status: BudgetStatus
        /// Held by active reservations (see `Analytics.reserve`).
        public var reservedNanos: Int64
        /// Spend after the run: spent + reserved + estimate.
        public var afterNanos: Int64
        public var outcome: Outcome
    }

    public var tenant: String
    public var estimatedNanos: Int64
    public var outcome: Outcome
    /// Every applicable enforced budget, most constraining first (by outcome, then by what remains after the run).
    public var checks: [Check]
    /// The ids of the budgets that decide: those with the overall outcome (for allow, the tightest one).
    public var deciding: [String]
    /// The least that remains of any applicable budget before the run (after spend and active reservations); nil
    /// when none applies.
    public var remainingNanos: Int64?
    public var reason: String
    public var generatedAt: Int64
    public var provenance: Provenance

    /// The decision over `checks` (already evaluated): the worst outcome decides.
    init(tenant: String, estimatedNanos: Int64, checks unsorted: [Check], now: Int64, provenance: Provenance) {
        self.tenant = tenant
        self.estimatedNanos = estimatedNanos
        self.provenance = provenance
        generatedAt = now
        let checks = unsorted.sorted {
            if $0.outcome != $1.outcome { return $0.outcome > $1.outcome }
            let r0 = $0.budget.limitNanos - $0.afterNanos, r1 = $1.budget.limitNanos - $1.afterNanos
            return r0 != r1 ? r0 < r1 : $0.budget.id < $1.budget.id
        }
        let outcome = checks.first?.outcome ?? .allow
        self.checks = checks
        self.outcome = outcome
        remainingNanos = checks.map { $0.status.remainingNanos.subtractingSaturated($0.reservedNanos) }.min()
        guard let first = checks.first else {
            deciding = []
            reason = "no enforced budget applies to this tenant, feature and user"
            return
        }
        let decisive = outcome == .allow ? [first] : checks.filter { $0.outcome == outcome }
        deciding = decisive.map(\.budget.id)
        let names = decisive.map { c in
            let what = c.budget.level == .tenant ? "tenant" : "\(c.budget.level.rawValue) \(c.budget.subject)"
            return "\(c.budget.id) (\(what), \(c.budget.period.rawValue))"
        }.joined(separator: ", ")
        switch outcome {
        case .deny: reason = "the run would exceed the limit of " + names
        case .warn: reason = "the run would pass the warn threshold of " + names
        case .allow: reason = "the run fits every enforced budget; the tightest is " + names
        }
    }
}

extension Analytics {
    /// Whether a planned run fits the enforced budgets that apply to it: the tenant's, its feature's and its user's,
    /// each in its current period, counting what active reservations hold. Nothing is reserved.
    /// Any key of the tenant may ask (see `AccessPolicy`).
    public func checkPolicy(_ request: PolicyRequest, principal: Principal) async throws -> PolicyDecision {
        let tenant = try AccessPolicy.check(.checkPolicy, principal, tenant: request.tenantID)
        if let user = request.userID { try Budget.checkSubject(user, field: "user_id") }
        if let feature = request.featureTag { try Budget.checkSubject(feature, field: "feature_tag") }
        guard let text = request.estimatedCostCents else {
            throw AnalyticsError.invalidParameter(name: "estimated_cost_cents", reason: "is required, as a decimal string such as \"12.5\"")
        }
        let estimate: Int64
        switch Money.parseCents(text) {
        case let .success(nanos): estimate = nanos
        case .failure(.negative): throw AnalyticsError.invalidParameter(name: "estimated_cost_cents", reason: "must be 0 or more")
        case .failure(.tooPrecise): throw AnalyticsError.invalidParameter(name: "estimated_cost_cents", reason: "has more than 7 decimals")
        case .failure(.tooLarge):
            throw AnalyticsError.invalidParameter(name: "estimated_cost_cents", reason: "must be at most 1000000000 (ten million dollars)")
        case .failure(.malformed):
            throw AnalyticsError.invalidParameter(name: "estimated_cost_cents", reason: "must be a decimal string such as \"12.5\"")
        }
        let now = self.now
        let applicable = try await blocking { [self] in
            try enforcedBudgets(tenant: tenant, userID: request.userID, featureTag: request.featureTag)
        }
        var run = try await QueryRun(records, useRollups: options.useRollups)
        var spent: [Int64] = []
        for b in applicable { spent.append(try await spend(&run, b, now: now)) }
        let catalog = self.catalog
        let reservedOf = try await blocking { try applicable.map { b in try catalog.reservedNanos(for: b, now: now) } }
        var checks: [PolicyDecision.Check] = []
        for (i, b) in applicable.enumerated() {
            let status = BudgetStatus(budget: b, spentNanos: spent[i], now: now)
            let reserved = reservedOf[i]
            let (held, overflow1) = status.spentNanos.addingReportingOverflow(reserved)
            let (after, overflow2) = held.addingReportingOverflow(estimate)
            let total = overflow1 || overflow2 ? Int64.max : after
            let outcome: PolicyDecision.Outcome =
                total > b.limitNanos ? .deny : total > b.warnThresholdNanos ? .warn : .allow
            checks.append(PolicyDecision.Check(budget: b, status: status, reservedNanos: reserved, afterNanos: total,
                                               outcome: outcome))
        }
        return PolicyDecision(
            tenant: tenant, estimatedNanos: estimate, checks: checks, now: now,
            provenance: run.provenance(
                window: Self.periodsWindow(applicable, now: now),
                aggregation: "spend of each applicable enforced budget over its current UTC period (one query each) plus what "
                    + "active reservations hold (catalog), plus the estimate, against limit x warn_ratio and the limit",
                now: now, catalogReads: 1 + applicable.count))
    }
}
