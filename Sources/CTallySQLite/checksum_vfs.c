// A VFS shim that keeps a 64-bit checksum in the last 8 bytes of every page of a database whose header reserves
// them (byte 20 == 8), computes it on every page written to the database file, and checks it on every whole page
// read from the database file: a flipped byte fails the read with SQLITE_IOERR_DATA instead of
// becoming a wrong budget or key. Databases without the reserved bytes pass through unchanged.
//
// Reads from the WAL are not checked here: SQLite checks WAL frames with its own cumulative checksums when it
// recovers the log (pages go into the WAL unchanged: its frame checksums cover them as SQLite wrote them), and a
// page copied from the WAL into the database at a checkpoint gets its checksum on that write.
// Memory-mapped reads are refused (xFetch answers NULL) while checksums are on, so every page goes through xRead.
#include "tally_sqlite.h"

#include <pthread.h>
#include <stdint.h>
#include <string.h>

typedef struct TallyFile {
    sqlite3_file base;
    sqlite3_file *real;
    int isMain;            // the main database file (other files pass through)
    int checksums;         // main: the header reserves the checksum bytes
} TallyFile;

static sqlite3_vfs tallyVfs;
static sqlite3_vfs *realVfs;
static pthread_mutex_t registerLock = PTHREAD_MUTEX_INITIALIZER;
static long long failures;

#define REAL(f) (((TallyFile *)(f))->real)

static int isPageSize(int n) { return n >= 512 && n <= 65536 && (n & (n - 1)) == 0; }

// Two running 64-bit sums over little-endian 64-bit words (Fletcher-like, order sensitive), mixed at the end.
static uint64_t pageChecksum(const unsigned char *p, int n) {
    uint64_t a = 0x9E3779B97F4A7C15ull, b = 0xC2B2AE3D27D4EB4Full;
    for (int i = 0; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, p + i, 8);
        a += w ^ (uint64_t)i;
        b += a;
        a = (a << 7) | (a >> 57);
    }
    uint64_t h = a ^ (b * 0xFF51AFD7ED558CCDull);
    h ^= h >> 33;
    h *= 0xC4CEB9FE1A85EC53ull;
    h ^= h >> 29;
    return h;
}

static void storeChecksum(unsigned char *page, int n) {
    uint64_t c = pageChecksum(page, n - TALLY_SQLITE_RESERVE);
    for (int i = 0; i < 8; i++) page[n - 8 + i] = (unsigned char)(c >> (8 * i));
}

static int checksumMatches(const unsigned char *page, int n) {
    uint64_t c = pageChecksum(page, n - TALLY_SQLITE_RESERVE), stored = 0;
    for (int i = 0; i < 8; i++) stored |= (uint64_t)page[n - 8 + i] << (8 * i);
    return c == stored;
}

static int fileChecksums(TallyFile *f) { return f->isMain && f->checksums; }

static int xClose(sqlite3_file *f) { return REAL(f)->pMethods->xClose(REAL(f)); }

static int xRead(sqlite3_file *pf, void *buf, int amt, sqlite3_int64 off) {
    TallyFile *f = (TallyFile *)pf;
    int rc = f->real->pMethods->xRead(f->real, buf, amt, off);
    if (rc != SQLITE_OK || !f->isMain) return rc;
    const unsigned char *p = buf;
    if (off == 0 && amt >= 100) f->checksums = p[20] == TALLY_SQLITE_RESERVE;
    if (f->checksums && isPageSize(amt) && off % amt == 0 && !checksumMatches(p, amt)) {
        __atomic_add_fetch(&failures, 1, __ATOMIC_RELAXED);
        return SQLITE_IOERR_DATA;
    }
    return rc;
}

static int xWrite(sqlite3_file *pf, const void *buf, int amt, sqlite3_int64 off) {
    TallyFile *f = (TallyFile *)pf;
    if (f->isMain && off == 0 && amt >= 100) f->checksums = ((const unsigned char *)buf)[20] == TALLY_SQLITE_RESERVE;
    // The reserved bytes at the end of a page belong to the VFS: SQLite leaves them for us to fill. Only pages
    // written to the database file: a WAL frame's own checksum covers the page as SQLite passed it, so changing
    // the page on its way into the WAL would make recovery discard the frame.
    if (f->isMain && f->checksums && isPageSize(amt)) storeChecksum((unsigned char *)buf, amt);
    return f->real->pMethods->xWrite(f->real, buf, amt, off);
}

