import TallyStore

extension Store {
    /// Answers `query` from a snapshot taken now.
    public func query(_ query: Query, engine: QueryEngine = QueryEngine()) throws(QueryError) -> QueryResult {
        try engine.run(query, on: snapshot())
    }
}
