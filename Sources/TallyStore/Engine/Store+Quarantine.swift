#if canImport(Glibc)
import Glibc
#endif
import Dispatch
import Synchronization

extension Store {
    /// Moves a damaged part out of the manifest into `quarantine/`, so it is never read again.
    public func quarantine(partPath: String, because error: StoreError) throws {
        try maintenanceLock.withLock {
            guard let p = published.withLock({ $0.parts.first { $0.path == partPath } }) else { return }
            try quarantineLocked(p, because: error)
        }
    }

    /// Called with the maintenance lock held.
    func quarantineLocked(_ p: PartReader, because error: StoreError) throws {
        // Read the file afresh first: if every checksum passes now, the damage was in the reading, not on disk;
        // readers get the fresh mapping and the part stays.
        // A part the manifest lists is read afresh against its manifest line (a footer that disagrees with it is damage).
        let listed = maintenance.manifest.parts.first { $0.id == p.id }
        let fresh = try? (listed.map { PartReader(path: p.path, listed: $0) } ?? PartReader(path: p.path))
        if let fresh, (try? fresh.verify()) != nil {
            published.withLock { pub in
                if let i = pub.parts.firstIndex(where: { $0.id == p.id }) { pub.parts[i] = fresh }
            }
            return
        }
        let entry = maintenance.manifest.parts.first { $0.id == p.id } ?? Self.entry(p)
        let lost = MissingPart(id: entry.id, tenant: entry.tenant, rows: entry.rows, minTime: entry.minTime,
                               maxTime: entry.maxTime, reason: error.description)
        if options.readOnly {
            // Nothing on disk may change: stop reading the part in this process only, and say so in every answer.
            published.withLock {
                $0.parts.removeAll { $0.id == p.id }
                if !$0.missing.contains(where: { $0.id == lost.id }) { $0.missing.append(lost) }
            }
            return
        }
        try? QuarantineRecord.write(entry, reason: error.description, quarantineDirectory: quarantineDirectory)
        var manifest = maintenance.manifest
        manifest.parts.removeAll { $0.id == p.id }
        try publish(manifest, adding: [], removing: [p.id], unfreezing: nil)
        try? FileIO.rename(p.path, to: quarantineDirectory + "/" + PartFormat.fileName(p.id))
        published.withLock {
            $0.quarantined += 1
            if !$0.missing.contains(where: { $0.id == lost.id }) { $0.missing.append(lost) }
        }
    }

    /// Reads and checks now the footers not read yet (a read-only open reads them when a reader first needs them)
    /// of the parts that may hold rows of `tenants` (nil: every tenant) with `from <= created_at < to`. A part
    /// whose footer is damaged is set aside as a query would set it aside: quarantined, or in a read-only open
    /// left out of the snapshots taken after this and listed in `missingParts`. A command calls this before it
    /// takes the snapshot it answers from, so it can name what is missing before it answers. `use` says, from a part's
    /// time range, what the question will read of it (`FooterUse`): its hours (a window that cuts it, hour buckets), made
    /// as its footer is read; its blocks (a scan), for which the file is mapped and the footer read from the mapping.
    public func loadFooters(tenants: [String]? = nil, from: Int64 = .min, to: Int64 = .max,
                            use: @Sendable (_ minTime: Int64, _ maxTime: Int64) -> FooterUse = { _, _ in [] }) {
        let parts = published.withLock { $0.parts }.filter {
            !$0.isLoaded && (tenants?.contains($0.tenant) ?? true) && $0.maxTime >= from && $0.minTime < to
        }
        // Footers are read, checked and parsed on every core (an all-tenant query of a 2,000-part store spends most
        // of its process here); the damaged ones are quarantined after, one by one.
        let failed = Mutex<[(path: String, error: StoreError)]>([])
        let workers = max(1, min(Self.cores, parts.count / 8))
        DispatchQueue.concurrentPerform(iterations: workers) { w in
            for i in stride(from: w, to: parts.count, by: workers) {
                do {
                    try parts[i].load(use(parts[i].minTime, parts[i].maxTime))
                } catch let e as StoreError {
                    failed.withLock { $0.append((parts[i].path, e)) }
                } catch {}
            }
        }
        for f in failed.withLock({ $0 }).sorted(by: { $0.path < $1.path }) { try? quarantine(partPath: f.path, because: f.error) }
    }

    /// Online cores (at least 1).
    static let cores = max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))

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
}
