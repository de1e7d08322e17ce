import Synchronization
import TallyQuery
import TallyStore
import TallyText

/// A reservation as a client asks for it: raw values, checked by `Analytics.reserve`.
public struct ReservationRequest: Sendable {
    /// The tenant (admin keys must name it; tenant keys may only name their own).
    public var tenantID: String?
    public var userID: String?
    public var featureTag: String?
    /// Exact decimal string of cents, >= 0.
    public var estimatedCostCents: String?
    /// How long the hold lasts unless settled or cancelled (default `AnalyticsOptions.reservationTTLMillis`).
    public var ttlSeconds: Double?

    /// A request.
    public init(tenantID: String? = nil, userID: String? = nil, featureTag: String? = nil, estimatedCostCents: String? = nil,
                ttlSeconds: Double? = nil) {
        self.tenantID = tenantID
        self.userID = userID
        self.featureTag = featureTag
        self.estimatedCostCents = estimatedCostCents
        self.ttlSeconds = ttlSeconds
    }
}

/// `{ reservation, budgets }`: a reservation, with the budgets it was checked against when just made.
public struct ReservationAnswer: Sendable {
    public var reservation: Reservation
    /// The enforced budgets held (only when the reservation was just made).
    public var checks: [ReservationCheck]?
    /// "Now" of the answer: decides whether an active reservation shows as expired.
    public var now: Int64
    public var provenance: Provenance

    /// A reservation read or changed in the catalog alone; the window is its life (creation to expiry).
    init(reservation: Reservation, now: Int64) {
        self.init(
            reservation: reservation, checks: nil, now: now,
            provenance: .catalog(
                reads: 1, window: Window(from: reservation.createdAt, to: reservation.expiresAt),
                aggregation: "one reservation from the catalog; its state at generated_at (active until settled, cancelled "
                    + "or expired)", now: now))
    }

    /// A reservation with the budgets it was checked against and where that came from.
    init(reservation: Reservation, checks: [ReservationCheck]?, now: Int64, provenance: Provenance) {
        self.reservation = reservation
        self.checks = checks
        self.now = now
        self.provenance = provenance
    }
}

extension Analytics {
    /// Reserves `estimated_cost_cents` against every enforced budget that applies (the tenant's, the feature's, the
    /// user's; current periods), or refuses with `budgetExceeded` naming those it would exceed.
    ///
    /// A budget takes it when spend + what active reservations hold + the estimate stays at or below the limit.
    /// Spend comes from the store (one query per budget) just before the catalog's atomic check-and-insert, which
    /// counts every other active reservation: concurrent reservations cannot overshoot a limit together.
    /// Any key of the tenant may reserve, like the policy check (see `AccessPolicy`).
    public func reserve(_ request: ReservationRequest, principal: Principal) async throws -> ReservationAnswer {
        let tenant = try AccessPolicy.check(.checkPolicy, principal, tenant: request.tenantID)
        if let user = request.userID { try Budget.checkSubject(user, field: "user_id") }
        if let feature = request.featureTag { try Budget.checkSubject(feature, field: "feature_tag") }
        let estimate = try Self.parseCost(request.estimatedCostCents, field: "estimated_cost_cents")
        var ttl = options.reservationTTLMillis
        if let seconds = request.ttlSeconds {
            let maxSeconds = options.maxReservationTTLMillis / 1000
            guard seconds.isFinite, seconds.rounded() == seconds, seconds >= 1, seconds <= Double(maxSeconds) else {
                throw AnalyticsError.invalidParameter(name: "ttl_seconds", reason: "must be a whole number of seconds from 1 to \(maxSeconds)")
            }
            ttl = Int64(seconds) * 1000
        }
        let now = self.now
        let draft = Reservation(
            id: "res_" + hex(randomBytes(6)), tenant: tenant, userID: request.userID, featureTag: request.featureTag,
            estimatedNanos: estimate, storedState: .active, createdAt: now, expiresAt: now + ttl, releasedAt: nil,
            actualNanos: nil, budgetIDs: [], createdBy: principal.keyID)
        let budgets = try await blocking { [self] in
            try purgeReservationsIfDue(now: now)
            return try enforcedBudgets(tenant: tenant, userID: request.userID, featureTag: request.featureTag)
        }
        var run = try await QueryRun(records, useRollups: options.useRollups)
        var spent: [(budget: Budget, spentNanos: Int64)] = []
        for b in budgets { spent.append((b, try await spend(&run, b, now: now))) }
        let provenance = run.provenance(
            window: Self.periodsWindow(budgets, now: now),
            aggregation: "spend of each applicable enforced budget over its current UTC period (one query each); the catalog "
                + "transaction adds what other active reservations hold and the estimate, and inserts the reservation only "
                + "when every budget stays within its limit",
            now: now, catalogReads: 1)
        return try await blocking { [self, spent] in
            switch try catalog.write({ try ReservationHolds.reserve(draft, budgets: spent, now: now, in: $0) }) {
            case let .success(checks):
                var stored = draft
                stored.budgetIDs = checks.map(\.budgetID)
                return ReservationAnswer(reservation: stored, checks: checks, now: now, provenance: provenance)
            case let .failure(denied):
                throw AnalyticsError.budgetExceeded(denied)
            }
        }
    }

