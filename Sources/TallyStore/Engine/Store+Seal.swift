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
}
