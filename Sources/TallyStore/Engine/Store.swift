#if canImport(Glibc)
import Glibc
#endif
import Synchronization

/// The storage engine: one data directory, one writer, any number of snapshot readers.
///
/// Appends are validated by the caller, de-duplicated, written to the WAL (group commit, fdatasync)
/// and applied to the in-memory head before they are acknowledged. A background thread seals the
/// head into immutable part files and merges small parts.
///
/// `@unchecked Sendable`: mutable state is split by lock. `published` (Mutex) is what readers see;
/// `writer` is touched only under `writerLock`; `maintenance` only under `maintenanceLock`.
public final class Store: @unchecked Sendable {
    public let path: String
    public let options: StoreOptions

    struct Published {
        var parts: [PartReader] = []
        var frozen: [(id: Int, views: [HeadView])] = []
        var active: [String: HeadView] = [:]
        var generation: UInt64 = 0
        var closed = false
        var headRows = 0
        var headStartedAt: Double?
        var compactions = 0
        var quarantined = 0
        var seals = 0
        /// Mirrors `WriteAheadLog.failure` (read by health checks without the writer lock).
        var walFailure: StoreError?
        /// Parts this store cannot read: recorded in `quarantine/` (across restarts) or skipped by a read-only open.
        var missing: [MissingPart] = []
    }

    final class WriterState {
        var head = Head()
        /// Nil when the store is open read-only.
        var wal: WriteAheadLog?
        var dedup: Deduplicator
        /// Set when the store refuses writes for good (opened read-only). A failed WAL write is the log's own
        /// `failure`, which `recoverWALLocked()` clears once the log can be written again.
        var broken: StoreError?
        init(wal: WriteAheadLog?, dedup: Deduplicator) {
            self.wal = wal
            self.dedup = dedup
        }
    }

    final class MaintenanceState {
        var manifest: Manifest
        var pendingFrozen: [(id: Int, views: [HeadView], walSegment: UInt64, epoch: UInt32)] = []
        var nextFreezeID = 1
        init(manifest: Manifest) { self.manifest = manifest }
    }

    final class Request {
        let batch: RecordBatch
        var result: Result<AppendReceipt, StoreError>?
        init(_ batch: RecordBatch) { self.batch = batch }
    }

    let published = Mutex(Published())
    let writer: WriterState
    let writerLock = ConditionLock()
    let maintenance: MaintenanceState
    let maintenanceLock = ConditionLock()
    private let queue = ConditionLock()
    private var pending: [Request] = []
    private var leaderBusy = false
    private let wake = ConditionLock()
    private var maintenanceRunning = false
    private var lockFD: Int32
    /// What opening found and did (WAL cut, WAL damage and what it cost, parts quarantined, stray files removed).
    public let openReport: [String]
    /// WAL damage found at open that has no loss record in `quarantine/` (a read-only open records nothing).
    let unrecordedLosses: [WALLoss]

    var partsDirectory: String { path + "/parts" }
    var walDirectory: String { path + "/wal" }
    var quarantineDirectory: String { path + "/quarantine" }
    var manifestPath: String { path + "/MANIFEST" }

