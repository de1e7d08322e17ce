import Logging
import NIOCore
import NIOPosix
import PostgresNIO
import Synchronization
import TallyAnalytics

/// Leases and deployment locks on the shared server.
///
/// A lease is a row of `job_leases` (name, owner, expiry): one upsert takes it when it is free, expired or already the
/// caller's, so two nodes asking at once get one answer each from the row lock, and a node that dies holding it
/// loses it when it expires. A deployment lock is a session-level advisory lock (`pg_try_advisory_lock`) on one
/// connection this catalog keeps for them: PostgreSQL drops it when the session ends, so a node SIGKILLed while
/// holding one frees it as soon as the server sees the connection close.
extension PostgresCatalog {
    public func acquireLease(_ name: String, owner: String, now: Int64, ttlMillis: Int64) throws -> Bool {
        try session { s in
            try s.run("""
                INSERT INTO job_leases (name, owner, expires_at) VALUES (\(name), \(owner), \(now + ttlMillis))
                ON CONFLICT (name) DO UPDATE SET owner = EXCLUDED.owner, expires_at = EXCLUDED.expires_at
                WHERE job_leases.owner = EXCLUDED.owner OR job_leases.expires_at <= \(now)
                """) == 1
        }
    }

    public func releaseLease(_ name: String, owner: String) throws {
        try session { s in try s.run("DELETE FROM job_leases WHERE name = \(name) AND owner = \(owner)") }
    }

    public func withExclusiveLocks<T: Sendable>(_ names: [String], _ body: @Sendable () async throws -> T) async throws -> T {
        try await lockSession.withExclusiveLocks(names, body)
    }
}

/// The connection holding this node's advisory locks. One holder on this node uses it at a time (the locks are the
/// session's, so two holders in one process would not exclude each other); holders on other nodes wait on the server.
final class PostgresLockSession: Sendable {
    private let connections: PostgresConnections
    /// Prefixes every lock's name: advisory locks are the database's, and each catalog schema is its own deployment.
    private let schema: String
    private let local = LocalLocks()
    private let connection = Mutex<PostgresConnection?>(nil)

    init(connections: PostgresConnections, schema: String) {
        self.connections = connections
        self.schema = schema
    }

    deinit {
        if let c = connection.withLock({ $0 }) { c.close().whenComplete { _ in _ = c } }
    }

    func withExclusiveLocks<T: Sendable>(_ names: [String], _ body: @Sendable () async throws -> T) async throws -> T {
        let names = Array(Set(names.map { schema + "." + $0 })).sorted()
        return try await local.withExclusiveLocks(["session"]) {
            let c = try await self.open()
            var held: [String] = []
            do {
                for name in names {
                    try await self.lock(name, on: c)
                    held.append(name)
                }
            } catch {
                await self.unlock(held, on: c)
                throw error
            }
            do {
                let value = try await body()
                await self.unlock(held, on: c)
                return value
            } catch {
                await self.unlock(held, on: c)
                throw error
            }
        }
    }

    private func open() async throws -> PostgresConnection {
        if let c = connection.withLock({ $0 }), !c.isClosed { return c }
        do {
            let c = try await PostgresConnection.connect(
                on: MultiThreadedEventLoopGroup.singleton.next(), configuration: connections.configuration, id: 0,
                logger: connections.logger)
            connection.withLock { $0 = c }
            return c
        } catch {
            throw PostgresCatalogError.from(error)
        }
    }

    /// Waits for the advisory lock `name`, asking again after a pause that grows from 1 to 20 ms: try-locks rather
    /// than a blocking `pg_advisory_lock`, so a wait holds no thread and can be cancelled.
    private func lock(_ name: String, on c: PostgresConnection) async throws {
        var pause: UInt64 = 1_000_000
        while true {
            var got = false
            do {
                for try await row in try await c.query("SELECT pg_try_advisory_lock(hashtextextended(\(name), 0))", logger: connections.logger) {
                    got = try row.decode(Bool.self)
                }
            } catch {
                throw PostgresCatalogError.from(error)
            }
            if got { return }
            try await Task.sleep(nanoseconds: pause)
            pause = min(pause * 2, 20_000_000)
        }
    }

    /// Releases `names`; when that fails the connection is closed, which releases them on the server.
    private func unlock(_ names: [String], on c: PostgresConnection) async {
        for name in names.reversed() {
            do {
                for try await _ in try await c.query("SELECT pg_advisory_unlock(hashtextextended(\(name), 0))", logger: connections.logger) {}
            } catch {
                connection.withLock { $0 = nil }
                try? await c.close()
                return
            }
        }
    }
}