    /// The reservation `id`; `notFound` when there is none the key reaches.
    public func reservation(id: String, principal: Principal) async throws -> ReservationAnswer {
        try AccessPolicy.check(.checkPolicy, principal)
        let now = self.now
        return try await blocking { [self] in
            ReservationAnswer(reservation: try reachableReservation(id: id, principal: principal), now: now)
        }
    }

    /// Settles the active reservation `id`: its hold is released (the run's record arrives through ingestion);
    /// `actual_cost_cents` is kept for the record. `invalidTransition` when it is settled, cancelled or expired.
    public func settleReservation(id: String, actualCostCents: String?, principal: Principal) async throws -> ReservationAnswer {
        try AccessPolicy.check(.checkPolicy, principal)
        let actual = try Self.parseCost(actualCostCents, field: "actual_cost_cents")
        return try await release(id: id, .settle(actualNanos: actual), principal: principal)
    }

    /// Cancels the active reservation `id`, releasing its hold. `invalidTransition` when it is no longer active.
    public func cancelReservation(id: String, principal: Principal) async throws -> ReservationAnswer {
        try AccessPolicy.check(.checkPolicy, principal)
        return try await release(id: id, .cancel, principal: principal)
    }

    private func release(id: String, _ release: ReservationRelease, principal: Principal) async throws
        -> ReservationAnswer
    {
        let now = self.now
        return try await blocking { [self] in
            _ = try reachableReservation(id: id, principal: principal)
            guard let released = try catalog.write({ try ReservationHolds.release(reservation: id, release, now: now, in: $0) }) else {
                throw AnalyticsError.notFound(reason: "no reservation \(id)")
            }
            return ReservationAnswer(reservation: released, now: now)
        }
    }

    /// Deletes reservations released or expired more than `reservationRetentionMillis` ago, at most once an hour
    /// (on the reservation path, so the table stays small even where no purge job runs).
    func purgeReservationsIfDue(now: Int64) throws {
        let due = reservationsPurgedAt.withLock { last in
            guard last == .min || now - last >= TimeUnit.hourMillis else { return false }
            last = now
            return true
        }
        if due { try catalog.purgeReservations(before: now - options.reservationRetentionMillis) }
    }

    /// Deletes reservations released or expired more than `reservationRetentionMillis` before `now` (the server's
    /// purge job, hourly); returns how many. The reservation path then skips its own purge for an hour.
    @discardableResult
    public func purgeReservations(now: Int64) throws -> Int {
        reservationsPurgedAt.withLock { $0 = now }
        return try catalog.purgeReservations(before: now - options.reservationRetentionMillis)
    }

    /// The reservation `id` if `principal` reaches its tenant (another tenant's is "not found").
    func reachableReservation(id: String, principal: Principal) throws -> Reservation {
        guard let r = try catalog.reservation(id: id), AccessPolicy.reaches(principal, tenant: r.tenant) else {
            throw AnalyticsError.notFound(reason: "no reservation \(id)")
        }
        return r
    }

    /// The enforced budgets of `tenant` a run of `userID` and `featureTag` counts against.
    /// The window of the current periods of `budgets` (just `now` when there are none).
    static func periodsWindow(_ budgets: [Budget], now: Int64) -> Window {
        let bounds = budgets.map { $0.period.bounds(containing: now) }
        return Window(from: bounds.map(\.start).min() ?? now, to: bounds.map(\.end).max() ?? now)
    }

    func enforcedBudgets(tenant: String, userID: String?, featureTag: String?) throws -> [Budget] {
        try catalog.budgets(tenant: tenant).filter { b in
            guard b.enforce else { return false }
            switch b.level {
            case .tenant: return true
            case .feature: return featureTag.map { $0.utf8.elementsEqual(b.subject.utf8) } ?? false
            case .user: return userID.map { $0.utf8.elementsEqual(b.subject.utf8) } ?? false
            }
        }
    }

    /// Exact nano-dollars of a required cost field (a decimal string of cents, >= 0); the error names the field.
    static func parseCost(_ text: String?, field: String) throws(AnalyticsError) -> Int64 {
        guard let text else { throw .invalidParameter(name: field, reason: "is required, as a decimal string such as \"12.5\"") }
        switch Money.parseCents(text) {
        case let .success(nanos): return nanos
        case .failure(.negative): throw .invalidParameter(name: field, reason: "must be 0 or more")
        case .failure(.tooPrecise): throw .invalidParameter(name: field, reason: "has more than 7 decimals")
        case .failure(.tooLarge): throw .invalidParameter(name: field, reason: "must be at most 1000000000 (ten million dollars)")
        case .failure(.malformed): throw .invalidParameter(name: field, reason: "must be a decimal string such as \"12.5\"")
        }
    }
}
