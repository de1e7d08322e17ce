import TallyStore

/// Consecutive rows of a part that fall in one local bucket and must be scanned.
struct ScanRange: Sendable {
    var start: Int
    var end: Int
    var bucket: Int
}

/// Everything a scan of one source needs, decided once per query: its filters in its own codes, its key
/// layout, the rows to scan, and the sums already answered by the hour index.
///
/// `@unchecked Sendable`: immutable after planning, except `indexed`, which only the planner touches.
final class SourcePlan: @unchecked Sendable {
    enum Source {
        case part(PartReader)
        case head(HeadView)
    }

    let source: Source
    let tenant: String
    let dictionaries: PartDictionaries
    /// Dimensions of the query's group keys, in key order (the tenant excluded).
    let groupDims: [Dimension]
    /// Filters that do not pass every code of this source.
    let filters: [FilterPlan]
    let layout: KeyLayout
    /// Start of local bucket 0 (ms) and the bucket width (0 = no bucket).
    let firstBucket: Int64
    let width: Int64
    /// The query range.
    let lo: Int64
    let hi: Int64
    /// Parts: rows to scan, ascending; granules holding them, ascending; the largest granule.
    let ranges: [ScanRange]
    let granules: [Int]
    let maxGranuleRows: Int
    /// Heads: whether some rows lie outside `[lo, hi)`.
    let timeCheck: Bool
    /// Heads: the hour totals answer it all (`indexed`); no row is scanned.
    let indexOnly: Bool
    /// Sums answered from hour totals and rollups.
    var indexed: Partial?
    /// The rows scanned are subtracted from `indexed`, not added: a part rollup less the rows outside the range
    /// (`Planner.planFromPartRollupsLessOutside`).
    var subtractsScan = false
    /// Heads: the chunks answered from their rollups (in `indexed`), not scanned (empty: none).
    var rolledUpChunks: [Bool] = []

    init(source: Source, tenant: String, dictionaries: PartDictionaries, groupDims: [Dimension], filters: [FilterPlan],
         layout: KeyLayout, firstBucket: Int64, width: Int64, lo: Int64, hi: Int64, ranges: [ScanRange] = [],
         granules: [Int] = [], maxGranuleRows: Int = 0, timeCheck: Bool = false, indexOnly: Bool = false) {
        self.source = source
        self.tenant = tenant
        self.dictionaries = dictionaries
        self.groupDims = groupDims
        self.filters = filters
        self.layout = layout
        self.firstBucket = firstBucket
        self.width = width
        self.lo = lo
        self.hi = hi
        self.ranges = ranges
        self.granules = granules
        self.maxGranuleRows = maxGranuleRows
        self.timeCheck = timeCheck
        self.indexOnly = indexOnly
    }

    /// Rows this plan will scan (for scheduling).
    var rowsToScan: Int {
        switch source {
        case .part: ranges.reduce(0) { $0 + $1.end - $1.start }
        case let .head(h): indexOnly ? 0 : h.rows
        }
    }

    /// Start (ms) of local bucket `b`.
    func bucketStart(_ b: Int) -> Int64 { width == 0 ? 0 : firstBucket + Int64(b) * width }
}
