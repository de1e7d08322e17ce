import Foundation
@testable import TallyAnalytics
import TallyPostgres
import TallyStore
import TallyText
import Synchronization
import Testing

/// The PostgreSQL catalog's fixture: active when `TALLY_POSTGRES_URL` names a server (`scripts/postgres.sh start`
/// exports it; `make test-cluster` runs these tests). Every catalog it makes lives in a schema of its own, so tests
/// never see each other's rows; use a throwaway database (the schemas are left for the server to be dropped with).
enum PostgresFixture {
    /// The server's URL, when one is set.
    static let url: String? = ProcessInfo.processInfo.environment["TALLY_POSTGRES_URL"].flatMap { $0.isEmpty ? nil : $0 }

    /// The contract's PostgreSQL entry, when a server is set.
    static var factories: [CatalogFactory] {
        guard url != nil else { return [] }
        return [CatalogFactory(name: "PostgresCatalog") { try catalog(schema: freshSchema(), directory: $0) }]
    }

    /// A schema name no other test uses.
    static func freshSchema() -> String {
        "test_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "")
    }

    /// A catalog (one node) on `schema` of the server.
    static func catalog(schema: String, directory: String? = nil, connections: Int = 4) throws -> PostgresCatalog {
        guard let url else { throw PostgresFixtureError.noServer }
        return try PostgresCatalog(url: url, schema: schema, connections: connections, directory: directory)
    }

    enum PostgresFixtureError: Error { case noServer }
}

@Suite("PostgreSQL catalog: several nodes on one server", .enabled(if: PostgresFixture.url != nil, "needs TALLY_POSTGRES_URL"))
struct PostgresCatalogTests {
    static let cent = Money.nanosPerCent

    @Test("two nodes, 16 threads, 400 reservations of 3 cents against one 100-cent budget (half also against a 50-cent feature budget): exactly 33 win, the holds never pass either limit")
    func reservationRaceAcrossNodes() throws {
        let schema = PostgresFixture.freshSchema()
        let nodes = [try PostgresFixture.catalog(schema: schema, connections: 8), try PostgresFixture.catalog(schema: schema, connections: 8)]
        let tenantBudget = CatalogContract.budget("bud_t", cents: 100)
        let chat = CatalogContract.budget("bud_f", level: .feature, subject: "chat", cents: 50)
        try nodes[0].insertBudget(tenantBudget, actor: "key_admin")
        try nodes[1].insertBudget(chat, actor: "key_admin")

        let threads = 16, perThread = 25
        let outcomes = Outcomes()
        let group = DispatchGroup()
        for t in 0..<threads {
            group.enter()
            let thread = Thread {
                defer { group.leave() }
                for i in 0..<perThread {
                    let n = t * perThread + i
                    let node = nodes[n % 2]
                    let withChat = (n / 2).isMultiple(of: 2)
                    let r = CatalogContract.reservation("res_\(n)", cents: 3, feature: withChat ? "chat" : nil)
                    let budgets = withChat ? [tenantBudget, chat] : [tenantBudget]
                    do {
                        let result = try node.write {
                            try ReservationHolds.reserve(r, budgets: budgets.map { ($0, 0) }, now: 1_000, in: $0)
                        }
                        outcomes.record(won: (try? result.get()) != nil, chat: withChat)
                    } catch {
                        outcomes.record(error: error)
                    }
                }
            }
            thread.start()
        }
        group.wait()

        #expect(outcomes.errors.isEmpty, "\(outcomes.errors.prefix(3))")
        #expect(outcomes.wins == 33)
        #expect(outcomes.chatWins <= 16)
        #expect(outcomes.wins + outcomes.losses == threads * perThread)
        for node in nodes {
            #expect(try node.reservedNanos(for: tenantBudget, now: 1_000) <= tenantBudget.limitNanos)
            #expect(try node.reservedNanos(for: chat, now: 1_000) <= chat.limitNanos)
            #expect(try node.reservedNanos(for: tenantBudget, now: 1_000) == Int64(outcomes.wins) * 3 * Self.cent)
            #expect(try node.reservedNanos(for: chat, now: 1_000) == Int64(outcomes.chatWins) * 3 * Self.cent)
        }
    }

