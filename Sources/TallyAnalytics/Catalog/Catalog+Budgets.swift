import GRDB
import TallyText

extension Catalog {
    /// Stores a new budget and audits it as made by `actor`; `alreadyExists` when the tenant has one for the same
    /// level, subject and period.
    public func insertBudget(_ budget: Budget, actor: String) throws {
        try pool.write { db in
            if let other = try String.fetchOne(
                db, sql: "SELECT id FROM budgets WHERE tenant_id = ? AND level = ? AND subject = ? AND period = ?",
                arguments: [budget.tenant, budget.level.rawValue, budget.subject, budget.period.rawValue]) {
                throw AnalyticsError.alreadyExists(
                    reason: "budget \(other) already limits this \(budget.level.rawValue) \(budget.period.rawValue); change it with PATCH")
            }
            try db.execute(
                sql: """
                    INSERT INTO budgets (id, tenant_id, level, subject, period, limit_nanos, warn_ratio, enforce,
                                         created_at, updated_at, created_by)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [budget.id, budget.tenant, budget.level.rawValue, budget.subject, budget.period.rawValue,
                            budget.limitNanos, budget.warnRatio, budget.enforce, budget.createdAt, budget.updatedAt,
                            budget.createdBy])
            try Self.appendAudit(db, at: budget.createdAt, actor: actor, tenant: budget.tenant, action: "create",
                                 entityType: "budget", entityID: budget.id, before: nil, after: AuditSnapshot.budget(budget))
        }
    }

    /// The budget `id`, if any.
    public func budget(id: String) throws -> Budget? {
        try pool.read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM budgets WHERE id = ?", arguments: [id]).flatMap(Self.budget(row:))
        }
    }

    /// The budgets of `tenant` (every tenant's when nil), by tenant, level, subject and period.
    public func budgets(tenant: String?) throws -> [Budget] {
        try pool.read { db in
            let order = " ORDER BY tenant_id, level, subject, period, id"
            let rows = if let tenant {
                try Row.fetchAll(db, sql: "SELECT * FROM budgets WHERE tenant_id = ?" + order, arguments: [tenant])
            } else {
                try Row.fetchAll(db, sql: "SELECT * FROM budgets" + order)
            }
            return rows.compactMap(Self.budget(row:))
        }
    }

    /// Replaces the limit, warn ratio, enforcement and update time of a stored budget and audits the change as made
    /// by `actor`; false when it is gone.
    public func updateBudget(_ budget: Budget, actor: String) throws -> Bool {
        try pool.write { db in
            guard let before = try Row.fetchOne(db, sql: "SELECT * FROM budgets WHERE id = ?", arguments: [budget.id])
                .flatMap(Self.budget(row:)) else { return false }
            try db.execute(
                sql: "UPDATE budgets SET limit_nanos = ?, warn_ratio = ?, enforce = ?, updated_at = ? WHERE id = ?",
                arguments: [budget.limitNanos, budget.warnRatio, budget.enforce, budget.updatedAt, budget.id])
            var after = before
            after.limitNanos = budget.limitNanos
            after.warnRatio = budget.warnRatio
            after.enforce = budget.enforce
            after.updatedAt = budget.updatedAt
            try Self.appendAudit(db, at: budget.updatedAt, actor: actor, tenant: before.tenant, action: "update",
                                 entityType: "budget", entityID: budget.id, before: AuditSnapshot.budget(before),
                                 after: AuditSnapshot.budget(after))
            return true
        }
    }

    /// Deletes the budget `id` and audits it as done by `actor` at `at`; false when there was none.
    public func deleteBudget(id: String, actor: String, at: Int64) throws -> Bool {
        try pool.write { db in
            guard let before = try Row.fetchOne(db, sql: "SELECT * FROM budgets WHERE id = ?", arguments: [id])
                .flatMap(Self.budget(row:)) else { return false }
            try db.execute(sql: "DELETE FROM budgets WHERE id = ?", arguments: [id])
            try Self.appendAudit(db, at: at, actor: actor, tenant: before.tenant, action: "delete",
                                 entityType: "budget", entityID: id, before: AuditSnapshot.budget(before), after: nil)
            return true
        }
    }

    static func budget(row: Row) -> Budget? {
        guard let level = Budget.Level(rawValue: row["level"]), let period = Budget.Period(rawValue: row["period"]) else {
            return nil
        }
        return Budget(
            id: row["id"], tenant: row["tenant_id"], level: level, subject: row["subject"], period: period,
            limitNanos: row["limit_nanos"], warnRatio: row["warn_ratio"], enforce: row["enforce"],
            createdAt: row["created_at"], updatedAt: row["updated_at"], createdBy: row["created_by"])
    }
}
