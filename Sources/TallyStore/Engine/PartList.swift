/// The parts a store lists at one moment, in id order, with their index by tenant.
///
/// Snapshots share one list until the parts change (a seal, merge, load or quarantine makes a new one), so the index is
/// made once per change, on the first question about one tenant, not per question: a one-tenant question over a store
/// of 5,000 tenants had compared its tenant with every part's, in each of several passes.
package final class PartList: Sendable {
    package let all: [PartReader]
    private let index = OnceReference<TenantIndex>()
    private let order = OnceReference<TenantOrder>()

    package init(_ parts: [PartReader]) { all = parts }

    /// The parts of `tenant`, in id order. Tenants are compared byte for byte, as `Query.Tenants` does: `String`'s
    /// equality (canonical equivalence) only groups candidates.
    package func parts(of tenant: String) -> [PartReader] {
        let index = self.index.load() ?? self.index.storeIfNil(TenantIndex(all))
        guard let group = index.byTenant[tenant] else { return [] }
        return group.allSatisfy({ UTF8Order.equal($0.tenant, tenant) }) ? group : group.filter { UTF8Order.equal($0.tenant, tenant) }
    }

    /// The parts in their tenants' byte order, made on first use: an all-tenant question grouped by tenant had sorted
    /// every part's tenant name (5,000 of them: a third of its time).
    package var tenantOrder: TenantOrder { order.load() ?? order.storeIfNil(TenantOrder(all)) }

    /// Parts sorted by tenant (bytes), then id.
    package final class TenantOrder: Sendable {
        /// The parts, sorted.
        package let parts: [PartReader]
        /// The distinct tenants, in byte order.
        package let tenants: [String]
        /// `tenantOf[i]`: the index in `tenants` of `parts[i]`'s tenant.
        package let tenantOf: [Int]

        init(_ all: [PartReader]) {
            let sorted = all.sorted { a, b in
                let c = UTF8Order.compare(a.tenant, b.tenant)
                return c != 0 ? c < 0 : a.id < b.id
            }
            var tenants: [String] = []
            var tenantOf: [Int] = []
            tenantOf.reserveCapacity(sorted.count)
            for p in sorted {
                if tenants.isEmpty || !UTF8Order.equal(tenants[tenants.count - 1], p.tenant) { tenants.append(p.tenant) }
                tenantOf.append(tenants.count - 1)
            }
            (parts, self.tenants, self.tenantOf) = (sorted, tenants, tenantOf)
        }
    }

    private final class TenantIndex: Sendable {
        let byTenant: [String: [PartReader]]
        init(_ parts: [PartReader]) { byTenant = Dictionary(grouping: parts, by: \.tenant) }
    }
}
