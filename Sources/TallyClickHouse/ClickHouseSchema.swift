/// The ClickHouse schema of the record store, created and upgraded by numbered migrations.
///
/// Every shard holds `records_local` (its rows) and `records` (the Distributed table over all shards' `records_local`);
/// statements run on each shard one by one, since `ON CLUSTER` needs ZooKeeper. Each shard's `schema_version` lists
/// the migrations it has applied; a migration is idempotent (`IF NOT EXISTS`), so two nodes migrating at once, or a
/// migration interrupted half way, end in the same schema.
///
/// `records_local`:
/// - `MergeTree`, `PARTITION BY toYYYYMM(created_at)` (a month per partition: dropping old months is cheap, and a
///   query's time range prunes partitions), `ORDER BY (tenant_id, created_at)`: a tenant's rows of a time range are
///   one contiguous run of granules, which the primary index finds.
/// - Strings as `String` (`LowCardinality` would suit the dimensions but needs 19.x; a current release should use
///   it for every dimension column).
/// - `cost_nanos Int64`: nano-dollars, exact sums (`sum(Int64)` is `Int64`), never a float or `Decimal`.
/// - `created_at DateTime('UTC')` (seconds: partition and sorting key) plus `created_at_ms Int64`, the exact
///   milliseconds every answer uses. The full milliseconds rather than a 0-999 remainder: buckets, ranges and
///   the newest record are then plain integer arithmetic on one column, with no recombining expression evaluated per
///   row; the cost is a few bytes a row after compression. (`DateTime64(3)` would replace both: 20.1 and later.)
/// - `insert_seq UInt64`: the appending node's sequence (microseconds, strictly increasing per node), which a
///   reader's snapshot bounds.
///
/// `records`: `Distributed(cluster, db, records_local, cityHash64(tenant_id))`: a tenant's rows all live on one
/// shard, so per-tenant questions (all of the API's) read one shard's granules, and deduplication by
/// `(tenant_id, request_id)` is a per-shard question.
struct ClickHouseSchema {
    let database: String
    let cluster: String

    /// The migrations, in order; a migration's number is its index plus one.
    var migrations: [[String]] {
        [
            [
                """
                CREATE TABLE IF NOT EXISTS \(database).records_local (
                    tenant_id String,
                    project_id String,
                    environment String,
                    user_id String,
                    feature_tag String,
                    request_id String,
                    workflow_id String,
                    skill_id String,
                    model String,
                    input_tokens Int64,
                    output_tokens Int64,
                    cost_nanos Int64,
                    created_at DateTime('UTC'),
                    created_at_ms Int64,
                    insert_seq UInt64
                ) ENGINE = MergeTree PARTITION BY toYYYYMM(created_at) ORDER BY (tenant_id, created_at)
                """,
                """
                CREATE TABLE IF NOT EXISTS \(database).records AS \(database).records_local
                ENGINE = Distributed(\(cluster), \(database), records_local, cityHash64(tenant_id))
                """,
            ],
        ]
    }

    /// The columns every insert and every export lists, in this order.
    static let columns = [
        "tenant_id", "project_id", "environment", "user_id", "feature_tag", "request_id", "workflow_id", "skill_id", "model",
        "input_tokens", "output_tokens", "cost_nanos", "created_at", "created_at_ms", "insert_seq",
    ]

    /// Whether `name` can be spliced into a statement as an identifier as it is.
    static func isIdentifier(_ name: String) -> Bool {
        guard let first = name.utf8.first, !(UInt8(ascii: "0")...UInt8(ascii: "9")).contains(first), name.utf8.count <= 64 else { return false }
        return name.utf8.allSatisfy {
            ($0 >= UInt8(ascii: "a") && $0 <= UInt8(ascii: "z")) || ($0 >= UInt8(ascii: "A") && $0 <= UInt8(ascii: "Z"))
                || ($0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9")) || $0 == UInt8(ascii: "_")
        }
    }
}
