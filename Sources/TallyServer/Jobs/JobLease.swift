import TallyAnalytics

/// The lease a background job takes before each pass (`Catalog.acquireLease`), so that of several nodes serving one
/// deployment exactly one runs it: the holder renews it with every pass and keeps it; the others skip their passes
/// until it expires (its node died or hung) or is released (its node stopped), and then the first to ask takes over.
///
/// It lasts `ttlMillis`, which must be longer than a pass takes (else a slow pass may overlap the next holder's) and
/// than the nodes' clocks differ. On one node (the SQLite catalog) it always succeeds.
public struct JobLease: Sendable {
    /// The job's lease (`detection`, `webhook-delivery`, `alert-delivery`, `export-sweep`, `reservation-purge`).
    public let name: String
    let analytics: Analytics
    let ttlMillis: Int64

    /// The lease `job` of `analytics`' node, lasting `ttlSeconds`.
    public init(_ job: String, analytics: Analytics, ttlSeconds: Double) {
        name = job
        self.analytics = analytics
        ttlMillis = Int64(ttlSeconds * 1_000)
    }

    /// Takes or renews the lease now: true when this node holds it.
    func take() async throws -> Bool {
        let (catalog, name, owner, now, ttl) = (analytics.catalog, name, analytics.options.nodeID, analytics.now, ttlMillis)
        return try await analytics.blocking { try catalog.acquireLease(name, owner: owner, now: now, ttlMillis: ttl) }
    }

    /// Gives the lease up (at graceful shutdown), so another node takes over at its next pass.
    func release() async {
        let (catalog, name, owner) = (analytics.catalog, name, analytics.options.nodeID)
        _ = try? await analytics.blocking { try catalog.releaseLease(name, owner: owner) }
    }
}
