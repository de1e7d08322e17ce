#if canImport(Glibc)
import Glibc
#endif
import Synchronization

extension Store {
    /// Merges one group of small parts (same tenant and month), if there is one; returns whether it did.
    @discardableResult
    public func compactOnce() throws -> Bool {
        if options.readOnly { return false }
        return try maintenanceLock.withLock {
            let parts = published.withLock { $0.parts }
            var groups: [String: [PartReader]] = [:]
            for p in parts where p.rows < options.smallPartRows {
                groups[p.tenant + "\u{0}" + String(Self.monthKey(p.minTime)), default: []].append(p)
            }
            guard let victims = groups.values.filter({ $0.count >= 2 }).max(by: { $0.count < $1.count }) else { return false }
            var chosen: [PartReader] = []
            var total = 0
            for p in victims.sorted(by: { $0.id < $1.id }) where total + p.rows <= options.maxPartRows {
                chosen.append(p)
                total += p.rows
            }
            guard chosen.count >= 2 else { return false }
            var merged = PartRows(tenant: chosen[0].tenant)
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
            let level = (chosen.map(\.level).max() ?? 0) + 1
            let written = try PartWriter.write(merged, id: id, level: level, directory: partsDirectory, granuleRows: options.granuleRows)
            let reader = try PartReader(path: written.path)
            let gone = Set(chosen.map(\.id))
            manifest.parts.removeAll { gone.contains($0.id) }
            manifest.parts.append(Self.entry(reader))
            try publish(manifest, adding: [reader], removing: gone, unfreezing: nil)
            // Readers holding the old parts keep their mappings; the files go now.
            for p in chosen { try? FileIO.remove(p.path) }
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
}
