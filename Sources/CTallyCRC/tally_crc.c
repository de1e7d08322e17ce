#include "tally_crc.h"
#include <pthread.h>
#include <string.h>

#if defined(__x86_64__)
#include <nmmintrin.h>

int tally_crc32c_hardware(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("sse4.2") ? 1 : 0;
}

// Three independent streams hide the instruction's 3-cycle latency (one result per cycle), then the three
// registers are folded into one by running the CRC of the two later streams' lengths over zeros, which is what
// `shift` does with the table of x^(8 * block) mod P below.
static uint32_t shift(uint32_t crc, const uint32_t table[4][256]) {
    return table[0][crc & 0xff] ^ table[1][(crc >> 8) & 0xff] ^ table[2][(crc >> 16) & 0xff] ^ table[3][crc >> 24];
}

#define BLOCK 4096

// table[k][b]: the CRC register after feeding byte b at position k of a 32-bit value followed by BLOCK zero bytes.
static uint32_t zeros[4][256];
static pthread_once_t zeros_once = PTHREAD_ONCE_INIT;

__attribute__((target("sse4.2")))
static uint32_t crc_zeros(uint32_t crc, size_t n) {
    while (n >= 8) { crc = (uint32_t)_mm_crc32_u64(crc, 0); n -= 8; }
    while (n > 0) { crc = _mm_crc32_u8(crc, 0); n -= 1; }
    return crc;
}

__attribute__((target("sse4.2")))
static void make_zeros(void) {
    for (int k = 0; k < 4; k++) {
        for (uint32_t b = 0; b < 256; b++) zeros[k][b] = crc_zeros(b << (8 * k), BLOCK);
    }
}

__attribute__((target("sse4.2")))
uint32_t tally_crc32c_update(uint32_t crc, const void *p, size_t n) {
    const unsigned char *s = p;
    uint64_t c0 = crc;
    if (n >= 3 * BLOCK) {
        pthread_once(&zeros_once, make_zeros);
        while (n >= 3 * BLOCK) {
            uint64_t c1 = 0, c2 = 0;
            for (size_t i = 0; i < BLOCK; i += 8) {
                uint64_t w0, w1, w2;
                memcpy(&w0, s + i, 8);
                memcpy(&w1, s + BLOCK + i, 8);
                memcpy(&w2, s + 2 * BLOCK + i, 8);
                c0 = _mm_crc32_u64(c0, w0);
                c1 = _mm_crc32_u64(c1, w1);
                c2 = _mm_crc32_u64(c2, w2);
            }
            // crc(A || B || C) = shift(shift(crc(A)) ^ crc0(B)) ^ crc0(C), crc0 from a zero register.
            c0 = shift(shift((uint32_t)c0, zeros) ^ (uint32_t)c1, zeros) ^ (uint32_t)c2;
            s += 3 * BLOCK;
            n -= 3 * BLOCK;
        }
    }
    while (n >= 8) {
        uint64_t w;
        memcpy(&w, s, 8);
        c0 = _mm_crc32_u64(c0, w);
        s += 8;
        n -= 8;
    }
    uint32_t c = (uint32_t)c0;
    while (n > 0) {
        c = _mm_crc32_u8(c, *s);
        s += 1;
        n -= 1;
    }
    return c;
}

#else

int tally_crc32c_hardware(void) { return 0; }

uint32_t tally_crc32c_update(uint32_t crc, const void *p, size_t n) {
    (void)p;
    (void)n;
    return crc;
}

#endif
