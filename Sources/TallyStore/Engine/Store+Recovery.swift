#if canImport(Glibc)
import Glibc
#endif

extension Store {
    /// What opening a directory found: the manifest and parts to serve, the parts that are missing, the head and
    /// dedup sets replayed from the WAL, the log to append to, and what was done, for `openReport`.
    struct Recovered {
        var manifest: Manifest
        var readers: [PartReader]
        var missing: [MissingPart]
        var head: Head
        var dedup: Deduplicator
        var wal: WriteAheadLog?
        var report: [String]
        var unrecordedLosses: [WALLoss]
    }

    /// Rebuilds the MANIFEST of the store in `path` when it is missing while part files exist; returns what was done.
    static func rebuildMissingManifest(path: String, readOnly: Bool) throws -> [String] {
        // No MANIFEST while part files exist: a lost manifest (a read-write open writes an empty one before any part;
        // a store from before that, a first seal that did not finish). Without one the
        // open would read no part (and remove them as unfinished), so the manifest is rebuilt first, proving
        // before setting anything aside (a read-only open cannot change anything: it refuses).
        var repairLines: [String] = []
        let unlisted = FileIO.exists(path + "/MANIFEST") ? 0 : FileIO.list(path + "/parts").filter { $0.hasSuffix(".part") }.count
        if unlisted > 0 {
            if readOnly {
                throw StoreError.damagedManifest(path: path + "/MANIFEST", reason: "it is missing while parts/ holds \(unlisted) part files")
            }
            repairLines = ["MANIFEST missing with \(unlisted) part files: rebuilt"] + (try Store.repair(path: path)).lines
        }
        return repairLines
    }

    /// `recover` for a read-only open, which races the store's writer (a server) without its lock. Between its read of
    /// the manifest and of the files it names, a seal may move the head's rows into parts and remove the WAL segments
    /// that held them (an open that read the old manifest would then see those rows in neither), and a merge may
    /// replace parts and remove their files (they stay for `replacedPartGraceSeconds`; an open can be slower). So an
    /// open is taken only when the manifest is the same after it as before it (its bytes: every change writes a new
    /// generation); else it starts over with the new one.
    /// A writer that changes the manifest during every one of 16 opens in a row makes the open fail: never an answer
    /// from a view that mixes two versions of the store.
    static func recoverReadOnly(path: String, options: StoreOptions, report: [String]) throws -> Recovered {
        // The bytes, not a second and third decode of the manifest on every start of a read-only command.
        func manifestBytes() -> [UInt8]? { try? FileIO.readAll(path + "/MANIFEST") }
        for _ in 0..<16 {
            let before = manifestBytes()
            do {
                let recovered = try recover(path: path, options: options, report: report)
                if manifestBytes() == before { return recovered }
            } catch let e as StoreError {
                // A file the old manifest named is gone: the manifest has changed, start over.
                guard case let .io(_, _, code) = e, code == ENOENT, manifestBytes() != before else { throw e }
            }
        }
        throw StoreError.invalidArgument("the store in \(path) changed during each of 16 read-only opens in a row (a writer sealing or merging); try again")
    }

