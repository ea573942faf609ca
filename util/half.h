/* half.h — IEEE 754 binary16 <-> float32 conversion, shared by the model readers
 * (F16 tensors) and the engine (F16 weights and KV cache). */
#ifndef ROPEWALK_HALF_H
#define ROPEWALK_HALF_H

#include <stdint.h>
#include <string.h>

static inline float half_to_float(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000) << 16;
    uint32_t exponent = (h >> 10) & 0x1f;
    uint32_t mantissa = h & 0x3ff;
    uint32_t bits;
    if (exponent == 0) {
        if (mantissa == 0) {
            bits = sign;
        } else { /* subnormal: renormalise */
            exponent = 127 - 15 + 1;
            while (!(mantissa & 0x400)) { mantissa <<= 1; exponent--; }
            mantissa &= 0x3ff;
            bits = sign | (exponent << 23) | (mantissa << 13);
        }
    } else if (exponent == 31) {
        bits = sign | 0x7f800000u | (mantissa << 13);
    } else {
        bits = sign | ((exponent + 127 - 15) << 23) | (mantissa << 13);
    }
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

/* Round-to-nearest-even float32 -> binary16, with overflow to infinity. */
static inline uint16_t float_to_half(float f) {
    uint32_t x;
    memcpy(&x, &f, sizeof x);
    uint32_t sign = (x >> 16) & 0x8000;
    uint32_t abs_bits = x & 0x7fffffff;
    if (abs_bits >= 0x7f800000u) /* inf or nan */
        return (uint16_t)(sign | 0x7c00 | (abs_bits > 0x7f800000u ? 0x200 : 0));
    if (abs_bits >= 0x477ff000u) /* rounds to >= 65520: overflow */
        return (uint16_t)(sign | 0x7c00);
    if (abs_bits < 0x38800000u) { /* subnormal or zero in half */
        if (abs_bits < 0x33000000u) return (uint16_t)sign;
        uint32_t exponent = abs_bits >> 23;
        uint32_t mantissa = (abs_bits & 0x7fffff) | 0x800000;
        uint32_t shift = 126 - exponent; /* 14 .. 24 */
        uint32_t half_m = mantissa >> shift;
        uint32_t rest = mantissa & ((1u << shift) - 1);
        uint32_t halfway = 1u << (shift - 1);
        if (rest > halfway || (rest == halfway && (half_m & 1))) half_m++;
        return (uint16_t)(sign | half_m);
    }
    uint32_t rounded = abs_bits + 0xfff + ((abs_bits >> 13) & 1);
    return (uint16_t)(sign | ((rounded - 0x38000000u) >> 13));
}

#endif
