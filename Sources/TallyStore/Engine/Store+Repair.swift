#if canImport(Glibc)
import Glibc
#endif

/// What `Store.repair` found, kept and set aside.
public struct RepairReport: Sendable {
    /// Whether a new MANIFEST was written (false when the old one was sound: nothing to repair).
    public var rebuilt = false
    /// Parts listed in the new manifest.
    public var keptParts = 0
    /// Rows in them.
    public var keptRows = 0
    /// The WAL segment replay starts at in the new manifest.
    public var walStart: UInt64 = 1
    /// Records the WAL replays from `walStart` (not in any kept part).
    public var walRecords = 0
    /// What was done, one line per decision, with the reason.
    public var lines: [String] = []
}

extension Store {
    /// Rebuilds `MANIFEST` of the store in `path` from the part files' own footers and checksums and the WAL,
    /// so that every acknowledged record is counted exactly once; deletes nothing.
    ///
    /// A damaged or missing manifest leaves part files whose status is unknown: live parts, merge inputs whose
    /// merge finished (their rows are in the merge output), merge outputs never published (their rows are in
    /// their inputs) and parts of a seal that did not finish (their rows are still in the WAL). Redundancy is
    /// proven by request ids, never guessed from names: parts are taken highest level and newest first, and a
    /// part whose every row is already in a kept part is redundant. Replay then starts at the first WAL segment
    /// holding a record no kept part holds; a part row the WAL replays from there is redundant too. A part with
    /// only some rows redundant is rewritten with the others (a new part id). Damaged parts go to `quarantine/`
    /// with a record (they are reported missing by every answer); redundant parts and the old manifest go to
    /// `quarantine/repair-<time>/`, where they stay until an operator removes them.
    public static func repair(path: String) throws -> RepairReport {
        var report = RepairReport()
        let partsDir = path + "/parts", walDir = path + "/wal", quarantineDir = path + "/quarantine"
        let manifestPath = path + "/MANIFEST"
        guard FileIO.exists(partsDir) || FileIO.exists(walDir) else { throw StoreError.io(path: path, operation: "repair", errno: ENOENT) }
        try FileIO.makeDirectory(quarantineDir)
        let lockFD = try FileIO.open(path + "/LOCK", O_RDWR | O_CREAT)
        defer { FileIO.close(lockFD) }
        guard Store.lockDirectory(lockFD) else { throw StoreError.locked(path: path) }

        if FileIO.exists(manifestPath), let m = try? Manifest.decode(try FileIO.readAll(manifestPath), path: manifestPath) {
            report.lines.append("MANIFEST is sound (generation \(m.generation), \(m.parts.count) parts, WAL from segment \(m.walStart)); nothing to repair")
            report.keptParts = m.parts.count
            report.keptRows = m.parts.reduce(0) { $0 + $1.rows }
            report.walStart = m.walStart
            return report
        }
        let seconds = TimeSource.systemWallMillis() / 1000
        var setAside = quarantineDir + "/repair-\(seconds)"
        var attempt = 1
        while FileIO.exists(setAside) {
            attempt += 1
            setAside = quarantineDir + "/repair-\(seconds)-\(attempt)"
        }
        try FileIO.makeDirectory(setAside)
        func move(_ from: String, _ name: String) throws {
            try FileIO.rename(from, to: setAside + "/" + name)
        }

        // The WAL's request ids per segment, read before anything moves (a failure here changes nothing).
        let segments = WriteAheadLog.segments(in: walDir)
        // The links must not depend on the working directory.
        var absoluteWAL = walDir
        if !segments.isEmpty {
            guard let resolved = realpath(walDir, nil) else { throw StoreError.io(path: walDir, operation: "realpath", errno: errno) }
            absoluteWAL = String(cString: resolved)
            free(resolved)
        }
        var segmentKeys: [(segment: UInt64, keys: [(tenant: String, key: (UInt64, UInt64))])] = []
        let scratch = setAside + "/wal-scan"
        try FileIO.makeDirectory(scratch)
        defer {
            for name in FileIO.list(scratch) { try? FileIO.remove(scratch + "/" + name) }
            try? FileIO.removeDirectory(scratch)
        }
        for seg in segments {
            // One segment at a time (through a link in a scratch directory), read-only, as the open would read it.
            let source = WriteAheadLog.path(absoluteWAL, seg), link = WriteAheadLog.path(scratch, seg)
            guard symlink(source, link) == 0 else { throw StoreError.io(path: link, operation: "symlink", errno: errno) }
            var keys: [(tenant: String, key: (UInt64, UInt64))] = []
            _ = try WriteAheadLog.replay(directory: scratch, from: seg, repair: false) { batch in
                for i in 0..<batch.count {
                    keys.append((batch.tenantID(at: i), batch.withRequestIDBytes(at: i) { RequestIDSet.key($0) }))
                }
            }
            try? FileIO.remove(link)
            segmentKeys.append((seg, keys))
        }
        // Every part file: ids already used anywhere are never reused.
        var maxID: UInt64 = 0
        for dir in [partsDir, quarantineDir] {
            for name in FileIO.list(dir) where name.hasSuffix(".part") {
                if let id = UInt64(name.dropLast(5), radix: 16) { maxID = max(maxID, id) }
            }
        }
        var nextID = maxID + 1

        // 1. Read and verify each part; damaged ones are quarantined with what their footer still says.
        // Rows are read again when needed rather than held: memory follows the request-id sets, not the data.
        var candidates: [PartReader] = []
        for name in FileIO.list(partsDir).sorted() where name.hasSuffix(".part") {
            let p = partsDir + "/" + name
            var reader: PartReader?
            do {
                reader = try PartReader(path: p)
                try reader!.verify()
                candidates.append(reader!)
            } catch {
                if let r = reader {
                    try? QuarantineRecord.write(Store.entry(r), reason: "\(error)", quarantineDirectory: quarantineDir)
                }
                try FileIO.rename(p, to: quarantineDir + "/" + name)
                report.lines.append("quarantined damaged part \(name): \(error)")
            }
        }
        for name in FileIO.list(partsDir) where !name.hasSuffix(".part") {
            try move(partsDir + "/" + name, name)
            report.lines.append("set aside \(name) (not a part file: a temporary file of an unfinished write)")
        }

        // 2. Parts against parts: merge outputs before their inputs, newest first.
        candidates.sort { ($0.level, $0.id) > ($1.level, $1.id) }
        var held: [String: RequestIDSet] = [:]
        var kept: [(reader: PartReader, subset: [Int]?)] = []
        for c in candidates {
            let rows = try c.readAll()
            let fresh = Self.rowsNotIn(held[c.tenant], rows)
            if fresh.count == 0 {
                try move(c.path, PartFormat.fileName(c.id))
                report.lines.append("set aside \(PartFormat.fileName(c.id)) (level \(c.level), \(rows.count) rows): "
                    + "every row is in a kept part (a merge input whose merge finished, or a merge output never published)")
                continue
            }
            var set = held[c.tenant] ?? RequestIDSet(capacity: rows.count)
            for i in fresh { _ = set.insert(rows.withRequestID(i) { RequestIDSet.key($0) }, createdAt: 0) }
            held[c.tenant] = set
            kept.append((c, fresh.count == rows.count ? nil : fresh))
        }

        // 3. Replay starts at the first WAL segment with a record no kept part holds.
        var walStart = (segments.last ?? 0) + 1
        for (seg, keys) in segmentKeys where keys.contains(where: { held[$0.tenant]?.contains($0.key) != true }) {
            walStart = seg
            break
        }
        var replayed: [String: RequestIDSet] = [:]
        for (seg, keys) in segmentKeys where seg >= walStart {
            for k in keys {
                _ = replayed[k.tenant, default: RequestIDSet()].insert(k.key, createdAt: 0)
                report.walRecords += 1
            }
        }
        for (seg, keys) in segmentKeys where seg < walStart {
            report.lines.append("WAL segment \(seg): all \(keys.count) records are in kept parts (sealed); not replayed")
        }

        // 4. Parts against the WAL replayed: a seal that did not finish left parts whose rows the WAL still holds.
        var manifest = Manifest()
        var writtenNew: [PartReader] = []
        for (reader, subset) in kept.sorted(by: { $0.reader.id < $1.reader.id }) {
            let name = PartFormat.fileName(reader.id)
            let all = try reader.readAll()
            let rows = subset.map { all.permuted($0) } ?? all
            let fresh = Self.rowsNotIn(replayed[reader.tenant], rows)
            if fresh.count == 0 {
                try move(reader.path, name)
                report.lines.append("set aside \(name) (level \(reader.level), \(reader.rows) rows): every row is in the WAL "
                    + "replayed from segment \(walStart) (a seal that did not finish)")
                continue
            }
            if fresh.count == reader.rows {
                manifest.parts.append(Store.entry(reader))
                continue
            }
            // Some rows are elsewhere: keep the others in a new part; the original is set aside whole.
            let keep = fresh.count == rows.count ? rows : rows.permuted(fresh)
            let id = nextID
            nextID += 1
            let written = try PartWriter.write(keep, id: id, level: reader.level, directory: partsDir)
            let r = try PartReader(path: written.path)
            writtenNew.append(r)
            manifest.parts.append(Store.entry(r))
            try move(reader.path, name)
            report.lines.append("rewrote \(name) as \(PartFormat.fileName(id)): kept \(keep.count) of its \(reader.rows) rows, "
                + "the others are in other parts or the WAL; the original is set aside")
        }
        manifest.parts.sort { $0.id < $1.id }
        manifest.walStart = walStart
        manifest.nextPartID = nextID
        manifest.generation = 1

        if FileIO.exists(manifestPath) {
            try move(manifestPath, "MANIFEST.damaged")
            report.lines.append("set aside the damaged MANIFEST as \(setAside)/MANIFEST.damaged")
        }
        try FileIO.writeAtomically(manifest.encode(), to: manifestPath, directory: path)
        report.rebuilt = true
        report.keptParts = manifest.parts.count
        report.keptRows = manifest.parts.reduce(0) { $0 + $1.rows }
        report.walStart = walStart
        report.lines.append("wrote MANIFEST: \(manifest.parts.count) parts (\(report.keptRows) rows), WAL replays \(report.walRecords) "
            + "records from segment \(walStart); set-aside files are in \(setAside)")
        return report
    }

    /// Indices of the rows of `rows` whose request id is not in `set`.
    private static func rowsNotIn(_ set: RequestIDSet?, _ rows: PartRows) -> [Int] {
        guard let set else { return Array(0..<rows.count) }
        var out: [Int] = []
        out.reserveCapacity(rows.count)
        for i in 0..<rows.count where !set.contains(rows.withRequestID(i) { RequestIDSet.key($0) }) { out.append(i) }
        return out
    }
}
