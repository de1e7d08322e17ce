import TallyStore

extension Analytics {
    /// Services over the embedded `store` and `catalog`, sharing one blocking pool; `clock` gives "now" (tests pin it).
    public convenience init(store: Store, catalog: any Catalog, options: AnalyticsOptions = AnalyticsOptions(),
                            clock: TimeSource = .system) {
        let pool = BlockingPool()
        let records = EmbeddedRecordStore(store: store, pool: pool, queryThreads: options.queryThreads,
                                          minFreeDiskBytes: options.minFreeDiskBytes)
        self.init(records: records, catalog: catalog, options: options, pool: pool, clock: clock)
    }

    /// Services over the embedded `store` and `catalog` whose wall clock is `clock` (ms UTC); monotonic time is the
    /// system's.
    public convenience init(store: Store, catalog: any Catalog, options: AnalyticsOptions = AnalyticsOptions(),
                            clock: @escaping @Sendable () -> Int64) {
        self.init(store: store, catalog: catalog, options: options, clock: TimeSource(wallMillis: clock))
    }
}
