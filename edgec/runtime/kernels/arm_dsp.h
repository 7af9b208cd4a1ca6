/*
 * The Armv7E-M DSP-extension operations the "dsp" kernel variants use
 * (internal header).
 *
 * With __ARM_FEATURE_DSP (Cortex-M4/M7/M33 built with their -mcpu) each
 * wrapper is one instruction, through GCC's ACLE <arm_acle.h> or a one-line
 * asm where ACLE has no intrinsic.  Everywhere else (the host, Cortex-M3) the
 * same function is plain C with identical results, so every dsp kernel also
 * compiles and runs on the host, where the kernel-vector tests check it
 * bit-exact quickly; the QEMU runs check the real instructions.
 *
 * Values are 32-bit words.  "Pair" words hold two int16 halves: bits 0..15
 * are the low half, bits 16..31 the high half (independent of memory byte
 * order).  "Quad" words hold four int8 lanes, lane k in bits 8k..8k+7; read
 * from memory with dsp_read_quad, lane k is the byte at p[k] on a
 * little-endian machine (Cortex-M, x86 and AArch64 hosts all are).
 */
#ifndef EDGEC_ARM_DSP_H
#define EDGEC_ARM_DSP_H

#include <stdint.h>
#include <string.h>

#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP
#include <arm_acle.h>
#define EDGEC_DSP_NATIVE 1
#else
#define EDGEC_DSP_NATIVE 0
#endif

