import ArgumentParser
import Foundation
import TallyAnalytics
import TallyClickHouse
import TallyStore

/// Where the cost records live.
enum RecordsKind: String, ExpressibleByArgument, CaseIterable {
    /// The embedded store in the data directory: one node.
    case embedded
    /// A ClickHouse cluster shared by every node of a deployment.
    case clickhouse
}

/// `--records embedded|clickhouse` and the ClickHouse settings, for every command that reads or writes records.
/// Without the flags, the environment (`TALLY_RECORDS`, `TALLY_CLICKHOUSE_URL`, `TALLY_CLICKHOUSE_CLUSTER`,
/// `TALLY_CLICKHOUSE_DATABASE`, `TALLY_CLICKHOUSE_SHARDS`); without either, the embedded store of the data directory.
struct RecordOptions: ParsableArguments {
    @Option(name: .customLong("records"),
            help: "Where cost records live: embedded (the store in --data, the default) or clickhouse (shared by several nodes). Default: $TALLY_RECORDS.")
    var kindOption: RecordsKind?

    @Option(name: .customLong("clickhouse-url"), help: "With --records clickhouse: a node's HTTP interface, http://HOST:8123. Default: $TALLY_CLICKHOUSE_URL.")
    var urlOption: String?

    @Option(name: .customLong("clickhouse-cluster"), help: "The remote_servers cluster the Distributed table spans. Default: $TALLY_CLICKHOUSE_CLUSTER, else tally_cluster.")
    var clusterOption: String?

    @Option(name: .customLong("clickhouse-database"), help: "The database of Tally's tables. Default: $TALLY_CLICKHOUSE_DATABASE, else tally.")
    var databaseOption: String?

    @Option(name: .customLong("clickhouse-shards"),
            help: "Every shard's HTTP URL, comma-separated (schema statements run on each). Default: $TALLY_CLICKHOUSE_SHARDS, else --clickhouse-url.")
    var shardsOption: String?

    private static func environment(_ name: String) -> String? {
        ProcessInfo.processInfo.environment[name].flatMap { $0.isEmpty ? nil : $0 }
    }

    func kind() throws -> RecordsKind {
        if let kindOption { return kindOption }
        guard let value = Self.environment("TALLY_RECORDS") else { return .embedded }
        guard let kind = RecordsKind(rawValue: value) else {
            throw ValidationError("TALLY_RECORDS must be embedded or clickhouse, not \(value.debugDescription)")
        }
        return kind
    }

    /// The cluster's settings; throws naming what is missing.
    func clickHouseConfiguration() throws -> ClickHouseRecordStore.Configuration {
        try Self.clickHouseConfiguration(url: urlOption, cluster: clusterOption, database: databaseOption, shards: shardsOption)
    }

    /// The cluster's settings from these values, each defaulting to its environment variable.
    static func clickHouseConfiguration(url: String?, cluster: String?, database: String?, shards: String?) throws
        -> ClickHouseRecordStore.Configuration
    {
        guard let url = url ?? environment("TALLY_CLICKHOUSE_URL") else {
            throw ValidationError("--records clickhouse needs --clickhouse-url (or TALLY_CLICKHOUSE_URL)")
        }
        guard url.hasPrefix("http://") || url.hasPrefix("https://") else {
            throw ValidationError("the ClickHouse URL must be an http:// or https:// URL of its HTTP interface, not \(url.debugDescription)")
        }
        let shardList = (shards ?? environment("TALLY_CLICKHOUSE_SHARDS") ?? url).split(separator: ",").map(String.init)
        return .init(url: url, cluster: cluster ?? environment("TALLY_CLICKHOUSE_CLUSTER") ?? "tally_cluster",
                     database: database ?? environment("TALLY_CLICKHOUSE_DATABASE") ?? "tally", shardURLs: shardList)
    }

    /// Checks that the chosen record store has what it needs: a data directory for the embedded one, a URL for ClickHouse.
    func check(data: String?) throws {
        switch try kind() {
        case .embedded:
            if data == nil { throw ValidationError("pass --data DIR (or --records clickhouse --clickhouse-url URL)") }
            if urlOption != nil { throw ValidationError("--clickhouse-url needs --records clickhouse") }
        case .clickhouse:
            _ = try clickHouseConfiguration()
        }
    }

    /// The ClickHouse record store (its schema must exist: `tally clickhouse init`); appends dedup under `lock`'s
    /// per-tenant locks (the catalog's: PostgreSQL's are the deployment's) when given.
    func openClickHouse(pool: BlockingPool, lock: (any DeploymentLock)? = nil) throws -> ClickHouseRecordStore {
        try ClickHouseRecordStore(configuration: try clickHouseConfiguration(), pool: pool, lock: lock)
    }

    /// The domain over the ClickHouse cluster and `catalog` (the embedded store is opened by the commands themselves,
    /// which report what its open found). Appends take the catalog's per-tenant locks, so the dedup of request ids
    /// holds across every node sharing the catalog.
    func clickHouseAnalytics(catalog: any Catalog, options: AnalyticsOptions, clock: TimeSource = .system) throws -> Analytics {
        let pool = BlockingPool()
        return Analytics(records: try openClickHouse(pool: pool, lock: catalog), catalog: catalog, options: options, pool: pool, clock: clock)
    }
}
