import GRDB
import TallyText

extension SQLiteCatalog {
    public func insertBudget(_ budget: Budget, actor: String) throws {
        try pool.write { db in
            if let other = try String.fetchOne(
                db, sql: "SELECT id FROM budgets WHERE tenant_id = ? AND level = ? AND subject = ? AND period = ?",
                arguments: [budget.tenant, budget.level.rawValue, budget.subject, budget.period.rawValue]) {
                throw AnalyticsError.alreadyExists(
                    reason: "budget \(other) already limits this \(budget.level.rawValue) \(budget.period.rawValue); change it with PATCH")
            }
            try BudgetRecord(budget).insert(db)
            try Self.appendAudit(db, at: budget.createdAt, actor: actor, tenant: budget.tenant, action: "create",
                                 entityType: "budget", entityID: budget.id, before: nil, after: AuditSnapshot.budget(budget))
        }
    }

    public func budget(id: String) throws -> Budget? {
        try pool.read { db in try BudgetRecord.fetchOne(db, key: id)?.budget }
    }

    public func budgets(tenant: String?) throws -> [Budget] {
        try pool.read { db in
            let order = " ORDER BY tenant_id, level, subject, period, id"
            let records = if let tenant {
                try BudgetRecord.fetchAll(db, sql: "SELECT * FROM budgets WHERE tenant_id = ?" + order, arguments: [tenant])
            } else {
                try BudgetRecord.fetchAll(db, sql: "SELECT * FROM budgets" + order)
            }
            return records.map(\.budget)
        }
    }

    public func updateBudget(_ budget: Budget, actor: String) throws -> Bool {
        try pool.write { db in
            guard let before = try BudgetRecord.fetchOne(db, key: budget.id)?.budget else { return false }
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

    public func deleteBudget(id: String, actor: String, at: Int64) throws -> Bool {
        try pool.write { db in
            guard let before = try BudgetRecord.fetchOne(db, key: id)?.budget else { return false }
            try db.execute(sql: "DELETE FROM budgets WHERE id = ?", arguments: [id])
            try Self.appendAudit(db, at: at, actor: actor, tenant: before.tenant, action: "delete",
                                 entityType: "budget", entityID: id, before: AuditSnapshot.budget(before), after: nil)
            return true
        }
    }
}
