import Testing
@testable import TallyStore
import TallyTestSupport

/// A snapshot finds a tenant's parts through its part list's tenant index: the same parts, in the same (id) order, as
/// a pass over every part, for one tenant, several (repeated, unknown) and all, before and after the parts change.
@Suite struct PartListTests {
    @Test func aTenantsPartsComeFromTheIndexAsAPassWouldFindThem() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let end = RandomRecords.Options.defaultEnd
        let records = RandomRecords(seed: 83, options: .init(tenants: 7, window: (end - 70 * 86_400_000)..<end)).records(6000)
        let store = try Store(path: dir.path, options: testOptions())
        defer { try? store.close() }
        _ = try store.append(RecordBatch(records[0..<3000]))
        try store.flush()
        _ = try store.append(RecordBatch(records[3000...]))
        try store.flush()
        func check(_ snapshot: StoreSnapshot) {
            let tenants = Set(records.map(\.tenantID)).sorted()
            #expect(snapshot.parts.count > tenants.count)
            for t in tenants + ["nobody"] {
                #expect(snapshot.parts(of: t).map(\.id) == snapshot.parts.filter { $0.tenant == t }.map(\.id))
            }
            let some = [tenants[3], "nobody", tenants[0], tenants[3]]
            #expect(snapshot.parts(of: some).map(\.id) == snapshot.parts.filter { some.contains($0.tenant) }.map(\.id))
            #expect(snapshot.parts(of: nil).map(\.id) == snapshot.parts.map(\.id))
        }
        let before = store.snapshot()
        check(before)
        // A merge changes the parts: a snapshot taken after it indexes the new list; the one before keeps its own.
        #expect(try store.compact() > 0)
        let after = store.snapshot()
        #expect(after.parts.map(\.id) != before.parts.map(\.id))
        check(after)
        check(before)
    }
}
