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
    /// The newest record time of `tenants` as `reader` sees it (the embedded store reads no row for it).
    static func freshness(of tenants: Query.Tenants, in reader: any RecordReader, now: Int64) async throws -> Freshness {
        let newest = try await reader.newestRecord(of: tenants)
        return Freshness(newestRecord: newest, lagSeconds: newest.map { max(0, now - $0) / 1000 })
    }
}

extension Analytics {
    /// The newest record time of one tenant (or of all, when nil), ms UTC; nil when there is none.
    public func newestRecord(tenant: String?) async throws -> Int64? {
        try await records.reader().newestRecord(of: tenant.map { .one($0) } ?? .all)
    }

    /// The tenant with the most records, if any (for demos and smoke tests).
    public func largestTenant() async throws -> String? {
        var run = try await QueryRun(records, useRollups: options.useRollups)
        let result = try await run.run(try Self.query(tenants: .all, from: nil, to: nil, groupBy: [.tenant], order: .count, limit: 1,
                                                      useRollups: options.useRollups))
        return result.rowCount > 0 ? result.keyColumns[0][0] : nil
    }
}
