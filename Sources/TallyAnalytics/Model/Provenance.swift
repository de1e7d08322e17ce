import TallyQuery
import TallyStore
import TallyText

/// Where an answer comes from: the store snapshot and what the engine read, the window, how it was
/// aggregated, and when. Every analytics response carries one.
public struct Provenance: Sendable {
    /// One source read to answer.
    public struct Source: Sendable {
        /// `tally-store`.
        public var name: String
        /// Manifest generation of the snapshot read.
        public var snapshotGeneration: UInt64
        /// Queries run on it.
        public var queries: Int
        /// Part files read.
        public var partsRead: Int
        /// Unsealed head views read.
        public var headViewsRead: Int
        /// Hours answered from per-hour totals or rollups.
        public var hoursFromRollups: Int
        /// Rows scanned.
        public var rowsScanned: Int
        /// Whether rollups were allowed.
        public var rollups: Bool

        /// The catalog as a source: `reads` row reads in one catalog call or transaction. It has no snapshot
        /// generation, parts, heads, rollups or rows of records, so those are 0 (false).
        public static func catalog(reads: Int) -> Source {
            Source(name: "tally-catalog", snapshotGeneration: 0, queries: reads, partsRead: 0, headViewsRead: 0,
                   hoursFromRollups: 0, rowsScanned: 0, rollups: false)
        }

        /// Sources of one name added up (a run per tenant reads one store): counts summed, the newest generation.
        static func merged(_ sources: [Source]) -> [Source] {
            var out: [Source] = []
            for s in sources {
                if let i = out.firstIndex(where: { $0.name == s.name }) {
                    out[i].snapshotGeneration = max(out[i].snapshotGeneration, s.snapshotGeneration)
                    out[i].queries += s.queries
                    out[i].partsRead += s.partsRead
                    out[i].headViewsRead += s.headViewsRead
                    out[i].hoursFromRollups += s.hoursFromRollups
                    out[i].rowsScanned += s.rowsScanned
                    out[i].rollups = out[i].rollups || s.rollups
                } else {
                    out.append(s)
                }
            }
            return out
        }
    }

    /// What was read.
    public var sources: [Source]
    /// The window answered.
    public var window: Window
    /// How the numbers were made, in words.
    public var aggregation: String
    /// When the answer was made, ms UTC.
    public var generatedAt: Int64
    /// Unreadable (quarantined) parts that may hold rows of the tenants and range answered: the numbers lack
    /// their rows. Only parts of the answer's own tenants are listed.
    public var missing: [MissingPart] = []

    /// Whether the answer holds every stored row it asked for.
    public var complete: Bool { missing.isEmpty }

    /// The provenance of an answer read from the catalog alone (anomalies, incidents, reservations): `reads` catalog
    /// reads, no record store.
    static func catalog(reads: Int, window: Window, aggregation: String, now: Int64) -> Provenance {
        Provenance(sources: [.catalog(reads: reads)], window: window, aggregation: aggregation, generatedAt: now)
    }
}

/// Runs the queries of one answer through one record reader and keeps what they read, for the provenance.
struct QueryRun {
    let reader: any RecordReader
    let useRollups: Bool
    private(set) var statistics = QueryStatistics()
    private(set) var queries = 0
    private(set) var missing: [MissingPart] = []

    /// A run on a fresh reader of `records`.
    init(_ records: any RecordStore, useRollups: Bool) async throws {
        self.init(reader: try await records.reader(), useRollups: useRollups)
    }

    init(reader: any RecordReader, useRollups: Bool) {
        self.reader = reader
        self.useRollups = useRollups
    }

    mutating func run(_ query: Query) async throws -> QueryResult {
        let result = try await reader.aggregate(query)
        count(result)
        return result
    }

    /// The results of `queries`, asked of the reader in one go.
    mutating func run(_ queries: [Query]) async throws -> [QueryResult] {
        let results = try await reader.aggregate(queries)
        for r in results { count(r) }
        return results
    }

    private mutating func count(_ result: QueryResult) {
        queries += 1
        let s = result.statistics
        statistics.partsRead += s.partsRead
        statistics.headsRead += s.headsRead
        statistics.hoursFromIndex += s.hoursFromIndex
        statistics.rowsScanned += s.rowsScanned
        for m in result.missing where !missing.contains(where: { $0.id == m.id }) { missing.append(m) }
    }

    /// What the run read, as a source.
    var source: Provenance.Source {
        Provenance.Source(
            name: reader.sourceName, snapshotGeneration: reader.generation, queries: queries,
            partsRead: statistics.partsRead, headViewsRead: statistics.headsRead,
            hoursFromRollups: statistics.hoursFromIndex, rowsScanned: statistics.rowsScanned, rollups: useRollups)
    }

    /// The provenance of an answer made from this run (and, when `catalogReads` > 0, from that many catalog reads).
    func provenance(window: Window, aggregation: String, now: Int64, catalogReads: Int = 0) -> Provenance {
        Provenance(
            sources: catalogReads > 0 ? [source, .catalog(reads: catalogReads)] : [source],
            window: window, aggregation: aggregation, generatedAt: now, missing: missing)
    }
}
