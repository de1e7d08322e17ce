/// A consistent view of the store: the parts and head rows visible at one moment.
///
/// Holding a snapshot keeps its parts' files mapped even if compaction replaces them.
public struct StoreSnapshot: Sendable {
    package let parts: [PartReader]
    package let heads: [HeadView]
    /// The manifest generation this view was taken at.
    public let generation: UInt64
    /// Parts the store cannot read at this moment: answers that cover their tenant and hours are incomplete.
    public let missing: [MissingPart]
    package let store: Store?

    package init(parts: [PartReader], heads: [HeadView], generation: UInt64, missing: [MissingPart] = [], store: Store?) {
        self.parts = parts
        self.heads = heads
        self.generation = generation
        self.missing = missing
        self.store = store
    }

    /// The missing parts that may hold rows of `tenants` (nil: every tenant) with `from <= created_at < to`.
    public func missing(tenants: [String]?, from: Int64 = .min, to: Int64 = .max) -> [MissingPart] {
        guard let tenants else { return missing.filter { $0.covers(tenant: nil, from: from, to: to) } }
        return missing.filter { m in tenants.contains { m.covers(tenant: $0, from: from, to: to) } }
    }

    /// Tenants with any data, sorted.
    public var tenants: [String] {
        Array(Set(parts.map(\.tenant) + heads.map(\.tenant))).sorted()
    }

    /// Rows visible.
    public var rowCount: Int {
        parts.reduce(0) { $0 + $1.rows } + heads.reduce(0) { $0 + $1.rows }
    }

    /// Parts of one tenant.
    package func parts(of tenant: String) -> [PartReader] { parts.filter { $0.tenant == tenant } }

    /// Every record of `tenant` (or of all tenants) with `from <= created_at < to`, in no particular order.
    /// Reads row by row: for exports, tests and checks, not for aggregations.
    public func records(tenant: String? = nil, from: Int64 = .min, to: Int64 = .max) throws -> [CostRecord] {
        var out: [CostRecord] = []
        for p in parts where (tenant == nil || p.tenant == tenant) && p.maxTime >= from && p.minTime < to {
            let rows: PartRows
            do {
                rows = try p.readAll()
            } catch let e as StoreError {
                try? store?.quarantine(partPath: p.path, because: e)
                throw e
            }
            for i in 0..<rows.count where rows.createdAt[i] >= from && rows.createdAt[i] < to { out.append(rows.record(i)) }
        }
        for h in heads where tenant == nil || h.tenant == tenant {
            let rows = h.gather()
            for i in 0..<rows.count where rows.createdAt[i] >= from && rows.createdAt[i] < to { out.append(rows.record(i)) }
        }
        return out
    }
}
