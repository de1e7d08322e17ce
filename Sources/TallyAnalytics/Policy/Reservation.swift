import TallyText

/// A hold on budget headroom for a planned run: its estimated cost counts against every applicable enforced
/// budget until it is settled, cancelled, or expires.
public struct Reservation: Sendable, Equatable {
    /// Where a reservation stands. Only an active one holds headroom.
    public enum State: String, Sendable, CaseIterable {
        /// Holding its estimate until `expiresAt`.
        case active
        /// Released by the run's end (`settle`), with the actual cost noted.
        case settled
        /// Released without a run (`cancel`).
        case cancelled
        /// Not settled or cancelled before `expiresAt`: holds nothing any more.
        case expired
    }

    /// Public id, e.g. `res_3f9a0c1d2e4b`.
    public var id: String
    /// The tenant it holds against.
    public var tenant: String
    /// The run's user, if given: user budgets of it apply.
    public var userID: String?
    /// The run's feature, if given: feature budgets of it apply.
    public var featureTag: String?
    /// The estimate held, nano-dollars.
    public var estimatedNanos: Int64
    /// The stored state: active, settled or cancelled (expiry is derived from `expiresAt`, see `state(at:)`).
    public var storedState: State
    /// Creation time, ms UTC.
    public var createdAt: Int64
    /// When an active reservation stops holding, ms UTC.
    public var expiresAt: Int64
    /// When it was settled or cancelled.
    public var releasedAt: Int64?
    /// The actual cost given when settled, nano-dollars.
    public var actualNanos: Int64?
    /// The enforced budgets it was checked and held against, when made.
    public var budgetIDs: [String]
    /// The key that made it.
    public var createdBy: String

    /// A reservation.
    public init(id: String, tenant: String, userID: String?, featureTag: String?, estimatedNanos: Int64, storedState: State,
                createdAt: Int64, expiresAt: Int64, releasedAt: Int64?, actualNanos: Int64?, budgetIDs: [String], createdBy: String) {
        self.id = id
        self.tenant = tenant
        self.userID = userID
        self.featureTag = featureTag
        self.estimatedNanos = estimatedNanos
        self.storedState = storedState
        self.createdAt = createdAt
        self.expiresAt = expiresAt
        self.releasedAt = releasedAt
        self.actualNanos = actualNanos
        self.budgetIDs = budgetIDs
        self.createdBy = createdBy
    }

    /// The state at `now`: an active reservation past its expiry is expired.
    public func state(at now: Int64) -> State {
        storedState == .active && expiresAt <= now ? .expired : storedState
    }
}

/// One enforced budget as a reservation (or a policy check) sees it: the limit, spend in the period, what other
/// active reservations hold, and the estimate.
public struct ReservationCheck: Sendable, Equatable {
    /// The budget's id.
    public var budgetID: String
    /// What it limits.
    public var level: Budget.Level
    /// The feature tag or user id limited; empty for a tenant budget.
    public var subject: String
    /// Its period (spend is counted in the current one).
    public var period: Budget.Period
    /// The limit, nano-dollars.
    public var limitNanos: Int64
    /// Spend of the records in the current period.
    public var spentNanos: Int64
    /// Held by other active reservations.
    public var reservedNanos: Int64
    /// The estimate of the run asked about.
    public var estimatedNanos: Int64

    /// What the budget leaves before this run: limit - spent - reserved (negative when already over).
    public var remainingNanos: Int64 { limitNanos.subtractingSaturated(spentNanos).subtractingSaturated(reservedNanos) }
    /// What it leaves after this run.
    public var remainingAfterNanos: Int64 { remainingNanos.subtractingSaturated(estimatedNanos) }
    /// Whether the run would pass the limit.
    public var exceeds: Bool { remainingAfterNanos < 0 }

    /// `feature chat`, `user u1` or `tenant`.
    public var subjectDescription: String { level == .tenant ? "tenant" : "\(level.rawValue) \(subject)" }
}

extension Int64 {
    /// `self - other`, clamped to the range of `Int64`.
    package func subtractingSaturated(_ other: Int64) -> Int64 {
        let (v, overflow) = subtractingReportingOverflow(other)
        return overflow ? (other > 0 ? .min : .max) : v
    }
}
