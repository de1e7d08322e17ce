import ArgumentParser
import TallyAnalytics
import TallyClickHouse
import TallyQuery
import TallyStore
import TallyText

/// `tally query`: usage series, cost breakdowns and daily baselines, as a table, JSON or CSV.
struct QueryCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "query",
        abstract: "Usage series, cost breakdowns and daily baselines from the store.",
        discussion: """
            usage: totals per hour or day (empty buckets appear with zeros), optionally per --group-by key.

            cost: totals per --group-by key (default: feature), most expensive first; --limit for a top-k.

            baseline: daily cost with the trailing average over --trailing-days (default 7) days, and the average of \
            the window before it (drift).

            Times are dates (midnight UTC) or RFC 3339 times; the range is [from, to). Filters take one value or \
            several separated by commas. Tables show money as dollars rounded to the cent ($1,234.57); --exact shows \
            exact cost_cents with 7 decimals. JSON has the shape of the HTTP facade: cost_cents are exact decimal strings.
            """)

    enum Kind: String, ExpressibleByArgument, CaseIterable {
        case usage, cost, baseline
    }

    enum Format: String, ExpressibleByArgument, CaseIterable {
        case table, json, csv
    }

    @OptionGroup var store: ReadStoreOptionGroup

    @OptionGroup var recordOptions: RecordOptions

    @Argument(help: "usage, cost or baseline.")
    var kind: Kind

    @Option(help: "A tenant id, several separated by commas, or * for every tenant.")
    var tenant: String

    @Option(help: "Start of the range (inclusive): a date or an RFC 3339 time.")
    var from: String?

    @Option(help: "End of the range (exclusive): a date or an RFC 3339 time.")
    var to: String?

    @Option(help: "hour or day (usage: default day; cost: none unless given; baseline: always day).")
    var resolution: String?

    @Option(help: "Only these project ids.") var project: String?
    @Option(help: "Only these environments.") var environment: String?
    @Option(help: "Only these user ids.") var user: String?
    @Option(help: "Only these feature tags.") var feature: String?
    @Option(help: "Only these models.") var model: String?
    @Option(help: "Only these workflow ids.") var workflow: String?
    @Option(help: "Only these skill ids.") var skill: String?

    @Option(name: .customLong("group-by"), help: "Group keys, comma-separated: tenant, project, environment, user, feature, workflow, skill, model.")
    var groupBy: String?

    @Option(help: "Sums to compute, comma-separated: cost, tokens (input and output), input_tokens, output_tokens; the count is always there, and the order's measure is added (default: all). Fewer sums read fewer columns.")
    var measures: String?

    @Option(help: "Order of the rows: cost, count, tokens or key (cost: default cost; others: key).")
    var order: String?

    @Option(help: "Keep the first N rows of the order.")
    var limit: Int?

    @Option(name: .customLong("trailing-days"), help: "Days of the trailing window (baseline).")
    var trailingDays: Int?

    @Flag(name: .customLong("no-rollups"), help: "Scan rows instead of answering from the per-hour totals and rollups.")
    var noRollups = false

    @Flag(name: .customLong("no-fill"), help: "Leave out empty buckets instead of showing them with zeros.")
    var noFill = false

    @Option(name: .customLong("repeat"), help: "Run the query this many more times, warm, and print the median and best latency to standard error (benchmarks).")
    var repeats: Int = 0

    @Option(help: "Scan threads.")
    var threads: Int = 2

    @Flag(name: .customLong("allow-partial"), help: "Answer even when quarantined or unreadable parts may hold rows of the query (they are named on standard error and in the JSON provenance); without it such a query fails.")
    var allowPartial = false

    @Option(help: "table, json or csv.")
    var format: Format = .table

    @Flag(help: "Tables show exact cost_cents (7 decimals) instead of dollars rounded to the cent.")
    var exact = false

    func validate() throws {
        guard !tenant.isEmpty else { throw ValidationError("--tenant must name a tenant, several separated by commas, or *") }
        if let from { _ = try Self.time(from, "--from") }
        if let to { _ = try Self.time(to, "--to") }
        if let resolution, !["hour", "day"].contains(resolution) { throw ValidationError("--resolution must be hour or day") }
        if kind == .baseline, resolution == "hour" { throw ValidationError("--resolution: a baseline is daily") }
        if let order, !["cost", "count", "tokens", "key"].contains(order) {
            throw ValidationError("--order must be cost, count, tokens or key")
        }
        for name in Self.list(groupBy) where Query.Key(name: name) == nil {
            throw ValidationError("--group-by: unknown key '\(name)' (tenant, project, environment, user, feature, workflow, skill, model)")
        }
        if let limit, limit < 1 { throw ValidationError("--limit must be at least 1") }
        if let trailingDays, trailingDays < 1 { throw ValidationError("--trailing-days must be at least 1") }
        if trailingDays != nil && kind != .baseline { throw ValidationError("--trailing-days applies to baseline only") }
        guard threads >= 1 else { throw ValidationError("--threads must be at least 1") }
        guard repeats >= 0 else { throw ValidationError("--repeat must be at least 0") }
        try recordOptions.check(data: store.data)
        _ = try makeQuery()
    }

    func run() async throws {
        let query = try makeQuery()
        if try recordOptions.kind() == .clickhouse {
            try await runOnClickHouse(query)
            return
        }
        let s = try store.open()
        defer { try? s.close() }
        let engine = QueryEngine(threads: threads)
        // The footers of the parts the query may read, checked now: a damaged one is named below as missing.
        let named = Self.named(query.tenants)
        // Parts the window cuts, and every part of an hourly series, are planned hour by hour: their hour entries are
        // made as their footers are read (the others' never, or on first use). Parts the window cuts, and every part
        // of a raw scan, have blocks read: their files are mapped as their footers are read (the others' only if a
        // block of theirs is read after all).
        let (from, to, hourly, raw) = (query.from ?? .min, query.to ?? .max, query.bucket == .hour, !query.useRollups)
        s.loadFooters(tenants: named.isEmpty ? nil : named) { minTime, maxTime in
            let cut = from > minTime || to <= maxTime
            var use: FooterUse = []
            if hourly || cut { use.insert(.hours) }
            if raw || cut { use.insert(.blocks) }
            return use
        }
        var snapshot = s.snapshot()
        try Self.checkTenantsExist(query.tenants, in: snapshot, data: try store.directory())
        let started = TimeSource.systemMonotonicSeconds()
        var answer: (result: QueryResult, totals: QueryResult?)?
        // CSV prints the rows only: the window's totals (a second query) are for the table's footer and the JSON.
        let totalsQuery = format == .csv ? nil : try totalsQuery(query)
        while answer == nil {
            do throws(QueryError) {
                answer = (try engine.run(query, on: snapshot), try totalsQuery.map { q throws(QueryError) in try engine.run(q, on: snapshot) })
            } catch {
                // A part that failed a checksum mid-scan is missing from the next snapshot: with --allow-partial the
                // query runs again without it (and says so below); otherwise the failure is the answer.
                let fresh = s.snapshot()
                var corrupt = false
                if case let .storage(e) = error, case .corrupt = e { corrupt = true }
                guard allowPartial, corrupt, fresh.missing.count > snapshot.missing.count else {
                    printError("query failed: \(error)")
                    throw ExitCode(1)
                }
                printError("note: \(error)")
                snapshot = fresh
            }
        }
        let (result, totals) = answer!
        let elapsed = TimeSource.systemMonotonicSeconds() - started
        var missing = result.missing
        for m in totals?.missing ?? [] where !missing.contains(where: { $0.id == m.id }) { missing.append(m) }
        if !reportMissing(missing, allowPartial: allowPartial, what: "query") { throw ExitCode(1) }
        if repeats > 0 {
            var times: [Double] = []
            for _ in 0..<repeats {
                let t0 = TimeSource.systemMonotonicSeconds()
                _ = try? engine.run(query, on: snapshot)
                times.append(TimeSource.systemMonotonicSeconds() - t0)
            }
            reportRepeats(times, "\(threads) threads, rollups \(noRollups ? "off" : "on")")
        }
        let report = QueryReport(kind: kind, query: query, result: result, totals: totals, elapsedSeconds: elapsed, missing: missing, exact: exact)
        write(report)
    }

    /// A tenant named on the command line that has no record at all in the store is a mistake to report, not an
    /// empty answer to print (a typo would otherwise read as "spent nothing").
    static func checkTenantsExist(_ tenants: Query.Tenants, in snapshot: StoreSnapshot, data: String) throws {
        let named = Self.named(tenants)
        let known = Set(snapshot.tenants + snapshot.missing.map(\.tenant))
        let unknown = named.filter { !known.contains($0) }
        guard !unknown.isEmpty else { return }
        let list = unknown.map { "'\($0)'" }.joined(separator: ", ")
        throw CommandError("no records of tenant \(list) in \(data) (\(known.count) tenants hold records; "
            + "--tenant '*' reads them all)")
    }

    /// The tenants the command line named (none for `*`).
    static func named(_ tenants: Query.Tenants) -> [String] {
        switch tenants {
        case let .one(t): [t]
        case let .some(list): list
        case .all: []
        }
    }

    /// Writes the answer in the chosen format to standard output.
    func write(_ report: QueryReport) {
        switch format {
        case .table: print(report.table(), terminator: "")
        case .json: print(report.json())
        case .csv: print(report.csv(), terminator: "")
        }
    }

    /// The same query answered by the ClickHouse cluster (one SQL statement each for the rows and the totals).
    func runOnClickHouse(_ query: Query) async throws {
        let pool = BlockingPool()
        let records = try recordOptions.openClickHouse(pool: pool)
        defer { try? records.close() }
        let reader = try await records.reader()
        for tenant in Self.named(query.tenants) where try await reader.newestRecord(of: .one(tenant)) == nil {
            throw CommandError("no records of tenant '\(tenant)' in the ClickHouse cluster")
        }
        let started = TimeSource.systemMonotonicSeconds()
        let result = try await reader.aggregate(query)
        let totals = format == .csv ? nil : try await reader.aggregate(try totalsQuery(query))
        let elapsed = TimeSource.systemMonotonicSeconds() - started
        if repeats > 0 {
            var times: [Double] = []
            for _ in 0..<repeats {
                let t0 = TimeSource.systemMonotonicSeconds()
                _ = try await reader.aggregate(query)
                times.append(TimeSource.systemMonotonicSeconds() - t0)
            }
            reportRepeats(times, "ClickHouse")
        }
        let report = QueryReport(kind: kind, query: query, result: result, totals: totals, elapsedSeconds: elapsed, exact: exact)
        write(report)
    }

    /// `--repeat`: the warm runs' median and best latency (without process start and store open) on standard error,
    /// the line Benchmarks/peers.sh and Benchmarks/cluster.sh read.
    func reportRepeats(_ seconds: [Double], _ how: String) {
        let times = seconds.sorted()
        printError("query: median \(fixed(times[times.count / 2] * 1000, 3)) ms, best \(fixed(times[0] * 1000, 3)) ms "
            + "over \(times.count) warm runs (\(how))")
    }

    // MARK: Building the query

    static func list(_ value: String?) -> [String] {
        guard let value else { return [] }
        return value.split(separator: ",", omittingEmptySubsequences: false).map { String($0) }.filter { !$0.isEmpty }
    }

    static func time(_ text: String, _ option: String) throws -> Int64 {
        try parseTimeOption(text, option)
    }

    func makeQuery() throws -> Query {
        let tenants: Query.Tenants
        if tenant == "*" {
            tenants = .all
        } else {
            let list = Self.list(tenant)
            tenants = list.count == 1 ? .one(list[0]) : .some(list)
        }
        var filters: [Dimension: [String]] = [:]
        let given: [(Dimension, String?)] = [
            (.project, project), (.environment, environment), (.user, user), (.feature, feature),
            (.model, model), (.workflow, workflow), (.skill, skill),
        ]
        for (d, v) in given where v != nil { filters[d] = Self.list(v) }
        var keys = Self.list(groupBy).compactMap(Query.Key.init(name:))
        if kind == .cost && keys.isEmpty { keys = [.dimension(.feature)] }
        let bucket: Query.Bucket
        switch kind {
        case .usage: bucket = resolution == "hour" ? .hour : .day
        case .cost: bucket = resolution.flatMap(Query.Bucket.init(rawValue:)) ?? .none
        case .baseline: bucket = .day
        }
        let order: Query.Order
        switch self.order ?? (kind == .cost ? "cost" : "key") {
        case "cost": order = .cost
        case "count": order = .count
        case "tokens": order = .tokens
        default: order = .key
        }
        var aggregates = Set(Query.Aggregate.allCases)
        if let measures {
            aggregates = [.count]
            for name in Self.list(measures) {
                switch name {
                case "cost": aggregates.insert(.cost)
                case "tokens": aggregates.formUnion([.inputTokens, .outputTokens])
                case "input_tokens": aggregates.insert(.inputTokens)
                case "output_tokens": aggregates.insert(.outputTokens)
                case "count": break
                default: throw ValidationError("--measures: unknown measure '\(name)' (cost, tokens, input_tokens, output_tokens or count)")
                }
            }
        }
        do {
            return try Query(
                tenants: tenants, from: from.map { try Self.time($0, "--from") }, to: to.map { try Self.time($0, "--to") },
                filters: filters, bucket: bucket, groupBy: keys, aggregates: aggregates, order: order, limit: limit,
                trailing: kind == .baseline ? Query.Trailing(days: trailingDays ?? 7, previous: true) : nil,
                useRollups: !noRollups, fillEmptyBuckets: !noFill)
        } catch let e as QueryError {
            throw ValidationError(Self.optionMessage(e))
        }
    }

    /// The same rows without keys or buckets: the totals of the window (whatever `--limit` cuts).
    func totalsQuery(_ q: Query) throws -> Query {
        try Query(tenants: q.tenants, from: q.from, to: q.to, filters: q.filters, aggregates: q.aggregates, useRollups: q.useRollups)
    }

    /// A query error phrased with the CLI option it comes from.
    static func optionMessage(_ e: QueryError) -> String {
        guard case let .invalidParameter(name, reason) = e else { return e.description }
        let option: String
        switch name {
        case "trailingDays": option = "--trailing-days"
        case "groupBy": option = "--group-by"
        case let n where n.hasPrefix("filter."): option = "--" + (Query.Key(name: String(n.dropFirst(7))).map { key in
            if case let .dimension(d) = key { return Self.optionName(d) } else { return "tenant" }
        } ?? n)
        default: option = "--" + name
        }
        return "\(option): \(reason)"
    }

    static func optionName(_ d: Dimension) -> String {
        switch d {
        case .project: "project"
        case .environment: "environment"
        case .user: "user"
        case .feature: "feature"
        case .workflow: "workflow"
        case .skill: "skill"
        case .model: "model"
        }
    }
}

