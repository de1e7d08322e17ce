import Dispatch
import TallyStore

/// The general plan over many parts (an all-tenant question over thousands of small tenants): each scan thread takes
/// the next few parts, plans each, scans its rows and merges it into a table of its own; the threads' tables are merged
/// at the end by key strings.
///
/// Planned on one thread, then merged on one thread, parts of 2,000 rows each spent a third of a two-thread scan's time
/// outside the scan threads (5,000 plans, each source's partial merged by its codes' strings, each plan released). A
/// part with more rows to scan than a work unit is left to the general plan's work units, so one thread is never left
/// with a large part while the other waits.
extension QueryEngine {
    /// Parts a thread takes at a time.
    static let manyPartsChunk = 16

    /// Plans, scans and merges the small parts of `parts` into `table` (its ids in `dictionaries`) on up to `threads`
    /// threads. Returns the plans of the parts left to the work units, in the order of `parts`; `subtracted` is set when a
    /// plan merged subtracted its scan (groups left without rows are dropped at the end).
    func aggregateManyParts(_ spec: ScanSpec, _ parts: [PartReader], _ dictionaries: inout KeyDictionaries,
                            _ stats: inout QueryStatistics, into table: inout GroupTable, subtracted: inout Bool) throws -> [SourcePlan] {
        let chunks = (parts.count + Self.manyPartsChunk - 1) / Self.manyPartsChunk
        let workers = max(1, min(threads, chunks))
        let results = WorkerResults<ManyPartsOutput>(workers: workers)
        let counter = UnitCounter()
        let unitRows = unitRows
        DispatchQueue.concurrentPerform(iterations: workers) { w in
            results.put(w, Self.manyPartsWorker(spec, parts, counter: counter, chunks: chunks, unitRows: unitRows))
        }
        let outputs = results.take()
        for o in outputs {
            if let e = o.error { throw e }
        }
        var left: [(index: Int, plan: SourcePlan)] = []
        for o in outputs {
            table.merge(o.table, ids: o.dictionaries, into: &dictionaries)
            stats.add(o.stats)
            left += o.left
            subtracted = subtracted || o.subtracted
        }
        stats.threads = max(stats.threads, workers)
        return left.sorted { $0.index < $1.index }.map(\.plan)
    }

    /// One thread of `aggregateManyParts`: takes chunks of parts until none is left.
    private static func manyPartsWorker(_ spec: ScanSpec, _ parts: [PartReader], counter: UnitCounter, chunks: Int,
                                        unitRows: Int) -> ManyPartsOutput {
        var planner = Planner(spec)
        var worker = ScanWorker(measures: spec.measures)
        var out = ManyPartsOutput(dictionaries: KeyDictionaries(positions: spec.query.groupBy.count))
        let groupBy = spec.query.groupBy
        do {
            while true {
                let c = counter.take()
                guard c < chunks else { break }
                for i in (c * Self.manyPartsChunk)..<min(parts.count, (c + 1) * Self.manyPartsChunk) {
                    let part = parts[i]
                    guard let plan = try planner.plan(part: part) else { continue }
                    var rows = 0
                    if !plan.granules.isEmpty {
                        let granules = part.granules
                        for g in plan.granules { rows += granules[g].rows }
                    }
                    if rows > unitRows {
                        out.left.append((i, plan))
                        continue
                    }
                    out.stats.partsPlannedInParallel += 1
                    var maps: [[Int32]] = plan.groupDims.map { [Int32](repeating: -1, count: plan.dictionaries.sizes[$0.rawValue]) }
                    if let p = plan.indexed {
                        out.table.absorb(p, of: plan, groupBy: groupBy, dictionaries: &out.dictionaries, maps: &maps)
                    }
                    if rows > 0 {
                        let partial = Partial(plan.layout)
                        try worker.run(WorkUnit(plan: 0, start: 0, end: plan.granules.count, rows: rows), plan, into: partial)
                        out.table.absorb(partial, of: plan, groupBy: groupBy, dictionaries: &out.dictionaries, maps: &maps,
                                         subtracting: plan.subtractsScan)
                    }
                    if plan.subtractsScan { out.subtracted = true }
                }
            }
        } catch {
            out.error = error
        }
        out.stats.add(planner.stats)
        out.stats.add(worker.stats)
        return out
    }
}

/// What one thread of `aggregateManyParts` made.
private struct ManyPartsOutput: @unchecked Sendable {
    var table = GroupTable()
    /// The ids of `table`'s keys.
    var dictionaries: KeyDictionaries
    /// Parts left to the work units (too many rows for one thread), with their place in the parts.
    var left: [(index: Int, plan: SourcePlan)] = []
    var subtracted = false
    var stats = QueryStatistics()
    var error: (any Error)?
}

extension GroupTable {
    /// Adds the groups of `other`, whose ids are those of `ids`, translating them into the ids of `dictionaries`.
    mutating func merge(_ other: GroupTable, ids: KeyDictionaries, into dictionaries: inout KeyDictionaries) {
        guard !other.keys.isEmpty else { return }
        let positions = ids.positions
        let values = (0..<positions).map { ids.values($0) }
        // The id in `dictionaries` of each id of `other` (-1: not looked up yet).
        var map = values.map { [Int32](repeating: -1, count: $0.count) }
        reserve(more: other.keys.count)
        for (i, key) in other.keys.enumerated() {
            var ids = key.ids
            for p in 0..<positions {
                let id = Int(key.ids[p])
                var to = map[p][id]
                if to < 0 {
                    to = dictionaries.id(p, values[p][id])
                    map[p][id] = to
                }
                ids[p] = to
            }
            add(MergeKey(ids: ids, bucket: key.bucket), other.count[i], other.input[i], other.output[i], other.cost[i])
        }
    }
}
