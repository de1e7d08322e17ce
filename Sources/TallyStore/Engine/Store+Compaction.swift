#if canImport(Glibc)
import Glibc
#endif
import Synchronization

extension Store {
    /// Merges one group of parts of the same tenant and month, if there is one; returns whether it did.
    ///
    /// Small parts are merged with each other as they come (seals of a few tenants' rows). Larger parts of a
    /// tenant-month (a bulk load's spills, a busy tenant's seals) are merged size-tiered: the smallest of them
    /// together, and only when the result is at least 1.5 times its largest input, so a row is rewritten a
    /// bounded number of times (log base 1.5 of `maxPartRows` over its first part's size) however the parts
    /// arrive, and a tenant-month ends in one part up to `maxPartRows` (its rollups then answer alone).
    @discardableResult
    public func compactOnce() throws -> Bool {
        if options.readOnly { return false }
        return try maintenanceLock.withLock {
            // Each pass of the background loop comes here: the replaced files whose grace is over go first.
            removeReplacedPartsLocked(all: false)
            let parts = published.withLock { $0.parts }
            var groups: [String: [PartReader]] = [:]
            for p in parts where p.rows < options.maxPartRows {
                groups[p.tenant + "\u{0}" + String(Self.monthKey(p.minTime)), default: []].append(p)
            }
            var best: [PartReader] = []
            for key in groups.keys.sorted() {
                let group = groups[key]!.sorted { ($0.rows, $0.id) < ($1.rows, $1.id) }
                let n = Self.mergeCount(ascendingRows: group.map(\.rows), smallPartRows: options.smallPartRows, maxPartRows: options.maxPartRows)
                if n > best.count { best = Array(group[..<n]) }
            }
            guard best.count >= 2 else { return false }
            let chosen = best.sorted { $0.id < $1.id }
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
            // Readers of this process holding the old parts keep their mappings. Another process may have read the
            // manifest before this one and not opened the files yet: they stay for a grace period.
            let now = TimeSource.systemMonotonicSeconds()
            maintenance.replaced.append(contentsOf: chosen.map { ($0.path, now) })
            published.withLock { $0.compactions += 1 }
            return true
        }
    }

    /// How many of a tenant-month's parts, sorted by rows, to merge next (fewer than two: none). The smallest
    /// first, as many as fit in `maxPartRows` and either all small or together at least 1.5 times the largest.
    static func mergeCount(ascendingRows rows: [Int], smallPartRows: Int, maxPartRows: Int) -> Int {
        var total = 0
        var k = 0
        while k < rows.count && total + rows[k] <= maxPartRows {
            total += rows[k]
            k += 1
        }
        while k >= 2 {
            let largest = rows[k - 1]
            if largest < smallPartRows || 2 * total >= 3 * largest { return k }
            total -= largest
            k -= 1
        }
        return 0
    }

    /// Merges until no group of parts is left to merge.
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

extension Store {
    /// Removes the files of replaced parts whose grace period is over (`all`: every one).
    func removeReplacedParts(all: Bool) {
        maintenanceLock.withLock { removeReplacedPartsLocked(all: all) }
    }

    /// `removeReplacedParts`, with the maintenance lock held.
    func removeReplacedPartsLocked(all: Bool) {
        guard !maintenance.replaced.isEmpty else { return }
        let due = TimeSource.systemMonotonicSeconds() - options.replacedPartGraceSeconds
        maintenance.replaced.removeAll { file in
            guard all || file.at <= due else { return false }
            try? FileIO.remove(file.path)
            return true
        }
    }
}
