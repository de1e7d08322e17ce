#ifndef TALLY_PREFETCH_H
#define TALLY_PREFETCH_H

/// Starts loading the cache line at `p` without waiting for it (a hint; never faults).
static inline void tally_prefetch(const void *p) { __builtin_prefetch(p, 0, 3); }

/// syncfs(2) of the file system holding the open file `fd`: returns 0, or -1 with errno set. glibc declares
/// `syncfs` only under _GNU_SOURCE, which Swift's Glibc module does not see, so it is defined in tally_prefetch.c.
int tally_syncfs(int fd);
#endif
