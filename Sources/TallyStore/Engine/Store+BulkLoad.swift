import Synchronization

/// A large load written straight into part files, invisible until it commits.
///
/// For imports: no WAL and no head. Rows are buffered per tenant, sorted and written as parts
/// as the buffer fills (unsynced; `commit` syncs the file system once, then lists them all in one manifest
/// change), so the load is atomic and durable when `commit` returns, and `abort` (or a crash before commit) leaves the store
/// as it was: unlisted part files are deleted at the next open. While a load runs it holds the
/// store's writer lock, so other appends wait and no id can slip in between check and commit.
public final class BulkLoad {
    public let store: Store
    /// Buffered rows are written out once there are this many (the largest tenants' first, so parts
    /// are written while the load goes on and small tenants still end up in one part each).
    public var maxBufferedRows = 4_000_000
    /// Buffered rows per tenant, indexed by the tenant's code in `strings` (a dictionary keyed by the tenant's name
    /// cost a hash of it and a move of the builder in and out per tenant and batch).
    private var buffers: [PartRowsBuilder?] = []
    /// The codes of the tenants with a builder in `buffers`.
    private var bufferedTenants: [Int] = []
    /// Every string of the load; builders hold codes into it. Producers may translate their batches
    /// into it ahead (`RecordBatch.translate(into: load.strings)`), off the load's thread.
    package let strings = StringTable()
    private var bufferedRows = 0
    private let writer: PartSpiller
    private var manifest: Manifest
    private var finished = false
    /// Rows added (not duplicates).
    public private(set) var inserted = 0
    /// Whether `commit` drops the load's older ids from the in-memory dedup sets (rebuilding every set,
    /// ~0.35 s for 10M rows). Set it to false when the store is closed right after the load, as
    /// `tally import` does: the sets then keep every id, a superset of what they must hold, so
    /// duplicates are still found; only memory is spent.
    public var evictsIDsOnCommit = true

    init(store: Store) {
        self.store = store
        manifest = store.maintenance.manifest
        writer = PartSpiller(directory: store.partsDirectory, granuleRows: store.options.granuleRows)
        store.writer.dedup.beginLoad()
    }

    /// Adds a batch; returns which records were duplicates (of stored rows or of earlier rows of this load).
    public func add(_ batch: RecordBatch) throws -> AppendReceipt {
        precondition(!finished, "the load has committed or aborted")
        let dedup = store.writer.dedup
        var parts: PartList?
        // Arrays indexed by tenant code span the tenant codes in use, not the whole string table (tens of
        // thousands of user ids): fresh arrays that large per batch cost page faults and clearing.
        let tenantCodes = Self.tenantCodeLimit(batch)
        var slotOfCode = [Int](repeating: -1, count: tenantCodes)
        // Per tenant code: whether its ids may be stored outside the whole ones (else the lookups below find nothing,
        // and each would cost a cache miss: a tenant new to the store skips them).
        var looksOutside = [Bool](repeating: false, count: tenantCodes)
        let keys = batch.keys()
        // Old ids are looked up in the parts first (this can fail: nothing has changed yet).
        var coldDuplicate = [Bool](repeating: false, count: batch.count)
        for i in 0..<batch.count {
            let code = Int(batch.tenant[i])
            if slotOfCode[code] < 0 {
                slotOfCode[code] = dedup.slot(batch.strings.values[code])
                looksOutside[code] = !dedup.holdsEveryIDWhole(slot: slotOfCode[code])
            }
            guard looksOutside[code] else { continue }
            let slot = slotOfCode[code]
            guard !dedup.contains(slot: slot, keys[i]) else { continue }
            coldDuplicate[i] = try dedup.storedOutsideRecent(slot: slot, keys[i], createdAt: batch.createdAt[i]) {
                if parts == nil { parts = store.published.withLock { $0.partList } }
                return parts!
            }
        }
        // Insert tenant by tenant (rows of a tenant in batch order, so the first of two equal ids is
        // the one kept), each tenant's ids in one call that overlaps their cache misses.
        var byTenant = [Int](repeating: 0, count: batch.count)
        var starts: [(code: Int, start: Int)] = []
        var counts = [Int](repeating: 0, count: tenantCodes + 1)
        for i in 0..<batch.count where !coldDuplicate[i] { counts[Int(batch.tenant[i]) + 1] += 1 }
        for c in 1..<counts.count { counts[c] += counts[c - 1] }
        var next = counts
        for i in 0..<batch.count where !coldDuplicate[i] {
            let t = Int(batch.tenant[i])
            byTenant[next[t]] = i
            next[t] += 1
        }
        for t in 0..<tenantCodes where counts[t + 1] > counts[t] { starts.append((t, counts[t])) }
        var isNew = [Bool](repeating: false, count: batch.count)
        let grouped = counts[tenantCodes]
        var groupKeys = [(UInt64, UInt64)](repeating: (0, 0), count: grouped)
        var groupTimes = [Int64](repeating: 0, count: grouped)
        var groupNew = [Bool](repeating: false, count: grouped)
        for k in 0..<grouped {
            groupKeys[k] = keys[byTenant[k]]
            groupTimes[k] = batch.createdAt[byTenant[k]]
        }
        groupKeys.withUnsafeBufferPointer { gk in
            groupTimes.withUnsafeBufferPointer { gt in
                groupNew.withUnsafeMutableBufferPointer { gn in
                    for (t, start) in starts {
                        let end = counts[t + 1]
                        dedup.insertIfAbsent(
                            slot: slotOfCode[t], UnsafeBufferPointer(rebasing: gk[start..<end]),
                            createdAt: UnsafeBufferPointer(rebasing: gt[start..<end]), epoch: 0,
                            inserted: UnsafeMutableBufferPointer(rebasing: gn[start..<end]))
                    }
                }
            }
        }
        for k in 0..<grouped { isNew[byTenant[k]] = groupNew[k] }
        var keep: [Int] = []
        var dups: [Int] = []
        keep.reserveCapacity(batch.count)
        for i in 0..<batch.count {
            if isNew[i] { keep.append(i) } else { dups.append(i) }
        }
        buffer(batch, keep)
        inserted += keep.count
        if bufferedRows >= maxBufferedRows { try spill(all: false) }
        return AppendReceipt(inserted: keep.count, duplicates: dups)
    }

