// Tally is Linux only: it calls Glibc directly (file calls behind `FileIO`, `fdatasync`, `pthread_t()`, `statvfs`),
// and Package.swift declares no other platform. Say so at build time rather than with a wall of errors.
#if !os(Linux)
#error("Tally builds on Linux only (see README, Requirements)")
#endif