    /// Opens (creating if needed) the store in `path`, replaying the WAL.
    ///
    /// With `options.readOnly` nothing on disk is changed and no lock is taken: the WAL is replayed
    /// up to its first bad frame without cutting it, damaged parts are skipped (and reported) rather
    /// than quarantined, the dedup window is not loaded, and appends fail with `StoreError.readOnly`.
    public init(path: String, options: StoreOptions = StoreOptions()) throws {
        self.path = path
        self.options = options
        let readOnly = options.readOnly
        // No MANIFEST while part files exist: a first seal that did not finish, or a lost manifest. Without one the
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
        if readOnly {
            guard FileIO.exists(path + "/MANIFEST") || FileIO.exists(path + "/wal") else {
                throw StoreError.io(path: path, operation: "open", errno: ENOENT)
            }
            lockFD = -1
        } else {
            try FileIO.makeDirectory(path)
            for dir in ["parts", "wal", "quarantine"] { try FileIO.makeDirectory(path + "/" + dir) }
            lockFD = try FileIO.open(path + "/LOCK", O_RDWR | O_CREAT)
            if !Self.lockDirectory(lockFD) {
                Glibc.close(lockFD)
                throw StoreError.locked(path: path)
            }
        }
        var report: [String] = repairLines
        var manifest = Manifest()
        let manifestPath = path + "/MANIFEST"
        if FileIO.exists(manifestPath) {
            do {
                manifest = try Manifest.decode(try FileIO.readAll(manifestPath), path: manifestPath)
            } catch let e as StoreError {
                if lockFD >= 0 { Glibc.close(lockFD) }
                switch e {
                case .corrupt: throw StoreError.damagedManifest(path: manifestPath, reason: e.description)
                default: throw e
                }
            }
        }
        var missing = QuarantineRecord.load(quarantineDirectory: path + "/quarantine")

        // Open listed parts and load their recent request ids; quarantine the ones that fail.
        var readers: [PartReader] = []
        var quarantined: [PartReader.ID] = []
        var newest: [String: Int64] = [:]
        for entry in manifest.parts { newest[entry.tenant] = max(newest[entry.tenant] ?? .min, entry.maxTime) }
        let dedup = Deduplicator(window: options.dedupWindowMillis)
        for entry in manifest.parts {
            let p = path + "/parts/" + PartFormat.fileName(entry.id)
            do {
                // A part that fails is opened once more before it is given up: a bit flipped on the way is not damage.
                let openPart: () throws -> PartReader = {
                    let reader = try PartReader(path: p)
                    if !readOnly { try dedup.load(reader, newest: newest[entry.tenant]!) }
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
                rename(p, path + "/quarantine/" + PartFormat.fileName(entry.id))
                quarantined.append(entry.id)
            }
        }
        if !quarantined.isEmpty {
            manifest.parts.removeAll { quarantined.contains($0.id) }
            manifest.generation += 1
            try FileIO.writeAtomically(manifest.encode(), to: manifestPath, directory: path)
        }
        // Files not in the manifest are leftovers of a seal or merge that did not finish.
        let live = Set(manifest.parts.map { PartFormat.fileName($0.id) })
        for name in FileIO.list(path + "/parts") where !live.contains(name) && !readOnly {
            unlink(path + "/parts/" + name)
            report.append("removed unfinished part file \(name)")
        }

        // Replay the WAL into a fresh head: its batches were de-duplicated when they were written.
        let head = Head()
        let quarantineDirectory = path + "/quarantine"
        let recordedBefore = WALLoss.recorded(in: quarantineDirectory)
        let replay = try WriteAheadLog.replay(directory: path + "/wal", from: manifest.walStart, repair: !readOnly,
                                              quarantine: readOnly ? nil : quarantineDirectory, now: wallClockMillis()) { batch in
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
        let liveIDs = Set(readers.map(\.meta.id))
        var seen = Set<UInt64>()
        missing = missing.filter { !liveIDs.contains($0.id) && seen.insert($0.id).inserted }.sorted { $0.id < $1.id }
        let wal = readOnly ? nil : try WriteAheadLog(directory: path + "/wal", segment: max(replay.lastSegment, manifest.walStart))
        writer = WriterState(wal: wal, dedup: dedup)
        writer.head = head
        if readOnly { writer.broken = .readOnly(path: path) }
        maintenance = MaintenanceState(manifest: manifest)
        openReport = report
        unrecordedLosses = readOnly ? replay.losses : []
        let views = head.tenants.mapValues { $0.view() }
        let headRows = head.rows
        published.withLock {
            $0.parts = readers.sorted { $0.meta.id < $1.meta.id }
            $0.generation = manifest.generation
            $0.active = views
            $0.headRows = headRows
            $0.headStartedAt = headRows > 0 ? monotonicSeconds() : nil
            $0.missing = missing
        }
        if options.background && !readOnly {
            maintenanceRunning = true
            startThread(name: "tally-maintenance") { [self] in maintenanceLoop() }
        }
    }

    deinit {
        if lockFD >= 0 { Glibc.close(lockFD) }
    }

    /// Takes the directory lock, waiting up to ~0.25 s: a child process this process is spawning holds a copy of
    /// every descriptor (and so the lock of a store closed a moment ago) between its fork and its exec.
    static func lockDirectory(_ fd: Int32) -> Bool {
        for attempt in 0..<26 {
            if flock(fd, LOCK_EX | LOCK_NB) == 0 { return true }
            guard errno == EWOULDBLOCK || errno == EINTR, attempt < 25 else { return false }
            usleep(10_000)
        }
        return false
    }

    // MARK: Appending

    /// Stores the records of `batch` that are not duplicates; returns once they are durable
    /// (or written, in `buffered` mode). Safe to call from many threads: concurrent appends share one WAL sync.
    public func append(_ batch: RecordBatch) throws -> AppendReceipt {
        let request = Request(batch)
        queue.lock()
        pending.append(request)
        while request.result == nil {
            if !leaderBusy {
                leaderBusy = true
                let group = pending
                pending.removeAll()
                queue.unlock()
                writerLock.withLock { commit(group) }
                queue.lock()
                leaderBusy = false
                queue.broadcast()
            } else {
                queue.wait()
            }
        }
        queue.unlock()
        let receipt = try request.result!.get()
        let headRows = published.withLock { $0.headRows }
        if headRows >= options.maxHeadRows || (!options.background && headRows >= options.sealRows) {
            try flush()
        } else if headRows >= options.sealRows {
            wake.withLock { wake.broadcast() }
        }
        return receipt
    }

    /// Group commit: dedup, one WAL write and sync for all requests, then the head.
    private func commit(_ group: [Request]) {
        if published.withLock({ $0.closed }) {
            for r in group { r.result = .failure(.closed) }
            return
        }
        do {
            try writableLocked()
        } catch {
            let e = error as? StoreError ?? .invalidArgument("\(error)")
            for r in group { r.result = .failure(e) }
            return
        }
        // Decide duplicates first, changing nothing, so a failure leaves the dedup state as it was.
        let dedup = writer.dedup
        var selected: [[Int]] = []
        var slots: [[Int]] = []
        var keys: [[(UInt64, UInt64)]] = []
        var inGroup = RequestIDSet()
        var parts: [PartReader]?
        do {
            for request in group {
                let b = request.batch
                var slotOfCode = [Int](repeating: -1, count: b.strings.count)
                var rows: [Int] = [], rowSlots: [Int] = [], rowKeys: [(UInt64, UInt64)] = [], dups: [Int] = []
                rows.reserveCapacity(b.count)
                let batchKeys = b.keys()
                for i in 0..<b.count {
                    let code = Int(b.tenant[i])
                    if slotOfCode[code] < 0 { slotOfCode[code] = dedup.slot(b.strings.values[code]) }
                    let slot = slotOfCode[code]
                    let key = batchKeys[i]
                    let groupKey = (key.0 ^ mix64(UInt64(slot) &+ 1) | 1, key.1)
                    var duplicate = dedup.contains(slot: slot, key) || inGroup.contains(groupKey)
                    if !duplicate && !dedup.isRecent(slot: slot, createdAt: b.createdAt[i]) {
                        if parts == nil { parts = published.withLock { $0.parts } }
                        duplicate = try dedup.storedInParts(slot: slot, key, createdAt: b.createdAt[i], parts: parts!)
                    }
                    if duplicate {
                        dups.append(i)
                        continue
                    }
                    inGroup.insert(groupKey, createdAt: 0)
                    rows.append(i); rowSlots.append(slot); rowKeys.append(key)
                }
                selected.append(rows)
                slots.append(rowSlots)
                keys.append(rowKeys)
                request.result = .success(AppendReceipt(inserted: rows.count, duplicates: dups))
            }
        } catch {
            let e = error as? StoreError ?? .invalidArgument("\(error)")
            for r in group { r.result = .failure(e) }
            return
        }
        var frames = ByteWriter(capacity: 1 << 16)
        for (request, rows) in zip(group, selected) where !rows.isEmpty {
            writer.wal!.encode(request.batch, rows: rows, into: &frames)
        }
        if frames.count > 0 {
            do {
                try writer.wal!.write(frames.bytes)
                if options.durability == .fsync { try writer.wal!.sync() }
                writer.wal!.acknowledge()
            } catch {
                let e = error as? StoreError ?? .invalidArgument("\(error)")
                noteWALStateLocked()
                for r in group { r.result = .failure(e) }
                return
            }
        }
        for (request, k) in zip(group.indices, keys.indices) {
            for j in 0..<keys[k].count {
                dedup.insert(slot: slots[k][j], keys[k][j], createdAt: group[request].batch.createdAt[selected[k][j]])
            }
        }
        var touched = Set<String>()
        for (request, rows) in zip(group, selected) where !rows.isEmpty {
            touched.formUnion(writer.head.apply(request.batch, rows: rows))
        }
        let views = touched.map { writer.head.tenants[$0]!.view() }
        let headRows = writer.head.rows
        published.withLock {
            for v in views { $0.active[v.tenant] = v }
            if $0.headStartedAt == nil && headRows > 0 { $0.headStartedAt = monotonicSeconds() }
            $0.headRows = headRows
        }
    }

    /// Throws unless the store can take writes now. After a failed WAL write or sync it first tries to reopen the
    /// log (`WriteAheadLog.recover()`): once the cause is gone (space freed), writes resume without a restart.
    /// Called with the writer lock held.
    func writableLocked() throws {
        if let broken = writer.broken { throw broken }
        guard let wal = writer.wal, wal.failure != nil else { return }
        defer { noteWALStateLocked() }
        try wal.recover()
    }

    /// Publishes the WAL's failed state for health checks. Called with the writer lock held.
    func noteWALStateLocked() {
        let failure = writer.wal?.failure
        published.withLock { $0.walFailure = failure }
    }

    /// Tries to reopen a failed WAL now (the maintenance thread does this every second); throws if it still fails.
    public func recoverWAL() throws {
        try writerLock.withLock { try writableLocked() }
    }
    /// Parts the store cannot read (quarantined now or by an earlier run, or skipped by a read-only open), by id.
    public var missingParts: [MissingPart] { published.withLock { $0.missing } }

    /// Whether the store accepts appends and reads (false after `close()`).
    public var isOpen: Bool { published.withLock { !$0.closed } }

    // MARK: Reading

    /// A consistent view of all stored data at this moment (parts + head).
    public func snapshot() -> StoreSnapshot {
        published.withLock { p in
            StoreSnapshot(parts: p.parts, heads: p.frozen.flatMap(\.views) + p.active.values.sorted { $0.tenant < $1.tenant },
                          generation: p.generation, missing: p.missing, store: self)
        }
    }

    // MARK: Sealing

    /// Seals the head into durable parts now and trims the WAL they cover.
    public func flush() throws {
        try maintenanceLock.withLock { try sealLocked() }
    }

    private func sealLocked() throws {
        try writerLock.withLock {
            let head = writer.head
            guard head.rows > 0, let wal = writer.wal else { return }
            try writableLocked()
            defer { noteWALStateLocked() }
            let segment = try wal.rotate()
            writer.head = Head()
            let epoch = writer.dedup.freeze()
            let views = head.tenants.values.map { $0.view() }.sorted { $0.tenant < $1.tenant }
            let id = maintenance.nextFreezeID
            maintenance.nextFreezeID += 1
            maintenance.pendingFrozen.append((id, views, segment, epoch))
            published.withLock {
                $0.frozen.append((id, views))
                $0.active = [:]
                $0.headRows = 0
                $0.headStartedAt = nil
            }
        }
        while let frozen = maintenance.pendingFrozen.first {
            var manifest = maintenance.manifest
            var readers: [PartReader] = []
            for view in frozen.views {
                for rows in Self.splitByMonth(view.gather()) {
                    let id = manifest.nextPartID
                    manifest.nextPartID += 1
                    let written = try PartWriter.write(rows, id: id, level: 0, directory: partsDirectory, granuleRows: options.granuleRows)
                    let reader = try PartReader(path: written.path)
                    readers.append(reader)
                    manifest.parts.append(Self.entry(reader))
                }
            }
            manifest.walStart = frozen.walSegment
            try publish(manifest, adding: readers, removing: [], unfreezing: frozen.id)
            maintenance.pendingFrozen.removeFirst()
            published.withLock { $0.seals += 1 }
            WriteAheadLog.removeSegments(in: walDirectory, before: frozen.walSegment)
            writerLock.withLock { writer.dedup.evict(sealed: frozen.epoch) }
        }
    }

    /// Writes `manifest` durably, then swaps the parts readers see in one step.
    func publish(_ manifest: Manifest, adding: [PartReader], removing: Set<UInt64>, unfreezing: Int?) throws {
        var m = manifest
        m.generation += 1
        try FileIO.writeAtomically(m.encode(), to: manifestPath, directory: path)
        maintenance.manifest = m
        published.withLock {
            $0.parts.removeAll { removing.contains($0.meta.id) }
            $0.parts.append(contentsOf: adding)
            $0.parts.sort { $0.meta.id < $1.meta.id }
            if let f = unfreezing { $0.frozen.removeAll { $0.id == f } }
            $0.generation = m.generation
        }
    }

    static func entry(_ r: PartReader) -> Manifest.Entry {
        Manifest.Entry(id: r.meta.id, tenant: r.meta.tenant, level: r.meta.level, rows: r.meta.rows,
                       minTime: r.meta.minTime, maxTime: r.meta.maxTime, bytes: r.fileSize)
    }

    /// A part holds hours of one UTC month at most.
    static func splitByMonth(_ rows: PartRows) -> [PartRows] {
        let months = rows.createdAt.map(monthKey)
        guard let first = months.first, months.contains(where: { $0 != first }) else { return rows.count > 0 ? [rows] : [] }
        var groups: [Int: [Int]] = [:]
        for (i, m) in months.enumerated() { groups[m, default: []].append(i) }
        return groups.keys.sorted().map { rows.permuted(groups[$0]!) }
    }

    static func monthKey(_ millis: Int64) -> Int {
        let (y, m, _) = Timestamp.civilFromDays(Int(TimeUnit.floorDiv(millis, TimeUnit.dayMillis)))
        return y * 12 + m - 1
    }

    // MARK: Compaction

    /// Merges one group of small parts (same tenant and month), if there is one; returns whether it did.
    @discardableResult
    public func compactOnce() throws -> Bool {
        if options.readOnly { return false }
        return try maintenanceLock.withLock {
            let parts = published.withLock { $0.parts }
            var groups: [String: [PartReader]] = [:]
            for p in parts where p.meta.rows < options.smallPartRows {
                groups[p.meta.tenant + "\u{0}" + String(Self.monthKey(p.meta.minTime)), default: []].append(p)
            }
            guard let victims = groups.values.filter({ $0.count >= 2 }).max(by: { $0.count < $1.count }) else { return false }
            var chosen: [PartReader] = []
            var total = 0
            for p in victims.sorted(by: { $0.meta.id < $1.meta.id }) where total + p.meta.rows <= options.maxPartRows {
                chosen.append(p)
                total += p.meta.rows
            }
            guard chosen.count >= 2 else { return false }
            var merged = PartRows(tenant: chosen[0].meta.tenant)
            for p in chosen {
                do {
                    merged.append(contentsOf: try p.readAll())
                } catch let e as StoreError {
                    try quarantineLocked(p, because: e)
                    return true
                }
            }
            merged = Self.dedupe(merged)
            var manifest = maintenance.manifest
            let id = manifest.nextPartID
            manifest.nextPartID += 1
            let level = (chosen.map(\.meta.level).max() ?? 0) + 1
            let written = try PartWriter.write(merged, id: id, level: level, directory: partsDirectory, granuleRows: options.granuleRows)
            let reader = try PartReader(path: written.path)
            let gone = Set(chosen.map(\.meta.id))
            manifest.parts.removeAll { gone.contains($0.id) }
            manifest.parts.append(Self.entry(reader))
            try publish(manifest, adding: [reader], removing: gone, unfreezing: nil)
            // Readers holding the old parts keep their mappings; the files go now.
            for p in chosen { unlink(p.path) }
            published.withLock { $0.compactions += 1 }
            return true
        }
    }

    /// Merges until no group of small parts is left.
    public func compact() throws -> Int {
        var n = 0
        while try compactOnce() { n += 1 }
        return n
    }

    /// Drops rows whose request id appeared earlier in `rows` (the second check of idempotency).
    static func dedupe(_ rows: PartRows) -> PartRows {
        var seen = RequestIDSet(capacity: rows.count)
        var keep: [Int] = []
        keep.reserveCapacity(rows.count)
        for i in 0..<rows.count {
            let k = rows.withRequestID(i) { RequestIDSet.key($0) }
            if !seen.insert(k, createdAt: 0) { continue }
            keep.append(i)
        }
        return keep.count == rows.count ? rows : rows.permuted(keep)
    }

    // MARK: Damage

    /// Moves a damaged part out of the manifest into `quarantine/`, so it is never read again.
    public func quarantine(partPath: String, because error: StoreError) throws {
        try maintenanceLock.withLock {
            guard let p = published.withLock({ $0.parts.first { $0.path == partPath } }) else { return }
            try quarantineLocked(p, because: error)
        }
    }

    private func quarantineLocked(_ p: PartReader, because error: StoreError) throws {
        // Read the file afresh first: if every checksum passes now, the damage was in the reading, not on disk;
        // readers get the fresh mapping and the part stays.
        if let fresh = try? PartReader(path: p.path), (try? fresh.verify()) != nil {
            published.withLock { pub in
                if let i = pub.parts.firstIndex(where: { $0.meta.id == p.meta.id }) { pub.parts[i] = fresh }
            }
            return
        }
        let entry = maintenance.manifest.parts.first { $0.id == p.meta.id } ?? Self.entry(p)
        let lost = MissingPart(id: entry.id, tenant: entry.tenant, rows: entry.rows, minTime: entry.minTime,
                               maxTime: entry.maxTime, reason: error.description)
        if options.readOnly {
            // Nothing on disk may change: stop reading the part in this process only, and say so in every answer.
            published.withLock {
                $0.parts.removeAll { $0.meta.id == p.meta.id }
                if !$0.missing.contains(where: { $0.id == lost.id }) { $0.missing.append(lost) }
            }
            return
        }
        try? QuarantineRecord.write(entry, reason: error.description, quarantineDirectory: quarantineDirectory)
        var manifest = maintenance.manifest
        manifest.parts.removeAll { $0.id == p.meta.id }
        try publish(manifest, adding: [], removing: [p.meta.id], unfreezing: nil)
        rename(p.path, quarantineDirectory + "/" + PartFormat.fileName(p.meta.id))
        published.withLock {
            $0.quarantined += 1
            if !$0.missing.contains(where: { $0.id == lost.id }) { $0.missing.append(lost) }
        }
    }

    /// Checks every checksum of every part; damaged parts are quarantined and returned with what was wrong.
    public func verify() -> [StoreError] {
        let parts = published.withLock { $0.parts }
        var damaged: [StoreError] = []
        for p in parts {
            do {
                try p.verify()
            } catch let e as StoreError {
                damaged.append(e)
                try? quarantine(partPath: p.path, because: e)
            } catch {
                damaged.append(.corrupt(path: p.path, offset: 0, reason: "\(error)"))
            }
        }
        return damaged
    }

    /// Rebuilds the dedup sets from the visible parts and head rows (after an aborted bulk load).
    /// Called with the writer lock held.
    func rebuildDeduplicator() throws {
        let (parts, heads) = published.withLock { p in (p.parts, p.frozen.flatMap(\.views) + Array(p.active.values)) }
        let dedup = Deduplicator(window: options.dedupWindowMillis)
        var newest: [String: Int64] = [:]
        for p in parts { newest[p.meta.tenant] = max(newest[p.meta.tenant] ?? .min, p.meta.maxTime) }
        for p in parts { try dedup.load(p, newest: newest[p.meta.tenant]!) }
        while dedup.epoch < writer.dedup.epoch { _ = dedup.freeze() }
        for h in heads {
            let s = dedup.slot(h.tenant)
            for (chunk, n) in zip(h.chunks, h.chunkRows) {
                for i in 0..<n { dedup.insert(slot: s, RequestIDSet.key(chunk.requestID(i)), createdAt: chunk.createdAt[i]) }
            }
        }
        writer.dedup = dedup
    }

    /// Merges done and parts quarantined since open.
    func maintenanceCounters() -> (compactions: Int, quarantined: Int, seals: Int) {
        let atOpen = openReport.filter { $0.hasPrefix("quarantined") }.count
        return published.withLock { ($0.compactions, $0.quarantined + atOpen, $0.seals) }
    }

    // MARK: Background work

    private func maintenanceLoop() {
        while true {
            let (closed, rows, startedAt, walFailed) = published.withLock { ($0.closed, $0.headRows, $0.headStartedAt, $0.walFailure != nil) }
            if closed { break }
            let age = startedAt.map { monotonicSeconds() - $0 } ?? 0
            // A failed log is retried here too, so writes (and health) come back once space is freed even when no
            // client is writing.
            if walFailed { try? recoverWAL() }
            do {
                if rows >= options.sealRows || (rows > 0 && age >= options.sealAfterSeconds) {
                    try flush()
                    continue
                }
                if try compactOnce() { continue }
            } catch {
                // The head stays queryable and the WAL keeps the data; try again after a pause.
            }
            wake.withLock { _ = wake.wait(seconds: 1) }
        }
        wake.withLock {
            maintenanceRunning = false
            wake.broadcast()
        }
    }

    /// Refuses further appends, stops background work, seals the head and releases the directory.
    public func close() throws {
        let already = published.withLock { p -> Bool in
            defer { p.closed = true }
            return p.closed
        }
        if already { return }
        wake.withLock {
            wake.broadcast()
            while maintenanceRunning { wake.wait() }
        }
        // The directory is released even when the seal fails (a failed log, a full disk): the WAL still holds
        // every acknowledged record, and the next open replays it.
        defer {
            if lockFD >= 0 { Glibc.close(lockFD) }
            lockFD = -1
        }
        try maintenanceLock.withLock { try sealLocked() }
    }

    /// Stops as a crash would: no seal, no flush of anything not yet acknowledged; releases the directory.
    package func abandon() {
        published.withLock { $0.closed = true }
        wake.withLock {
            wake.broadcast()
            while maintenanceRunning { wake.wait() }
        }
        maintenanceLock.withLock {
            if lockFD >= 0 { Glibc.close(lockFD) }
            lockFD = -1
        }
    }

}

extension PartReader {
    package typealias ID = UInt64
}

/// Milliseconds since the epoch, wall clock (when a loss was found).
func wallClockMillis() -> Int64 {
    var t = timespec()
    clock_gettime(CLOCK_REALTIME, &t)
    return Int64(t.tv_sec) * 1000 + Int64(t.tv_nsec) / 1_000_000
}

func monotonicSeconds() -> Double {
    var t = timespec()
    clock_gettime(CLOCK_MONOTONIC, &t)
    return Double(t.tv_sec) + Double(t.tv_nsec) / 1e9
}
