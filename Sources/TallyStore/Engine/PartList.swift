/// The parts a store lists at one moment, in id order, with their index by tenant.
///
/// Snapshots share one list until the parts change (a seal, merge, load or quarantine makes a new one), so the index is
/// made once per change, on the first question about one tenant, not per question: a one-tenant question over a store
/// of 5,000 tenants had compared its tenant with every part's, in each of several passes.
package final class PartList: Sendable {
    package let all: [PartReader]
    private let index = OnceReference<TenantIndex>()

    package init(_ parts: [PartReader]) { all = parts }

    /// The parts of `tenant`, in id order. Tenants are compared byte for byte, as `Query.Tenants` does: `String`'s
    /// equality (canonical equivalence) only groups candidates.
    package func parts(of tenant: String) -> [PartReader] {
        let index = self.index.load() ?? self.index.storeIfNil(TenantIndex(all))
        guard let group = index.byTenant[tenant] else { return [] }
        return group.allSatisfy({ UTF8Order.equal($0.tenant, tenant) }) ? group : group.filter { UTF8Order.equal($0.tenant, tenant) }
    }

    private final class TenantIndex: Sendable {
        let byTenant: [String: [PartReader]]
        init(_ parts: [PartReader]) { byTenant = Dictionary(grouping: parts, by: \.tenant) }
    }
}
