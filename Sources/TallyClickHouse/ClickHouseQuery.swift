import TallyQuery
import TallyStore

/// A `Query` as one ClickHouse statement: the filters, grouping, bucketing, zero-filling, trailing windows,
/// ordering and limit all run in ClickHouse, which sends back only the rows of the answer.
///
/// The shape (ClickHouse 18.16 has no `WITH` subqueries and one JOIN per SELECT, so the pieces nest):
///
///     SELECT keys, b, c, i, o, s [, tr, ptr] FROM
///         ( sums per (keys, bucket)                                  -- no bucket, or no zero-filling
///         | grid of (group, bucket) ANY LEFT JOIN sums USING (keys, b) )   -- zero-filled buckets
///         [ANY LEFT JOIN trailing sums per (keys, day) USING (keys, b)]
///     ORDER BY measure DESC, keys, b LIMIT n
///
/// - sums: `GROUP BY` over the Distributed table, so each shard sums its tenants and the initiator merges.
/// - grid: every group with a row in range (`GROUP BY keys`), times every bucket from the bucket of `from` (or the
///   first bucket with data: a scalar subquery) to the bucket of `to - 1` (or the last), by `ARRAY JOIN range(n)`;
///   a missing right-hand row of an `ANY LEFT JOIN` reads as zeros (`join_use_nulls` is 0), which is the zero fill.
/// - trailing sums: daily cost per (group, day) up to `to`, each day spread over the `days` (or `2 days`, with the
///   previous window) result days it counts for by `ARRAY JOIN range`, then summed per result day: `sumIf(k < days)`
///   is the window ending on the day, `sumIf(k >= days)` the one before. Equality joins only, which 18.16 has.
/// - order: ClickHouse compares `String`s byte by byte (no collation), which is Tally's tie rule.
///
/// Times: `created_at_ms` (Int64 ms) is what answers use; `created_at` (DateTime, seconds) is the sorting key, so a
/// condition on it as well lets ClickHouse skip granules by the primary index.
struct ClickHouseQuery {
    let query: Query
    /// `db.records`, the Distributed table.
    let table: String
    /// Rows inserted after the reader was made are not seen (see `ClickHouseRecordStore.Reader`).
    let maxSeq: UInt64

    /// Columns of each result line: the keys, the bucket, the four sums, the two trailing sums.
    var columns: Int { query.groupBy.count + (query.bucket == .none ? 0 : 1) + 4 + (query.trailing == nil ? 0 : 2) }

    static func column(_ key: Query.Key) -> String {
        switch key {
        case .tenant: "tenant_id"
        case let .dimension(d): d.fieldName
        }
    }

    static func bucketExpression(_ bucket: Query.Bucket) -> String {
        // created_at_ms >= 0 (a DateTime is unsigned), so intDiv's truncation is the floor.
        "intDiv(created_at_ms, \(bucket.millis)) * \(bucket.millis)"
    }

    static func int(_ v: Int64) -> String { "toInt64(\(v))" }

    /// Tenants, filters and the reader's snapshot.
    var selection: String {
        var conditions: [String] = []
        switch query.tenants {
        case let .one(t): conditions.append("tenant_id = \(ClickHouseText.literal(t))")
        case let .some(list): conditions.append("tenant_id IN \(ClickHouseText.list(list))")
        case .all: break
        }
        for (d, values) in query.filters.sorted(by: { $0.key < $1.key }) {
            conditions.append("\(d.fieldName) IN \(ClickHouseText.list(values))")
        }
        conditions.append("insert_seq <= \(maxSeq)")
        return conditions.joined(separator: " AND ")
    }

    /// `from <= created_at_ms < to`, with the same bounds on `created_at` for the primary index.
    static func range(from: Int64?, to: Int64?) -> [String] {
        var conditions: [String] = []
        if let from {
            conditions.append("created_at_ms >= \(int(from))")
            let seconds = TimeUnit.floorDiv(from, 1_000)
            if seconds > 0 { conditions.append("created_at >= toDateTime(\(min(seconds, Int64(UInt32.max))))") }
        }
        if let to {
            conditions.append("created_at_ms < \(int(to))")
            let seconds = TimeUnit.floorDiv(to - 1, 1_000)
            if seconds < Int64(UInt32.max) { conditions.append("created_at <= toDateTime(\(max(seconds, 0)))") }
        }
        return conditions
    }

    var inRange: String {
        ([selection] + Self.range(from: query.from, to: query.to)).joined(separator: " AND ")
    }

    var keyNames: [String] { query.groupBy.indices.map { "g\($0)" } }

    var keySelect: [String] { query.groupBy.enumerated().map { "\(Self.column($0.element)) AS g\($0.offset)" } }

    /// Sums per (keys, bucket) over the range.
    var sums: String {
        var select = keySelect
        var group = keyNames
        if query.bucket != .none {
            select.append("\(Self.bucketExpression(query.bucket)) AS b")
            group.append("b")
        }
        select += ["count() AS c", "sum(input_tokens) AS i", "sum(output_tokens) AS o", "sum(cost_nanos) AS s"]
        return "SELECT \(select.joined(separator: ", ")) FROM \(table) WHERE \(inRange)"
            + (group.isEmpty ? "" : " GROUP BY \(group.joined(separator: ", "))")
    }

