import ArgumentParser
import TallyAnalytics
import TallyClickHouse
import TallyQuery
import TallyStore
import TallyText

/// `tally clickhouse init`: the cluster's schema, created and migrated.
struct ClickHouseCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "clickhouse",
        abstract: "Creates and migrates Tally's schema in a ClickHouse cluster.",
        subcommands: [Init.self])

    struct Init: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "init",
            abstract: "Creates the database, each shard's MergeTree table and the Distributed table over them, and applies "
                + "the versioned migrations a shard lacks (safe to run again).")

        @OptionGroup var recordOptions: RecordOptions

        func run() async throws {
            let pool = BlockingPool()
            let store = try ClickHouseRecordStore(configuration: try recordOptions.clickHouseConfiguration(), pool: pool)
            defer { try? store.close() }
            let version = try await store.migrate()
            let c = store.configuration
            print("ClickHouse schema version \(version) in database \(c.database) on \(c.shardURLs.count) shard(s) of cluster \(c.cluster)")
        }
    }
}

/// `tally migrate --from DIR --to-clickhouse URL`: an embedded store copied into ClickHouse, resumable, totals checked.
struct MigrateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "migrate",
        abstract: "Copies an embedded store's records into a ClickHouse cluster, so a deployment moves up without re-sending data.",
        discussion: """
            Reads the store read-only (a server may keep running on it), tenant by tenant and day by day, and appends to \
            the cluster in batches. A tenant the cluster holds no record of is copied without the per-batch duplicate \
            check (the store's records are already unique). Resumable: each finished tenant is noted in \
            DIR/migrate-clickhouse.progress and a rerun skips it; a tenant cut short is sent again, checked, and the \
            cluster's deduplication on (tenant_id, request_id) stores none of its records twice. At the end every tenant's record count and exact cost in the cluster are \
            compared with the store's; any difference is listed and the exit status is 1.
            """)

    @Option(name: .customLong("from"), help: "The data directory of the embedded store.")
    var from: String

    @Option(name: .customLong("to-clickhouse"), help: "A ClickHouse node's HTTP interface, http://HOST:8123.")
    var url: String

    @Option(name: .customLong("clickhouse-cluster"), help: "The remote_servers cluster (default: $TALLY_CLICKHOUSE_CLUSTER, else tally_cluster).")
    var cluster: String?

    @Option(name: .customLong("clickhouse-database"), help: "The database (default: tally).")
    var database: String?

    @Option(name: .customLong("clickhouse-shards"), help: "Every shard's HTTP URL, comma-separated, for the schema statements.")
    var shards: String?

    @Option(help: "Records per append.")
    var batch = 50_000

    static let progressName = "migrate-clickhouse.progress"

    func validate() throws {
        guard batch >= 1 && batch <= 1_000_000 else { throw ValidationError("--batch must be 1 to 1000000") }
        _ = try target()
    }

    func target() throws -> ClickHouseRecordStore.Configuration {
        try RecordOptions.clickHouseConfiguration(url: url, cluster: cluster, database: database, shards: shards)
    }

    func run() async throws {
        try requireStore(at: from)
        var storeOptions = StoreOptions()
        storeOptions.readOnly = true
        storeOptions.background = false
        let pool = BlockingPool()
        let source = EmbeddedRecordStore(store: try Store(path: from, options: storeOptions), pool: pool)
        let destination = try ClickHouseRecordStore(configuration: try target(), pool: pool)
        defer {
            try? source.close()
            try? destination.close()
        }
        try await destination.migrate()
        let progressPath = from + "/" + Self.progressName
        var done = Set(((try? FileIO.readAll(progressPath)).map { String(decoding: $0, as: UTF8.self) } ?? "")
            .split(separator: "\n").map(String.init))
        let reader = try await source.reader()
        let sourceTotals = try await reader.aggregate(try Query(tenants: .all, groupBy: [.tenant], order: .key))
        if !(try await reader.missing(tenants: nil, from: .min, to: .max)).isEmpty {
            throw CommandError("the store has parts in quarantine (tally verify names them): copying it would copy a hole")
        }
        var copied = 0, duplicates = 0
        for row in 0..<sourceTotals.rowCount {
            let tenant = sourceTotals.keyColumns[0][row]
            if done.contains(tenant) { continue }
            guard let first = try await firstRecord(reader, tenant), let newest = try await reader.newestRecord(of: .one(tenant)) else { continue }
            // A tenant the cluster holds nothing of takes the store's records as they are (the store has deduplicated
            // them under the cluster's rule); one cut short by an earlier run, or written to by a server, is checked.
            let fresh = try await destination.reader().newestRecord(of: .one(tenant)) == nil
            // Day by day out of the store (bounded memory), in appends of up to --batch records into the cluster.
            var buffer = RecordBatch()
            func flush() async throws {
                guard buffer.count > 0 else { return }
                let receipt = fresh ? try await destination.appendCopy(buffer) : try await destination.append(buffer)
                copied += receipt.inserted
                duplicates += receipt.duplicates.count
                buffer = RecordBatch()
            }
            var day = TimeUnit.dayStart(first)
            while day <= newest {
                var pieces: [RecordBatch] = []
                try await reader.forEachRecordBatch(tenant: tenant, from: day, to: day + TimeUnit.dayMillis, filters: [:]) { pieces.append($0) }
                for piece in pieces {
                    for i in 0..<piece.count {
                        buffer.append(piece[i], line: buffer.count + 1)
                        if buffer.count >= batch { try await flush() }
                    }
                }
                day += TimeUnit.dayMillis
            }
            try await flush()
            done.insert(tenant)
            try FileIO.writeAtomically(Array((done.sorted().joined(separator: "\n") + "\n").utf8), to: progressPath, directory: from)
            printError("copied tenant \(tenant) (\(row + 1) of \(sourceTotals.rowCount))")
        }
        // The check: every tenant's count and exact cost, in the store and in the cluster.
        try await destination.optimize()
        let clusterTotals = try await destination.reader().aggregate(try Query(tenants: .all, groupBy: [.tenant], order: .key))
        var inCluster: [String: (Int64, Int64)] = [:]
        for row in 0..<clusterTotals.rowCount { inCluster[clusterTotals.keyColumns[0][row]] = (clusterTotals.count[row], clusterTotals.cost[row]) }
        var mismatches: [String] = []
        var records: Int64 = 0, cost: Int64 = 0
        for row in 0..<sourceTotals.rowCount {
            let tenant = sourceTotals.keyColumns[0][row]
            records += sourceTotals.count[row]
            cost += sourceTotals.cost[row]
            let there = inCluster[tenant] ?? (0, 0)
            if there.0 != sourceTotals.count[row] || there.1 != sourceTotals.cost[row] {
                mismatches.append("\(tenant): store \(sourceTotals.count[row]) records, \(Money.formatCents(sourceTotals.cost[row])) cents; "
                    + "cluster \(there.0) records, \(Money.formatCents(there.1)) cents")
            }
        }
        print("copied \(copied) records (\(duplicates) already there); \(sourceTotals.rowCount) tenants, \(records) records, "
            + "\(Money.formatCents(cost)) cents in the store")
        if !mismatches.isEmpty {
            for m in mismatches { printError("differs: \(m)") }
            printError("\(mismatches.count) tenant(s) differ between the store and the cluster (other writers to the cluster, or a store changed during the copy)")
            throw ExitCode(1)
        }
        print("checked: every tenant's record count and cost are equal in the cluster")
    }

    /// The oldest `created_at` of a tenant (the day the copy starts).
    private func firstRecord(_ reader: any RecordReader, _ tenant: String) async throws -> Int64? {
        let days = try await reader.aggregate(try Query(tenants: .one(tenant), bucket: .day, order: .key, limit: 1, fillEmptyBuckets: false))
        return days.bucketStarts.first
    }
}
