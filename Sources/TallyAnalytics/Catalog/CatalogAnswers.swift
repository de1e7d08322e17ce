import Synchronization

/// Answers of catalog reads kept in memory and used only while the catalog's revision is the one they were read at,
/// for a catalog whose revision sees every writer (`CatalogRevision.coversOtherWriters`, the embedded SQLite catalog):
/// then nothing committed since, by any process, and the answer is what a read would give now. With any other catalog
/// nothing is kept, and every call reads.
///
/// What a usage request reads besides its records (the tenant's anomalies in the window and its budgets) changes only
/// when something writes to the catalog; reading it on every request was a blocking-pool hop and two SQL statements
/// compiled anew (docs/PERFORMANCE.md, session 10).
final class CatalogAnswers<Key: Hashable & Sendable, Value: Sendable>: Sendable {
    private struct Entry {
        let value: Value
        let revision: CatalogRevision
    }

    /// Most answers kept; all are dropped when it is reached (they are cheap to read again).
    let capacity: Int
    private let entries = Mutex([Key: Entry]())

    /// Keeps at most `capacity` answers.
    init(capacity: Int = 1_024) {
        self.capacity = max(1, capacity)
    }

    /// The answer for `key`: kept when the catalog is still at the revision it was read at, else `read()`'s (run
    /// with the revision read before it, so that a change committed while it runs makes it stale at once).
    func value(for key: Key, catalog: any Catalog, read: () async throws -> Value) async throws -> Value {
        guard let revision = catalog.revision(), revision.coversOtherWriters else { return try await read() }
        if let kept = entries.withLock({ $0[key] }), kept.revision == revision { return kept.value }
        let value = try await read()
        entries.withLock { e in
            if e.count >= capacity && e[key] == nil { e.removeAll(keepingCapacity: true) }
            e[key] = Entry(value: value, revision: revision)
        }
        return value
    }

    /// How many answers are kept (tests).
    var count: Int { entries.withLock { $0.count } }
}
