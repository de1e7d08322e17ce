import TallyStore

extension Analytics {
    /// Services over the embedded `store` and `catalog`, sharing one blocking pool; `clock` gives "now" in ms UTC
    /// (tests pin it).
    public convenience init(store: Store, catalog: Catalog, options: AnalyticsOptions = AnalyticsOptions(),
                            clock: @escaping @Sendable () -> Int64 = wallClockMillis) {
        let pool = BlockingPool()
        let records = EmbeddedRecordStore(store: store, pool: pool, queryThreads: options.queryThreads,
                                          minFreeDiskBytes: options.minFreeDiskBytes)
        self.init(records: records, catalog: catalog, options: options, pool: pool, clock: clock)
    }
}
