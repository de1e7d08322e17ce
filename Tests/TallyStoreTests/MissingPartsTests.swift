import Foundation
import Testing
import TallyTestSupport
@testable import TallyQuery
@testable import TallyStore

/// Damaged parts are never skipped silently: every later answer that needs them says what is missing, across
/// restarts. (The CLI's side, `--allow-partial` and `tally verify`: TallyCLITests/MissingPartsCommandTests.)
@Suite struct MissingPartsTests {
    @Test("a part that fails mid-query makes that query fail, and every later answer reports it missing, after a restart too")
    func failedReadIsRecordedAndReported() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let (records, part) = try DamageFixture.twoTenantStore(dir.path)
        // Damage tenant-1's cost block of granule 0, which the open does not read.
        let ref = part.meta.granules[0].blocks[PartColumn.cost.rawValue]
        try DamageFixture.flip(part.path, at: ref.offset + BlockHeader.size + 2)
        let query = try Query(tenants: .one("tenant-1"), useRollups: false)
        do {
            let store = try Store(path: dir.path, options: DamageFixture.options())
            #expect(throws: QueryError.self) { try store.query(query) }
            // The part is quarantined now: the next answer lacks its rows and says so.
            let again = try store.query(query)
            #expect(!again.complete)
            #expect(again.missing.map(\.id) == [part.id])
            #expect(again.missing.first?.tenant == "tenant-1" && again.missing.first?.rows == part.rows)
            // Another tenant's answer is complete: its rows are all there.
            let other = try store.query(try Query(tenants: .one("tenant-0"), useRollups: false))
            #expect(other.complete)
            #expect(other.count == [Int64(records.filter { $0.tenantID == "tenant-0" }.count)])
            try store.close()
        }
        let reopened = try Store(path: dir.path, options: DamageFixture.options())
        defer { try? reopened.close() }
        let missing = try #require(reopened.missingParts.first)
        #expect(missing.id == part.id && missing.tenant == "tenant-1")
        #expect(missing.minTime == part.minTime && missing.maxTime == part.maxTime)
        #expect(!(try reopened.query(query)).complete)
        // A window outside the part's hours is complete.
        let before = try reopened.query(try Query(tenants: .one("tenant-1"), to: part.minTime, useRollups: false))
        #expect(before.complete)
    }
}
