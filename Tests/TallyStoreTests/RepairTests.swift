import Foundation
import Testing
import TallyTestSupport
@testable import TallyStore

/// `tally repair`: a damaged MANIFEST is rebuilt from the part files and the WAL, every acknowledged record
/// counted exactly once, nothing deleted.
@Suite struct RepairTests {
    static func options() -> StoreOptions {
        var o = StoreOptions()
        o.background = false
        o.durability = .buffered
        return o
    }

    static func sorted(_ r: [CostRecord]) -> [CostRecord] {
        r.sorted { ($0.tenantID, $0.requestID) < ($1.tenantID, $1.requestID) }
    }

    /// Opening fails with the damaged-manifest error naming `tally repair`; repair rebuilds; the store then holds `expected` exactly.
    static func repairAndCheck(_ dir: String, expected: [CostRecord]) throws -> RepairReport {
        do {
            _ = try Store(path: dir, options: options())
            Issue.record("a store with a damaged MANIFEST opened")
        } catch let e as StoreError {
            guard case .damagedManifest = e else { Issue.record("wrong error: \(e)"); throw e }
            #expect(e.description.contains("tally repair --data \(dir)"), "\(e)")
        }
        let report = try Store.repair(path: dir)
        #expect(report.rebuilt)
        let store = try Store(path: dir, options: options())
        defer { try? store.close() }
        let got = try store.snapshot().records()
        #expect(got.count == expected.count, "\(report.lines)")
        #expect(sorted(got) == sorted(expected), "every acknowledged record exactly once")
        // And again after a seal and a restart: the rebuilt manifest and WAL start stay consistent.
        try store.close()
        let again = try Store(path: dir, options: options())
        defer { try? again.close() }
        #expect(sorted(try again.snapshot().records()) == sorted(expected))
        return report
    }

