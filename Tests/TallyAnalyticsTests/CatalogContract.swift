import Foundation
@testable import TallyAnalytics
import TallyPostgres
import TallyStore
import TallyTestSupport
import Testing
import TallyText

/// Makes a fresh, empty catalog for one contract test; a new implementation joins the contract by adding one here.
struct CatalogFactory: Sendable, CustomTestStringConvertible {
    /// Shown in the test names.
    let name: String
    /// A new catalog whose local files (if any) live in the fresh directory given.
    let make: @Sendable (String) throws -> any Catalog

    var testDescription: String { name }
}

/// The behaviour every `Catalog` implementation must show: round trips, not-found, expiry, holds against budgets,
/// transaction atomicity, audit entries with every change, ordering and limits. Written against `any Catalog` only.
enum CatalogContract {
    /// Every implementation under contract.
    static let factories: [CatalogFactory] = [
        CatalogFactory(name: "SQLiteCatalog") { try SQLiteCatalog(directory: $0) },
    ] + PostgresFixture.factories

    /// Runs `body` with a fresh catalog of `factory`.
    static func with(_ factory: CatalogFactory, _ body: (any Catalog) throws -> Void) async throws {
        try await withTemporaryDirectory(prefix: "tally-contract") { dir in try body(try factory.make(dir)) }
    }

    static let cent = Money.nanosPerCent
    static let day = TimeUnit.dayMillis

    static func budget(_ id: String, tenant: String = "acme", level: Budget.Level = .tenant, subject: String = "",
                       period: Budget.Period = .monthly, cents: Int64 = 100, enforce: Bool = true, at: Int64 = 1_000) -> Budget {
        Budget(id: id, tenant: tenant, level: level, subject: subject, period: period, limitNanos: cents * cent, warnRatio: 0.8,
               enforce: enforce, createdAt: at, updatedAt: at, createdBy: "key_admin")
    }

    static func reservation(_ id: String, tenant: String = "acme", cents: Int64, feature: String? = nil, user: String? = nil,
                            at: Int64 = 1_000, ttl: Int64 = 60_000) -> Reservation {
        Reservation(id: id, tenant: tenant, userID: user, featureTag: feature, estimatedNanos: cents * cent, storedState: .active,
                    createdAt: at, expiresAt: at + ttl, releasedAt: nil, actualNanos: nil, budgetIDs: [], createdBy: "key_w")
    }

    static func anomaly(_ id: String, tenant: String = "acme", type: AnomalyType = .absoluteSpike,
                        entity: AnomalyEntity = AnomalyEntity(level: .feature, value: "chat"), budgetID: String = "",
                        days: ClosedRange<Int64> = 10...10, status: Anomaly.Status = .open, incident: String? = nil,
                        drivers: [AnomalyDriver] = []) -> Anomaly {
        Anomaly(id: id, tenant: tenant, type: type, severity: .high, entity: entity, budgetID: budgetID,
                firstDay: days.lowerBound * day, lastDay: days.upperBound * day, expectedNanos: 5 * cent, actualNanos: 50 * cent,
                drivers: drivers, status: status, resolvedAt: status == .resolved ? 2_000 : nil,
                resolvedBy: status == .resolved ? Anomaly.detectorActor : nil, incidentID: incident, detectedAt: 1_000, updatedAt: 1_000)
    }

    static func incident(_ id: String, tenant: String = "acme", status: Incident.Status = .open, openedAt: Int64 = 1_000) -> Incident {
        Incident(id: id, tenant: tenant, status: status, severity: .high, title: "ABSOLUTE_SPIKE on feature chat", openedAt: openedAt,
                 acknowledgedAt: nil, acknowledgedBy: nil, resolvedAt: status == .resolved ? openedAt : nil,
                 resolvedBy: status == .resolved ? "key_w" : nil, updatedAt: openedAt)
    }

