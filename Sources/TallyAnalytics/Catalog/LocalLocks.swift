import Synchronization

/// Named locks within one process: the `DeploymentLock` of a single-node catalog (SQLite), and the in-process half of
/// a shared one (PostgreSQL). A caller takes all its names at once or waits, so two callers never deadlock.
public final class LocalLocks: Sendable {
    private struct Waiter {
        var names: [String]
        var continuation: CheckedContinuation<Void, Never>
    }

    private struct State {
        var held: Set<String> = []
        var waiters: [Waiter] = []
    }

    private let state = Mutex(State())

    public init() {}

    /// Runs `body` holding `names`, then releases them (also when `body` throws).
    public func withExclusiveLocks<T: Sendable>(_ names: [String], _ body: @Sendable () async throws -> T) async throws -> T {
        let names = Array(Set(names)).sorted()
        await acquire(names)
        do {
            let value = try await body()
            release(names)
            return value
        } catch {
            release(names)
            throw error
        }
    }

    private func acquire(_ names: [String]) async {
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            let ready = state.withLock { s -> Bool in
                if s.held.isDisjoint(with: names) {
                    s.held.formUnion(names)
                    return true
                }
                s.waiters.append(Waiter(names: names, continuation: c))
                return false
            }
            if ready { c.resume() }
        }
    }

    private func release(_ names: [String]) {
        let woken = state.withLock { s -> [CheckedContinuation<Void, Never>] in
            s.held.subtract(names)
            var woken: [CheckedContinuation<Void, Never>] = []
            var waiting: [Waiter] = []
            // First come, first served among the waiters whose names are all free.
            for w in s.waiters {
                if s.held.isDisjoint(with: w.names) {
                    s.held.formUnion(w.names)
                    woken.append(w.continuation)
                } else {
                    waiting.append(w)
                }
            }
            s.waiters = waiting
            return woken
        }
        for c in woken { c.resume() }
    }
}

/// Leases within one process: the leases of a single-node catalog (SQLite), where every job runs on the one node and
/// a lease only has to keep a restarted pass from overlapping the last one.
public final class LocalLeases: Sendable {
    private let leases = Mutex([String: (owner: String, expiresAt: Int64)]())

    public init() {}

    /// `Catalog.acquireLease`.
    public func acquire(_ name: String, owner: String, now: Int64, ttlMillis: Int64) -> Bool {
        leases.withLock { l in
            if let held = l[name], held.owner != owner, held.expiresAt > now { return false }
            l[name] = (owner, now + ttlMillis)
            return true
        }
    }

    /// `Catalog.releaseLease`.
    public func release(_ name: String, owner: String) {
        leases.withLock { l in
            if l[name]?.owner == owner { l[name] = nil }
        }
    }
}
