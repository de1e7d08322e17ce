import Synchronization

extension Store {
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
        var parts: PartList?
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
                    if !duplicate {
                        duplicate = try dedup.storedOutsideRecent(slot: slot, key, createdAt: b.createdAt[i]) {
                            if parts == nil { parts = published.withLock { $0.partList } }
                            return parts!
                        }
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
            if $0.headStartedAt == nil && headRows > 0 { $0.headStartedAt = TimeSource.systemMonotonicSeconds() }
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
}
