#ifndef TALLY_PREFETCH_H
#define TALLY_PREFETCH_H

#include <stdint.h>

/// Starts loading the cache line at `p` without waiting for it (a hint; never faults).
static inline void tally_prefetch(const void *p) { __builtin_prefetch(p, 0, 3); }

/// An atomic load (acquire) of the word at `p`: a bit set that many threads read and set without a lock.
static inline uint64_t tally_atomic_load_u64(const uint64_t *p) { return __atomic_load_n(p, __ATOMIC_ACQUIRE); }

/// Atomically ORs `bits` into the word at `p` (acquire-release); returns the word before.
static inline uint64_t tally_atomic_or_u64(uint64_t *p, uint64_t bits) { return __atomic_fetch_or(p, bits, __ATOMIC_ACQ_REL); }

/// Atomically adds `n` to the word at `p` (acquire-release); returns the word after.
static inline uint64_t tally_atomic_add_u64(uint64_t *p, uint64_t n) { return __atomic_add_fetch(p, n, __ATOMIC_ACQ_REL); }

/// Atomically replaces the word at `p` by `desired` if it is `expected` (acquire-release); returns the word before.
static inline uint64_t tally_atomic_cas_u64(uint64_t *p, uint64_t expected, uint64_t desired) {
    __atomic_compare_exchange_n(p, &expected, desired, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE);
    return expected;
}

/// syncfs(2) of the file system holding the open file `fd`: returns 0, or -1 with errno set. glibc declares
/// `syncfs` only under _GNU_SOURCE, which Swift's Glibc module does not see, so it is defined in tally_prefetch.c.
int tally_syncfs(int fd);
#endif
