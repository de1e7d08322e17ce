import TallyQuery
import TallyStore

/// Where cost records live, as the domain sees them: durable deduplicated appends, consistent reads, and what
/// the health and metrics endpoints report.
///
/// The embedded `Store` + `QueryEngine` (`EmbeddedRecordStore`) is the first implementation; a server database
/// is the next. Every implementation passes the record-store contract suite (`RecordStoreContract*` in the
/// analytics tests), which compares each answer with a plain reference aggregation over the same records.
/// Operations only the embedded store has (verify, repair, compaction, bulk import) stay on `Store`, which the
/// CLI reaches directly.
///
/// Methods throw `AnalyticsError.storage` when the store fails or is closed, `AnalyticsError.invalidParameter`
/// for a question the store cannot answer, and `CancellationError` when the calling task is cancelled.
public protocol RecordStore: Sendable {
    /// Stores the records of `batch` durably and returns once they are: a record whose `(tenant_id, request_id)`
    /// is already stored within the dedup window (the embedded store: 7 days of `created_at`), or earlier in the
    /// batch, is a duplicate and stored no second time. The receipt lists the duplicates by their index in `batch`.
    func append(_ batch: RecordBatch) async throws -> AppendReceipt

    /// A consistent read: the queries of one answer all go through one reader, so its numbers agree with each
    /// other whatever is appended meanwhile.
    func reader() async throws -> any RecordReader

    /// The store's own health checks (the services add `store_open`) and the write-ahead-log damage still recorded.
    func health() async -> HealthReport

    /// Counts for the metrics endpoint, from metadata only.
    func metrics() async throws -> StoreMetrics

    /// Whether the store takes appends and reads (false once closed).
    var isOpen: Bool { get }

    /// Closes the store; later appends fail. Synchronous, so a deinit or a shutdown path can call it.
    func close() throws
}

/// One consistent read of the records (see `RecordStore.reader()`).
public protocol RecordReader: Sendable {
    /// The name of what is read, as provenance shows it (`tally-store`).
    var sourceName: String { get }
    /// Which version of the records this reader sees (for the embedded store, its manifest generation).
    var generation: UInt64 { get }

    /// Sums of the matching records, grouped, bucketed, ordered and cut as `query` says (usage series, grouped sums
    /// with filters, top-k, daily series with trailing baselines): exactly the semantics of `Query`, which the
    /// reference aggregator of the tests implements row by row. The result lists what it lacks in `missing`.
    func aggregate(_ query: Query) async throws -> QueryResult

    /// The results of `queries`, in their order, as `aggregate(_:)` answers each: what one answer that needs several
    /// asks in one go (the embedded store runs them in one hop to its blocking pool rather than one hop each).
    func aggregate(_ queries: [Query]) async throws -> [QueryResult]

    /// The newest `created_at` of `tenants`' records, ms UTC; nil when they have none.
    func newestRecord(of tenants: Query.Tenants) async throws -> Int64?

    /// Stored records of `tenants` (nil: every tenant) with `from <= created_at < to` that this reader cannot read
    /// (quarantined by the embedded store): answers that need them are incomplete and say so.
    func missing(tenants: [String]?, from: Int64, to: Int64) async throws -> [MissingPart]

    /// Calls `body` with the records of `tenant` with `from <= created_at < to` that match `filters` (per dimension,
    /// one of the values, byte for byte), in pieces of boundedly many rows (the embedded store: one granule, at
    /// most 8,192), in no particular order across pieces; what exports stream.
    ///
    /// `body` runs off the cooperative pool and may block (it writes files); the call returns only after the last
    /// `body` call has ended, even when the task is cancelled (it then stops between pieces).
    func forEachRecordBatch(
        tenant: String, from: Int64, to: Int64, filters: [Dimension: [String]], _ body: (RecordBatch) throws -> Void
    ) async throws
}

extension RecordReader {
    /// One query after the other.
    public func aggregate(_ queries: [Query]) async throws -> [QueryResult] {
        var results: [QueryResult] = []
        results.reserveCapacity(queries.count)
        for q in queries { results.append(try await aggregate(q)) }
        return results
    }
}