/// Renders a query's answer as an aligned table, facade-shaped JSON, or CSV.
struct QueryReport {
    let kind: QueryCommand.Kind
    let query: Query
    let result: QueryResult
    /// The window's totals (not asked for CSV).
    let totals: QueryResult?
    let elapsedSeconds: Double
    /// Unreadable parts that may hold rows of the answer (only with `--allow-partial`).
    var missing: [MissingPart] = []
    /// Tables show exact `cost_cents` instead of rounded dollars.
    var exact = false

    /// One output column: its name, whether it is a number (right-aligned, unquoted in JSON), and its cells.
    struct Column {
        var name: String
        var numeric: Bool
        var cells: [String]
    }

    /// The columns; `dollars` shows money as rounded dollars (`cost`, `$1,234.57`) instead of exact `cost_cents`.
    func columns(dollars: Bool = false) -> [Column] {
        let money: (Int64) -> String = { dollars ? Money.formatDollars($0) : Money.formatCents($0) }
        let unit = dollars ? "cost" : "cost_cents"
        var out: [Column] = []
        for (p, key) in result.groupBy.enumerated() {
            out.append(Column(name: key.fieldName, numeric: false, cells: result.keyColumns[p]))
        }
        if !result.bucketStarts.isEmpty {
            out.append(Column(name: query.bucket == .day ? "day" : "hour", numeric: false,
                              cells: result.bucketStarts.map(Timestamp.formatSeconds)))
        }
        out.append(Column(name: "count", numeric: true, cells: result.count.map(String.init)))
        if !result.inputTokens.isEmpty { out.append(Column(name: "input_tokens", numeric: true, cells: result.inputTokens.map(String.init))) }
        if !result.outputTokens.isEmpty { out.append(Column(name: "output_tokens", numeric: true, cells: result.outputTokens.map(String.init))) }
        if !result.cost.isEmpty { out.append(Column(name: unit, numeric: false, cells: result.cost.map(money))) }
        if let days = result.trailingDays {
            let rows = 0..<result.rowCount
            out.append(Column(name: "trailing_\(days)d_avg_\(unit)", numeric: false,
                              cells: rows.map { money(result.trailingAverageNanos(row: $0) ?? 0) }))
            if !result.previousTrailingCost.isEmpty {
                out.append(Column(name: "previous_\(days)d_avg_\(unit)", numeric: false,
                                  cells: rows.map { money(result.previousAverageNanos(row: $0) ?? 0) }))
            }
        }
        return out
    }