    /// Every (group, bucket) of a zero-filled answer, joined with the sums.
    var filled: String {
        let bucket = query.bucket
        let w = bucket.millis
        let first = query.from.map { Self.int(bucket.start($0)) }
            ?? "(SELECT min(\(Self.bucketExpression(bucket))) FROM \(table) WHERE \(inRange))"
        let last = query.to.map { Self.int(bucket.start($0 - 1)) }
            ?? "(SELECT max(\(Self.bucketExpression(bucket))) FROM \(table) WHERE \(inRange))"
        var n = "intDiv(\(last) - \(first), \(w)) + 1"
        if query.from == nil || query.to == nil {
            // An open end takes the first or last bucket with data; without data there is none.
            n = "if((SELECT count() FROM \(table) WHERE \(inRange)) = 0, 0, \(n))"
        }
        let groups = query.groupBy.isEmpty
            ? "system.one"
            : "(SELECT \(keySelect.joined(separator: ", ")) FROM \(table) WHERE \(inRange) GROUP BY \(keyNames.joined(separator: ", ")))"
        let grid = "SELECT \((keyNames + ["\(first) + toInt64(x) * \(w) AS b"]).joined(separator: ", ")) FROM \(groups) "
            + "ARRAY JOIN range(toUInt64(\(n))) AS x"
        let using = (keyNames + ["b"]).joined(separator: ", ")
        return "SELECT \(using), c, i, o, s FROM (\(grid)) ANY LEFT JOIN (\(sums)) USING (\(using))"
    }

    /// Daily cost per group spread over the result days whose trailing windows hold it.
    func trailingSums(_ trailing: Query.Trailing) -> String {
        let day = TimeUnit.dayMillis
        let days = Int64(trailing.days)
        let spread = trailing.previous ? 2 * days : days
        var range = Self.range(from: nil, to: query.to)
        if let from = query.from {
            // The earliest result day is the day of `from`; its windows reach `spread - 1` days before it.
            let earliest = TimeUnit.dayStart(from) - (spread - 1) * day
            range += Self.range(from: earliest, to: nil)
        }
        let daily = "SELECT \((keySelect + ["\(Self.bucketExpression(.day)) AS day", "sum(cost_nanos) AS dc"]).joined(separator: ", ")) "
            + "FROM \(table) WHERE \(([selection] + range).joined(separator: " AND ")) "
            + "GROUP BY \((keyNames + ["day"]).joined(separator: ", "))"
        let group = (keyNames + ["b"]).joined(separator: ", ")
        return "SELECT \((keyNames + ["day + toInt64(k) * \(day) AS b", "sumIf(dc, k < \(days)) AS tr", "sumIf(dc, k >= \(days)) AS ptr"]).joined(separator: ", ")) "
            + "FROM (\(daily)) ARRAY JOIN range(\(spread)) AS k GROUP BY \(group)"
    }

    /// The statement.
    var sql: String {
        var rows = query.bucket != .none && query.fillEmptyBuckets ? filled : sums
        var outputs = keyNames + (query.bucket == .none ? [] : ["b"]) + ["c", "i", "o", "s"]
        if let trailing = query.trailing {
            let using = (keyNames + ["b"]).joined(separator: ", ")
            rows = "SELECT \(outputs.joined(separator: ", ")), tr, ptr FROM (\(rows)) ANY LEFT JOIN (\(trailingSums(trailing))) USING (\(using))"
            outputs += ["tr", "ptr"]
        }
        var order: [String] = []
        switch query.order {
        case .key: break
        case .cost: order.append("s DESC")
        case .count: order.append("c DESC")
        case .inputTokens: order.append("i DESC")
        case .outputTokens: order.append("o DESC")
        case .tokens: order.append("i + o DESC")
        }
        order += keyNames + (query.bucket == .none ? [] : ["b"])
        var sql = "SELECT \(outputs.joined(separator: ", ")) FROM (\(rows))"
        if !order.isEmpty { sql += " ORDER BY \(order.joined(separator: ", "))" }
        if let limit = query.limit { sql += " LIMIT \(limit)" }
        return sql + " FORMAT TabSeparated"
    }

    /// The answer from the statement's TabSeparated lines.
    func result(_ bytes: [UInt8]) throws -> QueryResult {
        let lines = try ClickHouseText.rows(bytes, columns: columns)
        let k = query.groupBy.count
        var keyColumns = [[String]](repeating: [], count: k)
        var buckets: [Int64] = [], count: [Int64] = [], input: [Int64] = [], output: [Int64] = [], cost: [Int64] = []
        var trailing: [Int64] = [], previous: [Int64] = []
        for line in lines {
            for j in 0..<k { keyColumns[j].append(line[j]) }
            var c = k
            if query.bucket != .none {
                buckets.append(try ClickHouseText.int(line[c]))
                c += 1
            }
            count.append(try ClickHouseText.int(line[c]))
            input.append(try ClickHouseText.int(line[c + 1]))
            output.append(try ClickHouseText.int(line[c + 2]))
            cost.append(try ClickHouseText.int(line[c + 3]))
            if query.trailing != nil {
                trailing.append(try ClickHouseText.int(line[c + 4]))
                previous.append(try ClickHouseText.int(line[c + 5]))
            }
        }
        let a = query.aggregates
        return QueryResult(
            groupBy: query.groupBy, keyColumns: keyColumns, bucketStarts: buckets, count: count,
            inputTokens: a.contains(.inputTokens) ? input : [], outputTokens: a.contains(.outputTokens) ? output : [],
            cost: a.contains(.cost) ? cost : [], trailingDays: query.trailing?.days,
            trailingCost: query.trailing == nil ? [] : trailing,
            previousTrailingCost: query.trailing?.previous == true ? previous : [])
    }
}
