/// Leases and locks of the embedded catalog: one node serves a data directory (the store's lock sees to it), so they
/// live in the process (`LocalLeases`, `LocalLocks`), not in `catalog.sqlite`.
extension SQLiteCatalog {
    public func acquireLease(_ name: String, owner: String, now: Int64, ttlMillis: Int64) throws -> Bool {
        leases.acquire(name, owner: owner, now: now, ttlMillis: ttlMillis)
    }

    public func releaseLease(_ name: String, owner: String) throws {
        leases.release(name, owner: owner)
    }

    public func withExclusiveLocks<T: Sendable>(_ names: [String], _ body: @Sendable () async throws -> T) async throws -> T {
        try await locks.withExclusiveLocks(names, body)
    }
}