    // MARK: Table

    func table() -> String {
        let cols = columns(dollars: !exact)
        var lines: [String] = []
        let widths = cols.map { c in max(c.name.count, c.cells.map(\.count).max() ?? 0) }
        func line(_ cells: [String]) -> String {
            zip(cols, zip(cells, widths)).map { c, cw in
                c.numeric || c.name.hasSuffix("cost_cents") || c.name.hasSuffix("cost") ? cw.0.leftPad(cw.1) : cw.0.rightPad(cw.1)
            }.joined(separator: "  ")
        }
        lines.append(line(cols.map(\.name)))
        lines.append(widths.map { String(repeating: "-", count: $0) }.joined(separator: "  "))
        for r in 0..<result.rowCount { lines.append(line(cols.map { $0.cells[r] })) }
        var footer = "total: \(totals?.count.first ?? 0) records"
        if let c = totals?.cost.first { footer += exact ? ", cost_cents \(Money.formatCents(c))" : ", cost \(Money.formatDollars(c))" }
        if let i = totals?.inputTokens.first, let o = totals?.outputTokens.first { footer += ", tokens \(i) in / \(o) out" }
        lines.append("")
        lines.append(footer + " (\(result.rowCount) rows, \(fixed(elapsedSeconds * 1000, 2)) ms)")
        return lines.map { line in
            var l = line
            while l.hasSuffix(" ") { l.removeLast() }
            return l
        }.joined(separator: "\n") + "\n"
    }

