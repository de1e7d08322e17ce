/// A consistent view of the store: the parts and head rows visible at one moment.
///
/// Holding a snapshot keeps its parts' files mapped even if compaction replaces them.
public struct StoreSnapshot: Sendable {
    package var parts: [PartReader] { partList.all }
    private let partList: PartList
    package let heads: [HeadView]
    /// The manifest generation this view was taken at.
    public let generation: UInt64
    /// Parts the store cannot read at this moment: answers that cover their tenant and hours are incomplete.
    public let missing: [MissingPart]
    package let store: Store?

    package init(parts: [PartReader], heads: [HeadView], generation: UInt64, missing: [MissingPart] = [], store: Store?) {
        self.init(partList: PartList(parts), heads: heads, generation: generation, missing: missing, store: store)
    }

    package init(partList: PartList, heads: [HeadView], generation: UInt64, missing: [MissingPart] = [], store: Store?) {
        self.partList = partList
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

    /// Parts of one tenant, in id order (from the part list's tenant index: no pass over every part).
    package func parts(of tenant: String) -> [PartReader] { partList.parts(of: tenant) }

    /// Every part in its tenant's byte order, with the distinct tenants (made once per change of the parts).
    package var partsInTenantOrder: PartList.TenantOrder { partList.tenantOrder }

    /// Parts of `tenants` (nil: every part), in id order.
    package func parts(of tenants: [String]?) -> [PartReader] {
        guard let tenants else { return parts }
        var distinct: [String] = []
        for t in tenants where !distinct.contains(where: { UTF8Order.equal($0, t) }) { distinct.append(t) }
        if distinct.count == 1 { return parts(of: distinct[0]) }
        return distinct.flatMap { parts(of: $0) }.sorted { $0.id < $1.id }
    }

    /// Every record of `tenant` (or of all tenants) with `from <= created_at < to`, in no particular order.
    /// Reads row by row: for exports, tests and checks, not for aggregations.
    public func records(tenant: String? = nil, from: Int64 = .min, to: Int64 = .max) throws -> [CostRecord] {
        var out: [CostRecord] = []
        for p in tenant.map(parts(of:)) ?? parts where p.maxTime >= from && p.minTime < to {
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