static int xTruncate(sqlite3_file *f, sqlite3_int64 size) { return REAL(f)->pMethods->xTruncate(REAL(f), size); }
static int xSync(sqlite3_file *f, int flags) { return REAL(f)->pMethods->xSync(REAL(f), flags); }
static int xFileSize(sqlite3_file *f, sqlite3_int64 *size) { return REAL(f)->pMethods->xFileSize(REAL(f), size); }
static int xLock(sqlite3_file *f, int lock) { return REAL(f)->pMethods->xLock(REAL(f), lock); }
static int xUnlock(sqlite3_file *f, int lock) { return REAL(f)->pMethods->xUnlock(REAL(f), lock); }
static int xCheckReservedLock(sqlite3_file *f, int *out) { return REAL(f)->pMethods->xCheckReservedLock(REAL(f), out); }
static int xFileControl(sqlite3_file *f, int op, void *arg) {
    // Memory-mapped reads would bypass xRead and its check.
    if (op == SQLITE_FCNTL_MMAP_SIZE && fileChecksums((TallyFile *)f) && arg) {
        *(sqlite3_int64 *)arg = 0;
        return SQLITE_OK;
    }
    return REAL(f)->pMethods->xFileControl(REAL(f), op, arg);
}
static int xSectorSize(sqlite3_file *f) { return REAL(f)->pMethods->xSectorSize(REAL(f)); }
static int xDeviceCharacteristics(sqlite3_file *f) { return REAL(f)->pMethods->xDeviceCharacteristics(REAL(f)); }
static int xShmMap(sqlite3_file *f, int pg, int sz, int extend, void volatile **pp) {
    return REAL(f)->pMethods->xShmMap(REAL(f), pg, sz, extend, pp);
}
static int xShmLock(sqlite3_file *f, int off, int n, int flags) { return REAL(f)->pMethods->xShmLock(REAL(f), off, n, flags); }
static void xShmBarrier(sqlite3_file *f) { REAL(f)->pMethods->xShmBarrier(REAL(f)); }
static int xShmUnmap(sqlite3_file *f, int del) { return REAL(f)->pMethods->xShmUnmap(REAL(f), del); }
static int xFetch(sqlite3_file *pf, sqlite3_int64 off, int amt, void **pp) {
    TallyFile *f = (TallyFile *)pf;
    if (fileChecksums(f)) {
        *pp = 0;
        return SQLITE_OK;
    }
    return f->real->pMethods->xFetch(f->real, off, amt, pp);
}
static int xUnfetch(sqlite3_file *f, sqlite3_int64 off, void *p) { return REAL(f)->pMethods->xUnfetch(REAL(f), off, p); }

static const sqlite3_io_methods tallyMethods = {
    3, xClose, xRead, xWrite, xTruncate, xSync, xFileSize, xLock, xUnlock, xCheckReservedLock, xFileControl,
    xSectorSize, xDeviceCharacteristics, xShmMap, xShmLock, xShmBarrier, xShmUnmap, xFetch, xUnfetch,
};

static int xOpen(sqlite3_vfs *vfs, const char *name, sqlite3_file *pf, int flags, int *outFlags) {
    (void)vfs;
    TallyFile *f = (TallyFile *)pf;
    memset(f, 0, sizeof(*f));
    f->real = (sqlite3_file *)&f[1];
    int rc = realVfs->xOpen(realVfs, name, f->real, flags, outFlags);
    if (rc != SQLITE_OK) {
        // The real VFS may have set pMethods before failing; SQLite then calls our xClose, which must forward.
        if (f->real->pMethods) f->base.pMethods = &tallyMethods;
        return rc;
    }
    f->base.pMethods = &tallyMethods;
    f->isMain = (flags & SQLITE_OPEN_MAIN_DB) != 0;
    if (f->isMain) {
        unsigned char header[100];
        sqlite3_int64 size = 0;
        if (f->real->pMethods->xFileSize(f->real, &size) == SQLITE_OK && size >= 100
            && f->real->pMethods->xRead(f->real, header, 100, 0) == SQLITE_OK) {
            f->checksums = header[20] == TALLY_SQLITE_RESERVE;
        }
    }
    return SQLITE_OK;
}

