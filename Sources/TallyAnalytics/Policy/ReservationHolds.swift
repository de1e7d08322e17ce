import TallyStore
import TallyText

/// The rules of reservation holds, run inside one catalog transaction: a reservation is stored only when every
/// enforced budget it counts against can take it, and only an active one is released.
public enum ReservationHolds {
    /// Checks `reservation` against `budgets` (each with its spend in the current period, read from the store just
    /// before) and stores it when every one of them can take it; otherwise stores nothing and returns the checks of
    /// the budgets it would exceed.
    ///
    /// Inside one catalog transaction: concurrent reservations are checked one after the other against each other's
    /// holds and cannot overshoot a limit together. Budgets are re-read inside it (a deleted or no longer enforced
    /// budget holds nothing; a changed limit counts as changed).
    public static func reserve(_ reservation: Reservation, budgets: [(budget: Budget, spentNanos: Int64)], now: Int64,
                               in tx: any CatalogTransaction) throws -> Result<[ReservationCheck], ReservationDenied> {
        var checks: [ReservationCheck] = []
        for (stale, spent) in budgets {
            guard let budget = try tx.budget(id: stale.id), budget.enforce else { continue }
            checks.append(ReservationCheck(
                budgetID: budget.id, level: budget.level, subject: budget.subject, period: budget.period,
                limitNanos: budget.limitNanos, spentNanos: spent, reservedNanos: try tx.reservedNanos(for: budget, now: now),
                estimatedNanos: reservation.estimatedNanos))
        }
        let exceeded = checks.filter(\.exceeds)
        guard exceeded.isEmpty else { return .failure(ReservationDenied(checks: exceeded)) }
        var stored = reservation
        stored.storedState = .active
        stored.budgetIDs = checks.map(\.budgetID)
        try tx.insertReservation(stored)
        return .success(checks)
    }

    /// Settles (with the actual cost) or cancels the active reservation `id` at `now`, releasing its hold; returns it
    /// as it is after. nil when there is no such reservation; `invalidTransition` when it is no longer active.
    public static func release(reservation id: String, _ release: ReservationRelease, now: Int64,
                               in tx: any CatalogTransaction) throws -> Reservation? {
        guard var reservation = try tx.reservation(id: id) else { return nil }
        let current = reservation.state(at: now)
        guard current == .active else {
            throw AnalyticsError.invalidTransition(reason: current == .expired
                ? "reservation \(id) expired at \(rfc3339(reservation.expiresAt)); its hold was already released"
                : "reservation \(id) is already \(current.rawValue)")
        }
        switch release {
        case let .settle(actual):
            reservation.storedState = .settled
            reservation.actualNanos = actual
        case .cancel:
            reservation.storedState = .cancelled
        }
        reservation.releasedAt = now
        try tx.updateReservation(reservation)
        return reservation
    }
}

/// How a reservation's hold is released.
public enum ReservationRelease: Sendable, Equatable {
    /// The run ended at this actual cost, nano-dollars (kept for the record; spend arrives through ingestion).
    case settle(actualNanos: Int64)
    /// No run.
    case cancel
}

/// Why a reservation was refused: the enforced budgets it would take over their limit.
public struct ReservationDenied: Error, Sendable, Equatable {
    /// The budgets it would exceed, with what they leave.
    public var checks: [ReservationCheck]

    /// Names every budget it would exceed and what each leaves.
    public var reason: String {
        "the reservation would exceed the limit of " + checks.map { c in
            "\(c.budgetID) (\(c.subjectDescription), \(c.period.rawValue)): \(Money.formatCents(c.remainingNanos)) cents remain of "
                + "\(Money.formatCents(c.limitNanos)) after spend and active reservations"
        }.joined(separator: "; ")
    }
}
