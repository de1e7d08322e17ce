import Synchronization
import TallyText

extension Store {
    /// Seals the head into durable parts now and trims the WAL they cover.
    public func flush() throws {
        try maintenanceLock.withLock { try sealLocked() }
    }

    /// Called with the maintenance lock held; takes the writer lock.
    func sealLocked() throws {
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
            $0.parts.removeAll { removing.contains($0.id) }
            $0.parts.append(contentsOf: adding)
            $0.parts.sort { $0.id < $1.id }
            if let f = unfreezing { $0.frozen.removeAll { $0.id == f } }
            $0.generation = m.generation
        }
    }

    static func entry(_ r: PartReader) -> Manifest.Entry {
        Manifest.Entry(id: r.id, tenant: r.tenant, level: r.level, rows: r.rows,
                       minTime: r.minTime, maxTime: r.maxTime, bytes: r.fileSize)
    }

    /// A part holds hours of one UTC month at most.
    static func splitByMonth(_ rows: PartRows) -> [PartRows] {
        let n = rows.count
        guard n > 0 else { return [] }
        // Each row's month by the months' ranges met so far (a few): rows mostly come in time order, so the last
        // row's month holds most of them, and a row costs two comparisons (no calendar arithmetic, no hash).
        var months: [(key: Int, start: Int64, end: Int64)] = []
        var monthOf = [Int32](repeating: 0, count: n)
        var last = 0
        rows.createdAt.withUnsafeBufferPointer { times in
            for i in 0..<n {
                let t = times[i]
                if months.isEmpty || t < months[last].start || t >= months[last].end {
                    if let k = months.firstIndex(where: { t >= $0.start && t < $0.end }) {
                        last = k
                    } else {
                        months.append(monthRange(t))
                        last = months.count - 1
                    }
                }
                monthOf[i] = Int32(last)
            }
        }
        guard months.count > 1 else { return [rows] }
        // The rows of each month in their order, the months ascending.
        var counts = [Int](repeating: 0, count: months.count + 1)
        for m in monthOf { counts[Int(m) + 1] += 1 }
        for k in 1..<counts.count { counts[k] += counts[k - 1] }
        var next = counts
        var ordered = [Int](repeating: 0, count: n)
        for i in 0..<n {
            let m = Int(monthOf[i])
            ordered[next[m]] = i
            next[m] += 1
        }
        return months.indices.sorted { months[$0].key < months[$1].key }.map { k in
            rows.permuted(Array(ordered[counts[k]..<counts[k + 1]]))
        }
    }

    /// The month of `millis` (`monthKey`) and its range `[start, end)` in ms UTC.
    static func monthRange(_ millis: Int64) -> (key: Int, start: Int64, end: Int64) {
        let (y, m, _) = Timestamp.civilFromDays(Int(TimeUnit.floorDiv(millis, TimeUnit.dayMillis)))
        let start = Int64(Timestamp.daysFromCivil(year: y, month: m, day: 1)) * TimeUnit.dayMillis
        let end = Int64(m == 12 ? Timestamp.daysFromCivil(year: y + 1, month: 1, day: 1)
                                : Timestamp.daysFromCivil(year: y, month: m + 1, day: 1)) * TimeUnit.dayMillis
        return (y * 12 + m - 1, start, end)
    }

    static func monthKey(_ millis: Int64) -> Int { monthRange(millis).key }
}