    private func buffer(_ batch: RecordBatch, _ rows: [Int]) {
        guard !rows.isEmpty else { return }
        let values = batch.strings.values
        let map: [UInt32]
        if let ahead = batch.tableCodes, ahead.table === strings, ahead.codes.count == values.count {
            map = ahead.codes
        } else {
            map = strings.translate(batch)
        }
        // Group rows by tenant code with a counting sort (codes are small and dense).
        let tenantCodes = Self.tenantCodeLimit(batch)
        var counts = [Int](repeating: 0, count: tenantCodes + 1)
        for i in rows { counts[Int(batch.tenant[i]) + 1] += 1 }
        for c in 1..<counts.count { counts[c] += counts[c - 1] }
        var ordered = [Int](repeating: 0, count: rows.count)
        var next = counts
        for i in rows {
            let t = Int(batch.tenant[i])
            ordered[next[t]] = i
            next[t] += 1
        }
        for t in 0..<tenantCodes where counts[t + 1] > counts[t] {
            let code = Int(map[t])
            if code >= buffers.count { buffers.append(contentsOf: repeatElement(nil, count: code + 1 - buffers.count)) }
            if buffers[code] == nil {
                buffers[code] = PartRowsBuilder(tenant: values[t])
                bufferedTenants.append(code)
            }
            buffers[code]!.append(batch, ordered[counts[t]..<counts[t + 1]], map: map)
        }
        bufferedRows += rows.count
    }

    /// One past the largest tenant code of `batch` (0 when empty): the size of arrays indexed by tenant code.
    private static func tenantCodeLimit(_ batch: RecordBatch) -> Int {
        var top: UInt32 = 0
        for t in batch.tenant { top = max(top, t) }
        return batch.count == 0 ? 0 : Int(top) + 1
    }

    /// Writes buffered tenants out as parts: the big ones, or all of them.
    private func spill(all: Bool) throws {
        var tenants = bufferedTenants
        if !all {
            // Write the largest buffers until half the limit is free; small tenants keep accumulating.
            tenants.sort { buffers[$0]!.count > buffers[$1]!.count }
            var freed = 0
            tenants = Array(tenants.prefix { t in
                defer { freed += buffers[t]!.count }
                return freed < maxBufferedRows / 2
            })
        }
        let dictionary = strings.values
        let spilled = Set(tenants)
        bufferedTenants.removeAll { spilled.contains($0) }
        for t in tenants {
            let rows = buffers[t].take()!.build(dictionary: dictionary)
            bufferedRows -= rows.count
            for month in Store.splitByMonth(rows) {
                let id = manifest.nextPartID
                manifest.nextPartID += 1
                try writer.submit(month, id: id, pendingRowLimit: maxBufferedRows)
            }
        }
    }

    /// Writes what is buffered and makes the whole load visible and durable at once.
    func commit() throws {
        try spill(all: true)
        let written = try writer.finish()
        // The parts were written without fsyncs (two per part made a load of thousands of small tenants wait
        // minutes): one syncfs makes every part and its directory entry durable before the manifest names them.
        if !written.isEmpty { try FileIO.syncFileSystem(store.partsDirectory) }
        manifest.parts.append(contentsOf: written.map(Store.entry))
        try store.publish(manifest, adding: written, removing: [], unfreezing: nil)
        finished = true
        store.writer.dedup.endLoad(keepingWholeIDs: !evictsIDsOnCommit)
        if evictsIDsOnCommit {
            store.writer.dedup.evict(sealed: 0)
        } else {
            store.writer.dedup.dropCachedHours()
        }
    }

    /// Deletes what the load wrote and forgets its ids.
    func abort() {
        finished = true
        for path in writer.abandon() { try? FileIO.remove(path) }
        // The load's ids are in the dedup sets; rebuild them from what is visible.
        try? store.rebuildDeduplicator()
    }
}

