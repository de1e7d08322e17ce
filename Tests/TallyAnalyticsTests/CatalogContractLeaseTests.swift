import Foundation
@testable import TallyAnalytics
import Synchronization
import TallyTestSupport
import Testing

/// Leases and deployment locks, the catalog's part in running a background job on one node of a deployment.
@Suite("Catalog contract: job leases and deployment locks")
struct CatalogContractLeaseTests {
    @Test("a lease held by one owner is refused to another until it expires or is released; the holder renews it",
          arguments: CatalogContract.factories)
    func leaseHeldExpiredReleased(_ factory: CatalogFactory) async throws {
        try await CatalogContract.with(factory) { c in
            #expect(try c.acquireLease("detection", owner: "node-a", now: 1_000, ttlMillis: 10_000))
            #expect(try !c.acquireLease("detection", owner: "node-b", now: 5_000, ttlMillis: 10_000))
            // Another job's lease is its own.
            #expect(try c.acquireLease("export-sweep", owner: "node-b", now: 5_000, ttlMillis: 10_000))
            // The holder renews: it runs to 8_000 + 10_000 now, so node-b is still refused at 12_000.
            #expect(try c.acquireLease("detection", owner: "node-a", now: 8_000, ttlMillis: 10_000))
            #expect(try !c.acquireLease("detection", owner: "node-b", now: 12_000, ttlMillis: 10_000))
            // Expired (at its expiry time exactly): another node takes over, and the old holder is refused.
            #expect(try c.acquireLease("detection", owner: "node-b", now: 18_000, ttlMillis: 10_000))
            #expect(try !c.acquireLease("detection", owner: "node-a", now: 19_000, ttlMillis: 10_000))
            // Releasing another owner's lease does nothing; the owner's release frees it at once.
            try c.releaseLease("detection", owner: "node-a")
            #expect(try !c.acquireLease("detection", owner: "node-a", now: 20_000, ttlMillis: 10_000))
            try c.releaseLease("detection", owner: "node-b")
            #expect(try c.acquireLease("detection", owner: "node-a", now: 20_000, ttlMillis: 10_000))
        }
    }

    @Test("many owners ask for one free lease at once: exactly one gets it", arguments: CatalogContract.factories)
    func leaseRace(_ factory: CatalogFactory) async throws {
        try await withTemporaryDirectory(prefix: "tally-contract") { dir in
            let c = try factory.make(dir)
            let winners = try await withThrowingTaskGroup(of: Bool.self) { group in
                for i in 0..<16 {
                    group.addTask { try c.acquireLease("alerts", owner: "node-\(i)", now: 1_000, ttlMillis: 60_000) }
                }
                return try await group.reduce(0) { $0 + ($1 ? 1 : 0) }
            }
            #expect(winners == 1)
        }
    }

    @Test("a deployment lock: holders of one name never overlap; other names run beside them; released when the body throws",
          arguments: CatalogContract.factories)
    func exclusiveLocks(_ factory: CatalogFactory) async throws {
        try await withTemporaryDirectory(prefix: "tally-contract") { dir in
            let c = try factory.make(dir)
            let counts = LockCounts()
            try await withThrowingTaskGroup(of: Void.self) { group in
                for i in 0..<12 {
                    let names = i.isMultiple(of: 3) ? ["tenant-a", "tenant-b"] : [i.isMultiple(of: 2) ? "tenant-a" : "tenant-b"]
                    group.addTask {
                        try await c.withExclusiveLocks(names) {
                            for n in names {
                                let now = counts.inside.withLock { $0[n, default: 0] += 1; return $0[n]! }
                                counts.most.withLock { $0[n] = max($0[n] ?? 0, now) }
                            }
                            try await Task.sleep(for: .milliseconds(5))
                            counts.inside.withLock { for n in names { $0[n]! -= 1 } }
                        }
                    }
                }
                try await group.waitForAll()
            }
            #expect(counts.most.withLock { $0 } == ["tenant-a": 1, "tenant-b": 1])
            struct Boom: Error {}
            await #expect(throws: Boom.self) { try await c.withExclusiveLocks(["tenant-a"]) { throw Boom() } }
            let again = try await c.withExclusiveLocks(["tenant-a"]) { 42 }
            #expect(again == 42)
        }
    }
}

/// How many holders of each lock name are inside at once, and the most ever seen.
final class LockCounts: Sendable {
    let inside = Mutex([String: Int]())
    let most = Mutex([String: Int]())
}
