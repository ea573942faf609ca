/* interleaved_simd.h — what the kernels over rows repacked 16 at a time (k_interleaved.c,
 * legacy_interleaved.c) share: whether the build has them, their tile of tokens and its unrolling,
 * how far ahead they prefetch, and the broadcast of 4 activation bytes to every row's lane. */
#ifndef ROPEWALK_INTERLEAVED_SIMD_H
#define ROPEWALK_INTERLEAVED_SIMD_H

#if defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512VNNI__)
#define INTERLEAVED_KERNELS 1
#include <immintrin.h>
#include <stdint.h>
#include <string.h>

#define SPECIALISED static inline __attribute__((always_inline))
/* Tokens that share one unpacking of a group's codes. Each code line is prefetched 8 KB ahead
 * (3 to 4 Q4_K groups' super-blocks): with the hardware prefetcher alone, 1B Q4_K_M decode
 * read 9.0 GB/s on one core of a 12.6 GB/s machine; with this, 11.4 (1 KB ahead: 9.9, 4 KB:
 * 10.5, 16 KB: 11.3). Prefetches past the end are harmless: they never fault. */
enum { TOKEN_TILE = 4, PREFETCH_AHEAD = 8192 };
/* On every loop over a tile's tokens: fully unrolled, the per-token arrays live in registers
 * (without it GCC kept them on the stack, and K-quant prefill ran at 0.86 of llama.cpp). */
#define UNROLLED _Pragma("GCC unroll 16")

SPECIALISED __m512i broadcast_4_bytes(const unsigned char *p) {
    int32_t v;
    memcpy(&v, p, 4);
    return _mm512_set1_epi32(v);
}
#endif

#endif