    @Test("a release races on two nodes: exactly one settles the reservation, the other is refused")
    func releaseRaceAcrossNodes() throws {
        let schema = PostgresFixture.freshSchema()
        let a = try PostgresFixture.catalog(schema: schema), b = try PostgresFixture.catalog(schema: schema)
        let budget = CatalogContract.budget("bud_t", cents: 1_000)
        try a.insertBudget(budget, actor: "key_admin")
        let ids = (0..<20).map { "res_\($0)" }
        for id in ids {
            _ = try a.write { try ReservationHolds.reserve(CatalogContract.reservation(id, cents: 1), budgets: [(budget, 0)], now: 1_000, in: $0) }
        }
        let outcomes = Outcomes()
        DispatchQueue.concurrentPerform(iterations: ids.count * 2) { n in
            let node = n.isMultiple(of: 2) ? a : b
            do {
                let released = try node.write { try ReservationHolds.release(reservation: ids[n / 2], .settle(actualNanos: Int64(n)), now: 2_000, in: $0) }
                outcomes.record(won: released != nil, chat: false)
            } catch AnalyticsError.invalidTransition {
                outcomes.record(won: false, chat: false)
            } catch {
                outcomes.record(error: error)
            }
        }
        #expect(outcomes.errors.isEmpty, "\(outcomes.errors.prefix(3))")
        #expect(outcomes.wins == ids.count)
        #expect(try a.reservedNanos(for: budget, now: 2_000) == 0)
    }

    @Test("leases and locks across two nodes: a lease one node holds is refused to the other until released; a lock one node holds makes the other wait")
    func leasesAndLocksAcrossNodes() async throws {
        let schema = PostgresFixture.freshSchema()
        let a = try PostgresFixture.catalog(schema: schema), b = try PostgresFixture.catalog(schema: schema)
        #expect(try a.acquireLease("detection", owner: "node-a", now: 1_000, ttlMillis: 60_000))
        #expect(try !b.acquireLease("detection", owner: "node-b", now: 2_000, ttlMillis: 60_000))
        try a.releaseLease("detection", owner: "node-a")
        #expect(try b.acquireLease("detection", owner: "node-b", now: 2_000, ttlMillis: 60_000))

        let order = OrderLog()
        let aHolds = AsyncStream<Void>.makeStream()
        async let first: Void = a.withExclusiveLocks(["records:acme"]) {
            order.entries.withLock { $0.append("a in") }
            aHolds.continuation.yield()
            try await Task.sleep(for: .milliseconds(300))
            order.entries.withLock { $0.append("a out") }
        }
        for await _ in aHolds.stream { break }
        try await b.withExclusiveLocks(["records:acme"]) { order.entries.withLock { $0.append("b in") } }
        try await first
        #expect(order.entries.withLock { $0 } == ["a in", "a out", "b in"])
        // Another name is not held up.
        let other = try await b.withExclusiveLocks(["records:globex"]) { 7 }
        #expect(other == 7)
    }

    @Test("migrations are versioned: a second node finds the schema at the current version; a newer schema is refused")
    func schemaVersions() throws {
        let schema = PostgresFixture.freshSchema()
        let first = try PostgresFixture.catalog(schema: schema)
        let second = try PostgresFixture.catalog(schema: schema)
        #expect(try first.schemaVersion() == 4)
        #expect(try second.schemaVersion() == 4)
        _ = try first.createKey(tenant: nil, role: .admin, now: 1, actor: "cli")
        #expect(try second.listKeys(includeRevoked: true).count == 1)

        try first.execute("INSERT INTO schema_version (version, description, applied_at) VALUES (99, 'from the future', 0)")
        #expect(throws: PostgresCatalogError.self) { _ = try PostgresFixture.catalog(schema: schema) }
    }
}

/// What happened in which order, from several tasks.
final class OrderLog: Sendable {
    let entries = Mutex([String]())
}

/// Outcomes collected from several threads.
final class Outcomes: @unchecked Sendable {
    private let lock = NSLock()
    private(set) var wins = 0
    private(set) var chatWins = 0
    private(set) var losses = 0
    private(set) var errors: [String] = []

    func record(won: Bool, chat: Bool) {
        lock.lock()
        defer { lock.unlock() }
        if won {
            wins += 1
            if chat { chatWins += 1 }
        } else {
            losses += 1
        }
    }

    func record(error: any Error) {
        lock.lock()
        defer { lock.unlock() }
        errors.append("\(error)")
    }
}
