/// How a store behaves; the defaults are the documented, durable ones.
public struct StoreOptions: Sendable {
    /// When an append is acknowledged.
    public enum Durability: String, Sendable, CaseIterable {
        /// `fdatasync` of the WAL before every acknowledgement (group-committed): survives power loss.
        case fsync
        /// The WAL is written but not synced: survives a process crash only.
        case buffered
    }

    public var durability: Durability = .fsync
    /// A `(tenant, request_id)` whose stored row is within this span of the tenant's newest `created_at` is a
    /// duplicate, whatever the new record's `created_at`; a record older than the span is also checked against the
    /// rows of its own hour. The span's ids are held in memory as 8-byte fingerprints with the hour of their row.
    public var dedupWindowMillis: Int64 = 7 * TimeUnit.dayMillis
    /// Of those, the ids within this span (and every unsealed row's) are also held whole (16-byte slots), so that
    /// a duplicate of a recent record is refused without reading a part; a fingerprint match on an older id
    /// decodes the ids of its row's hour from the parts. What is stored is the same for any span; it trades
    /// memory (about 26 bytes per id against 13) for the speed of refusing older duplicates.
    public var recentIDWindowMillis: Int64 = TimeUnit.dayMillis
    /// Seal the head into parts once it holds this many rows...
    public var sealRows = 1_000_000
    /// ...or once its oldest row has waited this long.
    public var sealAfterSeconds: Double = 120
    /// Writers wait for a seal when the head reaches this many rows (bounds memory).
    public var maxHeadRows = 3_000_000
    /// Rows per granule in parts (1...65536).
    public var granuleRows = PartFormat.defaultGranuleRows
    /// Parts with fewer rows are merged with their neighbours of the same tenant and month.
    public var smallPartRows = 250_000
    /// A merge never produces a part larger than this.
    public var maxPartRows = 4_000_000
    /// How long the files of parts a merge replaced stay after it, for the read-only processes (`tally query`,
    /// `stats`, `export`) that read the manifest before it and open its parts' files as they need them. They go when
    /// the time is up (checked by the background loop and the next merge), at close, or at the next read-write open.
    public var replacedPartGraceSeconds: Double = 60
    /// Run sealing and compaction on a background thread.
    public var background = true
    /// Open for reading only: no lock, no change on disk, no dedup state (for `tally query`, `stats`).
    public var readOnly = false
    /// Tests only: called by a read-only open after it has read the manifest, before it looks at the files (to run a
    /// writer's merge or seal in that window).
    package var afterManifestRead: (@Sendable () -> Void)?

    public init() {}
}

/// What an append did with each record of a batch.
public struct AppendReceipt: Sendable, Equatable {
    /// Records stored.
    public var inserted: Int
    /// Indices (in the batch) of records not stored because their `(tenant_id, request_id)` was already stored.
    public var duplicates: [Int]

    public init(inserted: Int, duplicates: [Int]) {
        self.inserted = inserted
        self.duplicates = duplicates
    }
}