    @Test("a damaged MANIFEST with records still only in the WAL: repair keeps the parts and replays the WAL")
    func walNotYetSealed() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let records = RandomRecords(seed: 5, options: .init(tenants: 2)).records(3_000)
        let store = try Store(path: dir.path, options: Self.options())
        _ = try store.append(RecordBatch(records[..<1_000]))
        try store.flush()
        _ = try store.append(RecordBatch(records[1_000..<2_000]))
        try store.flush()
        _ = try store.append(RecordBatch(records[2_000...]))
        store.abandon()
        try DamageFixture.damageManifest(dir.path)
        let report = try Self.repairAndCheck(dir.path, expected: records)
        #expect(report.walRecords == 1_000)
        #expect(FileIO.list(dir.path + "/quarantine").contains { $0.hasPrefix("repair-") })
        let setAside = dir.path + "/quarantine/" + FileIO.list(dir.path + "/quarantine").first { $0.hasPrefix("repair-") }!
        #expect(FileIO.exists(setAside + "/MANIFEST.damaged"), "the old manifest is kept")
    }

    @Test("a merge that finished before its inputs were deleted: the inputs are proven redundant and set aside")
    func finishedMergeWithInputsLeft() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let records = RandomRecords(seed: 6, options: .init(tenants: 1)).records(3_000)
        let store = try Store(path: dir.path, options: Self.options())
        _ = try store.append(RecordBatch(records[..<1_000]))
        try store.flush()
        _ = try store.append(RecordBatch(records[1_000..<2_000]))
        try store.flush()
        let inputs = FileIO.list(dir.path + "/parts")
        #expect(inputs.count == 2)
        let saved = try inputs.map { ($0, try FileIO.readAll(dir.path + "/parts/" + $0)) }
        #expect(try store.compact() == 1)
        _ = try store.append(RecordBatch(records[2_000...]))
        store.abandon()
        // The state a crash between publishing the merge and unlinking its inputs leaves.
        for (name, bytes) in saved { try FileIO.writeAtomically(bytes, to: dir.path + "/parts/" + name, directory: dir.path + "/parts") }
        #expect(FileIO.list(dir.path + "/parts").count == 3)
        try DamageFixture.damageManifest(dir.path)
        let report = try Self.repairAndCheck(dir.path, expected: records)
        #expect(report.keptParts == 1, "\(report.lines)")
        #expect(report.lines.filter { $0.contains("every row is in a kept part") }.count == 2, "\(report.lines)")
    }

    /// A seal of three tenants' rows that wrote `written` of its three parts, then crashed before the manifest.
    @Test("a seal that wrote its parts but not the manifest: the orphan parts' rows are in the WAL, counted once", arguments: [2, 3])
    func orphanPartsOfAnInterruptedSeal(written: Int) throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let records = RandomRecords(seed: 7, options: .init(tenants: 3)).records(3_000)
        let store = try Store(path: dir.path, options: Self.options())
        _ = try store.append(RecordBatch(records[..<1_500]))
        try store.flush()
        _ = try store.append(RecordBatch(records[1_500...]))
        // What is on disk before the seal: the manifest and the WAL holding the second batch.
        let manifest = try FileIO.readAll(dir.path + "/MANIFEST")
        let wal = try FileIO.list(dir.path + "/wal").map { ($0, try FileIO.readAll(dir.path + "/wal/" + $0)) }
        let partsBefore = Set(FileIO.list(dir.path + "/parts"))
        try store.flush()
        store.abandon()
        var orphans = Set(FileIO.list(dir.path + "/parts")).subtracting(partsBefore)
        #expect(orphans.count == 3)
        if written < 3, let last = orphans.max() {
            unlink(dir.path + "/parts/" + last)
            orphans.remove(last)
        }
        // Put back the manifest and WAL as they were: the seal's parts are written, nothing else is.
        try FileIO.writeAtomically(manifest, to: dir.path + "/MANIFEST", directory: dir.path)
        for name in FileIO.list(dir.path + "/wal") { unlink(dir.path + "/wal/" + name) }
        for (name, bytes) in wal { try FileIO.writeAtomically(bytes, to: dir.path + "/wal/" + name, directory: dir.path + "/wal") }
        try DamageFixture.damageManifest(dir.path)
        let report = try Self.repairAndCheck(dir.path, expected: records)
        if written == 3 {
            // Every record of the unsealed segment is in the seal's parts: as if the seal had finished.
            #expect(report.walRecords == 0, "\(report.lines)")
            #expect(report.keptParts == 6)
        } else {
            // Two of three: the WAL replays the segment, and the two parts are set aside (their rows are in it).
            #expect(report.walRecords == 1_500, "\(report.lines)")
            #expect(report.lines.filter { $0.contains("every row is in the WAL") }.count == 2, "\(report.lines)")
            let setAside = dir.path + "/quarantine/" + FileIO.list(dir.path + "/quarantine").first { $0.hasPrefix("repair-") }!
            #expect(Set(FileIO.list(setAside)).isSuperset(of: orphans), "nothing is deleted")
        }
    }

    @Test("repair of a sound manifest changes nothing")
    func soundManifestIsLeftAlone() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let records = RandomRecords(seed: 8, options: .init(tenants: 1)).records(500)
        let store = try Store(path: dir.path, options: Self.options())
        _ = try store.append(RecordBatch(records))
        try store.close()
        let before = try FileIO.readAll(dir.path + "/MANIFEST")
        let report = try Store.repair(path: dir.path)
        #expect(!report.rebuilt)
        #expect(try FileIO.readAll(dir.path + "/MANIFEST") == before)
    }
}

extension RepairTests {
    @Test("a missing MANIFEST beside part files: a read-write open rebuilds it (nothing deleted), a read-only open refuses")
    func missingManifestIsRebuiltAtOpen() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let records = RandomRecords(seed: 10, options: .init(tenants: 2)).records(2_000)
        let store = try Store(path: dir.path, options: Self.options())
        _ = try store.append(RecordBatch(records[..<1_000]))
        try store.flush()
        _ = try store.append(RecordBatch(records[1_000...]))
        store.abandon()
        unlink(dir.path + "/MANIFEST")
        var readOnly = Self.options()
        readOnly.readOnly = true
        #expect(throws: StoreError.self) { try Store(path: dir.path, options: readOnly) }
        let reopened = try Store(path: dir.path, options: Self.options())
        defer { try? reopened.close() }
        #expect(reopened.openReport.contains { $0.hasPrefix("MANIFEST missing") }, "\(reopened.openReport)")
        #expect(Self.sorted(try reopened.snapshot().records()) == Self.sorted(records))
    }
}
