import Synchronization
import Testing
import TallyTestSupport
@testable import TallyStore

/// A read-only process (`tally query`, `stats`, `export`) reads the manifest, then opens the listed parts' files as it
/// needs them, while a server may be merging parts of the same store. Neither the open nor the reads that follow may
/// take a merge for damage ("missing parts"), and no row may be counted twice or not at all.
@Suite struct ReplacedPartsTests {
    static func options(grace: Double) -> StoreOptions {
        var o = testOptions(granuleRows: 64)
        o.replacedPartGraceSeconds = grace
        o.smallPartRows = 1_000_000
        return o
    }

    static func readOnly() -> StoreOptions {
        var o = testOptions(granuleRows: 64)
        o.readOnly = true
        return o
    }

    /// `count` records of `tenants` tenants over three days.
    static func records(seed: UInt64, tenants: Int, _ count: Int) -> [CostRecord] {
        let end = RandomRecords.Options.defaultEnd
        return RandomRecords(seed: seed, options: .init(tenants: tenants, window: (end - 3 * 86_400_000)..<end)).records(count)
    }

    /// Writes `records` as one part per 200 records (one tenant, one month: a merge takes them all).
    static func smallParts(_ records: [CostRecord], _ store: Store) throws {
        for start in stride(from: 0, to: records.count, by: 200) {
            _ = try store.append(RecordBatch(records[start..<min(start + 200, records.count)]))
            try store.flush()
        }
    }

    @Test("a read-only store opened before a merge reads every row after it: the replaced files stay for the grace period, then go")
    func replacedFilesOutliveTheMerge() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let records = Self.records(seed: 51, tenants: 1, 1000)
        let writer = try Store(path: dir.path, options: Self.options(grace: 3600))
        try Self.smallParts(records, writer)
        let before = writer.snapshot().parts.count
        #expect(before >= 4)
        let reader = try Store(path: dir.path, options: Self.readOnly())
        defer { try? reader.close() }
        #expect(try writer.compact() >= 1)
        #expect(writer.snapshot().parts.count < before)
        // The reader's parts were replaced and none of its files was opened yet: every one is still there.
        #expect(reader.snapshot().parts.allSatisfy { !$0.isLoaded })
        #expect(reader.snapshot().parts.allSatisfy { FileIO.exists($0.path) })
        let read = try reader.snapshot().records()
        #expect(read.count == records.count && reader.snapshot().missing.isEmpty)
        // Closing the writer removes them (as would the grace period's end, or the next read-write open).
        try writer.close()
        #expect(Set(FileIO.list(dir.path + "/parts")) == Set(writer.snapshot().parts.map { PartFormat.fileName($0.id) }))
    }

    @Test("the replaced files go once the grace period is over, at the next merge or background pass")
    func replacedFilesGoAfterTheGrace() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let records = Self.records(seed: 52, tenants: 1, 600)
        let writer = try Store(path: dir.path, options: Self.options(grace: 0))
        defer { try? writer.close() }
        try Self.smallParts(records, writer)
        #expect(try writer.compactOnce())
        #expect(FileIO.list(dir.path + "/parts").count > writer.snapshot().parts.count)
        writer.removeReplacedParts(all: false)
        #expect(FileIO.list(dir.path + "/parts").count == writer.snapshot().parts.count)
    }

    @Test("a read-only open whose manifest a merge replaced before it looked at the files starts over: no part is missing")
    func anOpenThatAMergeOvertakes() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let records = Self.records(seed: 54, tenants: 1, 1000)
        let writer = try Store(path: dir.path, options: Self.options(grace: 0))
        defer { try? writer.close() }
        try Self.smallParts(records, writer)
        // Right after the open has read the manifest: a merge, and its replaced files removed.
        let merges = Mutex(0)
        var options = Self.readOnly()
        options.afterManifestRead = {
            guard merges.withLock({ n in
                defer { n += 1 }
                return n == 0
            }) else { return }
            _ = try? writer.compactOnce()
            writer.removeReplacedParts(all: true)
        }
        let reader = try Store(path: dir.path, options: options)
        defer { try? reader.close() }
        #expect(merges.withLock { $0 } == 2, "the open read the manifest twice")
        #expect(reader.snapshot().missing.isEmpty && !reader.openReport.contains { $0.contains("skipped") })
        #expect(reader.snapshot().parts.map(\.id) == writer.snapshot().parts.map(\.id))
        #expect(try reader.snapshot().records().count == records.count)
    }

    @Test("a read-only open whose WAL segments a seal removed before it replayed them starts over")
    func anOpenThatASealOvertakes() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let records = Self.records(seed: 55, tenants: 2, 600)
        let writer = try Store(path: dir.path, options: Self.options(grace: 0))
        defer { try? writer.close() }
        _ = try writer.append(RecordBatch(records[0..<300]))
        let seals = Mutex(0)
        var options = Self.readOnly()
        options.afterManifestRead = {
            guard seals.withLock({ n in
                defer { n += 1 }
                return n == 0
            }) else { return }
            // The head goes into parts and its WAL segments go.
            try? writer.flush()
        }
        let reader = try Store(path: dir.path, options: options)
        defer { try? reader.close() }
        #expect(seals.withLock { $0 } >= 1)
        #expect(reader.snapshot().missing.isEmpty)
        #expect(try reader.snapshot().records().count == 300)
    }

    @Test("read-only opens racing merges whose files go at once never report a merged part as missing")
    func readOnlyOpensDuringMerges() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let records = Self.records(seed: 53, tenants: 2, 8000)
        // No grace: a merge's files go at the writer's next merge, so an open that read the manifest before it can
        // find them gone.
        let writer = try Store(path: dir.path, options: Self.options(grace: 0))
        try Self.smallParts(Array(records[0..<400]), writer)
        let done = Atomic<Bool>(false)
        let failure = Mutex<(any Error)?>(nil)
        startThread(name: "test-writer") {
            do {
                for start in stride(from: 400, to: records.count, by: 100) {
                    _ = try writer.append(RecordBatch(records[start..<min(start + 100, records.count)]))
                    try writer.flush()
                    _ = try writer.compactOnce()
                }
            } catch {
                failure.withLock { $0 = error }
            }
            done.store(true, ordering: .releasing)
        }
        var opens = 0, overtaken = 0, rows = 0
        var reported: [String] = []
        while !done.load(ordering: .acquiring) {
            let reader: Store
            do {
                reader = try Store(path: dir.path, options: Self.readOnly())
            } catch let StoreError.invalidArgument(text) where text.contains("changed during each") {
                // A writer faster than 16 opens in a row: refused, as designed (never a mixed view).
                overtaken += 1
                continue
            }
            reported += reader.openReport.filter { $0.contains("skipped") }
            if !reader.snapshot().missing.isEmpty { reported.append("missing: \(reader.snapshot().missing)") }
            // Each open sees at least what the one before saw: a view that took the parts of one manifest and the
            // WAL of the next would have lost the rows a seal moved between them.
            let seen = reader.snapshot().rowCount
            if seen < rows { reported.append("\(seen) rows after \(rows)") }
            rows = max(rows, seen)
            try reader.close()
            opens += 1
        }
        #expect(failure.withLock { $0 } == nil)
        #expect(reported.isEmpty, "\(reported.count) of \(opens) opens: \(reported.prefix(3))")
        #expect(opens > 20, "\(opens) opens, \(overtaken) refused")
        try writer.close()
        let reader = try Store(path: dir.path, options: Self.readOnly())
        defer { try? reader.close() }
        #expect(try reader.snapshot().records().count == records.count)
    }
}
