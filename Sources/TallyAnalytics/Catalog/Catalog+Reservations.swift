import GRDB
import TallyStore
import TallyText

extension Catalog {
    /// Checks a reservation against `budgets` (each with its spend in the current period, read from the store just
    /// before) and stores it when every one of them can take it; otherwise stores nothing and returns the checks of
    /// the budgets it would exceed.
    ///
    /// The read of what other active reservations hold and the insert run in one immediate write transaction, so
    /// concurrent reservations are checked one after the other against each other's holds and cannot overshoot a
    /// limit together. Budgets are re-read inside it (a deleted or no longer enforced budget holds nothing; a
    /// changed limit counts as changed).
    public func reserve(_ reservation: Reservation, budgets: [(budget: Budget, spentNanos: Int64)], now: Int64)
        throws -> Result<[ReservationCheck], ReservationDenied>
    {
        try pool.writeWithoutTransaction { db in
            var result: Result<[ReservationCheck], ReservationDenied> = .success([])
            try db.inTransaction(.immediate) {
                var checks: [ReservationCheck] = []
                for (stale, spent) in budgets {
                    guard let budget = try Row.fetchOne(db, sql: "SELECT * FROM budgets WHERE id = ?", arguments: [stale.id])
                        .flatMap(Self.budget(row:)), budget.enforce else { continue }
                    checks.append(ReservationCheck(
                        budgetID: budget.id, level: budget.level, subject: budget.subject, period: budget.period,
                        limitNanos: budget.limitNanos, spentNanos: spent,
                        reservedNanos: try Self.reservedNanos(db, budget: budget, now: now),
                        estimatedNanos: reservation.estimatedNanos))
                }
                let exceeded = checks.filter(\.exceeds)
                guard exceeded.isEmpty else {
                    result = .failure(ReservationDenied(checks: exceeded))
                    return .rollback
                }
                var stored = reservation
                stored.budgetIDs = checks.map(\.budgetID)
                try db.execute(
                    sql: """
                        INSERT INTO reservations (id, tenant_id, user_id, feature_tag, estimated_nanos, state, created_at,
                                                  expires_at, budget_ids, created_by)
                        VALUES (?, ?, ?, ?, ?, 'active', ?, ?, ?, ?)
                        """,
                    arguments: [stored.id, stored.tenant, stored.userID, stored.featureTag, stored.estimatedNanos,
                                stored.createdAt, stored.expiresAt, stored.budgetIDs.joined(separator: ","), stored.createdBy])
                result = .success(checks)
                return .commit
            }
            return result
        }
    }

    /// What active, unexpired reservations hold against `budget` at `now`, nano-dollars.
    public func reservedNanos(for budget: Budget, now: Int64) throws -> Int64 {
        try pool.read { db in try Self.reservedNanos(db, budget: budget, now: now) }
    }

    /// The reservation `id`, if any.
    public func reservation(id: String) throws -> Reservation? {
        try pool.read { db in try Self.reservation(db, id: id) }
    }

    /// Settles (with the actual cost) or cancels the active reservation `id` at `now`, releasing its hold.
    /// nil when there is no such reservation; `invalidTransition` when it is no longer active.
    public func release(reservation id: String, _ release: ReservationRelease, now: Int64) throws -> Reservation? {
        let (state, actualNanos): (Reservation.State, Int64?) = switch release {
        case let .settle(actual): (.settled, actual)
        case .cancel: (.cancelled, nil)
        }
        let outcome: Result<Reservation, AnalyticsError>? = try pool.write { db in
            guard let current = try Self.reservation(db, id: id) else { return nil }
            let currentState = current.state(at: now)
            guard currentState == .active else {
                let why = currentState == .expired
                    ? "reservation \(id) expired at \(rfc3339(current.expiresAt)); its hold was already released"
                    : "reservation \(id) is already \(currentState.rawValue)"
                return .failure(.invalidTransition(reason: why))
            }
            try db.execute(
                sql: "UPDATE reservations SET state = ?, released_at = ?, actual_nanos = ? WHERE id = ? AND state = 'active'",
                arguments: [state.rawValue, now, actualNanos, id])
            return .success(try Self.reservation(db, id: id) ?? current)
        }
        switch outcome {
        case nil: return nil
        case let .success(r)?: return r
        case let .failure(e)?: throw e
        }
    }

    /// Deletes reservations released or expired before `cutoff` (they hold nothing); returns how many.
    @discardableResult
    public func purgeReservations(before cutoff: Int64) throws -> Int {
        try pool.write { db in
            try db.execute(
                sql: "DELETE FROM reservations WHERE (state = 'active' AND expires_at < ?) OR (state != 'active' AND released_at < ?)",
                arguments: [cutoff, cutoff])
            return db.changesCount
        }
    }

    static func reservedNanos(_ db: Database, budget: Budget, now: Int64) throws -> Int64 {
        var sql = "SELECT COALESCE(SUM(estimated_nanos), 0) FROM reservations WHERE tenant_id = ? AND state = 'active' AND expires_at > ?"
        var arguments: StatementArguments = [budget.tenant, now]
        switch budget.level {
        case .tenant: break
        case .feature:
            sql += " AND feature_tag = ?"
            arguments += [budget.subject]
        case .user:
            sql += " AND user_id = ?"
            arguments += [budget.subject]
        }
        return try Int64.fetchOne(db, sql: sql, arguments: arguments) ?? 0
    }

    static func reservation(_ db: Database, id: String) throws -> Reservation? {
        guard let row = try Row.fetchOne(db, sql: "SELECT * FROM reservations WHERE id = ?", arguments: [id]),
              let state = Reservation.State(rawValue: row["state"]) else { return nil }
        let ids: String = row["budget_ids"]
        return Reservation(
            id: row["id"], tenant: row["tenant_id"], userID: row["user_id"], featureTag: row["feature_tag"],
            estimatedNanos: row["estimated_nanos"], storedState: state, createdAt: row["created_at"], expiresAt: row["expires_at"],
            releasedAt: row["released_at"], actualNanos: row["actual_nanos"],
            budgetIDs: ids.split(separator: ",").map(String.init), createdBy: row["created_by"])
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