    static func export(_ id: String, tenant: String = "acme", status: ExportStatus = .pending, at: Int64,
                       expiresAt: Int64 = 10_000_000) -> Export {
        Export(id: id, tenant: tenant, spec: ExportSpec(kind: .records, format: .csv, from: 0, to: day), status: status,
               file: id + ".csv", rows: 0, bytes: 0, error: nil, createdBy: "key_r", createdAt: at, completedAt: nil, expiresAt: expiresAt)
    }

    /// The audit entries of `catalog`, oldest first, as `entity_type action entity_id`.
    static func auditTrail(_ catalog: any Catalog) throws -> [String] {
        try catalog.auditEntries(AuditFilter(limit: 1_000)).reversed().map { "\($0.entityType) \($0.action) \($0.entityID)" }
    }
}

/// The transaction body threw on purpose (nothing it wrote may remain).
struct Abort: Error {}

@Suite("Catalog contract: keys, idempotent answers, budgets, reservations")
struct CatalogContractTests {
    @Test("keys: created, verified, listed oldest first, revoked once; each change audited", arguments: CatalogContract.factories)
    func keys(_ factory: CatalogFactory) async throws {
        try await CatalogContract.with(factory) { catalog in
            let (admin, adminSecret) = try catalog.createKey(tenant: nil, role: .admin, now: 2_000, actor: "cli")
            let (reader, readerSecret) = try catalog.createKey(tenant: "acme", role: .reader, now: 1_000, actor: "key_x")
            #expect(try catalog.verify(secret: readerSecret) == Principal(keyID: reader.id, tenant: "acme", role: .reader))
            #expect(try catalog.verify(secret: adminSecret) == admin.principal)
            #expect(try catalog.verify(secret: readerSecret + "x") == nil)
            #expect(try catalog.listKeys(includeRevoked: true) == [reader, admin])

            let revoked = try #require(try catalog.revokeKey(id: reader.id, now: 3_000, actor: "cli"))
            #expect(revoked.revokedAt == 3_000)
            #expect(try catalog.revokeKey(id: reader.id, now: 4_000, actor: "cli")?.revokedAt == 3_000)
            #expect(try catalog.revokeKey(id: "key_none", now: 4_000, actor: "cli") == nil)
            #expect(try catalog.verify(secret: readerSecret) == nil)
            #expect(try catalog.listKeys(includeRevoked: false) == [admin])
            #expect(try catalog.listKeys(includeRevoked: true).map(\.id) == [reader.id, admin.id])

            #expect(try CatalogContract.auditTrail(catalog) == [
                "api_key create \(admin.id)", "api_key create \(reader.id)", "api_key revoke \(reader.id)",
            ])
            let entries = try catalog.auditEntries(AuditFilter(limit: 10))
            #expect(entries.map(\.actor) == ["cli", "key_x", "cli"])
            #expect(entries.allSatisfy { !($0.after ?? "").contains("tly_") })
        }
    }

    @Test("revision: told at once, and moved by a key revocation through this catalog", arguments: CatalogContract.factories)
    func revision(_ factory: CatalogFactory) async throws {
        try await CatalogContract.with(factory) { catalog in
            let (reader, _) = try catalog.createKey(tenant: "acme", role: .reader, now: 1_000, actor: "cli")
            let before = try #require(catalog.revision())
            #expect(catalog.revision() == before)
            _ = try catalog.revokeKey(id: reader.id, now: 2_000, actor: "cli")
            let after = try #require(catalog.revision())
            #expect(after != before)
            #expect(after.coversOtherWriters == before.coversOtherWriters)
        }
    }

    @Test("idempotent answers: kept for a day, the first one wins, expired ones are dropped", arguments: CatalogContract.factories)
    func idempotentAnswers(_ factory: CatalogFactory) async throws {
        try await CatalogContract.with(factory) { catalog in
            let keep = SQLiteCatalog.idempotencyRetentionMillis
            let first = IdempotentAnswer(fingerprint: [1, 2, 3], status: 201, contentType: "application/json", body: Array("{}".utf8),
                                         createdAt: 10_000)
            #expect(try catalog.idempotentAnswer(scope: "acme", key: "k1", now: 10_000) == nil)
            try catalog.saveIdempotentAnswer(scope: "acme", key: "k1", answer: first)
            var second = first
            second.status = 500
            try catalog.saveIdempotentAnswer(scope: "acme", key: "k1", answer: second)
            #expect(try catalog.idempotentAnswer(scope: "acme", key: "k1", now: 10_000) == first)
            #expect(try catalog.idempotentAnswer(scope: "acme", key: "k1", now: 10_000 + keep - 1) == first)
            #expect(try catalog.idempotentAnswer(scope: "acme", key: "k1", now: 10_000 + keep) == nil)
            #expect(try catalog.idempotentAnswer(scope: "globex", key: "k1", now: 10_000) == nil)
            #expect(try catalog.idempotentAnswer(scope: "acme", key: "k2", now: 10_000) == nil)

            // A save a retention period later drops the expired answer, so the same key answers anew.
            var later = first
            later.createdAt = 10_000 + keep
            later.status = 202
            try catalog.saveIdempotentAnswer(scope: "acme", key: "other", answer: later)
            #expect(try catalog.idempotentAnswer(scope: "acme", key: "k1", now: 10_000) == nil)
            try catalog.saveIdempotentAnswer(scope: "acme", key: "k1", answer: later)
            #expect(try catalog.idempotentAnswer(scope: "acme", key: "k1", now: later.createdAt)?.status == 202)
        }
    }

    @Test("budgets: round trip, not found, one per level, subject and period, ordered; each change audited",
          arguments: CatalogContract.factories)
    func budgets(_ factory: CatalogFactory) async throws {
        typealias C = CatalogContract
        try await C.with(factory) { catalog in
            let user = C.budget("bud_u", level: .user, subject: "ann", period: .daily)
            let tenant = C.budget("bud_t")
            let feature = C.budget("bud_f", level: .feature, subject: "chat")
            let other = C.budget("bud_g", tenant: "globex")
            for b in [user, tenant, feature, other] { try catalog.insertBudget(b, actor: "key_admin") }
            #expect(try catalog.budget(id: "bud_f") == feature)
            #expect(try catalog.budget(id: "bud_none") == nil)
            #expect(throws: AnalyticsError.self) { try catalog.insertBudget(C.budget("bud_t2"), actor: "key_admin") }
            #expect(try catalog.budgets(tenant: "acme").map(\.id) == ["bud_f", "bud_t", "bud_u"])
            #expect(try catalog.budgets(tenant: nil).map(\.id) == ["bud_f", "bud_t", "bud_u", "bud_g"])
            #expect(try catalog.budgets(tenant: "initech").isEmpty)

            var changed = feature
            changed.limitNanos = 7 * C.cent
            changed.warnRatio = 0.5
            changed.enforce = false
            changed.updatedAt = 5_000
            changed.level = .user  // only limit, warn ratio, enforcement and update time change
            #expect(try catalog.updateBudget(changed, actor: "key_admin"))
            let stored = try #require(try catalog.budget(id: "bud_f"))
            #expect(stored.limitNanos == 7 * C.cent && stored.warnRatio == 0.5 && !stored.enforce && stored.updatedAt == 5_000)
            #expect(stored.level == .feature && stored.createdAt == feature.createdAt)
            #expect(try !catalog.updateBudget(C.budget("bud_none"), actor: "key_admin"))
            #expect(try catalog.deleteBudget(id: "bud_u", actor: "key_admin", at: 6_000))
            #expect(try !catalog.deleteBudget(id: "bud_u", actor: "key_admin", at: 6_000))
            #expect(try catalog.budget(id: "bud_u") == nil)
            #expect(try catalog.tenantsWithConfiguration() == ["acme", "globex"])

            #expect(try C.auditTrail(catalog) == [
                "budget create bud_u", "budget create bud_t", "budget create bud_f", "budget create bud_g",
                "budget update bud_f", "budget delete bud_u",
            ])
            let delete = try #require(try catalog.auditEntries(AuditFilter(action: "delete", limit: 1)).first)
            #expect(delete.tenant == "acme" && delete.at == 6_000 && delete.before != nil && delete.after == nil)
        }
    }

    @Test("reservations: active holds count against their budget until released or expired; a refusal stores nothing",
          arguments: CatalogContract.factories)
    func reservations(_ factory: CatalogFactory) async throws {
        typealias C = CatalogContract
        try await C.with(factory) { catalog in
            let tenantBudget = C.budget("bud_t", cents: 100)
            let chat = C.budget("bud_f", level: .feature, subject: "chat", cents: 50)
            let ann = C.budget("bud_u", level: .user, subject: "ann", cents: 1_000)
            for b in [tenantBudget, chat, ann] { try catalog.insertBudget(b, actor: "key_admin") }
            func reserve(_ r: Reservation, _ budgets: [Budget], spent: Int64 = 0, now: Int64 = 1_000) throws
                -> Result<[ReservationCheck], ReservationDenied> {
                try catalog.write { try ReservationHolds.reserve(r, budgets: budgets.map { ($0, spent) }, now: now, in: $0) }
            }

            let first = try reserve(C.reservation("res_1", cents: 30, feature: "chat", user: "ann"), [tenantBudget, chat, ann]).get()
            #expect(first.map(\.budgetID) == ["bud_t", "bud_f", "bud_u"])
            #expect(try catalog.reservation(id: "res_1")?.budgetIDs == ["bud_t", "bud_f", "bud_u"])
            #expect(try catalog.reservedNanos(for: tenantBudget, now: 1_000) == 30 * C.cent)
            #expect(try catalog.reservedNanos(for: chat, now: 1_000) == 30 * C.cent)
            #expect(try catalog.reservedNanos(for: ann, now: 1_000) == 30 * C.cent)
            // Another feature and user hold against the tenant only.
            _ = try reserve(C.reservation("res_2", cents: 20, feature: "search", user: "bob"), [tenantBudget]).get()
            #expect(try catalog.reservedNanos(for: tenantBudget, now: 1_000) == 50 * C.cent)
            #expect(try catalog.reservedNanos(for: chat, now: 1_000) == 30 * C.cent)

            // 30 held + 10 spent + 11 asked > 50: refused, nothing stored.
            guard case let .failure(denied) = try reserve(C.reservation("res_3", cents: 11, feature: "chat"), [tenantBudget, chat],
                                                          spent: 10 * C.cent) else {
                Issue.record("a reservation over the feature budget was accepted")
                return
            }
            #expect(denied.checks.map(\.budgetID) == ["bud_f"])
            #expect(try catalog.reservation(id: "res_3") == nil)
            #expect(try catalog.reservedNanos(for: chat, now: 1_000) == 30 * C.cent)

            // Released and expired holds hold nothing; releasing twice is refused.
            #expect(try catalog.write { try ReservationHolds.release(reservation: "res_1", .settle(actualNanos: 7), now: 2_000, in: $0) }?
                .storedState == .settled)
            #expect(try catalog.reservation(id: "res_1")?.actualNanos == 7)
            #expect(try catalog.reservedNanos(for: chat, now: 2_000) == 0)
            #expect(throws: AnalyticsError.self) {
                try catalog.write { try ReservationHolds.release(reservation: "res_1", .cancel, now: 3_000, in: $0) }
            }
            #expect(try catalog.write { try ReservationHolds.release(reservation: "res_none", .cancel, now: 3_000, in: $0) } == nil)
            #expect(try catalog.reservedNanos(for: tenantBudget, now: 1_000 + 60_000) == 0)
            #expect(try catalog.reservation(id: "res_none") == nil)

            // A purge deletes what was released or expired before the cutoff.
            #expect(try catalog.purgeReservations(before: 1_000 + 60_000 + 1) == 2)
            #expect(try catalog.reservation(id: "res_2") == nil)
        }
    }
}
