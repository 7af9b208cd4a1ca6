/*
 * DSP-extension operations used by the depthwise/pool DSP kernels (internal
 * header; to be replaced by arm_dsp.h once the shared one lands).
 *
 * With __ARM_FEATURE_DSP (Cortex-M4/M7/M33) each wrapper is one instruction;
 * elsewhere a plain-C definition gives the same result, so the DSP kernels
 * also run, bit-exact, on the build machine.  A "pair" is two int16 lanes in
 * one uint32_t: lane 0 in bits 0..15, lane 1 in bits 16..31.
 */
#ifndef EDGEC_DSP_DW_OPS_H
#define EDGEC_DSP_DW_OPS_H

#include <stdint.h>
#include <string.h>

/* Four int8 bytes from any address (one LDR on Cortex-M: unaligned loads are allowed). */
static inline uint32_t dw_load4(const int8_t *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

/* Two int16 lanes from a 4-byte aligned address (lets the compiler merge loads into LDRD). */
static inline uint32_t dw_load_pair(const int16_t *p)
{
    uint32_t v;
#ifdef __GNUC__
    memcpy(&v, __builtin_assume_aligned(p, 4), 4);
#else
    memcpy(&v, p, 4);
#endif
    return v;
}

static inline void dw_store4(int8_t *p, uint32_t v)
{
    memcpy(p, &v, 4);
}

#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP

/* acc + lane0(a) * lane0(b) + lane1(a) * lane1(b) */
static inline int32_t dw_smlad(uint32_t a, uint32_t b, int32_t acc)
{
    int32_t r;
    __asm__("smlad %0, %1, %2, %3" : "=r"(r) : "r"(a), "r"(b), "r"(acc));
    return r;
}

/* pair(lane0(a) + (int8)byte0(b), lane1(a) + (int8)byte2(b)) */
static inline uint32_t dw_sxtab16(uint32_t a, uint32_t b)
{
    uint32_t r;
    __asm__("sxtab16 %0, %1, %2" : "=r"(r) : "r"(a), "r"(b));
    return r;
}

/* pair(lane0(a) + (int8)byte1(b), lane1(a) + (int8)byte3(b)) */
static inline uint32_t dw_sxtab16_ror8(uint32_t a, uint32_t b)
{
    uint32_t r;
    __asm__("sxtab16 %0, %1, %2, ror #8" : "=r"(r) : "r"(a), "r"(b));
    return r;
}

/* bytes (a0, a1, b0, b1): the low halves of a and b */
static inline uint32_t dw_pack_low(uint32_t a, uint32_t b)
{
    uint32_t r;
    __asm__("pkhbt %0, %1, %2, lsl #16" : "=r"(r) : "r"(a), "r"(b));
    return r;
}

/* bytes (a2, a3, b2, b3): the high halves of a and b */
static inline uint32_t dw_pack_high(uint32_t a, uint32_t b)
{
    uint32_t r;
    __asm__("pkhtb %0, %1, %2, asr #16" : "=r"(r) : "r"(b), "r"(a));
    return r;
}

/* Per byte: a > b (signed) ? a : b. */
static inline uint32_t dw_max4(uint32_t a, uint32_t b)
{
    uint32_t r;
    __asm__("ssub8 %0, %1, %2\n\tsel %0, %1, %2" : "=&r"(r) : "r"(a), "r"(b) : "cc");
    return r;
}

#else /* plain C, same results */

static inline int32_t dw_lane(uint32_t v, int lane)
{
    return (int32_t)(int16_t)(uint16_t)(v >> (16 * lane));
}

static inline int32_t dw_byte(uint32_t v, int byte)
{
    return (int32_t)(int8_t)(uint8_t)(v >> (8 * byte));
}

static inline uint32_t dw_pair(int32_t lo, int32_t hi)
{
    return ((uint32_t)lo & 0xffffu) | (((uint32_t)hi & 0xffffu) << 16);
}

static inline int32_t dw_smlad(uint32_t a, uint32_t b, int32_t acc)
{
    const uint32_t sum = (uint32_t)acc + (uint32_t)(dw_lane(a, 0) * dw_lane(b, 0)) + (uint32_t)(dw_lane(a, 1) * dw_lane(b, 1));
    return (int32_t)sum; /* wraps like the instruction */
}

static inline uint32_t dw_sxtab16(uint32_t a, uint32_t b)
{
    return dw_pair(dw_lane(a, 0) + dw_byte(b, 0), dw_lane(a, 1) + dw_byte(b, 2));
}

static inline uint32_t dw_sxtab16_ror8(uint32_t a, uint32_t b)
{
    return dw_pair(dw_lane(a, 0) + dw_byte(b, 1), dw_lane(a, 1) + dw_byte(b, 3));
}

static inline uint32_t dw_pack_low(uint32_t a, uint32_t b)
{
    return (a & 0xffffu) | (b << 16);
}

static inline uint32_t dw_pack_high(uint32_t a, uint32_t b)
{
    return (a >> 16) | (b & 0xffff0000u);
}

static inline uint32_t dw_max4(uint32_t a, uint32_t b)
{
    uint32_t r = 0;
    int i;
    for (i = 0; i < 4; ++i) {
        const int32_t x = dw_byte(a, i), y = dw_byte(b, i);
        r |= ((uint32_t)(uint8_t)(int8_t)(x > y ? x : y)) << (8 * i);
    }
    return r;
}

#endif

#endif /* EDGEC_DSP_DW_OPS_H */