/* Four int8 at p (any alignment) as one quad word: one LDR on Cortex-M4/M7. */
static inline int32_t dsp_read_quad(const int8_t *p)
{
    int32_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

/* lo = p[off / 4], hi = p[off / 4 + 1] with one LDRD (off: a constant byte offset, a multiple of 4
 * up to 1020).  Only for constant data (weights in flash): the compiler is not told about the read,
 * so it must not be written by the program.  (GCC does not pair these loads by itself.) */
#if EDGEC_DSP_NATIVE
#define DSP_LDRD(p, off, lo, hi) __asm__("ldrd %0, %1, [%2, #" #off "]" : "=r"(lo), "=r"(hi) : "r"(p))
#else
#define DSP_LDRD(p, off, lo, hi) ((lo) = (p)[(off) / 4], (hi) = (p)[(off) / 4 + 1])
#endif

#if !EDGEC_DSP_NATIVE
/* Helpers of the plain-C definitions. */
static inline int32_t dsp_lo16(int32_t x)
{
    return (int32_t)(int16_t)(uint16_t)((uint32_t)x & 0xffffu);
}

static inline int32_t dsp_hi16(int32_t x)
{
    return (int32_t)(int16_t)(uint16_t)((uint32_t)x >> 16);
}

static inline int32_t dsp_lane8(int32_t x, int lane)
{
    return (int32_t)(int8_t)(uint8_t)(((uint32_t)x >> (8 * lane)) & 0xffu);
}

static inline int32_t dsp_make_pair(int32_t lo, int32_t hi)
{
    return (int32_t)(((uint32_t)lo & 0xffffu) | ((uint32_t)hi << 16));
}
#endif

/* SXTB16: lanes 0 and 2 sign-extended to a pair (lane 0 low, lane 2 high). */
static inline int32_t dsp_sxtb16(int32_t quad)
{
#if EDGEC_DSP_NATIVE
    return __sxtb16(quad);
#else
    return dsp_make_pair(dsp_lane8(quad, 0), dsp_lane8(quad, 2));
#endif
}

/* SXTB16 ..., ROR #8: lanes 1 and 3 sign-extended to a pair (lane 1 low, lane 3 high). */
static inline int32_t dsp_sxtb16_ror8(int32_t quad)
{
#if EDGEC_DSP_NATIVE
    int32_t r;
    __asm__("sxtb16 %0, %1, ror #8" : "=r"(r) : "r"(quad));
    return r;
#else
    return dsp_make_pair(dsp_lane8(quad, 1), dsp_lane8(quad, 3));
#endif
}

/* SXTAB16: pair + lanes 0 and 2 sign-extended (each half wraps modulo 2^16). */
static inline int32_t dsp_sxtab16(int32_t pair, int32_t quad)
{
#if EDGEC_DSP_NATIVE
    return __sxtab16(pair, quad);
#else
    return dsp_make_pair(dsp_lo16(pair) + dsp_lane8(quad, 0), dsp_hi16(pair) + dsp_lane8(quad, 2));
#endif
}

/* SXTAB16 ..., ROR #8: pair + lanes 1 and 3 sign-extended. */
static inline int32_t dsp_sxtab16_ror8(int32_t pair, int32_t quad)
{
#if EDGEC_DSP_NATIVE
    int32_t r;
    __asm__("sxtab16 %0, %1, %2, ror #8" : "=r"(r) : "r"(pair), "r"(quad));
    return r;
#else
    return dsp_make_pair(dsp_lo16(pair) + dsp_lane8(quad, 1), dsp_hi16(pair) + dsp_lane8(quad, 3));
#endif
}

/* SMLAD: acc + lo(a) * lo(b) + hi(a) * hi(b), wrapping modulo 2^32 (the Q flag is ignored). */
static inline int32_t dsp_smlad(int32_t a, int32_t b, int32_t acc)
{
#if EDGEC_DSP_NATIVE
    return __smlad(a, b, acc);
#else
    const uint32_t p0 = (uint32_t)(dsp_lo16(a) * dsp_lo16(b));
    const uint32_t p1 = (uint32_t)(dsp_hi16(a) * dsp_hi16(b));
    return (int32_t)((uint32_t)acc + p0 + p1);
#endif
}

/* SMLADX: acc + lo(a) * hi(b) + hi(a) * lo(b), wrapping modulo 2^32. */
static inline int32_t dsp_smladx(int32_t a, int32_t b, int32_t acc)
{
#if EDGEC_DSP_NATIVE
    return __smladx(a, b, acc);
#else
    const uint32_t p0 = (uint32_t)(dsp_lo16(a) * dsp_hi16(b));
    const uint32_t p1 = (uint32_t)(dsp_hi16(a) * dsp_lo16(b));
    return (int32_t)((uint32_t)acc + p0 + p1);
#endif
}

/* PKHBT lo, hi, LSL #16: the low half of `lo` below the low half of `hi`. */
static inline int32_t dsp_pkhbt(int32_t lo, int32_t hi)
{
#if EDGEC_DSP_NATIVE
    int32_t r;
    __asm__("pkhbt %0, %1, %2, lsl #16" : "=r"(r) : "r"(lo), "r"(hi));
    return r;
#else
    return dsp_make_pair(lo, hi);
#endif
}

/* PKHBT lo, hi: the low half of `lo` and the high half of `hi`, in place. */
static inline int32_t dsp_pkhbt_keep(int32_t lo, int32_t hi)
{
#if EDGEC_DSP_NATIVE
    int32_t r;
    __asm__("pkhbt %0, %1, %2" : "=r"(r) : "r"(lo), "r"(hi));
    return r;
#else
    return (int32_t)(((uint32_t)lo & 0xffffu) | ((uint32_t)hi & 0xffff0000u));
#endif
}

/* PKHTB hi, lo, ASR #16: the high half of `hi` above the high half of `lo`. */
static inline int32_t dsp_pkhtb(int32_t hi, int32_t lo)
{
#if EDGEC_DSP_NATIVE
    int32_t r;
    __asm__("pkhtb %0, %1, %2, asr #16" : "=r"(r) : "r"(hi), "r"(lo));
    return r;
#else
    return dsp_make_pair(dsp_hi16(lo), dsp_hi16(hi));
#endif
}

/* SMMULR: (a * b + 2^31) >> 32, the rounded high word of the 64-bit product (">>" floors). */
static inline int32_t dsp_smmulr(int32_t a, int32_t b)
{
#if EDGEC_DSP_NATIVE
    int32_t r;
    __asm__("smmulr %0, %1, %2" : "=r"(r) : "r"(a), "r"(b));
    return r;
#else
    const int64_t p = (int64_t)a * (int64_t)b + ((int64_t)1 << 31);
    /* Arithmetic shift of a negative value, written as a floor division for portability. */
    return (int32_t)(p >= 0 ? p / ((int64_t)1 << 32) : -((-p + ((int64_t)1 << 32) - 1) / ((int64_t)1 << 32)));
#endif
}

/* SSAT #8: x clamped to [-128, 127]. */
static inline int32_t dsp_ssat8(int32_t x)
{
#if EDGEC_DSP_NATIVE
    return __ssat(x, 8);
#else
    return x < -128 ? -128 : x > 127 ? 127 : x;
#endif
}

/* SSAT #16: x clamped to [-32768, 32767]. */
static inline int32_t dsp_ssat16(int32_t x)
{
#if EDGEC_DSP_NATIVE
    return __ssat(x, 16);
#else
    return x < -32768 ? -32768 : x > 32767 ? 32767 : x;
#endif
}

/* USAT #8: x clamped to [0, 255]. */
static inline int32_t dsp_usat8(int32_t x)
{
#if EDGEC_DSP_NATIVE
    return (int32_t)__usat(x, 8);
#else
    return x < 0 ? 0 : x > 255 ? 255 : x;
#endif
}

/* QADD: a + b saturated to int32. */
static inline int32_t dsp_qadd(int32_t a, int32_t b)
{
#if EDGEC_DSP_NATIVE
    return __qadd(a, b);
#else
    const int64_t s = (int64_t)a + (int64_t)b;
    return s > INT32_MAX ? INT32_MAX : s < INT32_MIN ? INT32_MIN : (int32_t)s;
#endif
}

/* v with lane `lane` (a constant 1..3) replaced by the low byte of x: one BFI. */
#if EDGEC_DSP_NATIVE
#define dsp_insert8(v, x, lane) dsp_insert8_((v), (x), 8 * (lane))
static inline int32_t dsp_insert8_(int32_t v, int32_t x, const int lsb)
{
    __asm__("bfi %0, %1, %2, #8" : "+r"(v) : "r"(x), "n"(lsb));
    return v;
}
#else
static inline int32_t dsp_insert8(int32_t v, int32_t x, int lane)
{
    const uint32_t mask = 0xffu << (8 * lane);
    return (int32_t)(((uint32_t)v & ~mask) | (((uint32_t)x << (8 * lane)) & mask));
}
#endif

/* The low bytes of r0..r3 as one quad word (r0 in lane 0): three BFI. */
static inline int32_t dsp_pack4(int32_t r0, int32_t r1, int32_t r2, int32_t r3)
{
#if EDGEC_DSP_NATIVE
    __asm__("bfi %0, %1, #8, #8" : "+r"(r0) : "r"(r1));
    __asm__("bfi %0, %1, #16, #8" : "+r"(r0) : "r"(r2));
    __asm__("bfi %0, %1, #24, #8" : "+r"(r0) : "r"(r3));
    return r0;
#else
    return (int32_t)(((uint32_t)r0 & 0xffu) | (((uint32_t)r1 & 0xffu) << 8) | (((uint32_t)r2 & 0xffu) << 16) |
                     ((uint32_t)r3 << 24));
#endif
}

/* The lane-wise signed maximum of the int8 quads a and b (SSUB8 sets the GE flag of each lane
 * where a >= b, SEL then takes a there and b elsewhere). */
static inline int32_t dsp_max4(int32_t a, int32_t b)
{
#if EDGEC_DSP_NATIVE
    int32_t t;
    __asm__("ssub8 %1, %0, %2\n\tsel %0, %0, %2" : "+r"(a), "=&r"(t) : "r"(b) : "cc");
    return a;
#else
    uint32_t r = 0;
    int k;
    for (k = 0; k < 4; ++k) {
        const int32_t x = dsp_lane8(a, k), y = dsp_lane8(b, k);
        r |= ((uint32_t)(x >= y ? x : y) & 0xffu) << (8 * k);
    }
    return (int32_t)r;
#endif
}

/* x's low byte in all four int8 lanes (dsp_clamp4's bounds from act_min / act_max). */
static inline int32_t dsp_splat4(int32_t x)
{
    return (int32_t)(((uint32_t)x & 0xffu) * 0x01010101u);
}

/* Each int8 lane of v clamped to [lo, hi] (lo4, hi4: the bounds in every lane, dsp_splat4; lo <= hi). */
static inline int32_t dsp_clamp4(int32_t v, int32_t lo4, int32_t hi4)
{
#if EDGEC_DSP_NATIVE
    int32_t t;
    /* GE lane flags of v - lo4: SEL keeps v where v >= lo; then of v - hi4: SEL takes hi where v >= hi. */
    __asm__("ssub8 %1, %0, %2\n\tsel %0, %0, %2" : "+r"(v), "=&r"(t) : "r"(lo4) : "cc");
    __asm__("ssub8 %1, %0, %2\n\tsel %0, %2, %0" : "+r"(v), "=&r"(t) : "r"(hi4) : "cc");
    return v;
#else
    uint32_t r = 0;
    int k;
    for (k = 0; k < 4; ++k) {
        int32_t x = dsp_lane8(v, k);
        const int32_t lo = dsp_lane8(lo4, k), hi = dsp_lane8(hi4, k);
        x = x < lo ? lo : x;
        x = x > hi ? hi : x;
        r |= ((uint32_t)x & 0xffu) << (8 * k);
    }
    return (int32_t)r;
#endif
}

#endif /* EDGEC_ARM_DSP_H */
