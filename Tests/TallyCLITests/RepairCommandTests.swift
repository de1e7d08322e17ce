import Foundation
import Testing
import TallyTestSupport
@testable import TallyStore

/// `tally repair` as a user runs it. (Store.repair itself: TallyStoreTests/RepairTests.)
@Suite struct RepairCommandTests {
    @Test("tally repair as a user runs it: the open names it, it rebuilds, tally query answers the same totals")
    func repairCommand() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let records = RandomRecords(seed: 9, options: .init(tenants: 2)).records(2_000)
        let store = try Store(path: dir.path, options: DamageFixture.options())
        _ = try store.append(RecordBatch(records[..<1_200]))
        try store.flush()
        _ = try store.append(RecordBatch(records[1_200...]))
        store.abandon()
        let args = ["query", "usage", "--data", dir.path, "--tenant", "*", "--format", "json"]
        let before = try MissingPartsCommandTests.tally(args)
        #expect(before.status == 0, "\(before.err)")
        #expect(before.out.contains("\"count\": 2000"), "\(before.out)")
        for offset in [9, 30, 60] {
            try DamageFixture.damageManifest(dir.path, at: offset)
            let refused = try MissingPartsCommandTests.tally(args)
            #expect(refused.status != 0)
            #expect(refused.err.contains("tally repair --data"), "\(refused.err)")
            // A relative --data, as a person types it.
            let repair = try MissingPartsCommandTests.tally(["repair", "--data", "."], in: dir.path)
            #expect(repair.status == 0, "\(repair.err)")
            #expect(repair.out.contains("repaired: 2 parts (1200 rows) kept, 800 WAL records replay"), "\(repair.out)")
            let after = try MissingPartsCommandTests.tally(args)
            #expect(after.status == 0, "\(after.err)")
            #expect(after.out.contains("\"count\": 2000"), "\(after.out)")
        }
    }
}
