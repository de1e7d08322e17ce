#ifndef TALLY_CLZ4_SHIM_H
#define TALLY_CLZ4_SHIM_H
#include <lz4.h>

/// Starts loading the cache line at `p` without waiting for it (a hint; never faults).
static inline void tally_prefetch(const void *p) { __builtin_prefetch(p, 0, 3); }
#endif
