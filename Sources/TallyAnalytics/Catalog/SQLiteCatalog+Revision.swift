import CTallySQLite
import Synchronization

/// The catalog's revision from SQLite's data version: a connection of its own (`tally_sqlite_version_reader`) runs
/// `PRAGMA data_version`, which changes whenever any other connection commits, this process's GRDB pool or another
/// process (`tally keys revoke`) alike. In WAL mode that reads the WAL index in shared memory, never the disk, and the
/// connection never waits for a lock (a busy file answers nil), so it runs on the caller's thread: every request
/// checks it before using a cached key.
final class SQLiteDataVersion: Sendable {
    /// The reader, one caller at a time; nil when it could not be opened (then there is no revision, and no cache).
    // The pointer is only used with the lock held, and freed in deinit when no caller can hold it.
    private let reader: Mutex<ReaderBox>

    private struct ReaderBox: @unchecked Sendable {
        let pointer: OpaquePointer?
    }

    /// A version reader of the database at `path`.
    init(path: String) {
        reader = Mutex(ReaderBox(pointer: tally_sqlite_version_open(path)))
    }

    deinit {
        reader.withLock { tally_sqlite_version_close($0.pointer) }
    }

    /// The data version now; nil when it cannot be read at once.
    func read() -> UInt64? {
        reader.withLock { box -> UInt64? in
            guard let pointer = box.pointer else { return nil }
            let v = tally_sqlite_version_read(pointer)
            return v >= 0 ? UInt64(v) : nil
        }
    }
}

extension SQLiteCatalog {
    /// SQLite's data version of the catalog file: it sees every writer's commits (`coversOtherWriters`).
    public func revision() -> CatalogRevision? {
        dataVersion.read().map { CatalogRevision(value: $0, coversOtherWriters: true) }
    }
}
