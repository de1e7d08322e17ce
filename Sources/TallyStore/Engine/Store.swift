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
        /// The listed parts and their tenant index (one list per change of the parts, shared by the snapshots of it).
        var partList = PartList([])
        var parts: [PartReader] {
            get { partList.all }
            set { partList = PartList(newValue) }
        }
        var frozen: [(id: Int, views: [HeadView])] = []
        var active: [String: HeadView] = [:] {
            didSet { activeByTenant = nil }
        }
        /// `active`'s views in tenant order, made by the first snapshot after a change (appends change it; the many
        /// snapshots of reads between them share one sort).
        var activeByTenant: [HeadView]?
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
        /// Files of parts a merge replaced, and when (monotonic seconds): removed after `replacedPartGraceSeconds`.
        var replaced: [(path: String, at: Double)] = []
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
    /// The group-commit queue (`Store+Append`): `pending` and `leaderBusy` only under `queue`.
    let queue = ConditionLock()
    var pending: [Request] = []
    var leaderBusy = false
    /// Wakes the maintenance thread (a full head, `close`).
    let wake = ConditionLock()
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
    /// up to its first bad frame without cutting it, parts are mapped but their footers are read and
    /// checked only when a reader first needs them (`PartReader.load()`), damaged parts are skipped
    /// (and reported, or missing from the snapshots after the reader that found the damage) rather
    /// than quarantined, the dedup window is not loaded, and appends fail with `StoreError.readOnly`.
    public init(path: String, options: StoreOptions = StoreOptions()) throws {
        self.path = path
        self.options = options
        let readOnly = options.readOnly
        let repairLines = try Self.rebuildMissingManifest(path: path, readOnly: readOnly)
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
                FileIO.close(lockFD)
                throw StoreError.locked(path: path)
            }
            // A store has a MANIFEST before it has any part (a missing one was rebuilt above, from the parts), so
            // part files without one are always a lost manifest. Without it, the open after a killed first bulk load
            // would rebuild one from the part files it found and list a load that never committed.
            if !FileIO.exists(path + "/MANIFEST") {
                do {
                    try FileIO.writeAtomically(Manifest().encode(), to: path + "/MANIFEST", directory: path)
                } catch {
                    FileIO.close(lockFD)
                    throw error
                }
            }
        }
        let recovered: Recovered
        do {
            recovered = options.readOnly
                ? try Self.recoverReadOnly(path: path, options: options, report: repairLines)
                : try Self.recover(path: path, options: options, report: repairLines)
        } catch {
            // deinit does not run for an instance whose init throws: release the directory here, or a failed open (a
            // damaged manifest, a failed replay) would keep it locked until the process exits.
            if lockFD >= 0 { FileIO.close(lockFD) }
            throw error
        }
        let head = recovered.head
        let manifest = recovered.manifest
        let readers = recovered.readers
        let missing = recovered.missing
        writer = WriterState(wal: recovered.wal, dedup: recovered.dedup)
        writer.head = head
        if readOnly { writer.broken = .readOnly(path: path) }
        maintenance = MaintenanceState(manifest: manifest)
        openReport = recovered.report
        unrecordedLosses = recovered.unrecordedLosses
        let views = head.tenants.mapValues { $0.view() }
        let headRows = head.rows
        published.withLock {
            $0.parts = readers.sorted { $0.id < $1.id }
            $0.generation = manifest.generation
            $0.active = views
            $0.headRows = headRows
            $0.headStartedAt = headRows > 0 ? TimeSource.systemMonotonicSeconds() : nil
            $0.missing = missing
        }
        if options.background && !readOnly {
            maintenanceRunning = true
            startThread(name: "tally-maintenance") { [self] in maintenanceLoop() }
        }
    }

    deinit {
        if lockFD >= 0 { FileIO.close(lockFD) }
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

    /// Parts the store cannot read (quarantined now or by an earlier run, or skipped by a read-only open), by id.
    public var missingParts: [MissingPart] { published.withLock { $0.missing } }

    /// Whether the store accepts appends and reads (false after `close()`).
    public var isOpen: Bool { published.withLock { !$0.closed } }

    // MARK: Reading

    /// A consistent view of all stored data at this moment (parts + head).
    public func snapshot() -> StoreSnapshot {
        published.withLock { p in
            let active = p.activeByTenant ?? p.active.values.sorted { $0.tenant < $1.tenant }
            p.activeByTenant = active
            return StoreSnapshot(partList: p.partList, heads: p.frozen.isEmpty ? active : p.frozen.flatMap(\.views) + active,
                                 generation: p.generation, missing: p.missing, store: self)
        }
    }

    // MARK: Background work

    private func maintenanceLoop() {
        while true {
            let (closed, rows, startedAt, walFailed) = published.withLock { ($0.closed, $0.headRows, $0.headStartedAt, $0.walFailure != nil) }
            if closed { break }
            let age = startedAt.map { TimeSource.systemMonotonicSeconds() - $0 } ?? 0
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
            if lockFD >= 0 { FileIO.close(lockFD) }
            lockFD = -1
        }
        try maintenanceLock.withLock {
            defer { removeReplacedPartsLocked(all: true) }
            try sealLocked()
        }
    }

    /// Stops as a crash would: no seal, no flush of anything not yet acknowledged; releases the directory.
    package func abandon() {
        published.withLock { $0.closed = true }
        wake.withLock {
            wake.broadcast()
            while maintenanceRunning { wake.wait() }
        }
        maintenanceLock.withLock {
            if lockFD >= 0 { FileIO.close(lockFD) }
            lockFD = -1
        }
    }

}

extension PartReader {
    package typealias ID = UInt64
}
