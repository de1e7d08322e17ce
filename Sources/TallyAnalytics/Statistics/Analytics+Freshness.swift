import TallyQuery
import TallyStore
import TallyText

/// How recent the data is: the newest `created_at` stored for the tenants asked about.
public struct Freshness: Sendable, Equatable {
    /// Newest record time, ms UTC; nil when there is no record.
    public var newestRecord: Int64?
    /// Seconds between the newest record and the answer; nil when there is no record.
    public var lagSeconds: Int64?
}

extension Analytics {
    /// The newest record time of `tenants` in `snapshot`, from part metadata and head bounds (no row is read).
    static func freshness(of tenants: Query.Tenants, in snapshot: StoreSnapshot, now: Int64) -> Freshness {
        var newest: Int64?
        for p in snapshot.parts where tenants.contains(p.meta.tenant) {
            newest = max(newest ?? .min, p.meta.maxTime)
        }
        for h in snapshot.heads where h.rows > 0 && tenants.contains(h.tenant) {
            newest = max(newest ?? .min, h.maxTime)
        }
        return Freshness(newestRecord: newest, lagSeconds: newest.map { max(0, now - $0) / 1000 })
    }
}

extension Analytics {
    /// The newest record time of one tenant (or of all, when nil), ms UTC; nil when there is none.
    public func newestRecord(tenant: String?) -> Int64? {
        Self.freshness(of: tenant.map { .one($0) } ?? .all, in: store.snapshot(), now: now).newestRecord
    }

    /// The tenant with the most records, if any (for demos and smoke tests).
    public func largestTenant() throws -> String? {
        var run = QueryRun(snapshot: store.snapshot(), engine: engine, useRollups: options.useRollups)
        let result = try run.run(try Self.query(tenants: .all, from: nil, to: nil, groupBy: [.tenant], order: .count, limit: 1,
                                                useRollups: options.useRollups))
        return result.rowCount > 0 ? result.keyColumns[0][0] : nil
    }
}
