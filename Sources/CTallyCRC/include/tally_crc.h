#ifndef TALLY_CRC_H
#define TALLY_CRC_H
#include <stddef.h>
#include <stdint.h>

/// 1 when this CPU has the CRC-32C instruction (x86-64 SSE 4.2), else 0: then `tally_crc32c_update` must not be called.
int tally_crc32c_hardware(void);

/// Runs the CRC-32C (Castagnoli, reflected) register `crc` over `n` bytes at `p` with the CPU's instruction. The
/// register is neither inverted on entry nor on exit: the caller does both, as for the table-driven form.
uint32_t tally_crc32c_update(uint32_t crc, const void *p, size_t n);
#endif
