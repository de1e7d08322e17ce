import TallyQuery
import TallyStore

/// The oracle of the query engine: answers a `Query` record by record, in the plainest way, from
/// `[CostRecord]` (e.g. `snapshot.records()`), following the semantics documented on `Query`.
///
/// Strings are compared and grouped as UTF-8 bytes, as the store keeps them.
public struct ReferenceAggregator: Sendable {
    struct Row: Sendable {
        var tenant: [UInt8]
        var dims: [[UInt8]]
        var input: Int64
        var output: Int64
        var cost: Int64
        var time: Int64
    }

    struct Key: Hashable {
        var strings: [[UInt8]]
        var bucket: Int64
    }

    struct Sums {
        var count: Int64 = 0
        var input: Int64 = 0
        var output: Int64 = 0
        var cost: Int64 = 0
    }

    private let rows: [Row]

    /// An oracle over `records`.
    public init(records: [CostRecord]) {
        rows = records.map { r in
            Row(tenant: Array(r.tenantID.utf8), dims: Dimension.allCases.map { Array(r[$0].utf8) },
                input: r.inputTokens, output: r.outputTokens, cost: r.costNanos, time: r.createdAtMillis)
        }
    }

    /// The answer to `q`.
    public func run(_ q: Query) -> QueryResult {
        let from = q.from ?? .min, to = q.to ?? .max
        let matching = rows.filter(matches(q))

        // Sums per (group, bucket) over [from, to).
        var sums: [Key: Sums] = [:]
        var groups: [[[UInt8]]] = []
        var seen = Set<[[UInt8]]>()
        if q.groupBy.isEmpty {
            groups = [[]]
            seen.insert([])
        }
        var minBucket = Int64.max, maxBucket = Int64.min
        for r in matching where r.time >= from && r.time < to {
            let g = groupOf(r, q)
            let b = bucketOf(r.time, q.bucket)
            let k = Key(strings: g, bucket: b)
            var s = sums[k] ?? Sums()
            s.count += 1
            s.input += r.input
            s.output += r.output
            s.cost += r.cost
            sums[k] = s
            if !seen.contains(g) {
                seen.insert(g)
                groups.append(g)
            }
            minBucket = min(minBucket, b)
            maxBucket = max(maxBucket, b)
        }

        // The rows of the result.
        var keys: [Key] = []
        switch q.bucket {
        case .none:
            keys = groups.map { Key(strings: $0, bucket: 0) }
        case .hour, .day:
            if q.fillEmptyBuckets {
                let first = q.from.map { bucketOf($0, q.bucket) } ?? minBucket
                let last = q.to.map { bucketOf($0 - 1, q.bucket) } ?? maxBucket
                let step = q.bucket == .hour ? Int64(3_600_000) : Int64(86_400_000)
                if first <= last {
                    for g in groups {
                        var b = first
                        while b <= last {
                            keys.append(Key(strings: g, bucket: b))
                            b += step
                        }
                    }
                }
            } else {
                keys = Array(sums.keys)
            }
        }

        // Trailing windows: whole days back from each row's day, cut by `to` only.
        var daily: [Key: Int64] = [:]
        if q.trailing != nil {
            for r in matching where r.time < to {
                daily[Key(strings: groupOf(r, q), bucket: bucketOf(r.time, .day)), default: 0] += r.cost
            }
        }
        func window(_ k: Key, _ firstBack: Int, _ lastBack: Int) -> Int64 {
            var total: Int64 = 0
            for back in firstBack...lastBack {
                total += daily[Key(strings: k.strings, bucket: k.bucket - Int64(back) * 86_400_000)] ?? 0
            }
            return total
        }

        // Order: measure descending, then keys ascending by bytes, then bucket.
        func measure(_ k: Key) -> Int64 {
            let s = sums[k] ?? Sums()
            switch q.order {
            case .key: return 0
            case .cost: return s.cost
            case .count: return s.count
            case .inputTokens: return s.input
            case .outputTokens: return s.output
            case .tokens: return s.input + s.output
            }
        }
        let measured = keys.map { ($0, measure($0)) }.sorted { a, b in
            if a.1 != b.1 { return a.1 > b.1 }
            for (x, y) in zip(a.0.strings, b.0.strings) where x != y { return x.lexicographicallyPrecedes(y) }
            return a.0.bucket < b.0.bucket
        }
        keys = measured.map(\.0)
        if let limit = q.limit { keys = Array(keys.prefix(limit)) }

        let value = { (k: Key) in sums[k] ?? Sums() }
        let a = q.aggregates
        return QueryResult(
            groupBy: q.groupBy,
            keyColumns: q.groupBy.indices.map { p in keys.map { String(decoding: $0.strings[p], as: UTF8.self) } },
            bucketStarts: q.bucket == .none ? [] : keys.map(\.bucket),
            count: keys.map { value($0).count },
            inputTokens: a.contains(.inputTokens) ? keys.map { value($0).input } : [],
            outputTokens: a.contains(.outputTokens) ? keys.map { value($0).output } : [],
            cost: a.contains(.cost) ? keys.map { value($0).cost } : [],
            trailingDays: q.trailing?.days,
            trailingCost: q.trailing.map { t in keys.map { window($0, 0, t.days - 1) } } ?? [],
            previousTrailingCost: q.trailing.map { t in t.previous ? keys.map { window($0, t.days, 2 * t.days - 1) } : [] } ?? [])
    }

    private func matches(_ q: Query) -> (Row) -> Bool {
        let tenants: [[UInt8]]?
        switch q.tenants {
        case let .one(t): tenants = [Array(t.utf8)]
        case let .some(list): tenants = list.map { Array($0.utf8) }
        case .all: tenants = nil
        }
        let filters = q.filters.map { ($0.key, $0.value.map { Array($0.utf8) }) }
        return { r in
            if let tenants, !tenants.contains(r.tenant) { return false }
            for (d, values) in filters where !values.contains(r.dims[d.rawValue]) { return false }
            return true
        }
    }

    private func groupOf(_ r: Row, _ q: Query) -> [[UInt8]] {
        q.groupBy.map { key in
            switch key {
            case .tenant: r.tenant
            case let .dimension(d): r.dims[d.rawValue]
            }
        }
    }

    private func bucketOf(_ t: Int64, _ bucket: Query.Bucket) -> Int64 {
        let w: Int64
        switch bucket {
        case .none: return 0
        case .hour: w = 3_600_000
        case .day: w = 86_400_000
        }
        let q = t / w
        return (t % w != 0 && t < 0 ? q - 1 : q) * w
    }
}
