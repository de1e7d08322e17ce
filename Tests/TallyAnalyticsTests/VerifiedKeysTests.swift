import Foundation
@testable import TallyAnalytics
import TallyStore
import TallyTestSupport
import Testing

@Suite("Verified keys and catalog answers kept in memory")
struct VerifiedKeysTests {
    static let r1 = CatalogRevision(value: 1, coversOtherWriters: false)
    static let r2 = CatalogRevision(value: 2, coversOtherWriters: false)
    static let acme = Principal(keyID: "key_a", tenant: "acme", role: .reader)

    @Test("an entry is used while the catalog's revision is the same and it is younger than the TTL; a stale one is dropped")
    func revisionAndAge() {
        let keys = VerifiedKeys(ttl: 2)
        let digest = VerifiedKeys.Digest("tly_a")
        keys.keep(Self.acme, for: digest, revision: Self.r1, now: 100)
        #expect(keys.principal(for: digest, revision: Self.r1, now: 101.9) == Self.acme)
        #expect(keys.principal(for: VerifiedKeys.Digest("tly_b"), revision: Self.r1, now: 101) == nil)
        // Another revision (a revocation seen): refused, and dropped, so the old revision does not bring it back.
        #expect(keys.principal(for: digest, revision: Self.r2, now: 101) == nil)
        #expect(keys.principal(for: digest, revision: Self.r1, now: 101) == nil)
        #expect(keys.count == 0)
        // Age: at the TTL the catalog is asked again (what a revision cannot see, another node's revocation).
        keys.keep(Self.acme, for: digest, revision: Self.r1, now: 100)
        #expect(keys.principal(for: digest, revision: Self.r1, now: 102) == nil)
        keys.keep(Self.acme, for: digest, revision: Self.r1, now: 100)
        #expect(keys.principal(for: digest, revision: Self.r1, now: 99) == nil)
    }

    @Test("a TTL of 0 keeps nothing; at capacity the stale entries go first, then all")
    func disabledAndBounded() {
        let off = VerifiedKeys(ttl: 0)
        off.keep(Self.acme, for: VerifiedKeys.Digest("tly_a"), revision: Self.r1, now: 1)
        #expect(off.count == 0)
        #expect(off.principal(for: VerifiedKeys.Digest("tly_a"), revision: Self.r1, now: 1) == nil)

        let small = VerifiedKeys(ttl: 10, capacity: 3)
        small.keep(Self.acme, for: VerifiedKeys.Digest("tly_old"), revision: Self.r1, now: 1)
        small.keep(Self.acme, for: VerifiedKeys.Digest("tly_a"), revision: Self.r2, now: 1)
        small.keep(Self.acme, for: VerifiedKeys.Digest("tly_b"), revision: Self.r2, now: 1)
        small.keep(Self.acme, for: VerifiedKeys.Digest("tly_c"), revision: Self.r2, now: 2)
        #expect(small.count == 3)
        #expect(small.principal(for: VerifiedKeys.Digest("tly_a"), revision: Self.r2, now: 2) == Self.acme)
        small.keep(Self.acme, for: VerifiedKeys.Digest("tly_d"), revision: Self.r2, now: 2)
        #expect(small.count == 1)
        #expect(small.principal(for: VerifiedKeys.Digest("tly_d"), revision: Self.r2, now: 2) == Self.acme)
    }

    @Test("digests differ for different secrets and agree for equal ones")
    func digests() {
        #expect(VerifiedKeys.Digest("tly_a") == VerifiedKeys.Digest("tly_a"))
        #expect(VerifiedKeys.Digest("tly_a") != VerifiedKeys.Digest("tly_b"))
    }

    /// An analytics service over an empty embedded store and its SQLite catalog in `dir`.
    static func withAnalytics(_ body: (Analytics, SQLiteCatalog, String) async throws -> Void) async throws {
        try await withTemporaryDirectory(prefix: "tally-keys") { dir in
            var o = StoreOptions()
            o.background = false
            o.durability = .buffered
            let catalog = try SQLiteCatalog(directory: dir + "/store")
            let analytics = Analytics(store: try Store(path: dir + "/store", options: o), catalog: catalog)
            try await body(analytics, catalog, dir + "/store")
            try analytics.close()
        }
    }

    @Test("a key is kept once verified and refused at once after its revocation, through this catalog or by another process")
    func revokeAfterUse() async throws {
        try await Self.withAnalytics { analytics, catalog, dir in
            let reader = try catalog.createKey(tenant: "acme", role: .reader)
            let writer = try catalog.createKey(tenant: "acme", role: .writer)
            #expect(try await analytics.authenticate(secret: reader.secret) == reader.key.principal)
            #expect(try await analytics.authenticate(secret: reader.secret) == reader.key.principal)
            #expect(analytics.verifiedKeys.count == 1)

            try catalog.revokeKey(id: reader.key.id)
            #expect(try await analytics.authenticate(secret: reader.secret) == nil)

            #expect(try await analytics.authenticate(secret: writer.secret) == writer.key.principal)
            // `tally keys revoke` in another process: another connection to the same file.
            let other = try SQLiteCatalog(directory: dir)
            try other.revokeKey(id: writer.key.id)
            #expect(try await analytics.authenticate(secret: writer.secret) == nil)

            // Refused secrets are never kept: guesses cannot fill the cache.
            #expect(try await analytics.authenticate(secret: "tly_guess") == nil)
            #expect(try await analytics.authenticate(secret: reader.secret) == nil)
            #expect(analytics.verifiedKeys.count == 0)
            // A key made by another process works at once.
            let late = try other.createKey(tenant: "acme", role: .reader)
            #expect(try await analytics.authenticate(secret: late.secret) == late.key.principal)
        }
    }

    @Test("the SQLite catalog's revision stays put while nothing commits and moves with any process's commit")
    func sqliteRevision() async throws {
        try await withTemporaryDirectory(prefix: "tally-keys") { dir in
            let catalog = try SQLiteCatalog(directory: dir)
            let r0 = try #require(catalog.revision())
            #expect(r0.coversOtherWriters)
            _ = try catalog.listKeys()
            #expect(catalog.revision() == r0)
            let other = try SQLiteCatalog(directory: dir)
            let r1 = try #require(catalog.revision())
            _ = try other.createKey(tenant: "acme", role: .reader)
            #expect(catalog.revision() != r1)
        }
    }

    @Test("usage signals list a budget made after an earlier answer, by this process or another")
    func signalsSeeCatalogChanges() async throws {
        try await Self.withAnalytics { analytics, catalog, dir in
            let admin = Principal(keyID: "key_admin", tenant: nil, role: .admin)
            let request = UsageRequest(tenantID: "acme", from: 0, to: TimeUnit.dayMillis)
            #expect(try await analytics.usage(request, principal: admin).signals.budgets.isEmpty)
            #expect(try await analytics.usage(request, principal: admin).signals.budgets.isEmpty)
            #expect(analytics.signalLists.count == 1)
            try catalog.insertBudget(CatalogContract.budget("bud_1"), actor: "cli")
            #expect(try await analytics.usage(request, principal: admin).signals.budgets.map(\.budget.id) == ["bud_1"])
            try SQLiteCatalog(directory: dir).insertBudget(CatalogContract.budget("bud_2", period: .daily), actor: "cli")
            #expect(try await analytics.usage(request, principal: admin).signals.budgets.count == 2)
        }
    }
}
