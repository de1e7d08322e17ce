import Foundation
import TallyStore
import TallySynthetic

// Late-record ingest (issue 11, item 11): records older than the dedup window against recent ones.
//
// Shared by the package-benchmark suite and by scripts/late-ingest-bench.sh, which compiles this file
// with scripts/late-ingest/main.swift against a release build of TallyStore alone (minutes instead of
// the whole benchmark toolchain).

/// A store of `storedRows` synthetic records over 60 days (200 tenants), sealed and reopened, and
/// stored records again with new request ids (same tenants, same times, in time order): `late`, every
/// 5th record more than a day older than the 7-day dedup window (tens of thousands of tenant-hours; the
/// decoded-id cache holds 256); `recent`, every record more than a day within it.
final class LateIngestRun {
    let storedRows: Int
    let batchRows: Int
    private(set) var late: [RecordBatch] = []
    private(set) var recent: [RecordBatch] = []
    private var next = (late: 0, recent: 0)
    private var store: Store?
    private var directory: TemporaryDirectory?
    private var options = StoreOptions()

    /// Part format of the stored parts: 1 rewrites them as a build before the request-id filter left
    /// them (the old path: every miss of the 256-hour cache decodes request ids), for comparison.
    let partVersion: UInt16

    init(storedRows: Int = 1_000_000, batchRows: Int = 10_000, partVersion: UInt16 = PartFormat.version) {
        self.storedRows = storedRows
        self.batchRows = batchRows
        self.partVersion = partVersion
    }

    /// Builds the store and the batches (outside every measurement).
    func start() throws {
        let dir = try TemporaryDirectory("tally-bench-late")
        directory = dir
        options.durability = .buffered
        options.background = false
        options.sealRows = .max
        options.maxHeadRows = .max
        var store = try Store(path: dir.path, options: options)
        let generator = SyntheticGenerator(.init(rows: storedRows, days: 60))
        try generator.generate(chunkSize: 50_000) { _ = try store.append($0) }
        try store.flush()
        try store.close()
        if partVersion != PartFormat.version { try rewriteParts(dir.path, version: partVersion) }
        store = try Store(path: dir.path, options: options)
        self.store = store
        // Stored records again (same tenants, same times, in time order) with new request ids: the first
        // 8 hex digits replaced, so each stays a canonical version-4 UUID encoded as the stored ones are.
        // Late: every 5th record more than a day before the window; recent: every record more than a day
        // within it (about as many).
        var lateRecords: [CostRecord] = [], recentRecords: [CostRecord] = []
        let lateBefore = generator.options.end - options.dedupWindowMillis - 86_400_000
        let recentFrom = generator.options.end - options.dedupWindowMillis + 86_400_000
        var n = 0
        generator.generate(chunkSize: 50_000) { batch in
            for i in 0..<batch.count {
                let t = batch.createdAt[i]
                guard t >= recentFrom || (t < lateBefore && i % 5 == 0) else { continue }
                var r = batch[i]
                let hex = String(UInt32(truncatingIfNeeded: n &* 2_654_435_761), radix: 16)
                r.requestID = String(repeating: "0", count: 8 - hex.count) + hex + r.requestID.dropFirst(8)
                n += 1
                if t < lateBefore { lateRecords.append(r) } else { recentRecords.append(r) }
            }
        }
        func batches(_ records: [CostRecord]) -> [RecordBatch] {
            stride(from: 0, to: records.count, by: batchRows).map { RecordBatch(records[$0..<min(records.count, $0 + batchRows)]) }
        }
        late = batches(lateRecords)
        recent = batches(recentRecords)
        next = (0, 0)
    }

    /// The next late or recent batch; once they are all stored, starts over with a fresh store
    /// (outside the measurement), so every batch holds new records.
    func nextBatch(late isLate: Bool) throws -> RecordBatch {
        if isLate ? next.late == late.count : next.recent == recent.count {
            finish()
            try start()
        }
        if isLate {
            next.late += 1
            return late[next.late - 1]
        }
        next.recent += 1
        return recent[next.recent - 1]
    }

    /// Appends `batch`, checking every record is stored (they are all new).
    func append(_ batch: RecordBatch) throws {
        let inserted = try store!.append(batch).inserted
        guard inserted == batch.count else { throw FixtureError("stored \(inserted) of \(batch.count) records") }
    }

    /// Rewrites every part of the closed store in format `version` (same id, rows and level), and the manifest.
    private func rewriteParts(_ path: String, version: UInt16) throws {
        let manifestPath = path + "/MANIFEST"
        var manifest = try Manifest.decode(try FileIO.readAll(manifestPath), path: manifestPath)
        for k in manifest.parts.indices {
            let partPath = path + "/parts/" + PartFormat.fileName(manifest.parts[k].id)
            let reader = try PartReader(path: partPath)
            let (bytes, _) = PartWriter.encode(try reader.readAll(), id: reader.id, level: reader.level, version: version)
            try FileIO.writeAtomically(bytes, to: partPath, directory: path + "/parts")
            manifest.parts[k].bytes = bytes.count
        }
        manifest.generation += 1
        try FileIO.writeAtomically(manifest.encode(), to: manifestPath, directory: path)
    }

    func finish() {
        store?.abandon()
        store = nil
        directory?.remove()
        directory = nil
    }
}
