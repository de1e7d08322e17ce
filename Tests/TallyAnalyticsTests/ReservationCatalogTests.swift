import TallyAnalytics
import TallyStore
import TallyTestSupport
import TallyText
import Testing

@Suite("Catalog: policy reservations")
struct ReservationCatalogTests {
    static let cent = Money.nanosPerCent

    static func budget(_ id: String, level: Budget.Level = .tenant, subject: String = "", limitCents: Int64, enforce: Bool = true) -> Budget {
        Budget(id: id, tenant: "acme", level: level, subject: subject, period: .monthly, limitNanos: limitCents * cent, warnRatio: 0.8,
               enforce: enforce, createdAt: 0, updatedAt: 0, createdBy: "k")
    }

    static func reservation(_ id: String, cents: Int64, feature: String? = nil, at: Int64 = 1_000, ttl: Int64 = 60_000) -> Reservation {
        Reservation(id: id, tenant: "acme", userID: nil, featureTag: feature, estimatedNanos: cents * cent, storedState: .active,
                    createdAt: at, expiresAt: at + ttl, releasedAt: nil, actualNanos: nil, budgetIDs: [], createdBy: "k")
    }

    @Test("a reservation holds against matching budgets until released or expired; spend + held + estimate may reach the limit, not pass it")
    func holds() async throws {
        try await withTemporaryDirectory(prefix: "tally-reservations") { dir in
            let catalog = try SQLiteCatalog(directory: dir)
            let tenant = Self.budget("bud_t", limitCents: 100)
            let chat = Self.budget("bud_c", level: .feature, subject: "chat", limitCents: 30)
            try catalog.insertBudget(tenant, actor: "k")
            try catalog.insertBudget(chat, actor: "k")
            let spent = [(budget: tenant, spentNanos: 40 * Self.cent), (budget: chat, spentNanos: 0)]
            let first = try catalog.reserve(Self.reservation("res_1", cents: 30, feature: "chat"), budgets: spent, now: 1_000)
            #expect(try first.get().map(\.budgetID) == ["bud_t", "bud_c"])
            #expect(try catalog.reservation(id: "res_1")?.budgetIDs == ["bud_t", "bud_c"])
            #expect(try catalog.reservedNanos(for: tenant, now: 1_000) == 30 * Self.cent)
            #expect(try catalog.reservedNanos(for: chat, now: 1_000) == 30 * Self.cent)
            // chat is full; another feature only meets the tenant budget, which has exactly 30 left.
            guard case let .failure(denied) = try catalog.reserve(Self.reservation("res_2", cents: 1, feature: "chat"), budgets: spent, now: 1_000) else {
                Issue.record("expected a refusal")
                return
            }
            #expect(denied.checks.map(\.budgetID) == ["bud_c"])
            #expect(denied.checks[0].remainingNanos == 0)
            #expect(try catalog.reservation(id: "res_2") == nil)
            #expect(try catalog.reserve(Self.reservation("res_3", cents: 30), budgets: [spent[0]], now: 1_000).get().count == 1)
            #expect(throws: ReservationDenied.self) {
                try catalog.reserve(Self.reservation("res_4", cents: 1), budgets: [spent[0]], now: 1_000).get()
            }
            // Expired at created + ttl: holds nothing.
            #expect(try catalog.reservedNanos(for: tenant, now: 61_000) == 0)
            #expect(try catalog.reservation(id: "res_1")?.state(at: 60_999) == .active)
            #expect(try catalog.reservation(id: "res_1")?.state(at: 61_000) == .expired)
        }
    }

    @Test("a budget deleted or no longer enforced holds nothing; a lowered limit counts at once")
    func rereadsBudgets() async throws {
        try await withTemporaryDirectory(prefix: "tally-reservations") { dir in
            let catalog = try SQLiteCatalog(directory: dir)
            var tenant = Self.budget("bud_t", limitCents: 100)
            try catalog.insertBudget(tenant, actor: "k")
            let stale = [(budget: tenant, spentNanos: Int64(0))]
            tenant.limitNanos = 10 * Self.cent
            #expect(try catalog.updateBudget(tenant, actor: "k"))
            #expect(throws: ReservationDenied.self) { try catalog.reserve(Self.reservation("res_1", cents: 11), budgets: stale, now: 1_000).get() }
            tenant.enforce = false
            #expect(try catalog.updateBudget(tenant, actor: "k"))
            #expect(try catalog.reserve(Self.reservation("res_2", cents: 11), budgets: stale, now: 1_000).get().isEmpty)
            #expect(try catalog.deleteBudget(id: "bud_t", actor: "k", at: 2))
            #expect(try catalog.reserve(Self.reservation("res_3", cents: 500), budgets: stale, now: 1_000).get().isEmpty)
        }
    }

    @Test("release: settle or cancel an active reservation once; expired and released ones refuse; purge drops old ones only")
    func releaseAndPurge() async throws {
        try await withTemporaryDirectory(prefix: "tally-reservations") { dir in
            let catalog = try SQLiteCatalog(directory: dir)
            for id in ["res_a", "res_b", "res_c", "res_d"] {
                _ = try catalog.reserve(Self.reservation(id, cents: 1), budgets: [], now: 1_000)
            }
            let settled = try #require(try catalog.release(reservation: "res_a", .settle(actualNanos: 7), now: 2_000))
            #expect(settled.storedState == .settled && settled.actualNanos == 7 && settled.releasedAt == 2_000)
            #expect(try catalog.release(reservation: "res_b", .cancel, now: 2_000)?.storedState == .cancelled)
            #expect(throws: AnalyticsError.self) { try catalog.release(reservation: "res_a", .cancel, now: 3_000) }
            #expect(throws: AnalyticsError.self) { try catalog.release(reservation: "res_c", .settle(actualNanos: 1), now: 61_000) }
            #expect(try catalog.release(reservation: "res_none", .settle(actualNanos: 1), now: 3_000) == nil)
            // res_d stays active until 61_000: not purged before then; released ones go once older than the cutoff.
            #expect(try catalog.purgeReservations(before: 2_001) == 2)
            #expect(try catalog.reservation(id: "res_d") != nil)
            #expect(try catalog.reservation(id: "res_c") != nil)
            #expect(try catalog.purgeReservations(before: 61_001) == 2)
            #expect(try catalog.reservation(id: "res_c") == nil)
        }
    }
}

extension Catalog {
    /// The hold rules in one catalog transaction, as the reservation service runs them.
    fileprivate func reserve(_ reservation: Reservation, budgets: [(budget: Budget, spentNanos: Int64)], now: Int64) throws
        -> Result<[ReservationCheck], ReservationDenied> {
        try write { try ReservationHolds.reserve(reservation, budgets: budgets, now: now, in: $0) }
    }

    fileprivate func release(reservation id: String, _ release: ReservationRelease, now: Int64) throws -> Reservation? {
        try write { try ReservationHolds.release(reservation: id, release, now: now, in: $0) }
    }
}
