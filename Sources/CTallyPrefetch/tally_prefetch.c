// `tally_prefetch` is a static inline function in include/tally_prefetch.h; `tally_syncfs` wraps syncfs(2), which
// glibc declares only under _GNU_SOURCE.
#define _GNU_SOURCE
#include <unistd.h>
#include "tally_prefetch.h"

int tally_syncfs(int fd) { return syncfs(fd); }
