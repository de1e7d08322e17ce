#ifndef TALLY_SQLITE_H
#define TALLY_SQLITE_H

#include <sqlite3.h>

/// Number of bytes reserved at the end of every page of a checksummed database: a 64-bit page checksum.
#define TALLY_SQLITE_RESERVE 8

/// Registers the page-checksum VFS ("tally-checksum") over the current default VFS and makes it the default.
/// Idempotent and thread-safe. Returns SQLITE_OK or an SQLite error code.
int tally_sqlite_checksums_register(void);

/// Reserves TALLY_SQLITE_RESERVE bytes per page in `db`'s main database (effective at once on an empty database,
/// after the next VACUUM otherwise). Returns SQLITE_OK or an SQLite error code.
int tally_sqlite_reserve_checksum_bytes(sqlite3 *db);

/// Whether `db`'s main database file carries page checksums (its header reserves TALLY_SQLITE_RESERVE bytes).
int tally_sqlite_has_checksums(sqlite3 *db);

/// Number of page reads whose checksum did not match since the process started (each failed with SQLITE_IOERR_DATA).
long long tally_sqlite_checksum_failures(void);

/// A connection of its own that reads one number: the database's `PRAGMA data_version`, which changes whenever any
/// other connection (of this process or another) commits a change. What the catalog's caches check before each use.
typedef struct tally_sqlite_version_reader tally_sqlite_version_reader;

/// Opens a version reader on the existing database at `path` (no busy wait: a busy database is reported, never waited
/// for). NULL when it cannot be opened.
tally_sqlite_version_reader *tally_sqlite_version_open(const char *path);

/// The database's data version now, or -1 when it cannot be read at once (busy, or an error). Not thread-safe: one
/// caller at a time per reader.
long long tally_sqlite_version_read(tally_sqlite_version_reader *reader);

/// Closes and frees `reader` (NULL is ignored).
void tally_sqlite_version_close(tally_sqlite_version_reader *reader);

#endif
