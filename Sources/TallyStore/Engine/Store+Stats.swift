import Synchronization

/// Sizes and counts of a store, for `tally stats` and `/metrics`.
public struct StoreStats: Sendable {
    /// Bytes and values of one column across all parts.
    public struct Column: Sendable {
        public var name: String
        /// Bytes on disk (block headers included).
        public var storedBytes: Int
        /// Bytes the values take in plain form (8 per integer, 4 per code, the text of ids).
        public var plainBytes: Int
    }

    public var tenants: Int
    /// Distinct (tenant, hour) partitions.
    public var hours: Int
    public var parts: Int
    public var rows: Int
    public var headRows: Int
    /// Bytes of part files.
    public var partBytes: Int
    /// Bytes of WAL segments.
    public var walBytes: Int
    /// Footers: dictionaries, zone maps, hour index and rollups.
    public var footerBytes: Int
    public var columns: [Column]
    /// Merges, seals and quarantined parts since the store was opened.
    public var compactions: Int
    public var seals: Int
    public var quarantined: Int

    /// Bytes on disk per stored row (parts only; the WAL is transient).
    public var bytesPerRecord: Double { rows - headRows > 0 ? Double(partBytes) / Double(rows - headRows) : 0 }
}

extension Store {
    /// Counts and sizes of everything stored now.
    public func stats() -> StoreStats {
        loadFooters { _, _ in .blocks }
        let snap = snapshot()
        var hours = Set<String>()
        var columns = PartColumn.allCases.map { StoreStats.Column(name: $0.name, storedBytes: 0, plainBytes: 0) }
        var partBytes = 0, footerBytes = 0
        for p in snap.parts {
            guard let meta = try? p.load(.blocks) else { continue }
            partBytes += p.fileSize
            var blockBytes = 0
            for h in meta.hours { hours.insert(p.tenant + "@" + String(h.start)) }
            for (g, granule) in meta.granules.enumerated() {
                for c in PartColumn.allCases {
                    let ref = granule.blocks[c.rawValue]
                    columns[c.rawValue].storedBytes += ref.length
                    blockBytes += ref.length
                    switch c {
                    case .requestID:
                        let h = BlockDecoder.header(p.block(g, c))
                        if h?.encoding == .uuid { columns[c.rawValue].plainBytes += 36 * granule.rows } else {
                            columns[c.rawValue].plainBytes += max(0, (h?.rawLength ?? 0) - 4 * (granule.rows + 1))
                        }
                    case .createdAt, .inputTokens, .outputTokens, .cost:
                        columns[c.rawValue].plainBytes += 8 * granule.rows
                    default:
                        columns[c.rawValue].plainBytes += 4 * granule.rows
                    }
                }
            }
            footerBytes += p.fileSize - blockBytes - PartFormat.headerSize
        }
        for h in snap.heads { for hour in Set((0..<h.chunks.count).flatMap { c in (0..<h.chunkRows[c]).map { TimeUnit.hourStart(h.chunks[c].createdAt[$0]) } }) {
            hours.insert(h.tenant + "@" + String(hour))
        } }
        let (compactions, quarantined, seals) = maintenanceCounters()
        return StoreStats(
            tenants: snap.tenants.count, hours: hours.count, parts: snap.parts.count, rows: snap.rowCount,
            headRows: snap.heads.reduce(0) { $0 + $1.rows }, partBytes: partBytes, walBytes: walBytesOnDisk(),
            footerBytes: footerBytes, columns: columns, compactions: compactions, seals: seals, quarantined: quarantined)
    }
}

/// Cheap counters for monitoring (`/metrics`): no block is read.
public struct StoreMetrics: Sendable {
    public var parts: Int
    public var rows: Int
    public var headRows: Int
    public var partBytes: Int
    public var tenants: Int
    public var compactions: Int
    public var seals: Int
    public var quarantined: Int
    /// Parts the store cannot read now (quarantined by this run or an earlier one) and the rows they held.
    public var missingParts = 0
    public var missingRows = 0
    /// Newest `created_at` stored, if any (data freshness).
    public var newestRecord: Int64?
    /// Damaged WAL ranges recorded in `quarantine/`, and the acknowledged batches and records they cost.
    public var walLosses: Int
    public var walLostBatches: Int
    public var walLostRecords: Int
    /// Whether the WAL refuses writes after a failed write or sync.
    public var walFailed: Bool
    /// Bytes of the files in the write-ahead log's directory.
    public var walBytes: Int
}

extension StoreMetrics {
    /// Counters of another record store (a server database): its parts, rows, bytes, tenants and newest record;
    /// the embedded store's maintenance and WAL counters zero.
    public init(parts: Int, rows: Int, partBytes: Int, tenants: Int, newestRecord: Int64?) {
        self.init(parts: parts, rows: rows, headRows: 0, partBytes: partBytes, tenants: tenants, compactions: 0, seals: 0,
                  quarantined: 0, newestRecord: newestRecord, walLosses: 0, walLostBatches: 0, walLostRecords: 0,
                  walFailed: false, walBytes: 0)
    }
}

extension Store {
    /// Counters from the current snapshot's metadata only.
    public func metrics() -> StoreMetrics {
        let snap = snapshot()
        let (compactions, quarantined, seals) = maintenanceCounters()
        let newest = (snap.parts.map(\.maxTime) + snap.heads.filter { $0.rows > 0 }.map(\.maxTime)).max()
        let condition = condition()
        return StoreMetrics(
            parts: snap.parts.count, rows: snap.rowCount, headRows: snap.heads.reduce(0) { $0 + $1.rows },
            partBytes: snap.parts.reduce(0) { $0 + $1.fileSize }, tenants: snap.tenants.count,
            compactions: compactions, seals: seals, quarantined: quarantined,
            missingParts: snap.missing.count, missingRows: snap.missing.reduce(0) { $0 + $1.rows }, newestRecord: newest,
            walLosses: condition.walLosses.count, walLostBatches: condition.lostBatches, walLostRecords: condition.lostRecords,
            walFailed: condition.failed,
            walBytes: walBytesOnDisk())
    }

    /// Merges done and parts quarantined since open.
    func maintenanceCounters() -> (compactions: Int, quarantined: Int, seals: Int) {
        let atOpen = openReport.filter { $0.hasPrefix("quarantined") }.count
        return published.withLock { ($0.compactions, $0.quarantined + atOpen, $0.seals) }
    }
}

extension Store {
    /// Bytes of the write-ahead log's segment files (one `stat` each: a few files).
    func walBytesOnDisk() -> Int {
        WriteAheadLog.segments(in: walDirectory).reduce(0) { $0 + (FileIO.fileSize(WriteAheadLog.path(walDirectory, $1)) ?? 0) }
    }
}

extension Store {
    /// The request ids the deduplicator holds in memory (the dedup window and the unsealed rows) and the bytes
    /// of their tables. Zero in a read-only open, which loads no window.
    package var dedupFootprint: (ids: Int, bytes: Int) {
        writerLock.withLock { writer.dedup.footprint }
    }
}