/// Encodes and writes parts on worker threads, so the load keeps reading while parts are written
/// and the parts left at the end are written two at a time.
final class PartSpiller: @unchecked Sendable {
    // @unchecked: the mutable fields are only touched with `lock` held.
    private let lock = ConditionLock()
    /// Held while a part file is created and written. A pthread mutex, whose waiter sleeps: `Mutex` is a
    /// priority-inheritance futex here, and its waiter spun in the kernel while the other thread wrote (3% of a load).
    private let creating = ConditionLock()
    private var jobs: [(rows: PartRows, id: UInt64)] = []
    private var pendingRows = 0
    private var done: [PartReader] = []
    private var paths: [String] = []
    private var failure: (any Error)?
    private var stopping = false
    /// Worker threads still running.
    private var running: Int

    init(directory: String, granuleRows: Int, threads: Int = 2) {
        running = threads
        for _ in 0..<threads {
            startThread(name: "tally-spill") { [self] in work(directory: directory, granuleRows: granuleRows) }
        }
    }

    private func work(directory: String, granuleRows: Int) {
        while true {
            let job: (rows: PartRows, id: UInt64)? = lock.withLock {
                while jobs.isEmpty && !stopping { lock.wait() }
                if jobs.isEmpty { return nil }
                return jobs.removeFirst()
            }
            guard let job else { break }
            let path = directory + "/" + PartFormat.fileName(job.id)
            lock.withLock { paths.append(path) }
            let result = Result { () throws -> PartReader in
                let (bytes, _) = PartWriter.encode(job.rows, id: job.id, level: 0, granuleRows: granuleRows)
                // One file created at a time: two threads creating files in one directory spin on its lock in the
                // kernel (a tenth of a many-tenant load's CPU); the one that waits here sleeps, and the other
                // threads of the load get the core. Unsynced: the commit syncs the file system once before the
                // manifest lists any of them.
                try creating.withLock { try FileIO.writeUnsynced(bytes, to: path) }
                return try PartReader(path: path)
            }
            lock.withLock {
                switch result {
                case let .success(r): done.append(r)
                case let .failure(e): if failure == nil { failure = e }
                }
                pendingRows -= job.rows.count
                lock.broadcast()
            }
        }
        lock.withLock {
            running -= 1
            lock.broadcast()
        }
    }

    /// Queues a part; waits while more than `pendingRowLimit` rows are queued. Throws an earlier failure.
    func submit(_ rows: PartRows, id: UInt64, pendingRowLimit: Int) throws {
        try lock.withLock {
            while pendingRows > 0 && pendingRows + rows.count > pendingRowLimit && failure == nil { lock.wait() }
            if let failure { throw failure }
            jobs.append((rows, id))
            pendingRows += rows.count
            lock.broadcast()
        }
    }

    /// Waits for every queued part; returns them, or throws the first failure.
    func finish() throws -> [PartReader] {
        try lock.withLock {
            stopping = true
            lock.broadcast()
            while running > 0 { lock.wait() }
            if let failure { throw failure }
            return done.sorted { $0.id < $1.id }
        }
    }

    /// Stops after the part being written; returns every path it wrote or began to write.
    func abandon() -> [String] {
        lock.withLock {
            jobs.removeAll()
            stopping = true
            lock.broadcast()
            while running > 0 { lock.wait() }
            return paths
        }
    }
}

extension Store {
    /// Runs a bulk load: `body` adds batches; the load commits when it returns and aborts when it throws.
    public func bulkLoad<R>(_ body: (BulkLoad) throws -> R) throws -> R {
        try maintenanceLock.withLock {
            try writerLock.withLock {
                if published.withLock({ $0.closed }) { throw StoreError.closed }
                try writableLocked()
                let load = BulkLoad(store: self)
                do {
                    let result = try body(load)
                    try load.commit()
                    return result
                } catch {
                    load.abort()
                    throw error
                }
            }
        }
    }

    /// Rebuilds the dedup sets from the visible parts and head rows (after an aborted bulk load).
    /// Called with the writer lock held.
    func rebuildDeduplicator() throws {
        let (parts, heads) = published.withLock { p in (p.parts, p.frozen.flatMap(\.views) + Array(p.active.values)) }
        let dedup = Deduplicator(window: options.dedupWindowMillis, recentWindow: options.recentIDWindowMillis)
        var newest: [String: Int64] = [:]
        for p in parts { newest[p.tenant] = max(newest[p.tenant] ?? .min, p.maxTime) }
        for p in parts { try dedup.load(p, newest: newest[p.tenant]!) }
        while dedup.epoch < writer.dedup.epoch { _ = dedup.freeze() }
        for h in heads {
            let s = dedup.slot(h.tenant)
            for (chunk, n) in zip(h.chunks, h.chunkRows) {
                for i in 0..<n { dedup.insert(slot: s, RequestIDSet.key(chunk.requestID(i)), createdAt: chunk.createdAt[i]) }
            }
        }
        writer.dedup = dedup
    }
}

#if canImport(Glibc)
import Glibc
#endif