    /// Reads the manifest, opens the listed parts (quarantining the ones that fail, or skipping them read-only),
    /// removes unlisted part files and replays the WAL into a fresh head.
    static func recover(path: String, options: StoreOptions, report repairLines: [String]) throws -> Recovered {
        let readOnly = options.readOnly
        var report: [String] = repairLines
        var manifest = Manifest()
        let manifestPath = path + "/MANIFEST"
        if FileIO.exists(manifestPath) {
            do {
                manifest = try Manifest.decode(try FileIO.readAll(manifestPath), path: manifestPath)
            } catch let e as StoreError {
                switch e {
                case .corrupt: throw StoreError.damagedManifest(path: manifestPath, reason: e.description)
                default: throw e
                }
            }
        }
        if readOnly { options.afterManifestRead?() }
        // A read-only open does not open the parts: one listing of parts/ tells which listed files are not there.
        let present = readOnly ? Set(FileIO.list(path + "/parts")) : []
        var missing = QuarantineRecord.load(quarantineDirectory: path + "/quarantine")

        // Open listed parts and load their recent request ids; quarantine the ones that fail.
        var readers: [PartReader] = []
        var quarantined: [PartReader.ID] = []
        var newest: [String: Int64] = [:]
        for entry in manifest.parts { newest[entry.tenant] = max(newest[entry.tenant] ?? .min, entry.maxTime) }
        let dedup = Deduplicator(window: options.dedupWindowMillis, recentWindow: options.recentIDWindowMillis)
        for entry in manifest.parts {
            let p = path + "/parts/" + PartFormat.fileName(entry.id)
            do {
                // A part that fails is opened once more before it is given up: a bit flipped on the way is not damage.
                // A read-only open checks that the part's file is there; the file is mapped, its size checked against
                // the manifest and its footer read and checked when a reader first needs it (`PartReader.load()`): a
                // query of one tenant does not open every part. A read-write open checks every footer now and loads
                // the recent request ids.
                let openPart: () throws -> PartReader = {
                    if readOnly {
                        guard present.contains(PartFormat.fileName(entry.id)) else {
                            throw StoreError.io(path: p, operation: "open", errno: ENOENT)
                        }
                        return PartReader(path: p, listed: entry)
                    }
                    let reader = try PartReader(path: p)
                    try dedup.load(reader, newest: newest[entry.tenant]!)
                    // The footer is parsed and the window's ids are held: the pages read for them (most of the file,
                    // by the kernel's fault-around) need not stay in the server's resident memory.
                    reader.releasePages()
                    return reader
                }
                readers.append(try (try? openPart()) ?? openPart())
            } catch let e as StoreError {
                missing.append(MissingPart(id: entry.id, tenant: entry.tenant, rows: entry.rows, minTime: entry.minTime,
                                           maxTime: entry.maxTime, reason: e.description))
                if readOnly {
                    report.append("skipped damaged part \(p): \(e)")
                    continue
                }
                report.append("quarantined \(p): \(e)")
                // The record goes first: a part in quarantine/ is never without what it held (if the record cannot
                // be written, the next open still describes the part from its footer or as unknown).
                try? QuarantineRecord.write(entry, reason: e.description, quarantineDirectory: path + "/quarantine")
                try? FileIO.rename(p, to: path + "/quarantine/" + PartFormat.fileName(entry.id))
                quarantined.append(entry.id)
            }
        }
        if !quarantined.isEmpty {
            manifest.parts.removeAll { quarantined.contains($0.id) }
            manifest.generation += 1
            try FileIO.writeAtomically(manifest.encode(), to: manifestPath, directory: path)
        }
        // Files not in the manifest are leftovers of a seal or merge that did not finish, or the files of parts a merge
        // replaced, kept for read-only processes until the writer stopped (`replacedPartGraceSeconds`).
        let live = Set(manifest.parts.map { PartFormat.fileName($0.id) })
        for name in FileIO.list(path + "/parts") where !live.contains(name) && !readOnly {
            try? FileIO.remove(path + "/parts/" + name)
            report.append("removed unlisted part file \(name) (an unfinished seal or merge, or a part a merge replaced)")
        }

        // Replay the WAL into a fresh head: its batches were de-duplicated when they were written.
        let head = Head()
        let quarantineDirectory = path + "/quarantine"
        let recordedBefore = WALLoss.recorded(in: quarantineDirectory)
        let replay = try WriteAheadLog.replay(directory: path + "/wal", from: manifest.walStart, repair: !readOnly,
                                              quarantine: readOnly ? nil : quarantineDirectory, now: TimeSource.systemWallMillis()) { batch in
            if !readOnly {
                for i in 0..<batch.count {
                    let s = dedup.slot(batch.tenantID(at: i))
                    dedup.insert(slot: s, batch.withRequestIDBytes(at: i) { RequestIDSet.key($0) }, createdAt: batch.createdAt[i])
                }
            }
            _ = head.apply(batch, rows: Array(0..<batch.count))
        }
        if let cut = replay.truncated {
            report.append("WAL segment \(cut.segment) \(readOnly ? "read up to" : "cut at") offset \(cut.offset): \(cut.reason)")
        }
        for loss in replay.losses {
            report.append("lost: \(loss)" + (readOnly ? "" : "; recorded in quarantine/\(loss.recordName)"))
        }
        if !replay.kept.isEmpty { report.append("WAL damage kept in quarantine/: " + replay.kept.joined(separator: ", ")) }
        let found = Set(replay.losses.map(\.recordName))
        for (name, loss) in recordedBefore.sorted(by: { $0.key < $1.key }) where !found.contains(name) {
            report.append("lost earlier, still recorded in quarantine/\(name): \(loss)")
        }
        if replay.records > 0 { report.append("replayed \(replay.records) records from the WAL") }
        // One entry per part, and none for a part that is live (a crash between writing its record and taking it out of
        // the manifest, and it read well this time).
        let liveIDs = Set(readers.map(\.id))
        var seen = Set<UInt64>()
        missing = missing.filter { !liveIDs.contains($0.id) && seen.insert($0.id).inserted }.sorted { $0.id < $1.id }
        let wal = readOnly ? nil : try WriteAheadLog(directory: path + "/wal", segment: max(replay.lastSegment, manifest.walStart))
        return Recovered(manifest: manifest, readers: readers, missing: missing, head: head, dedup: dedup, wal: wal,
                         report: report, unrecordedLosses: readOnly ? replay.losses : [])
    }
}
