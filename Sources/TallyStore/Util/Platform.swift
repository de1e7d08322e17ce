// Tally is Linux only: the store and the domain call Glibc directly (`Glibc.open`, `Glibc.close`, `pthread_t()`,
// `fdatasync`), and Package.swift declares no other platform. Say so at build time rather than with a wall of errors.
#if !os(Linux)
#error("Tally builds on Linux only (see README, Requirements)")
#endif
