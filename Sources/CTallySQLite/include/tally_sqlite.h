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

#endif
