import GRDB
import TallyStore

extension SQLiteCatalog {
    public func reservedNanos(for budget: Budget, now: Int64) throws -> Int64 {
        try pool.read { db in try Self.reservedNanos(db, budget: budget, now: now) }
    }

    public func reservation(id: String) throws -> Reservation? {
        try pool.read { db in try ReservationRecord.fetchOne(db, key: id)?.reservation }
    }

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
}