    // MARK: CSV

    /// Through `SpreadsheetCSV`: people open this in spreadsheets, and keys are writer-chosen text.
    func csv() -> String {
        let cols = columns()
        let header = SpreadsheetCSV.row(cols.map(\.name)) + "\n"
        // Bytes, made into one string at the end: appending cell strings to a string was 6% of a 20,000-row answer's
        // process.
        var out: [UInt8] = []
        out.reserveCapacity(header.utf8.count * (result.rowCount + 1))
        out.append(contentsOf: header.utf8)
        for r in 0..<result.rowCount {
            for (i, c) in cols.enumerated() {
                if i > 0 { out.append(44) }
                SpreadsheetCSV.append(c.cells[r], to: &out)
            }
            out.append(10)
        }
        return String(decoding: out, as: UTF8.self)
    }

    // MARK: JSON

    func json() -> String {
        var window: [(String, String)] = [
            ("from", query.from.map { JSONWriter.literal(Timestamp.format($0)) } ?? "null"),
            ("to", query.to.map { JSONWriter.literal(Timestamp.format($0)) } ?? "null"),
        ]
        if query.bucket != .none { window.append(("resolution", JSONWriter.literal(query.bucket.rawValue))) }
        var scope: [(String, String)] = []
        switch query.tenants {
        case let .one(t): scope.append(("tenant_id", JSONWriter.literal(t)))
        case let .some(list): scope.append(("tenant_ids", "[" + list.map(JSONWriter.literal).joined(separator: ", ") + "]"))
        case .all: scope.append(("tenant_ids", "\"*\""))
        }
        for (d, values) in query.filters.sorted(by: { $0.key < $1.key }) {
            scope.append((d.fieldName, "[" + values.map(JSONWriter.literal).joined(separator: ", ") + "]"))
        }
        var totalsFields: [(String, String)] = [("count", String(totals?.count.first ?? 0))]
        if let i = totals?.inputTokens.first { totalsFields.append(("input_tokens", String(i))) }
        if let o = totals?.outputTokens.first { totalsFields.append(("output_tokens", String(o))) }
        if let c = totals?.cost.first { totalsFields.append(("cost_cents", JSONWriter.literal(Money.formatCents(c)))) }

        let cols = columns()
        var rows: [String] = []
        for r in 0..<result.rowCount {
            rows.append("    " + Self.object(cols.map { ($0.name, $0.numeric ? $0.cells[r] : JSONWriter.literal($0.cells[r])) }))
        }
        let name = kind == .cost ? "breakdown" : "series"
        var top: [(String, String)] = [("window", Self.object(window)), ("scope", Self.object(scope))]
        if !query.groupBy.isEmpty {
            top.append(("group_by", "[" + query.groupBy.map { JSONWriter.literal($0.fieldName) }.joined(separator: ", ") + "]"))
        }
        if let t = query.trailing { top.append(("trailing_days", String(t.days))) }
        top.append(("totals", Self.object(totalsFields)))
        top.append((name, rows.isEmpty ? "[]" : "[\n" + rows.joined(separator: ",\n") + "\n  ]"))
        let st = result.statistics
        top.append(("provenance", Self.object([
            ("sources", Self.object([("parts", String(st.partsRead)), ("heads", String(st.headsRead))])),
            ("aggregation", JSONWriter.literal(Self.aggregation(st))),
            ("hours_from_index", String(st.hoursFromIndex)),
            ("parts_from_rollups", String(st.partsFromRollups)),
            ("parts_from_rollups_less_outside", String(st.partsLessOutside)),
            ("rows_scanned", String(st.rowsScanned)),
            ("elapsed_ms", fixed(elapsedSeconds * 1000, 3)),
            ("complete", missing.isEmpty ? "true" : "false"),
            ("missing", "[" + missing.map { m in
                Self.object([
                    ("tenant_id", JSONWriter.literal(m.tenant)), ("part", JSONWriter.literal(m.fileName)),
                    ("from", JSONWriter.literal(Timestamp.formatSeconds(m.firstHour))), ("to", JSONWriter.literal(Timestamp.formatSeconds(m.endHour))),
                    ("rows", String(m.rows)),
                ])
            }.joined(separator: ", ") + "]"),
        ])))
        return "{\n" + top.map { "  \(JSONWriter.literal($0.0)): \($0.1)" }.joined(separator: ",\n") + "\n}"
    }

    /// How the answer was computed: whole parts from their rollups (cut parts from theirs less the rows outside the
    /// range, which are scanned), hours from the index, rows scanned.
    static func aggregation(_ st: QueryStatistics) -> String {
        var ways: [String] = []
        if st.partsFromRollups > 0 || st.partsLessOutside > 0 { ways.append("part_rollups") }
        if st.hoursFromIndex > 0 && (st.partsFromRollups == 0 || st.rowsScanned > 0) { ways.append("hour_index") }
        if st.rowsScanned > 0 { ways.append("scan") }
        return ways.isEmpty ? "hour_index" : ways.joined(separator: "+")
    }

    static func object(_ fields: [(String, String)]) -> String {
        "{" + fields.map { "\(JSONWriter.literal($0.0)): \($0.1)" }.joined(separator: ", ") + "}"
    }

}
