import Testing
import TallyStore
import TallyTestSupport
@testable import TallyQuery

/// A damaged block header reaches no answer: the query layer reads blocks only through `PartReader`,
/// which checks every header byte (part format v2: under the block CRC).
@Suite struct QueryCorruptionTests {
    /// The audit's case: the encoding byte of a `cost_cents` block header changed; a scanning query
    /// raises a storage error instead of summing wrong costs.
    @Test func damagedBlockHeaderIsNeverAnswered() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        // Every 50th record costs $100: cost blocks get patched encodings (a few wide exceptions).
        let records = RandomRecords(seed: 61, options: .init(tenants: 1)).records(2000).enumerated().map { i, r in
            var r = r
            if i % 50 == 0 { r.costNanos = 1_000_000_000_000 }
            return r
        }
        let writing = try Store(path: dir.path, options: queryTestOptions())
        _ = try writing.append(RecordBatch(records))
        try writing.flush()
        let part = try #require(writing.snapshot().parts.first)
        let path = part.path
        try writing.close()
        var bytes = try FileIO.readAll(path)
        // A priced cost block (its residuals patched) relabelled plain frame of reference (the payload CRC still
        // matches): before part format v2 the scan summed a patched block's rows without their exceptions.
        let ref = try #require(part.meta.granules.map { $0.blocks[PartColumn.cost.rawValue] }.first { bytes[$0.offset + 1] == BlockEncoding.priced.rawValue })
        bytes[ref.offset + 1] = BlockEncoding.frameOfReference.rawValue
        try FileIO.writeAtomically(bytes, to: path, directory: dir.path + "/parts")
        let store = try Store(path: dir.path, options: queryTestOptions())
        defer { try? store.close() }
        let tenant = records[0].tenantID
        let times = records.map(\.createdAtMillis)
        // A time cut inside the first hour and no rollups: the cost blocks are scanned.
        let query = try Query(tenants: .one(tenant), from: times.min()! + 1, to: times.max()! + 1, useRollups: false)
        let expected = records.filter { $0.createdAtMillis > times.min()! }.map(\.costNanos).reduce(0, +)
        do {
            let result = try store.query(query)
            #expect(result.cost.reduce(0, +) == expected, "a query summed wrong costs")
            Issue.record("a damaged block header was read")
        } catch {
            guard case .storage(let storeError) = error, case .corrupt(let p, _, let reason) = storeError else {
                Issue.record("unexpected error \(error)")
                return
            }
            #expect(p == path && reason.contains("cost_cents"))
        }
    }
}
