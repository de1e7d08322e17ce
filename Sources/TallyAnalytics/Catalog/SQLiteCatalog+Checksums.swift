import CTallySQLite
import GRDB

/// Page checksums for `catalog.sqlite`: SQLite checks no page it reads, so a flipped byte in a budget's limit or
/// a key's role would be read as data. The `CTallySQLite` VFS shim keeps a 64-bit checksum in 8 reserved bytes at
/// the end of every page, writes it with the page and checks it on every read from the database file; a mismatch
/// fails the read (`SQLITE_IOERR_DATA`) instead.
extension SQLiteCatalog {
    /// Registers the checksum VFS as SQLite's default (once per process).
    static func registerPageChecksums() throws {
        let rc = tally_sqlite_checksums_register()
        guard rc == SQLITE_OK else {
            throw DatabaseError(resultCode: ResultCode(rawValue: rc), message: "cannot register the catalog's checksum VFS")
        }
    }

    /// Reserves the checksum bytes in a new database (a database that already has pages keeps its layout until
    /// `VACUUM`).
    static func reservePageChecksumBytes(_ db: Database) throws {
        let rc = tally_sqlite_reserve_checksum_bytes(db.sqliteConnection)
        guard rc == SQLITE_OK else {
            throw DatabaseError(resultCode: ResultCode(rawValue: rc), message: "cannot reserve page checksum bytes")
        }
    }

    /// Whether the database file of `db` carries page checksums.
    static func hasPageChecksums(_ db: Database) -> Bool {
        tally_sqlite_has_checksums(db.sqliteConnection) != 0
    }

    /// Page reads that failed their checksum since the process started.
    public static var pageChecksumFailures: Int64 { Int64(tally_sqlite_checksum_failures()) }
}