static int xDelete(sqlite3_vfs *v, const char *name, int sync) { (void)v; return realVfs->xDelete(realVfs, name, sync); }
static int xAccess(sqlite3_vfs *v, const char *name, int flags, int *out) { (void)v; return realVfs->xAccess(realVfs, name, flags, out); }
static int xFullPathname(sqlite3_vfs *v, const char *name, int n, char *out) { (void)v; return realVfs->xFullPathname(realVfs, name, n, out); }
static void *xDlOpen(sqlite3_vfs *v, const char *name) { (void)v; return realVfs->xDlOpen(realVfs, name); }
static void xDlError(sqlite3_vfs *v, int n, char *msg) { (void)v; realVfs->xDlError(realVfs, n, msg); }
static void (*xDlSym(sqlite3_vfs *v, void *h, const char *sym))(void) { (void)v; return realVfs->xDlSym(realVfs, h, sym); }
static void xDlClose(sqlite3_vfs *v, void *h) { (void)v; realVfs->xDlClose(realVfs, h); }
static int xRandomness(sqlite3_vfs *v, int n, char *out) { (void)v; return realVfs->xRandomness(realVfs, n, out); }
static int xSleep(sqlite3_vfs *v, int us) { (void)v; return realVfs->xSleep(realVfs, us); }
static int xCurrentTime(sqlite3_vfs *v, double *out) { (void)v; return realVfs->xCurrentTime(realVfs, out); }
static int xGetLastError(sqlite3_vfs *v, int n, char *out) { (void)v; return realVfs->xGetLastError ? realVfs->xGetLastError(realVfs, n, out) : 0; }
static int xCurrentTimeInt64(sqlite3_vfs *v, sqlite3_int64 *out) { (void)v; return realVfs->xCurrentTimeInt64(realVfs, out); }

int tally_sqlite_checksums_register(void) {
    int rc = SQLITE_OK;
    pthread_mutex_lock(&registerLock);
    if (!realVfs) {
        rc = sqlite3_initialize();
        sqlite3_vfs *base = rc == SQLITE_OK ? sqlite3_vfs_find(0) : 0;
        if (!base || base->iVersion < 2) {
            rc = rc == SQLITE_OK ? SQLITE_ERROR : rc;
        } else {
            realVfs = base;
            tallyVfs = (sqlite3_vfs){
                2, (int)sizeof(TallyFile) + base->szOsFile, base->mxPathname, 0, "tally-checksum", 0,
                xOpen, xDelete, xAccess, xFullPathname, xDlOpen, xDlError, xDlSym, xDlClose,
                xRandomness, xSleep, xCurrentTime, xGetLastError, xCurrentTimeInt64,
            };
            rc = sqlite3_vfs_register(&tallyVfs, 1);
            if (rc != SQLITE_OK) realVfs = 0;
        }
    }
    pthread_mutex_unlock(&registerLock);
    return rc;
}

int tally_sqlite_reserve_checksum_bytes(sqlite3 *db) {
    int n = TALLY_SQLITE_RESERVE;
    return sqlite3_file_control(db, "main", SQLITE_FCNTL_RESERVE_BYTES, &n);
}

int tally_sqlite_has_checksums(sqlite3 *db) {
    sqlite3_file *f = 0;
    if (sqlite3_file_control(db, "main", SQLITE_FCNTL_FILE_POINTER, &f) != SQLITE_OK || !f) return 0;
    return f->pMethods == &tallyMethods && ((TallyFile *)f)->checksums;
}

long long tally_sqlite_checksum_failures(void) { return __atomic_load_n(&failures, __ATOMIC_RELAXED); }

struct tally_sqlite_version_reader {
    sqlite3 *db;
    sqlite3_stmt *statement;
};

tally_sqlite_version_reader *tally_sqlite_version_open(const char *path) {
    sqlite3 *db = 0;
    // Read-write without create: the file is the catalog's, already made; NOMUTEX because the caller serializes.
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, 0) != SQLITE_OK) {
        sqlite3_close(db);
        return 0;
    }
    sqlite3_busy_timeout(db, 0);
    sqlite3_stmt *statement = 0;
    if (sqlite3_prepare_v3(db, "PRAGMA data_version", -1, SQLITE_PREPARE_PERSISTENT, &statement, 0) != SQLITE_OK) {
        sqlite3_finalize(statement);
        sqlite3_close(db);
        return 0;
    }
    tally_sqlite_version_reader *reader = sqlite3_malloc(sizeof *reader);
    if (!reader) {
        sqlite3_finalize(statement);
        sqlite3_close(db);
        return 0;
    }
    reader->db = db;
    reader->statement = statement;
    return reader;
}

long long tally_sqlite_version_read(tally_sqlite_version_reader *reader) {
    long long version = -1;
    if (sqlite3_step(reader->statement) == SQLITE_ROW) version = sqlite3_column_int64(reader->statement, 0);
    // Reset at once: the read transaction the pragma opened ends here, so it never holds back a checkpoint.
    sqlite3_reset(reader->statement);
    return version;
}

void tally_sqlite_version_close(tally_sqlite_version_reader *reader) {
    if (!reader) return;
    sqlite3_finalize(reader->statement);
    sqlite3_close(reader->db);
    sqlite3_free(reader);
}
