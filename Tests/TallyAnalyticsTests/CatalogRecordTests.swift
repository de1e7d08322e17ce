import Foundation
import GRDB
@testable import TallyAnalytics
import TallyStore
import TallyTestSupport
import Testing

@Suite("SQLiteCatalog records: a row that does not decode is an error, never a row that vanishes")
struct CatalogRecordTests {
    /// Runs `sql` on the catalog's file with CHECK constraints off, as a damaged or hand-edited file could hold it.
    static func corrupt(_ catalog: SQLiteCatalog, _ sql: String) throws {
        try catalog.pool.writeWithoutTransaction { db in
            try db.execute(sql: "PRAGMA ignore_check_constraints = ON")
            defer { try? db.execute(sql: "PRAGMA ignore_check_constraints = OFF") }
            try db.execute(sql: sql)
        }
    }

    @Test("a budget with an unknown period fails every read of it with the table, row, column and value")
    func unknownBudgetPeriod() async throws {
        try await withTemporaryDirectory(prefix: "tally-records") { dir in
            let catalog = try SQLiteCatalog(directory: dir)
            try catalog.insertBudget(CatalogContract.budget("bud_ok"), actor: "key_admin")
            try catalog.insertBudget(CatalogContract.budget("bud_bad", level: .feature, subject: "chat"), actor: "key_admin")
            try Self.corrupt(catalog, "UPDATE budgets SET period = 'weekly' WHERE id = 'bud_bad'")

            let expected = CatalogError.undecodableRow(table: "budgets", id: "bud_bad", column: "period", value: "weekly")
            #expect(throws: expected) { try catalog.budgets(tenant: "acme") }
            #expect(throws: expected) { try catalog.budgets(tenant: nil) }
            #expect(throws: expected) { try catalog.budget(id: "bud_bad") }
            #expect(try catalog.budget(id: "bud_ok") != nil)
            #expect(expected.description.contains("budgets") && expected.description.contains("bud_bad")
                && expected.description.contains("period") && expected.description.contains("weekly"))

            // Through the domain too: the budget list fails rather than answering without the damaged budget.
            let analytics = Analytics(store: try Store(path: dir + "/store", options: testOptions()), catalog: catalog)
            defer { try? analytics.close() }
            await #expect(throws: expected) {
                _ = try await analytics.budgets(tenantID: "acme", principal: Principal(keyID: "key_r", tenant: "acme", role: .reader))
            }
        }
    }

    @Test("an anomaly driver with an unknown dimension fails the anomaly's read, a NULL in a required column too")
    func unknownDriverDimension() async throws {
        try await withTemporaryDirectory(prefix: "tally-records") { dir in
            let catalog = try SQLiteCatalog(directory: dir)
            let driver = AnomalyDriver(dimension: .model, value: "gpt", expectedNanos: 1, actualNanos: 2, sharePPM: nil)
            try catalog.write { tx in try tx.saveAnomaly(CatalogContract.anomaly("anm_1", drivers: [driver])) }
            try Self.corrupt(catalog, "UPDATE anomaly_drivers SET dimension = 'planet' WHERE anomaly_id = 'anm_1'")
            let expected = CatalogError.undecodableRow(table: "anomaly_drivers", id: "anm_1", column: "dimension", value: "planet")
            #expect(throws: expected) { try catalog.anomaly(id: "anm_1") }
            #expect(throws: expected) { try catalog.anomalies(tenant: "acme", filter: AnomalyFilter()) }

            try catalog.insertExport(CatalogContract.export("exp_1", at: 1_000))
            try Self.corrupt(catalog, "UPDATE exports SET status = 'lost' WHERE id = 'exp_1'")
            #expect(throws: CatalogError.undecodableRow(table: "exports", id: "exp_1", column: "status", value: "lost")) {
                try catalog.exports(tenant: "acme", limit: 10)
            }
        }
    }
}
