/*
 * conv2d and fully connected, DSP-extension variants (Cortex-M4/M7/M33).
 *
 * Same results as edgec_conv2d / edgec_fully_connected, bit for bit; the
 * code generator (edgec/codegen/dsp_emitters.py) prepares the constants:
 *
 *   - weights and per-channel constants in the "oc4" layout: output channels
 *     in blocks of four (the last block padded with zero weights).  A block
 *     starts with a header.  Conv: 16 words, four per channel (the
 *     bias with the input offset folded in, the rounding term, the
 *     multiplier, the shift; HDR_* below).  In epilogue mode 2 the shifts
 *     are stored negated (right = -shift), the rounding terms are
 *     (1 << (right - 1)) + (output_offset << right) and the folded biases
 *     and the weights are doubled; else the rounding terms are 0.  Fully
 *     connected: 4 words, the folded biases.  Then, for each of
 *     its `rows` runs of `run` int8 weights (conv: one run per kernel row,
 *     run = KW * Ci; fully connected: one run of K), first the quads: for
 *     every four consecutive inputs x0..x3 of the run, eight words
 *         pair(w[oc][x0], w[oc][x2]), pair(w[oc][x1], w[oc][x3])   for oc = 0..3
 *     (a pair word holds two int16: the first in bits 0..15), matching
 *     SXTB16 / SXTB16 ROR #8 of the four input bytes; then for each of the
 *     run % 4 trailing inputs two words pair(w[0], w[1]), pair(w[2], w[3]).
 *   - the folded bias is bias[oc] + input_offset * sum(w[oc]), so the kernel
 *     multiplies raw int8 inputs.  This is exact when every tap of the sum is
 *     computed: taps in the padding read the input zero point
 *     (x + input_offset == 0), so border pixels (and every pixel of an input
 *     whose columns are not dense) go through a small buffer padded with it.
 *
 * Inner loop: one input quad (LDR, SXTB16, SXTB16 ROR #8) against four
 * output channels (four LDRD of pre-widened weights, eight SMLAD): 16 MACs in
 * 15 instructions, two quads per iteration (arm-none-eabi-gcc 12 -O2).  The requantization epilogue is
 * fused per block; p->fast_requant selects it: 0 TFLite's general
 * MultiplyByQuantizedMultiplier, 1 rq_fast (the build proved it exact), 2
 * rq_fast_right_x2 (every shift negative; the header's rounding terms then
 * also carry the output offset, and the folded biases and weights are stored
 * doubled, so the accumulators come out as rq_fast_right's 2 * acc without a
 * shift, requant_fast.h; the full blocks use its three-instruction form rq_fast_right_x2_mla,
 * then SSAT, and store their four outputs as one word, clamped in all lanes at once).  The last 1..3 inputs of a run (Ci = 3 first convs)
 * take one SMLABB / SMLATB per channel.
 *
 * In epilogue mode 2, edgec_conv2d_dsp chooses a pixels function per call: conv_pixels_c1 (3x3 on
 * one input channel, with its own "c1" weight layout and c1_walk; see its section), conv_pixels_c3 (first
 * convs: three kernel rows of 9-byte runs), conv_pixels_ci8 (1x1 on 8 channels), conv_pixels_wide
 * (1x1 on 16..56 channels, unrolled), conv_pixels_deep (other 1x1 convs on a multiple of 8 channels,
 * up to 512) or the generic conv_pixels.  The first four take neighbouring output pixels in pairs
 * (each weight word and requantization constant loaded once for both pixels; blocks in two halves
 * of two channels where eight accumulators would not fit the registers) and a last odd pixel, or a
 * border pixel's gathered field, alone.
 *
 * At the end of the file: the same kernels on int8 weights (edgec_conv2d_dsp_int8,
 * edgec_fully_connected_dsp_int8), for layers whose pre-widened layout does not fit the flash.
 */
#include "arm_dsp.h"
#include "kernels_internal.h"
#include "requant_fast.h"

/* Largest receptive field (KH * KW * Ci bytes) a border pixel is gathered into (on the stack). */
#define EDGEC_CONV_DSP_MAX_FIELD 2304

/* Four accumulators of one block (four output channels). */
typedef struct {
    int32_t a0, a1, a2, a3;
} acc4;

/* acc += one input quad (x0..x3 at x) times the block's eight weight words at w. */
#define DOT4_QUAD(acc, x, w)                                                                                           \
    do {                                                                                                               \
        const int32_t q_ = dsp_read_quad(x);                                                                           \
        const int32_t even_ = dsp_sxtb16(q_);    /* x0, x2 */                                                          \
        const int32_t odd_ = dsp_sxtb16_ror8(q_); /* x1, x3 */                                                          \
        int32_t we_, wo_;                                                                                              \
        DSP_LDRD(w, 0, we_, wo_);                                                                                      \
        (acc).a0 = dsp_smlad(we_, even_, (acc).a0);                                                                    \
        (acc).a0 = dsp_smlad(wo_, odd_, (acc).a0);                                                                     \
        DSP_LDRD(w, 8, we_, wo_);                                                                                      \
        (acc).a1 = dsp_smlad(we_, even_, (acc).a1);                                                                    \
        (acc).a1 = dsp_smlad(wo_, odd_, (acc).a1);                                                                     \
        DSP_LDRD(w, 16, we_, wo_);                                                                                     \
        (acc).a2 = dsp_smlad(we_, even_, (acc).a2);                                                                    \
        (acc).a2 = dsp_smlad(wo_, odd_, (acc).a2);                                                                     \
        DSP_LDRD(w, 24, we_, wo_);                                                                                     \
        (acc).a3 = dsp_smlad(we_, even_, (acc).a3);                                                                    \
        (acc).a3 = dsp_smlad(wo_, odd_, (acc).a3);                                                                     \
    } while (0)

/* acc + the low int16 of pair times v (SMLABB; v is an int8 value). */
static inline int32_t mul_lo16(int32_t pair, int32_t v, int32_t acc)
{
#if EDGEC_DSP_NATIVE
    return __smlabb(pair, v, acc);
#else
    return (int32_t)((uint32_t)acc + (uint32_t)((int32_t)(int16_t)(uint16_t)((uint32_t)pair & 0xffffu) * v));
#endif
}

/* acc + the high int16 of pair times v (SMLATB; v is an int8 value). */
static inline int32_t mul_hi16(int32_t pair, int32_t v, int32_t acc)
{
#if EDGEC_DSP_NATIVE
    return __smlatb(pair, v, acc);
#else
    return (int32_t)((uint32_t)acc + (uint32_t)((pair >> 16) * v));
#endif
}

/* acc + the block's weights times one run of n inputs at x; advances *wp past the run's weights. */
static inline acc4 dot4_run(acc4 acc, const int8_t *x, const int32_t **wp, int32_t n)
{
    const int32_t *w = *wp;
    const int8_t *const pairs_end = x + (n & ~7);
    const int8_t *const end = x + n;
    /* Two quads per iteration (32 MACs). */
    while (x != pairs_end) {
        DOT4_QUAD(acc, x, w);
        DOT4_QUAD(acc, x + 4, w + 8);
        x += 8;
        w += 16;
    }
    if (n & 4) {
        DOT4_QUAD(acc, x, w);
        x += 4;
        w += 8;
    }
    while (x != end) { /* the run's last 1..3 inputs: one SMLABB / SMLATB per channel */
        const int32_t v = *x;
        int32_t w01, w23;
        DSP_LDRD(w, 0, w01, w23);
        acc.a0 = mul_lo16(w01, v, acc.a0);
        acc.a1 = mul_hi16(w01, v, acc.a1);
        acc.a2 = mul_lo16(w23, v, acc.a2);
        acc.a3 = mul_hi16(w23, v, acc.a3);
        ++x;
        w += 2;
    }
    *wp = w;
    return acc;
}

/* Block header of a conv: per channel j (0..3) four words at h[4 * j]: folded bias, rounding
 * term, multiplier, shift (adjacent pairs: one LDRD each). */
#define CONV_HEADER_WORDS 16
#define HDR_BIAS(h, j) ((h)[4 * (j)])
#define HDR_ROUND(h, j) ((h)[4 * (j) + 1])
#define HDR_MULT(h, j) ((h)[4 * (j) + 2])
#define HDR_SHIFT(h, j) ((h)[4 * (j) + 3])

/* The output constants of a call, copied out of the params (int8 stores may alias them). */
typedef struct {
    int32_t offset, lo, hi, mode; /* mode: p->fast_requant */
} epilogue;

static inline int8_t clamp_to(int32_t v, int32_t lo, int32_t hi)
{
    v = v < lo ? lo : v;
    return (int8_t)(v > hi ? hi : v);
}

/* Requantize accumulator j of a block; h is the block header. */
static inline int8_t requant_one(int32_t acc, const int32_t *h, int32_t j, const epilogue *e)
{
    if (e->mode == 2) {
        return clamp_to(rq_fast_right_x2(acc, HDR_MULT(h, j), HDR_SHIFT(h, j), HDR_ROUND(h, j)), e->lo, e->hi);
    }
    if (e->mode == 1) {
        return rq_fast_clamp(acc, HDR_MULT(h, j), HDR_SHIFT(h, j), e->offset, e->lo, e->hi);
    }
    return requantize_and_clamp(acc, HDR_MULT(h, j), HDR_SHIFT(h, j), e->offset, e->lo, e->hi);
}

/* The accumulators of one block for one output pixel: `base` is its first kernel row, rows
 * `row_step` bytes apart; *wp walks from the block's header past its weights. */
#if defined(__GNUC__)
__attribute__((always_inline))
#endif
static inline acc4 block_dot(const int8_t *base, int32_t row_step, const int32_t **wp, int32_t kh, int32_t run)
{
    const int32_t *h = *wp;
    int32_t ky;
    acc4 acc;
    acc.a0 = HDR_BIAS(h, 0);
    acc.a1 = HDR_BIAS(h, 1);
    acc.a2 = HDR_BIAS(h, 2);
    acc.a3 = HDR_BIAS(h, 3);
    *wp = h + CONV_HEADER_WORDS;
    for (ky = 0; ky < kh; ++ky) {
        acc = dot4_run(acc, base + ky * row_step, wp, run);
    }
    return acc;
}

/* One output pixel, every block, any epilogue mode. */
static void conv_pixel(int8_t *po, const int8_t *base, int32_t row_step, const int32_t *blocks, int32_t cout,
                       int32_t kh, int32_t run, const epilogue *e)
{
    const int32_t *w = blocks;
    int32_t oc;
    for (oc = 0; oc < cout; oc += 4) {
        const int32_t *h = w;
        const acc4 acc = block_dot(base, row_step, &w, kh, run);
        po[oc] = requant_one(acc.a0, h, 0, e);
        if (oc + 1 < cout) {
            po[oc + 1] = requant_one(acc.a1, h, 1, e);
        }
        if (oc + 2 < cout) {
            po[oc + 2] = requant_one(acc.a2, h, 2, e);
        }
        if (oc + 3 < cout) {
            po[oc + 3] = requant_one(acc.a3, h, 3, e);
        }
    }
}

/* v clamped to [lo, hi]; `full` (a constant at each call) says the range is all of int8: one SSAT. */
static inline int8_t clamp_range(int32_t v, int32_t lo, int32_t hi, int full)
{
    return full ? (int8_t)dsp_ssat8(v) : clamp_to(v, lo, hi);
}

/* Four int8 results (each already in [-128, 127]) packed (three BFI), clamped to the layer's
 * range in all lanes at once unless it is all of int8 (`full`, a constant at each call: SSUB8 +
 * SEL twice) and stored with one STR: 8 instructions for the four outputs instead of up to 28. */
static inline void store_quad_clamped(int8_t *po, int32_t r0, int32_t r1, int32_t r2, int32_t r3, int32_t lo4,
                                      int32_t hi4, int full)
{
    int32_t v = dsp_pack4(r0, r1, r2, r3);
    if (!full) {
        v = dsp_clamp4(v, lo4, hi4);
    }
    memcpy(po, &v, sizeof v);
}

/* conv_pixel for epilogue mode 2 (every shift negative, output offset in the rounding terms),
 * full blocks only: the common case, without tests per output. */
#if defined(__GNUC__)
__attribute__((always_inline))
#endif
static inline void conv_pixel_fast(int8_t *po, const int8_t *base, int32_t row_step, const int32_t *blocks,
                                   int32_t blocks_count, int32_t kh, int32_t run, int32_t lo, int32_t hi, int full)
{
    const int32_t lo4 = dsp_splat4(lo);
    const int32_t hi4 = dsp_splat4(hi);
    const int32_t *w = blocks;
    int32_t b;
    for (b = 0; b < blocks_count; ++b, po += 4) {
        const int32_t *h = w;
        const acc4 acc = block_dot(base, row_step, &w, kh, run);
        store_quad_clamped(po, dsp_ssat8(rq_fast_right_x2_mla(acc.a0, HDR_MULT(h, 0), HDR_SHIFT(h, 0), HDR_ROUND(h, 0))),
                           dsp_ssat8(rq_fast_right_x2_mla(acc.a1, HDR_MULT(h, 1), HDR_SHIFT(h, 1), HDR_ROUND(h, 1))),
                           dsp_ssat8(rq_fast_right_x2_mla(acc.a2, HDR_MULT(h, 2), HDR_SHIFT(h, 2), HDR_ROUND(h, 2))),
                           dsp_ssat8(rq_fast_right_x2_mla(acc.a3, HDR_MULT(h, 3), HDR_SHIFT(h, 3), HDR_ROUND(h, 3))), lo4,
                           hi4, full);
    }
}

/* DSP_LDRD kept in program order (volatile): GCC would otherwise hoist every channel's loads of
 * conv_pixel_ci8 to the top of the block and spill them. */
#if EDGEC_DSP_NATIVE
#define CI8_LDRD(p, off, lo, hi) __asm__ volatile("ldrd %0, %1, [%2, #" #off "]" : "=r"(lo), "=r"(hi) : "r"(p))
#else
#define CI8_LDRD(p, off, lo, hi) DSP_LDRD(p, off, lo, hi)
#endif

/* One output channel of conv_pixel_ci8: the folded bias plus the channel's eight (doubled)
 * weights at w (quad 0's pair words at w[0], w[1], quad 1's at w[8], w[9]) times the widened
 * inputs, requantized with rq_fast_right_x2_mla and saturated to int8 into r. */
#define CI8_CHANNEL(j, r)                                                                                              \
    do {                                                                                                               \
        int32_t we_, wo_, acc_, round_, mult_, right_;                                                                 \
        CI8_LDRD(w, 16 * (j), acc_, round_);                                                                           \
        CI8_LDRD(w, 64 + 8 * (j), we_, wo_);                                                                           \
        acc_ = dsp_smlad(we_, e0, acc_);                                                                               \
        acc_ = dsp_smlad(wo_, o0, acc_);                                                                               \
        CI8_LDRD(w, 96 + 8 * (j), we_, wo_);                                                                           \
        acc_ = dsp_smlad(we_, e1, acc_);                                                                               \
        acc_ = dsp_smlad(wo_, o1, acc_);                                                                               \
        CI8_LDRD(w, 16 * (j) + 8, mult_, right_);                                                                      \
        (r) = dsp_ssat8(rq_fast_right_x2_mla(acc_, mult_, right_, round_));                                                \
    } while (0)

/* conv_pixel_fast for 1x1 convs on 8 input channels (MobileNetV2's thin expansions): the pixel's
 * eight inputs are widened once and stay in four registers for every block, and each channel is
 * requantized as soon as its sum is done (few live registers, no spills). */
#if defined(__GNUC__)
__attribute__((always_inline))
#endif
static inline void conv_pixel_ci8(int8_t *po, const int8_t *x, const int32_t *w, int32_t blocks_count, int32_t lo,
                                  int32_t hi, int full)
{
    const int32_t q0 = dsp_read_quad(x), q1 = dsp_read_quad(x + 4);
    const int32_t e0 = dsp_sxtb16(q0), o0 = dsp_sxtb16_ror8(q0); /* x0, x2 / x1, x3 */
    const int32_t e1 = dsp_sxtb16(q1), o1 = dsp_sxtb16_ror8(q1); /* x4, x6 / x5, x7 */
    const int32_t lo4 = dsp_splat4(lo);
    const int32_t hi4 = dsp_splat4(hi);
    int8_t *const po_end = po + 4 * blocks_count; /* the loop ends on the output pointer: no counter */
    for (; po != po_end; po += 4, w += CONV_HEADER_WORDS + 16) {
        int32_t v, r;
        CI8_CHANNEL(0, v);
        CI8_CHANNEL(1, r);
        v = dsp_insert8(v, r, 1);
        CI8_CHANNEL(2, r);
        v = dsp_insert8(v, r, 2);
        CI8_CHANNEL(3, r);
        v = dsp_insert8(v, r, 3);
        if (!full) {
            v = dsp_clamp4(v, lo4, hi4);
        }
        memcpy(po, &v, sizeof v);
    }
}

/* One word of a pixel's widened inputs (conv_pixel_c3), kept in program order like CI8_LDRD: GCC
 * would otherwise load all sixteen once per pixel and spill them. */
#if EDGEC_DSP_NATIVE
#define C3_LDRD(xw, off, lo, hi)                                                                                       \
    __asm__ volatile("ldrd %0, %1, [%2, %3]" : "=r"(lo), "=r"(hi) : "r"(xw), "n"(off), "m"(*(const int32_t(*)[16])(xw)))
#define C3_LDR(xw, off, v) __asm__ volatile("ldr %0, [%1, %2]" : "=r"(v) : "r"(xw), "n"(off), "m"(*(const int32_t(*)[16])(xw)))
/* CI8_LDRD with an offset expression (constant weights: no memory operand needed). */
#define C3_WLDRD(p, off, lo, hi) __asm__ volatile("ldrd %0, %1, [%2, %3]" : "=r"(lo), "=r"(hi) : "r"(p), "n"(off))
#else
#define C3_WLDRD(p, off, lo, hi) DSP_LDRD(p, off, lo, hi)
#define C3_LDRD(xw, off, lo, hi) ((lo) = (xw)[(off) / 4], (hi) = (xw)[(off) / 4 + 1])
#define C3_LDR(xw, off, v) ((v) = (xw)[(off) / 4])
#endif

/* Byte offset of a block's weights for kernel row r (3x3 on 3 channels: per row two quads of
 * eight words and one trailing input of two words, after the 16-word header). */
#define C3_ROW(r) (4 * (CONV_HEADER_WORDS + 18 * (r)))

/* acc0..acc3 += widened input quad q (words 2q, 2q + 1 of xw) of kernel row r, quad k of the row. */
#define C3_QUAD(q, r, k)                                                                                               \
    do {                                                                                                               \
        int32_t e_, o_, we_, wo_;                                                                                      \
        C3_LDRD(xw, 8 * (q), e_, o_);                                                                                  \
        C3_WLDRD(w, C3_ROW(r) + 32 * (k), we_, wo_);                                                                   \
        acc0 = dsp_smlad(we_, e_, acc0);                                                                               \
        acc0 = dsp_smlad(wo_, o_, acc0);                                                                               \
        C3_WLDRD(w, C3_ROW(r) + 32 * (k) + 8, we_, wo_);                                                               \
        acc1 = dsp_smlad(we_, e_, acc1);                                                                               \
        acc1 = dsp_smlad(wo_, o_, acc1);                                                                               \
        C3_WLDRD(w, C3_ROW(r) + 32 * (k) + 16, we_, wo_);                                                              \
        acc2 = dsp_smlad(we_, e_, acc2);                                                                               \
        acc2 = dsp_smlad(wo_, o_, acc2);                                                                               \
        C3_WLDRD(w, C3_ROW(r) + 32 * (k) + 24, we_, wo_);                                                              \
        acc3 = dsp_smlad(we_, e_, acc3);                                                                               \
        acc3 = dsp_smlad(wo_, o_, acc3);                                                                               \
    } while (0)

/* acc0..acc3 += the ninth input of kernel row r (word 12 + r of xw) times its four weights. */
#define C3_TAIL(r)                                                                                                     \
    do {                                                                                                               \
        int32_t v_, w01_, w23_;                                                                                        \
        C3_LDR(xw, 4 * (12 + (r)), v_);                                                                                \
        C3_WLDRD(w, C3_ROW(r) + 64, w01_, w23_);                                                                       \
        acc0 = mul_lo16(w01_, v_, acc0);                                                                               \
        acc1 = mul_hi16(w01_, v_, acc1);                                                                               \
        acc2 = mul_lo16(w23_, v_, acc2);                                                                               \
        acc3 = mul_hi16(w23_, v_, acc3);                                                                               \
    } while (0)

/* Output channel j of the block: its sum requantized (rq_fast_right_x2_mla) and saturated to int8. */
#define C3_OUT(j, acc, r)                                                                                              \
    do {                                                                                                               \
        int32_t round_, mult_;                                                                                         \
        C3_WLDRD(w, 16 * (j) + 4, round_, mult_);                                                                      \
        (r) = dsp_ssat8(rq_fast_right_x2_mla(acc, mult_, HDR_SHIFT(w, j), round_));                                        \
    } while (0)

/* The pixel-pair blocks (C3X2, WIDE2, DEEP, C1X2) run each block in halves of two output channels
 * j, j + 1 for both pixels A and B, in a0, a1 (A) and b0, b1 (B): the sums start from the folded
 * biases, and end requantized with each channel's constants loaded once for both pixels. */
#define PAIR_HALF_START(j)                                                                                             \
    do {                                                                                                               \
        a0 = HDR_BIAS(w, j);                                                                                           \
        a1 = HDR_BIAS(w, (j) + 1);                                                                                     \
        b0 = a0;                                                                                                       \
        b1 = a1;                                                                                                       \
    } while (0)

#define PAIR_HALF_OUT(j)                                                                                               \
    do {                                                                                                               \
        int32_t round_, mult_, right_;                                                                                 \
        C3_WLDRD(w, 16 * (j) + 4, round_, mult_);                                                                      \
        right_ = HDR_SHIFT(w, j);                                                                                      \
        a0 = dsp_ssat8(rq_fast_right_x2_mla(a0, mult_, right_, round_));                                               \
        b0 = dsp_ssat8(rq_fast_right_x2_mla(b0, mult_, right_, round_));                                               \
        C3_WLDRD(w, 16 * (j) + 20, round_, mult_);                                                                     \
        right_ = HDR_SHIFT(w, (j) + 1);                                                                                \
        a1 = dsp_ssat8(rq_fast_right_x2_mla(a1, mult_, right_, round_));                                               \
        b1 = dsp_ssat8(rq_fast_right_x2_mla(b1, mult_, right_, round_));                                               \
    } while (0)

/* conv_pixel_fast for 3x3 convs on 3 input channels (the first conv of an image model), epilogue
 * mode 2, full blocks.  The pixel's 27 inputs are widened once into xw: per kernel row r the pair
 * words (x0, x2), (x1, x3), (x4, x6), (x5, x7) at 4r..4r + 3, and its ninth input at 12 + r.  Each
 * block then runs straight through: per input quad one LDRD of xw and four LDRD of weights for
 * eight SMLAD (16 MACs in 13 instructions), per ninth input one LDR, one LDRD and four
 * SMLABB / SMLATB, then the four requantizations, packed into one word (three BFI), clamped
 * in all four lanes at once (SSUB8 + SEL twice) and stored with one STR; nothing but the four
 * sums stays live. */
#if defined(__GNUC__)
__attribute__((always_inline))
#endif
static inline void conv_pixel_c3(int8_t *po, const int8_t *base, int32_t row_step, const int32_t *w,
                                 int32_t blocks_count, int32_t lo, int32_t hi, int full)
{
    const int32_t lo4 = dsp_splat4(lo);
    const int32_t hi4 = dsp_splat4(hi);
    int32_t xw[16];
    int32_t r, b;
    for (r = 0; r < 3; ++r) {
        const int8_t *x = base + r * row_step;
        const int32_t q0 = dsp_read_quad(x), q1 = dsp_read_quad(x + 4);
        xw[4 * r] = dsp_sxtb16(q0);
        xw[4 * r + 1] = dsp_sxtb16_ror8(q0);
        xw[4 * r + 2] = dsp_sxtb16(q1);
        xw[4 * r + 3] = dsp_sxtb16_ror8(q1);
        xw[12 + r] = x[8];
    }
    xw[15] = 0;
    for (b = 0; b < blocks_count; ++b, po += 4, w += CONV_HEADER_WORDS + 3 * 18) {
        int32_t acc0 = HDR_BIAS(w, 0), acc1 = HDR_BIAS(w, 1), acc2 = HDR_BIAS(w, 2), acc3 = HDR_BIAS(w, 3);
        C3_QUAD(0, 0, 0);
        C3_QUAD(1, 0, 1);
        C3_QUAD(2, 1, 0);
        C3_QUAD(3, 1, 1);
        C3_QUAD(4, 2, 0);
        C3_QUAD(5, 2, 1);
        C3_TAIL(0);
        C3_TAIL(1);
        C3_TAIL(2);
        C3_OUT(0, acc0, acc0);
        C3_OUT(1, acc1, acc1);
        C3_OUT(2, acc2, acc2);
        C3_OUT(3, acc3, acc3);
        acc0 = dsp_pack4(acc0, acc1, acc2, acc3);
        if (!full) {
            acc0 = dsp_clamp4(acc0, lo4, hi4);
        }
        memcpy(po, &acc0, sizeof acc0);
    }
}

/* Weight word `off` (bytes) at p, in program order (constant weights: no memory operand). */
#if EDGEC_DSP_NATIVE
#define C3_WLDR(p, off, v) __asm__ volatile("ldr %0, [%1, %2]" : "=r"(v) : "r"(p), "n"(off))
#else
#define C3_WLDR(p, off, v) ((v) = (p)[(off) / 4])
#endif

/* conv_pixel_c3 for pixels A, B and channels j, j + 1 of the block: input quad q (kernel row r,
 * quad k of the row) of both pixels against the two channels' weights. */
#define C3X2_QUAD(q, r, k, j)                                                                                          \
    do {                                                                                                               \
        int32_t ea_, oa_, eb_, ob_, we_, wo_;                                                                          \
        C3_LDRD(xa, 8 * (q), ea_, oa_);                                                                                \
        C3_LDRD(xb, 8 * (q), eb_, ob_);                                                                                \
        C3_WLDRD(w, C3_ROW(r) + 32 * (k) + 8 * (j), we_, wo_);                                                         \
        a0 = dsp_smlad(we_, ea_, a0);                                                                                  \
        a0 = dsp_smlad(wo_, oa_, a0);                                                                                  \
        b0 = dsp_smlad(we_, eb_, b0);                                                                                  \
        b0 = dsp_smlad(wo_, ob_, b0);                                                                                  \
        C3_WLDRD(w, C3_ROW(r) + 32 * (k) + 8 * (j) + 8, we_, wo_);                                                     \
        a1 = dsp_smlad(we_, ea_, a1);                                                                                  \
        a1 = dsp_smlad(wo_, oa_, a1);                                                                                  \
        b1 = dsp_smlad(we_, eb_, b1);                                                                                  \
        b1 = dsp_smlad(wo_, ob_, b1);                                                                                  \
    } while (0)

/* The ninth input of kernel row r of both pixels times channels j, j + 1 (one pair word). */
#define C3X2_TAIL(r, j)                                                                                                \
    do {                                                                                                               \
        int32_t va_, vb_, wp_;                                                                                         \
        C3_LDR(xa, 4 * (12 + (r)), va_);                                                                               \
        C3_LDR(xb, 4 * (12 + (r)), vb_);                                                                               \
        C3_WLDR(w, C3_ROW(r) + 64 + 2 * (j), wp_);                                                                     \
        a0 = mul_lo16(wp_, va_, a0);                                                                                   \
        a1 = mul_hi16(wp_, va_, a1);                                                                                   \
        b0 = mul_lo16(wp_, vb_, b0);                                                                                   \
        b1 = mul_hi16(wp_, vb_, b1);                                                                                   \
    } while (0)

/* Channels j, j + 1 of the block for both pixels, requantized and saturated into a0, a1, b0, b1. */
#define C3X2_HALF(j)                                                                                                   \
    do {                                                                                                               \
        PAIR_HALF_START(j);                                                                                            \
        C3X2_QUAD(0, 0, 0, j);                                                                                         \
        C3X2_QUAD(1, 0, 1, j);                                                                                         \
        C3X2_QUAD(2, 1, 0, j);                                                                                         \
        C3X2_QUAD(3, 1, 1, j);                                                                                         \
        C3X2_QUAD(4, 2, 0, j);                                                                                         \
        C3X2_QUAD(5, 2, 1, j);                                                                                         \
        C3X2_TAIL(0, j);                                                                                               \
        C3X2_TAIL(1, j);                                                                                               \
        C3X2_TAIL(2, j);                                                                                               \
        PAIR_HALF_OUT(j);                                                                                              \
    } while (0)

/* The 27 inputs of a pixel (kernel rows `row_step` apart from base) widened into x as
 * conv_pixel_c3 lays them out. */
static inline void c3_widen(int32_t *x, const int8_t *base, int32_t row_step)
{
    int32_t r;
    for (r = 0; r < 3; ++r) {
        const int8_t *p = base + r * row_step;
        const int32_t q0 = dsp_read_quad(p), q1 = dsp_read_quad(p + 4);
        x[4 * r] = dsp_sxtb16(q0);
        x[4 * r + 1] = dsp_sxtb16_ror8(q0);
        x[4 * r + 2] = dsp_sxtb16(q1);
        x[4 * r + 3] = dsp_sxtb16_ror8(q1);
        x[12 + r] = p[8];
    }
    x[15] = 0;
}

/* conv_pixel_c3 for two pixels (A at basea -> pa, B at baseb -> pb): each block in two halves of
 * two output channels, every weight word and requantization constant loaded once for both pixels
 * (per input quad and half: two LDRD of widened inputs, two of weights, eight SMLAD for 32 MACs). */
#if defined(__GNUC__)
__attribute__((always_inline))
#endif
static inline void conv_pixel_c3x2(int8_t *pa, int8_t *pb, const int8_t *basea, const int8_t *baseb,
                                   int32_t row_step, const int32_t *w, int32_t blocks_count, int32_t lo4, int32_t hi4,
                                   int full)
{
    int32_t xa[16], xb[16];
    int8_t *const po_end = pa + 4 * blocks_count;
    c3_widen(xa, basea, row_step);
    c3_widen(xb, baseb, row_step);
    for (; pa != po_end; pa += 4, pb += 4, w += CONV_HEADER_WORDS + 3 * 18) {
        int32_t a0, a1, b0, b1, ra, rb;
        C3X2_HALF(0);
        ra = dsp_insert8(a0, a1, 1);
        rb = dsp_insert8(b0, b1, 1);
        C3X2_HALF(2);
        ra = dsp_insert8(dsp_insert8(ra, a0, 2), a1, 3);
        rb = dsp_insert8(dsp_insert8(rb, b0, 2), b1, 3);
        if (!full) {
            ra = dsp_clamp4(ra, lo4, hi4);
            rb = dsp_clamp4(rb, lo4, hi4);
        }
        memcpy(pa, &ra, sizeof ra);
        memcpy(pb, &rb, sizeof rb);
    }
}

/* Most input quads of conv_pixel_wide (Ci = 56). */
#define WIDE_MAX_QUADS 14

/* One word pair of conv_pixel_wide's widened inputs, kept in program order (see C3_LDRD); the
 * memory operand is the pair itself. */
#if EDGEC_DSP_NATIVE
#define WIDE_LDRD(xw, off, lo, hi)                                                                                     \
    __asm__ volatile("ldrd %0, %1, [%2, %3]"                                                                           \
                     : "=r"(lo), "=r"(hi)                                                                              \
                     : "r"(xw), "n"(off), "m"(*(const int32_t(*)[2])((xw) + (off) / 4)))
#else
#define WIDE_LDRD(xw, off, lo, hi) ((lo) = (xw)[(off) / 4], (hi) = (xw)[(off) / 4 + 1])
#endif

/* Byte offset of quad q's weights for channel j in a block of a 1x1 conv (after the 16-word header). */
#define WIDE_W(q, j) (4 * CONV_HEADER_WORDS + 32 * (q) + 8 * (j))

/* acc0..acc3 += widened input quad q (words 2q, 2q + 1 of xw) times the block's weights. */
#define WIDE_QUAD(q)                                                                                                   \
    do {                                                                                                               \
        int32_t e_, o_, we_, wo_;                                                                                      \
        WIDE_LDRD(xw, 8 * (q), e_, o_);                                                                                \
        C3_WLDRD(w, WIDE_W(q, 0), we_, wo_);                                                                           \
        acc0 = dsp_smlad(we_, e_, acc0);                                                                               \
        acc0 = dsp_smlad(wo_, o_, acc0);                                                                               \
        C3_WLDRD(w, WIDE_W(q, 1), we_, wo_);                                                                           \
        acc1 = dsp_smlad(we_, e_, acc1);                                                                               \
        acc1 = dsp_smlad(wo_, o_, acc1);                                                                               \
        C3_WLDRD(w, WIDE_W(q, 2), we_, wo_);                                                                           \
        acc2 = dsp_smlad(we_, e_, acc2);                                                                               \
        acc2 = dsp_smlad(wo_, o_, acc2);                                                                               \
        C3_WLDRD(w, WIDE_W(q, 3), we_, wo_);                                                                           \
        acc3 = dsp_smlad(we_, e_, acc3);                                                                               \
        acc3 = dsp_smlad(wo_, o_, acc3);                                                                               \
    } while (0)

/* conv_pixel_fast for 1x1 convs on 16 to 56 input channels, a multiple of 8 (`quads` = Ci / 4, a constant at
 * each call), epilogue mode 2, full blocks: the expansions of MobileNetV2 and MCUNet.  The
 * generic loop widens the pixel's inputs again for every block; here they are widened once per
 * pixel into xw (pair words (x0, x2), (x1, x3), (x4, x6), ... at 0, 1, 2, ...), and each block
 * runs straight through like conv_pixel_c3: per input quad one LDRD of xw and four LDRD of
 * weights for eight SMLAD (16 MACs in 13 instructions), then the four requantizations, one
 * packed STR. */
#if defined(__GNUC__)
__attribute__((always_inline))
#endif
static inline void conv_pixel_wide(int8_t *po, const int8_t *x, const int32_t *w, int32_t blocks_count,
                                   int32_t quads, int32_t lo, int32_t hi, int full)
{
    const int32_t lo4 = dsp_splat4(lo);
    const int32_t hi4 = dsp_splat4(hi);
    int32_t xw[WIDE_MAX_QUADS * 2];
    int8_t *po_end; /* the block loop ends on the output pointer: no counter */
    int32_t q;
    for (q = 0; q < quads; ++q) {
        const int32_t v = dsp_read_quad(x + 4 * q);
        xw[2 * q] = dsp_sxtb16(v);
        xw[2 * q + 1] = dsp_sxtb16_ror8(v);
    }
    for (po_end = po + 4 * blocks_count; po != po_end; po += 4, w += CONV_HEADER_WORDS + 8 * quads) {
        int32_t acc0 = HDR_BIAS(w, 0), acc1 = HDR_BIAS(w, 1), acc2 = HDR_BIAS(w, 2), acc3 = HDR_BIAS(w, 3);
        WIDE_QUAD(0);
        WIDE_QUAD(1);
        WIDE_QUAD(2);
        WIDE_QUAD(3);
        if (quads >= 6) {
            WIDE_QUAD(4);
            WIDE_QUAD(5);
        }
        if (quads >= 8) {
            WIDE_QUAD(6);
            WIDE_QUAD(7);
        }
        if (quads >= 10) {
            WIDE_QUAD(8);
            WIDE_QUAD(9);
        }
        if (quads >= 12) {
            WIDE_QUAD(10);
            WIDE_QUAD(11);
        }
        if (quads >= 14) {
            WIDE_QUAD(12);
            WIDE_QUAD(13);
        }
        C3_OUT(0, acc0, acc0);
        C3_OUT(1, acc1, acc1);
        C3_OUT(2, acc2, acc2);
        C3_OUT(3, acc3, acc3);
        acc0 = dsp_pack4(acc0, acc1, acc2, acc3);
        if (!full) {
            acc0 = dsp_clamp4(acc0, lo4, hi4);
        }
        memcpy(po, &acc0, sizeof acc0);
    }
}

/* Byte offset of pixel B's widened inputs in conv_pixel_wide2's xw (after pixel A's). */
#define WIDE2_B (8 * WIDE_MAX_QUADS)

/* Two pixels (A, B) x channels j, j + 1 of a block: a0, a1 / b0, b1 += widened input quad q of A / B
 * times the channels' weights; each weight word pair serves both pixels. */
#define WIDE2_QUAD(q, j)                                                                                               \
    do {                                                                                                               \
        int32_t ea_, oa_, eb_, ob_, we_, wo_;                                                                          \
        WIDE_LDRD(xw, 8 * (q), ea_, oa_);                                                                              \
        WIDE_LDRD(xw, WIDE2_B + 8 * (q), eb_, ob_);                                                                    \
        C3_WLDRD(w, WIDE_W(q, j), we_, wo_);                                                                           \
        a0 = dsp_smlad(we_, ea_, a0);                                                                                  \
        a0 = dsp_smlad(wo_, oa_, a0);                                                                                  \
        b0 = dsp_smlad(we_, eb_, b0);                                                                                  \
        b0 = dsp_smlad(wo_, ob_, b0);                                                                                  \
        C3_WLDRD(w, WIDE_W(q, (j) + 1), we_, wo_);                                                                     \
        a1 = dsp_smlad(we_, ea_, a1);                                                                                  \
        a1 = dsp_smlad(wo_, oa_, a1);                                                                                  \
        b1 = dsp_smlad(we_, eb_, b1);                                                                                  \
        b1 = dsp_smlad(wo_, ob_, b1);                                                                                  \
    } while (0)

/* Channels j, j + 1 of a block for both pixels: their sums, requantized (the constants loaded once
 * for the two pixels) and saturated to int8 into a0, a1, b0, b1. */
#define WIDE2_HALF(j)                                                                                                  \
    do {                                                                                                               \
        PAIR_HALF_START(j);                                                                                            \
        WIDE2_QUAD(0, j);                                                                                              \
        WIDE2_QUAD(1, j);                                                                                              \
        WIDE2_QUAD(2, j);                                                                                              \
        WIDE2_QUAD(3, j);                                                                                              \
        if (quads >= 6) {                                                                                              \
            WIDE2_QUAD(4, j);                                                                                          \
            WIDE2_QUAD(5, j);                                                                                          \
        }                                                                                                              \
        if (quads >= 8) {                                                                                              \
            WIDE2_QUAD(6, j);                                                                                          \
            WIDE2_QUAD(7, j);                                                                                          \
        }                                                                                                              \
        if (quads >= 10) {                                                                                             \
            WIDE2_QUAD(8, j);                                                                                          \
            WIDE2_QUAD(9, j);                                                                                          \
        }                                                                                                              \
        if (quads >= 12) {                                                                                             \
            WIDE2_QUAD(10, j);                                                                                         \
            WIDE2_QUAD(11, j);                                                                                         \
        }                                                                                                              \
        if (quads >= 14) {                                                                                             \
            WIDE2_QUAD(12, j);                                                                                         \
            WIDE2_QUAD(13, j);                                                                                         \
        }                                                                                                              \
        PAIR_HALF_OUT(j);                                                                                              \
    } while (0)

/* conv_pixel_wide for two output pixels at once (A: inputs xa, outputs pa; B: xb, pb): both
 * pixels' inputs are widened into xw first, then each block runs in two halves of two output
 * channels, so that every weight word pair and every channel's requantization constants are
 * loaded once for both pixels (per input quad and half: two LDRD of xw, two of weights, eight
 * SMLAD for 32 MACs; four accumulators, which leave the registers for the inputs and weights). */
#if defined(__GNUC__)
__attribute__((always_inline))
#endif
static inline void conv_pixel_wide2(int8_t *pa, int8_t *pb, const int8_t *xa, const int8_t *xb, const int32_t *w,
                                    int32_t blocks_count, int32_t quads, int32_t lo, int32_t hi, int full)
{
    const int32_t lo4 = dsp_splat4(lo);
    const int32_t hi4 = dsp_splat4(hi);
    int32_t xw[WIDE_MAX_QUADS * 4];
    int8_t *po_end;
    int32_t q;
    for (q = 0; q < quads; ++q) {
        const int32_t va = dsp_read_quad(xa + 4 * q), vb = dsp_read_quad(xb + 4 * q);
        xw[2 * q] = dsp_sxtb16(va);
        xw[2 * q + 1] = dsp_sxtb16_ror8(va);
        xw[WIDE2_B / 4 + 2 * q] = dsp_sxtb16(vb);
        xw[WIDE2_B / 4 + 2 * q + 1] = dsp_sxtb16_ror8(vb);
    }
    for (po_end = pa + 4 * blocks_count; pa != po_end; pa += 4, pb += 4, w += CONV_HEADER_WORDS + 8 * quads) {
        int32_t a0, a1, b0, b1, ra, rb;
        WIDE2_HALF(0);
        ra = dsp_insert8(a0, a1, 1);
        rb = dsp_insert8(b0, b1, 1);
        WIDE2_HALF(2);
        ra = dsp_insert8(dsp_insert8(ra, a0, 2), a1, 3);
        rb = dsp_insert8(dsp_insert8(rb, b0, 2), b1, 3);
        if (!full) {
            ra = dsp_clamp4(ra, lo4, hi4);
            rb = dsp_clamp4(rb, lo4, hi4);
        }
        memcpy(pa, &ra, sizeof ra);
        memcpy(pb, &rb, sizeof rb);
    }
}

/* Copy the receptive field of the output pixel whose first tap is (y0, x0) into `field`
 * ([KH][KW][Ci], dense), with the input zero point at taps outside the input. */
static void gather_field(const edgec_view *in, int32_t y0, int32_t x0, const edgec_conv_params *p, int8_t *field)
{
    const int32_t cin = in->c;
    const int8_t zero_point = (int8_t)(-p->input_offset);
    int32_t ky, kx;
    for (ky = 0; ky < p->kernel_h; ++ky) {
        const int32_t y = y0 + ky * p->dilation_h;
        for (kx = 0; kx < p->kernel_w; ++kx) {
            const int32_t x = x0 + kx;
            int8_t *dst = field + (ky * p->kernel_w + kx) * cin;
            if (y >= 0 && y < in->h && x >= 0 && x < in->w) {
                memcpy(dst, in->data + y * in->row_stride + x * in->col_stride, (size_t)cin);
            } else {
                memset(dst, zero_point, (size_t)cin);
            }
        }
    }
}

/* What every pixel of a call shares. */
typedef struct {
    const int32_t *blocks;
    int32_t cout, kh, run;
    int32_t full_blocks, block_words; /* blocks of 4 channels; words per block */
} conv_shape;

/* `count` output pixels, `po_step` bytes apart, whose first kernel rows start `base_step` bytes
 * apart from `base` (kernel rows `row_step` bytes apart). */
static void conv_pixels(int8_t *po, int32_t po_step, const int8_t *base, int32_t base_step, int32_t count,
                        int32_t row_step, const conv_shape *g, const epilogue *e)
{
    /* In locals, and the path chosen once per call, not per pixel: the int8 stores may alias g and e. */
    const int32_t *const blocks = g->blocks;
    const int32_t cout = g->cout, kh = g->kh, run = g->run, full_blocks = g->full_blocks;
    const int32_t done = full_blocks * 4, lo = e->lo, hi = e->hi;
    const int32_t *const rest_blocks = blocks + full_blocks * g->block_words;
    const int full = lo == -128 && hi == 127;
    int32_t i;

/* Every pixel of the call: `one` for its full blocks, then the last 1..3 channels, if any. */
#define CONV_PIXEL_LOOP(one)                                                                                           \
    do {                                                                                                               \
        for (i = 0; i < count; ++i, po += po_step, base += base_step) {                                                \
            one;                                                                                                       \
            if (done < cout) {                                                                                         \
                conv_pixel(po + done, base, row_step, rest_blocks, cout - done, kh, run, e);                           \
            }                                                                                                          \
        }                                                                                                              \
    } while (0)

    if (e->mode != 2) {
        for (i = 0; i < count; ++i, po += po_step, base += base_step) {
            conv_pixel(po, base, row_step, blocks, cout, kh, run, e);
        }
    } else if (full && kh == 1 && run % 8 == 0) { /* pointwise convs: constants for the compiler */
        CONV_PIXEL_LOOP(conv_pixel_fast(po, base, 0, blocks, full_blocks, 1, run & ~7, -128, 127, 1));
    } else if (full) {
        CONV_PIXEL_LOOP(conv_pixel_fast(po, base, row_step, blocks, full_blocks, kh, run, lo, hi, 1));
    } else {
        CONV_PIXEL_LOOP(conv_pixel_fast(po, base, row_step, blocks, full_blocks, kh, run, lo, hi, 0));
    }
#undef CONV_PIXEL_LOOP
}

/* Computes `count` output pixels of one call (see conv_pixels for the arguments). */
typedef void (*pixels_fn)(int8_t *po, int32_t po_step, const int8_t *base, int32_t base_step, int32_t count,
                          int32_t row_step, const conv_shape *g, const epilogue *e);

/* conv_pixels for 1x1 convs on 16 to 56 input channels (a multiple of 8) in epilogue mode 2 (conv_pixel_wide),
 * a function of its own: inside conv_pixels the extra paths cost the others registers. */
static void conv_pixels_wide(int8_t *po, int32_t po_step, const int8_t *base, int32_t base_step, int32_t count,
                             int32_t row_step, const conv_shape *g, const epilogue *e)
{
    const int32_t *const blocks = g->blocks;
    const int32_t cout = g->cout, run = g->run, full_blocks = g->full_blocks;
    const int32_t done = full_blocks * 4, lo = e->lo, hi = e->hi;
    const int32_t *const rest_blocks = blocks + full_blocks * g->block_words;
    const int full = lo == -128 && hi == 127;
    int32_t i;

/* Every pixel of the call: conv_pixel_wide on `quads` input quads for its full blocks, then the
 * last 1..3 channels, if any. */
#define WIDE_PIXEL_LOOP(quads, lo_, hi_, full_)                                                                       \
    do {                                                                                                               \
        for (i = 0; i + 2 <= count; i += 2, po += 2 * po_step, base += 2 * base_step) {                                \
            conv_pixel_wide2(po, po + po_step, base, base + base_step, blocks, full_blocks, quads, lo_, hi_, full_);  \
            if (done < cout) {                                                                                         \
                conv_pixel(po + done, base, row_step, rest_blocks, cout - done, 1, run, e);                            \
                conv_pixel(po + po_step + done, base + base_step, row_step, rest_blocks, cout - done, 1, run, e);      \
            }                                                                                                          \
        }                                                                                                              \
        if (i < count) {                                                                                               \
            conv_pixel_wide(po, base, blocks, full_blocks, quads, lo_, hi_, full_);                                    \
            if (done < cout) {                                                                                         \
                conv_pixel(po + done, base, row_step, rest_blocks, cout - done, 1, run, e);                            \
            }                                                                                                          \
        }                                                                                                              \
    } while (0)

    if (run == 16 && full) {
        WIDE_PIXEL_LOOP(4, -128, 127, 1);
    } else if (run == 16) {
        WIDE_PIXEL_LOOP(4, lo, hi, 0);
    } else if (run == 24 && full) {
        WIDE_PIXEL_LOOP(6, -128, 127, 1);
    } else if (run == 24) {
        WIDE_PIXEL_LOOP(6, lo, hi, 0);
    } else if (run == 32 && full) {
        WIDE_PIXEL_LOOP(8, -128, 127, 1);
    } else if (run == 32) {
        WIDE_PIXEL_LOOP(8, lo, hi, 0);
    } else if (run == 40) { /* 40..56 channels: full range only (wide_path), for the flash */
        WIDE_PIXEL_LOOP(10, -128, 127, 1);
    } else if (run == 48) {
        WIDE_PIXEL_LOOP(12, -128, 127, 1);
    } else {
        WIDE_PIXEL_LOOP(14, -128, 127, 1);
    }
#undef WIDE_PIXEL_LOOP
}

/* Every output pixel of a conv: the pixels without padding straight from the input, row run by
 * row run; each border pixel through a field padded with the input zero point. */
#if defined(__GNUC__)
__attribute__((always_inline))
#endif
static inline void conv_walk(const edgec_view *in, edgec_view *out, const edgec_conv_params *p, const conv_shape *g,
                             const epilogue *e, pixels_fn pixels)
{
    const int32_t kh = p->kernel_h, kw = p->kernel_w;
    const int32_t sw = p->stride_w, pad_left = p->pad_left;
    /* A kernel row reads KW * Ci contiguous bytes only when the input's columns are dense. */
    const int dense_columns = in->col_stride == in->c;
    /* Output columns [xa, xb) read no padding: x0 = ox * sw - pad_left >= 0 and x0 + kw <= in->w. */
    const int32_t last = in->w - kw + pad_left;
    int32_t xa = pad_left > 0 ? (pad_left + sw - 1) / sw : 0;
    int32_t xb = last < 0 ? 0 : last / sw + 1;
    int8_t field[EDGEC_CONV_DSP_MAX_FIELD];
    int32_t oy, ox;

    xa = xa < out->w ? xa : out->w;
    xb = xb < out->w ? xb : out->w;
    xb = xb > xa ? xb : xa;
    for (oy = 0; oy < out->h; ++oy) {
        const int32_t y0 = oy * p->stride_h - p->pad_top;
        const int inside_y = dense_columns && y0 >= 0 && y0 + (kh - 1) * p->dilation_h < in->h;
        int8_t *po_row = out->data + oy * out->row_stride;
        for (ox = 0; ox < out->w; ++ox) {
            if (inside_y && ox == xa && xb > xa) { /* the pixels without padding, straight from the input */
                const int32_t x0 = ox * sw - pad_left;
                pixels(po_row + ox * out->col_stride, out->col_stride,
                       in->data + y0 * in->row_stride + x0 * in->col_stride, sw * in->col_stride, xb - xa,
                       p->dilation_h * in->row_stride, g, e);
                ox = xb - 1;
                continue;
            }
            gather_field(in, y0, ox * sw - pad_left, p, field);
            pixels(po_row + ox * out->col_stride, 0, field, 0, 1, g->run, g, e);
        }
    }
}

static void call_shape(const edgec_view *in, const edgec_view *out, const edgec_conv_params *p, const int32_t *blocks,
                       conv_shape *g, epilogue *e)
{
    g->blocks = blocks;
    g->cout = out->c;
    g->kh = p->kernel_h;
    g->run = p->kernel_w * in->c; /* one kernel row: KW pixels of Ci contiguous bytes (col_stride == c) */
    g->full_blocks = out->c / 4;
    e->offset = p->output_offset;
    e->lo = p->act_min;
    e->hi = p->act_max;
    e->mode = p->fast_requant;
}

/* ---- Deep 1x1 convs: two pixels at a time over a loop of input quads ------------------------------
 *
 * For 1x1 convs on more input channels than conv_pixel_wide unrolls (up to DEEP_MAX_QUADS quads,
 * a multiple of 8 channels), epilogue mode 2: the generic loop widens a pixel's inputs again for
 * every block (one LDR and two SXTB16 per quad and block); here both pixels' inputs are widened
 * once into xw, interleaved per quad (A's pair words, then B's), and each block runs in two halves
 * of two output channels like conv_pixel_wide2: per input quad and half two LDRD of xw, two LDRD of
 * weights and eight SMLAD (32 MACs), four quads per loop iteration. */
#define DEEP_MAX_QUADS 128

/* lo, hi = the words at byte offset off from p, an element of xw (kept in program order). */
#if EDGEC_DSP_NATIVE
#define DEEP_LDRD(p, off, lo, hi)                                                                                      \
    __asm__ volatile("ldrd %0, %1, [%2, %3]"                                                                           \
                     : "=r"(lo), "=r"(hi)                                                                              \
                     : "r"(p), "n"(off), "m"(*(const int32_t(*)[2])((p) + (off) / 4)))
#else
#define DEEP_LDRD(p, off, lo, hi) ((lo) = (p)[(off) / 4], (hi) = (p)[(off) / 4 + 1])
#endif

/* Quad k of the iteration (xw words p[4k..4k + 3]; channel weights at wq[8k], wq[8k + 2]). */
#define DEEP_QUAD(k)                                                                                                   \
    do {                                                                                                               \
        int32_t ea_, oa_, eb_, ob_, we_, wo_;                                                                          \
        DEEP_LDRD(p, 16 * (k), ea_, oa_);                                                                              \
        DEEP_LDRD(p, 16 * (k) + 8, eb_, ob_);                                                                          \
        C3_WLDRD(wq, 32 * (k), we_, wo_);                                                                              \
        a0 = dsp_smlad(we_, ea_, a0);                                                                                  \
        a0 = dsp_smlad(wo_, oa_, a0);                                                                                  \
        b0 = dsp_smlad(we_, eb_, b0);                                                                                  \
        b0 = dsp_smlad(wo_, ob_, b0);                                                                                  \
        C3_WLDRD(wq, 32 * (k) + 8, we_, wo_);                                                                          \
        a1 = dsp_smlad(we_, ea_, a1);                                                                                  \
        a1 = dsp_smlad(wo_, oa_, a1);                                                                                  \
        b1 = dsp_smlad(we_, eb_, b1);                                                                                  \
        b1 = dsp_smlad(wo_, ob_, b1);                                                                                  \
    } while (0)

/* Channels j, j + 1 of the block at w for both pixels, requantized and saturated into a0, a1, b0, b1. */
#define DEEP_HALF(j)                                                                                                   \
    do {                                                                                                               \
        const int32_t *p = xw;                                                                                         \
        const int32_t *wq = w + CONV_HEADER_WORDS + 2 * (j);                                                           \
        PAIR_HALF_START(j);                                                                                            \
        while (p != xw_end4) {                                                                                         \
            DEEP_QUAD(0);                                                                                              \
            DEEP_QUAD(1);                                                                                              \
            DEEP_QUAD(2);                                                                                              \
            DEEP_QUAD(3);                                                                                              \
            p += 16;                                                                                                   \
            wq += 32;                                                                                                  \
        }                                                                                                              \
        if (quads & 2) {                                                                                               \
            DEEP_QUAD(0);                                                                                              \
            DEEP_QUAD(1);                                                                                              \
        }                                                                                                              \
        PAIR_HALF_OUT(j);                                                                                              \
    } while (0)

/* Full blocks of two output pixels (A: inputs xa, outputs pa; B: xb, pb); quads even, at most
 * DEEP_MAX_QUADS. */
#if defined(__GNUC__)
__attribute__((always_inline))
#endif
static inline void conv_pixel_deep2(int8_t *pa, int8_t *pb, const int8_t *xa, const int8_t *xb, const int32_t *w,
                                    int32_t blocks_count, int32_t quads, int32_t lo4, int32_t hi4, int full)
{
    int32_t xw[4 * DEEP_MAX_QUADS];
    const int32_t *const xw_end4 = xw + 4 * (quads & ~3); /* four quads per iteration, then 0 or 2 */
    int8_t *const po_end = pa + 4 * blocks_count;
    int32_t q;
    for (q = 0; q < quads; ++q) {
        const int32_t va = dsp_read_quad(xa + 4 * q), vb = dsp_read_quad(xb + 4 * q);
        xw[4 * q] = dsp_sxtb16(va);
        xw[4 * q + 1] = dsp_sxtb16_ror8(va);
        xw[4 * q + 2] = dsp_sxtb16(vb);
        xw[4 * q + 3] = dsp_sxtb16_ror8(vb);
    }
    for (; pa != po_end; pa += 4, pb += 4, w += CONV_HEADER_WORDS + 8 * quads) {
        int32_t a0, a1, b0, b1, ra, rb;
        DEEP_HALF(0);
        ra = dsp_insert8(a0, a1, 1);
        rb = dsp_insert8(b0, b1, 1);
        DEEP_HALF(2);
        ra = dsp_insert8(dsp_insert8(ra, a0, 2), a1, 3);
        rb = dsp_insert8(dsp_insert8(rb, b0, 2), b1, 3);
        if (!full) {
            ra = dsp_clamp4(ra, lo4, hi4);
            rb = dsp_clamp4(rb, lo4, hi4);
        }
        memcpy(pa, &ra, sizeof ra);
        memcpy(pb, &rb, sizeof rb);
    }
}

/* conv_pixels for deep 1x1 convs (deep_path): pixel pairs through conv_pixel_deep2, a last odd
 * pixel through conv_pixel_fast, the last 1..3 channels through conv_pixel. */
static void conv_pixels_deep(int8_t *po, int32_t po_step, const int8_t *base, int32_t base_step, int32_t count,
                             int32_t row_step, const conv_shape *g, const epilogue *e)
{
    const int32_t *const blocks = g->blocks;
    const int32_t cout = g->cout, run = g->run, full_blocks = g->full_blocks, quads = run / 4;
    const int32_t done = full_blocks * 4, lo = e->lo, hi = e->hi;
    const int32_t lo4 = dsp_splat4(lo);
    const int32_t hi4 = dsp_splat4(hi);
    const int32_t *const rest_blocks = blocks + full_blocks * g->block_words;
    const int full = lo == -128 && hi == 127;
    int32_t i;
    for (i = 0; i + 2 <= count; i += 2, po += 2 * po_step, base += 2 * base_step) {
        if (full) {
            conv_pixel_deep2(po, po + po_step, base, base + base_step, blocks, full_blocks, quads, lo4, hi4, 1);
        } else {
            conv_pixel_deep2(po, po + po_step, base, base + base_step, blocks, full_blocks, quads, lo4, hi4, 0);
        }
        if (done < cout) {
            conv_pixel(po + done, base, row_step, rest_blocks, cout - done, 1, run, e);
            conv_pixel(po + po_step + done, base + base_step, row_step, rest_blocks, cout - done, 1, run, e);
        }
    }
    if (i < count) {
        conv_pixel_fast(po, base, 0, blocks, full_blocks, 1, run, lo, hi, full);
        if (done < cout) {
            conv_pixel(po + done, base, row_step, rest_blocks, cout - done, 1, run, e);
        }
    }
}

/* ---- 1x1 convs on 8 input channels, two pixels at a time ----------------------------------------
 *
 * conv_pixel_ci8 for pixels A and B: A's widened inputs stay in registers (e0, o0, e1, o1), B's
 * are read back from a small stack array; each channel's weight words and requantization constants
 * are loaded once for both pixels (per channel and pixel pair: five LDRD of weights and constants,
 * two of B's inputs, eight SMLAD, two requantizations). */
/* lo, hi = xwb[k], xwb[k + 1] (a memory operand: an SP-relative LDRD, in program order). */
#if EDGEC_DSP_NATIVE
#define CI8X2_LDRD(k, lo, hi) __asm__ volatile("ldrd %0, %1, %2" : "=r"(lo), "=r"(hi) : "m"(*(const int32_t(*)[2])(xwb + (k))))
#else
#define CI8X2_LDRD(k, lo, hi) ((lo) = xwb[k], (hi) = xwb[(k) + 1])
#endif

#define CI8X2_CHANNEL(j, ra, rb)                                                                                       \
    do {                                                                                                               \
        int32_t we_, wo_, xe_, xo_, acc_, accb_, round_, mult_, right_;                                                \
        CI8_LDRD(w, 16 * (j), acc_, round_);                                                                           \
        accb_ = acc_;                                                                                                  \
        CI8_LDRD(w, 64 + 8 * (j), we_, wo_);                                                                           \
        acc_ = dsp_smlad(we_, e0, acc_);                                                                               \
        acc_ = dsp_smlad(wo_, o0, acc_);                                                                               \
        CI8X2_LDRD(0, xe_, xo_);                                                                                       \
        accb_ = dsp_smlad(we_, xe_, accb_);                                                                            \
        accb_ = dsp_smlad(wo_, xo_, accb_);                                                                            \
        CI8_LDRD(w, 96 + 8 * (j), we_, wo_);                                                                           \
        acc_ = dsp_smlad(we_, e1, acc_);                                                                               \
        acc_ = dsp_smlad(wo_, o1, acc_);                                                                               \
        CI8X2_LDRD(2, xe_, xo_);                                                                                       \
        accb_ = dsp_smlad(we_, xe_, accb_);                                                                            \
        accb_ = dsp_smlad(wo_, xo_, accb_);                                                                            \
        CI8_LDRD(w, 16 * (j) + 8, mult_, right_);                                                                      \
        (ra) = dsp_ssat8(rq_fast_right_x2_mla(acc_, mult_, right_, round_));                                           \
        (rb) = dsp_ssat8(rq_fast_right_x2_mla(accb_, mult_, right_, round_));                                          \
    } while (0)

#if defined(__GNUC__)
__attribute__((always_inline))
#endif
static inline void conv_pixel_ci8x2(int8_t *pa, int8_t *pb, const int8_t *xa, const int8_t *xb, const int32_t *w,
                                    int32_t blocks_count, int32_t lo4, int32_t hi4, int full)
{
    const int32_t q0 = dsp_read_quad(xa), q1 = dsp_read_quad(xa + 4);
    const int32_t e0 = dsp_sxtb16(q0), o0 = dsp_sxtb16_ror8(q0); /* x0, x2 / x1, x3 */
    const int32_t e1 = dsp_sxtb16(q1), o1 = dsp_sxtb16_ror8(q1); /* x4, x6 / x5, x7 */
    const int32_t b0 = dsp_read_quad(xb), b1 = dsp_read_quad(xb + 4);
    int8_t *const po_end = pa + 4 * blocks_count;
    int32_t xwb[4];
    xwb[0] = dsp_sxtb16(b0);
    xwb[1] = dsp_sxtb16_ror8(b0);
    xwb[2] = dsp_sxtb16(b1);
    xwb[3] = dsp_sxtb16_ror8(b1);
    for (; pa != po_end; pa += 4, pb += 4, w += CONV_HEADER_WORDS + 16) {
        int32_t va, vb, ra, rb;
        CI8X2_CHANNEL(0, va, vb);
        CI8X2_CHANNEL(1, ra, rb);
        va = dsp_insert8(va, ra, 1);
        vb = dsp_insert8(vb, rb, 1);
        CI8X2_CHANNEL(2, ra, rb);
        va = dsp_insert8(va, ra, 2);
        vb = dsp_insert8(vb, rb, 2);
        CI8X2_CHANNEL(3, ra, rb);
        va = dsp_insert8(va, ra, 3);
        vb = dsp_insert8(vb, rb, 3);
        if (!full) {
            va = dsp_clamp4(va, lo4, hi4);
            vb = dsp_clamp4(vb, lo4, hi4);
        }
        memcpy(pa, &va, sizeof va);
        memcpy(pb, &vb, sizeof vb);
    }
}

/* conv_pixels for 1x1 convs on 8 input channels in epilogue mode 2: pixel pairs through
 * conv_pixel_ci8x2, a last odd pixel through conv_pixel_ci8, the last 1..3 channels through
 * conv_pixel. */
static void conv_pixels_ci8(int8_t *po, int32_t po_step, const int8_t *base, int32_t base_step, int32_t count,
                            int32_t row_step, const conv_shape *g, const epilogue *e)
{
    const int32_t *const blocks = g->blocks;
    const int32_t cout = g->cout, run = g->run, full_blocks = g->full_blocks;
    const int32_t done = full_blocks * 4, lo = e->lo, hi = e->hi;
    const int32_t lo4 = dsp_splat4(lo);
    const int32_t hi4 = dsp_splat4(hi);
    const int32_t *const rest_blocks = blocks + full_blocks * g->block_words;
    const int full = lo == -128 && hi == 127;
    int32_t i;
    for (i = 0; i + 2 <= count; i += 2, po += 2 * po_step, base += 2 * base_step) {
        if (full) {
            conv_pixel_ci8x2(po, po + po_step, base, base + base_step, blocks, full_blocks, lo4, hi4, 1);
        } else {
            conv_pixel_ci8x2(po, po + po_step, base, base + base_step, blocks, full_blocks, lo4, hi4, 0);
        }
        if (done < cout) {
            conv_pixel(po + done, base, row_step, rest_blocks, cout - done, 1, run, e);
            conv_pixel(po + po_step + done, base + base_step, row_step, rest_blocks, cout - done, 1, run, e);
        }
    }
    if (i < count) {
        conv_pixel_ci8(po, base, blocks, full_blocks, lo, hi, full);
        if (done < cout) {
            conv_pixel(po + done, base, row_step, rest_blocks, cout - done, 1, run, e);
        }
    }
}

/* conv_pixels for 3-row kernels on 9-byte runs (3x3 on 3 channels: first convs) in epilogue mode 2:
 * pixel pairs through conv_pixel_c3x2, a last odd pixel (and each border pixel's gathered field)
 * through conv_pixel_c3, the last 1..3 channels through conv_pixel. */
static void conv_pixels_c3(int8_t *po, int32_t po_step, const int8_t *base, int32_t base_step, int32_t count,
                           int32_t row_step, const conv_shape *g, const epilogue *e)
{
    const int32_t *const blocks = g->blocks;
    const int32_t cout = g->cout, run = g->run, full_blocks = g->full_blocks;
    const int32_t done = full_blocks * 4, lo = e->lo, hi = e->hi;
    const int32_t lo4 = dsp_splat4(lo);
    const int32_t hi4 = dsp_splat4(hi);
    const int32_t *const rest_blocks = blocks + full_blocks * g->block_words;
    const int full = lo == -128 && hi == 127;
    int32_t i;
    for (i = 0; i + 2 <= count; i += 2, po += 2 * po_step, base += 2 * base_step) {
        if (full) {
            conv_pixel_c3x2(po, po + po_step, base, base + base_step, row_step, blocks, full_blocks, lo4, hi4, 1);
        } else {
            conv_pixel_c3x2(po, po + po_step, base, base + base_step, row_step, blocks, full_blocks, lo4, hi4, 0);
        }
        if (done < cout) {
            conv_pixel(po + done, base, row_step, rest_blocks, cout - done, 3, run, e);
            conv_pixel(po + po_step + done, base + base_step, row_step, rest_blocks, cout - done, 3, run, e);
        }
    }
    if (i < count) {
        conv_pixel_c3(po, base, row_step, blocks, full_blocks, lo, hi, full);
        if (done < cout) {
            conv_pixel(po + done, base, row_step, rest_blocks, cout - done, 3, run, e);
        }
    }
}

/* ---- Single-channel 3x3 convs (the first conv of a grey-scale model) ------------------------------
 *
 * KH = KW = 3, Ci = 1, epilogue mode 2.  conv_pixels would take the nine taps one at a time (one
 * SMLABB / SMLATB per MAC, a byte load and a weight load per tap); here the code generator lays the
 * weights out in the "c1" layout (dsp_emitters.c1_layout): per block of four output channels the
 * 16-word header, then for each of five tap pairs k one word per channel j = 0..3,
 * pair(w[j][a_k], w[j][b_k]) with (a_k, b_k) = (0, 2), (3, 5), (6, 8), (1, 7), (4, -) (taps
 * numbered ky * 3 + kx; the last pair's second weight is 0).  A pixel's nine inputs are widened
 * once into five pair words in the same order: one LDR per kernel row (rows 0 and 1 from their
 * first tap, row 2 from the byte before its first tap, so that every read stays between the first
 * and the last tap of the window), six SXTB16 and one PKHBT.  Each block is then 10 LDRD of weights
 * and 20 SMLAD (36 MACs), the four requantizations of C3_OUT packed into one word and one STR. */
#define C1_BLOCK_WORDS (CONV_HEADER_WORDS + 20)

/* acc0..acc3 += input pair x times the block's four weight words of tap pair k. */
#define C1_PAIR(k, x)                                                                                                  \
    do {                                                                                                               \
        int32_t w0_, w1_;                                                                                              \
        C3_WLDRD(w, 4 * (CONV_HEADER_WORDS + 4 * (k)), w0_, w1_);                                                      \
        acc0 = dsp_smlad(w0_, x, acc0);                                                                                \
        acc1 = dsp_smlad(w1_, x, acc1);                                                                                \
        C3_WLDRD(w, 4 * (CONV_HEADER_WORDS + 4 * (k)) + 8, w0_, w1_);                                                  \
        acc2 = dsp_smlad(w0_, x, acc2);                                                                                \
        acc3 = dsp_smlad(w1_, x, acc3);                                                                                \
    } while (0)

/* The four outputs of the c1 block at w for the widened inputs x0..x4, requantized, saturated and
 * packed into one word (lane j: channel j). */
#if defined(__GNUC__)
__attribute__((always_inline))
#endif
static inline int32_t conv_block_c1(const int32_t *w, int32_t x0, int32_t x1, int32_t x2, int32_t x3, int32_t x4)
{
    int32_t acc0 = HDR_BIAS(w, 0), acc1 = HDR_BIAS(w, 1), acc2 = HDR_BIAS(w, 2), acc3 = HDR_BIAS(w, 3);
    C1_PAIR(0, x0);
    C1_PAIR(1, x1);
    C1_PAIR(2, x2);
    C1_PAIR(3, x3);
    C1_PAIR(4, x4);
    C3_OUT(0, acc0, acc0);
    C3_OUT(1, acc1, acc1);
    C3_OUT(2, acc2, acc2);
    C3_OUT(3, acc3, acc3);
    return dsp_pack4(acc0, acc1, acc2, acc3);
}

/* One output pixel (kernel rows `row_step` bytes apart from base): its `blocks_count` full blocks,
 * then the first `rest` channels of the padded last block. */
#if defined(__GNUC__)
__attribute__((always_inline))
#endif
static inline void conv_pixel_c1(int8_t *po, const int8_t *base, int32_t row_step, const int32_t *w,
                                 int32_t blocks_count, int32_t rest, int32_t lo4, int32_t hi4, int full)
{
    const int32_t q0 = dsp_read_quad(base), q1 = dsp_read_quad(base + row_step);
    const int32_t q2 = dsp_read_quad(base + 2 * row_step - 1);
    const int32_t x0 = dsp_sxtb16(q0);                                      /* taps 0, 2 */
    const int32_t x1 = dsp_sxtb16(q1);                                      /* taps 3, 5 */
    const int32_t x2 = dsp_sxtb16_ror8(q2);                                 /* taps 6, 8 */
    const int32_t x3 = dsp_pkhbt_keep(dsp_sxtb16_ror8(q0), dsp_sxtb16(q2)); /* taps 1, 7 */
    const int32_t x4 = dsp_sxtb16_ror8(q1); /* tap 4 and the byte after row 1 (weight 0) */
    int8_t *const po_end = po + 4 * blocks_count;
    int32_t v;
    for (; po != po_end; po += 4, w += C1_BLOCK_WORDS) {
        v = conv_block_c1(w, x0, x1, x2, x3, x4);
        if (!full) {
            v = dsp_clamp4(v, lo4, hi4);
        }
        memcpy(po, &v, sizeof v);
    }
    if (rest) {
        v = conv_block_c1(w, x0, x1, x2, x3, x4);
        if (!full) {
            v = dsp_clamp4(v, lo4, hi4);
        }
        memcpy(po, &v, (size_t)rest);
    }
}

/* The five pair words of the pixel at base (conv_pixel_c1's x0..x4) into x[0], x[2], .., x[8]. */
static inline void c1_widen(int32_t *x, const int8_t *base, int32_t row_step)
{
    const int32_t q0 = dsp_read_quad(base), q1 = dsp_read_quad(base + row_step);
    const int32_t q2 = dsp_read_quad(base + 2 * row_step - 1);
    x[0] = dsp_sxtb16(q0);
    x[2] = dsp_sxtb16(q1);
    x[4] = dsp_sxtb16_ror8(q2);
    x[6] = dsp_pkhbt_keep(dsp_sxtb16_ror8(q0), dsp_sxtb16(q2));
    x[8] = dsp_sxtb16_ror8(q1);
}

/* a0, a1 (pixel A) and b0, b1 (pixel B) += their input pair k (words 2k, 2k + 1 of xw) times
 * channels j, j + 1's weight words of tap pair k. */
#define C1X2_PAIR(k, j)                                                                                                \
    do {                                                                                                               \
        int32_t xa_, xb_, w0_, w1_;                                                                                    \
        C3_LDRD(xw, 8 * (k), xa_, xb_);                                                                                \
        C3_WLDRD(w, 4 * (CONV_HEADER_WORDS + 4 * (k) + (j)), w0_, w1_);                                                \
        a0 = dsp_smlad(w0_, xa_, a0);                                                                                  \
        a1 = dsp_smlad(w1_, xa_, a1);                                                                                  \
        b0 = dsp_smlad(w0_, xb_, b0);                                                                                  \
        b1 = dsp_smlad(w1_, xb_, b1);                                                                                  \
    } while (0)

/* Channels j, j + 1 of the c1 block at w for both pixels, requantized and saturated into a0, a1, b0, b1. */
#define C1X2_HALF(j)                                                                                                   \
    do {                                                                                                               \
        PAIR_HALF_START(j);                                                                                            \
        C1X2_PAIR(0, j);                                                                                               \
        C1X2_PAIR(1, j);                                                                                               \
        C1X2_PAIR(2, j);                                                                                               \
        C1X2_PAIR(3, j);                                                                                               \
        C1X2_PAIR(4, j);                                                                                               \
        PAIR_HALF_OUT(j);                                                                                              \
    } while (0)

/* The four outputs of both pixels for the c1 block at w, packed into ra and rb (lane j: channel j;
 * a macro, not a function: with the results' addresses taken GCC keeps them on the stack). */
#define C1X2_BLOCK(ra, rb)                                                                                             \
    do {                                                                                                               \
        int32_t a0, a1, b0, b1, va_, vb_;                                                                              \
        C1X2_HALF(0);                                                                                                  \
        va_ = dsp_insert8(a0, a1, 1);                                                                                  \
        vb_ = dsp_insert8(b0, b1, 1);                                                                                  \
        C1X2_HALF(2);                                                                                                  \
        (ra) = dsp_insert8(dsp_insert8(va_, a0, 2), a1, 3);                                                            \
        (rb) = dsp_insert8(dsp_insert8(vb_, b0, 2), b1, 3);                                                            \
    } while (0)

/* conv_pixel_c1 for two pixels (A at basea -> pa, B at baseb -> pb): both pixels' pair words
 * interleaved on the stack, each block in two halves of two output channels, every weight word and
 * requantization constant loaded once for both pixels (per tap pair and half: one LDRD of inputs,
 * one of weights, four SMLAD for 8 MACs). */
#if defined(__GNUC__)
__attribute__((always_inline))
#endif
static inline void conv_pixel_c1x2(int8_t *pa, int8_t *pb, const int8_t *basea, const int8_t *baseb,
                                   int32_t row_step, const int32_t *w, int32_t blocks_count, int32_t rest, int32_t lo4,
                                   int32_t hi4, int full)
{
    int32_t xw[16];
    int8_t *const po_end = pa + 4 * blocks_count;
    int32_t ra, rb;
    c1_widen(xw, basea, row_step);
    c1_widen(xw + 1, baseb, row_step);
    for (; pa != po_end; pa += 4, pb += 4, w += C1_BLOCK_WORDS) {
        C1X2_BLOCK(ra, rb);
        if (!full) {
            ra = dsp_clamp4(ra, lo4, hi4);
            rb = dsp_clamp4(rb, lo4, hi4);
        }
        memcpy(pa, &ra, sizeof ra);
        memcpy(pb, &rb, sizeof rb);
    }
    if (rest) {
        C1X2_BLOCK(ra, rb);
        if (!full) {
            ra = dsp_clamp4(ra, lo4, hi4);
            rb = dsp_clamp4(rb, lo4, hi4);
        }
        memcpy(pa, &ra, (size_t)rest);
        memcpy(pb, &rb, (size_t)rest);
    }
}

/* conv_pixels for single-channel 3x3 convs in epilogue mode 2 (the c1 layout): pixel pairs through
 * conv_pixel_c1x2, a last odd pixel through conv_pixel_c1. */
static void conv_pixels_c1(int8_t *po, int32_t po_step, const int8_t *base, int32_t base_step, int32_t count,
                           int32_t row_step, const conv_shape *g, const epilogue *e)
{
    const int32_t *const blocks = g->blocks;
    const int32_t full_blocks = g->full_blocks, rest = g->cout - 4 * g->full_blocks;
    const int32_t lo4 = dsp_splat4(e->lo);
    const int32_t hi4 = dsp_splat4(e->hi);
    const int full = e->lo == -128 && e->hi == 127;
    int32_t i;
    for (i = 0; i + 2 <= count; i += 2, po += 2 * po_step, base += 2 * base_step) {
        if (full) {
            conv_pixel_c1x2(po, po + po_step, base, base + base_step, row_step, blocks, full_blocks, rest, lo4, hi4, 1);
        } else {
            conv_pixel_c1x2(po, po + po_step, base, base + base_step, row_step, blocks, full_blocks, rest, lo4, hi4, 0);
        }
    }
    if (i < count) {
        conv_pixel_c1(po, base, row_step, blocks, full_blocks, rest, lo4, hi4, full);
    }
}

/* Padded input row y of a c1 conv into dst (`width` bytes): columns [xa, xb) from the input's columns
 * xa - pad_left .., the others (and every column of a row outside the input) the input zero point. */
static void c1_pad_row(int8_t *dst, const edgec_view *in, int32_t y, int32_t width, int32_t xa, int32_t xb,
                       int32_t pad_left, int8_t zero_point)
{
    const int32_t cs = in->col_stride;
    const int8_t *src = in->data + y * in->row_stride + (xa - pad_left) * cs;
    int32_t x;
    if (y < 0 || y >= in->h) {
        memset(dst, zero_point, (size_t)width);
        return;
    }
    memset(dst, zero_point, (size_t)xa);
    memset(dst + xb, zero_point, (size_t)(width - xb));
    if (cs == 1) {
        memcpy(dst + xa, src, (size_t)(xb - xa));
    } else {
        for (x = xa; x < xb; ++x, src += cs) {
            dst[x] = *src;
        }
    }
}

/* Every output pixel of a c1 conv, in chunks of output rows: the input rows a chunk reads are copied
 * once into `rows` (contiguous, `width` bytes each, the padding filled with the input zero point), so
 * that every pixel, border pixels too, runs straight through conv_pixels_c1 (no gathered fields; the
 * reads past a kernel row's last tap stay inside the next buffered row, the read before row 2's
 * first tap inside the row before it).  A chunk is as many output rows as the buffer holds (the
 * whole input of a small first conv); when one output row's three kernel rows do not fit, conv_walk. */
static void c1_walk(const edgec_view *in, edgec_view *out, const edgec_conv_params *p, const conv_shape *g,
                    const epilogue *e)
{
    const int32_t sh = p->stride_h, sw = p->stride_w, width = (out->w - 1) * sw + 3;
    const int32_t span = 2 * p->dilation_h + 1; /* buffered rows one output row reads */
    const int8_t zero_point = (int8_t)(-p->input_offset);
    int8_t rows[EDGEC_CONV_DSP_MAX_FIELD];
    const int32_t fit = (int32_t)sizeof rows / width;
    int32_t chunk, xa, xb, oy, r;
    if (fit < span) {
        conv_walk(in, out, p, g, e, conv_pixels_c1);
        return;
    }
    chunk = (fit - span) / sh + 1;
    /* Columns [xa, xb) of a padded row are the input's columns xa - pad_left .. xb - 1 - pad_left. */
    xa = p->pad_left < width ? p->pad_left : width;
    xb = p->pad_left + in->w < width ? p->pad_left + in->w : width;
    xb = xb > xa ? xb : xa;
    for (oy = 0; oy < out->h; oy += chunk) {
        const int32_t n = out->h - oy < chunk ? out->h - oy : chunk;
        const int32_t y0 = oy * sh - p->pad_top;
        for (r = 0; r < (n - 1) * sh + span; ++r) {
            c1_pad_row(rows + r * width, in, y0 + r, width, xa, xb, p->pad_left, zero_point);
        }
        for (r = 0; r < n; ++r) {
            conv_pixels_c1(out->data + (oy + r) * out->row_stride, out->col_stride, rows + r * sh * width, sw, out->w,
                           p->dilation_h * width, g, e);
        }
    }
}

/* Whether a conv takes conv_pixels_c1 (the code generator chose the c1 layout: c1_layout). */
static int c1_path(const edgec_view *in, const edgec_conv_params *p, const epilogue *e)
{
    return e->mode == 2 && p->kernel_h == 3 && p->kernel_w == 3 && in->c == 1;
}

/* Whether conv_pixels_wide takes a call: 1x1, epilogue mode 2, 16..56 input channels (a multiple
 * of 8); above 32 channels only with the full int8 range (the clamped variants cost flash). */
static int wide_path(const conv_shape *g, const epilogue *e)
{
    const int full = e->lo == -128 && e->hi == 127;
    return e->mode == 2 && g->kh == 1 && g->run >= 16 && g->run % 8 == 0 &&
           (g->run <= 32 || (full && g->run <= 4 * WIDE_MAX_QUADS));
}

/* Whether conv_pixels_deep takes a call: 1x1, epilogue mode 2, a multiple of 8 input channels, at
 * most 4 * DEEP_MAX_QUADS, not taken by conv_pixels_wide. */
static int deep_path(const conv_shape *g, const epilogue *e)
{
    return e->mode == 2 && g->kh == 1 && g->run >= 16 && g->run % 8 == 0 && g->run <= 4 * DEEP_MAX_QUADS &&
           !wide_path(g, e);
}

void edgec_conv2d_dsp(const edgec_view *in, edgec_view *out, const int32_t *blocks, const edgec_conv_params *p)
{
    conv_shape g;
    epilogue e;
    call_shape(in, out, p, blocks, &g, &e);
    g.block_words = CONV_HEADER_WORDS + g.kh * (8 * (g.run / 4) + 2 * (g.run % 4));
    if (c1_path(in, p, &e)) {
        c1_walk(in, out, p, &g, &e);
    } else if (wide_path(&g, &e)) {
        conv_walk(in, out, p, &g, &e, conv_pixels_wide);
    } else if (e.mode == 2 && g.kh == 3 && g.run == 9) {
        conv_walk(in, out, p, &g, &e, conv_pixels_c3);
    } else if (e.mode == 2 && g.kh == 1 && g.run == 8) {
        conv_walk(in, out, p, &g, &e, conv_pixels_ci8);
    } else if (deep_path(&g, &e)) {
        conv_walk(in, out, p, &g, &e, conv_pixels_deep);
    } else {
        conv_walk(in, out, p, &g, &e, conv_pixels);
    }
}

void edgec_fully_connected_dsp(const int8_t *in, int8_t *out, int32_t batches, const int32_t *blocks,
                               const edgec_fc_params *p)
{
    const int32_t k = p->in_features;
    const int32_t cout = p->out_features;
    int32_t b, oc, j;

    for (b = 0; b < batches; ++b) {
        const int8_t *x = in + b * k;
        int8_t *y = out + b * cout;
        const int32_t *w = blocks;
        for (oc = 0; oc < cout; oc += 4) {
            const int32_t count = cout - oc < 4 ? cout - oc : 4;
            int32_t v[4];
            acc4 acc;
            acc.a0 = w[0]; /* header: the folded bias */
            acc.a1 = w[1];
            acc.a2 = w[2];
            acc.a3 = w[3];
            w += 4;
            acc = dot4_run(acc, x, &w, k);
            v[0] = acc.a0;
            v[1] = acc.a1;
            v[2] = acc.a2;
            v[3] = acc.a3;
            for (j = 0; j < count; ++j) {
                y[oc + j] = fc_requantize(v[j], p->out_scale[oc + j], p);
            }
        }
    }
}

/*
 * The compact variants: the same kernels on int8 weights, for layers whose pre-widened oc4 layout
 * does not fit the flash.  The "oc4 int8" layout (dsp_emitters.oc4_int8_layout) takes exactly the
 * flash of the portable kernel's weights, bias, multipliers and shifts: per block of n <= 4
 * output channels (n < 4 only for the last one), a header of n folded biases (conv: then n
 * multipliers and n shifts, right = -shift in epilogue mode 2), then, for each of the `rows`
 * runs of `run` inputs (run a multiple of 4), for every four inputs x0..x3 one word per channel
 * holding its four int8 weights w[x0..x3] (lane k = weight of x_k).  The kernel widens each
 * weight word at run time with SXTB16 and SXTB16 ROR #8 (pairs (w0, w2) and (w1, w3), matching
 * the input's), so one input quad against a full block costs one LDR, two input and eight weight
 * SXTB16, two LDRD and eight SMLAD: 16 MACs in 21 instructions.
 */

/* acc += one input quad at x times the block's four weight words at w + off01 / 4 and
 * w + off01 / 4 + 1 (channels 0, 1) and w + off23 / 4 ... (channels 2, 3). */
#define DOT4_QUAD_INT8(acc, x, w, off01, off23)                                                                        \
    do {                                                                                                               \
        const int32_t q_ = dsp_read_quad(x);                                                                           \
        const int32_t even_ = dsp_sxtb16(q_);    /* x0, x2 */                                                          \
        const int32_t odd_ = dsp_sxtb16_ror8(q_); /* x1, x3 */                                                          \
        int32_t wa_, wb_;                                                                                              \
        DSP_LDRD(w, off01, wa_, wb_);                                                                                  \
        (acc).a0 = dsp_smlad(dsp_sxtb16(wa_), even_, (acc).a0);                                                        \
        (acc).a0 = dsp_smlad(dsp_sxtb16_ror8(wa_), odd_, (acc).a0);                                                    \
        (acc).a1 = dsp_smlad(dsp_sxtb16(wb_), even_, (acc).a1);                                                        \
        (acc).a1 = dsp_smlad(dsp_sxtb16_ror8(wb_), odd_, (acc).a1);                                                    \
        DSP_LDRD(w, off23, wa_, wb_);                                                                                  \
        (acc).a2 = dsp_smlad(dsp_sxtb16(wa_), even_, (acc).a2);                                                        \
        (acc).a2 = dsp_smlad(dsp_sxtb16_ror8(wa_), odd_, (acc).a2);                                                    \
        (acc).a3 = dsp_smlad(dsp_sxtb16(wb_), even_, (acc).a3);                                                        \
        (acc).a3 = dsp_smlad(dsp_sxtb16_ror8(wb_), odd_, (acc).a3);                                                    \
    } while (0)

/* acc + a full block's int8 weights times one run of n inputs (n a multiple of 4) at x;
 * advances *wp past the run's n words. */
static inline acc4 dot4_run_int8(acc4 acc, const int8_t *x, const int32_t **wp, int32_t n)
{
    const int32_t *w = *wp;
    const int8_t *const pairs_end = x + (n & ~7);
    while (x != pairs_end) { /* two quads per iteration (32 MACs) */
        DOT4_QUAD_INT8(acc, x, w, 0, 8);
        DOT4_QUAD_INT8(acc, x + 4, w, 16, 24);
        x += 8;
        w += 8;
    }
    if (n & 4) {
        DOT4_QUAD_INT8(acc, x, w, 0, 8);
        w += 4;
    }
    *wp = w;
    return acc;
}

/* acc + one channel's int8 weights (a word every `stride` words from w) times n inputs at x. */
static int32_t dot1_run_int8(int32_t acc, const int8_t *x, const int32_t *w, int32_t stride, int32_t n)
{
    int32_t i;
    for (i = 0; i < n; i += 4, w += stride) {
        const int32_t q = dsp_read_quad(x + i);
        acc = dsp_smlad(dsp_sxtb16(*w), dsp_sxtb16(q), acc);
        acc = dsp_smlad(dsp_sxtb16_ror8(*w), dsp_sxtb16_ror8(q), acc);
    }
    return acc;
}

/* One accumulator of an int8-layout conv block -> int8: multiplier m, shift s (right = -shift in
 * mode 2, whose rounding term is derived here); `full`: [lo, hi] is all of int8 (one SSAT). */
#if defined(__GNUC__)
__attribute__((always_inline))
#endif
static inline int8_t requant_int8_block(int32_t acc, int32_t m, int32_t s, int32_t mode, int32_t offset, int32_t lo,
                                        int32_t hi, int full)
{
    if (mode == 2) {
        const int32_t rounding = (int32_t)(((uint32_t)1 << (s - 1)) + ((uint32_t)offset << s));
        return clamp_range(rq_fast_right(acc, m, s, rounding), lo, hi, full);
    }
    if (mode == 1) {
        return rq_fast_clamp(acc, m, s, offset, lo, hi);
    }
    return requantize_and_clamp(acc, m, s, offset, lo, hi);
}

/* conv_pixels for the oc4 int8 layout; the epilogue's values come as arguments (constants at
 * the calls that matter, so the compiler drops the tests). */
#if defined(__GNUC__)
__attribute__((always_inline))
#endif
static inline void int8_pixels(int8_t *po, int32_t po_step, const int8_t *base, int32_t base_step, int32_t count,
                               int32_t row_step, const conv_shape *g, int32_t mode, int32_t offset, int32_t lo,
                               int32_t hi, int full)
{
    const int32_t kh = g->kh, run = g->run, full_blocks = g->full_blocks;
    const int32_t rest = g->cout - full_blocks * 4;
    const int32_t *const blocks = g->blocks;
    int32_t i, b, ky, j;
    for (i = 0; i < count; ++i, po += po_step, base += base_step) {
        const int32_t *w = blocks;
        int8_t *pc = po;
        for (b = 0; b < full_blocks; ++b, pc += 4) {
            const int32_t *h = w;
            acc4 acc;
            acc.a0 = h[0];
            acc.a1 = h[1];
            acc.a2 = h[2];
            acc.a3 = h[3];
            w += 12;
            for (ky = 0; ky < kh; ++ky) {
                acc = dot4_run_int8(acc, base + ky * row_step, &w, run);
            }
            pc[0] = requant_int8_block(acc.a0, h[4], h[8], mode, offset, lo, hi, full);
            pc[1] = requant_int8_block(acc.a1, h[5], h[9], mode, offset, lo, hi, full);
            pc[2] = requant_int8_block(acc.a2, h[6], h[10], mode, offset, lo, hi, full);
            pc[3] = requant_int8_block(acc.a3, h[7], h[11], mode, offset, lo, hi, full);
        }
        for (j = 0; j < rest; ++j) { /* the last, partial block: `rest` channels, words interleaved */
            const int32_t *h = w;
            const int32_t *wj = w + 3 * rest + j;
            int32_t acc = h[j];
            for (ky = 0; ky < kh; ++ky) {
                acc = dot1_run_int8(acc, base + ky * row_step, wj + ky * (run / 4) * rest, rest, run);
            }
            pc[j] = requant_int8_block(acc, h[rest + j], h[2 * rest + j], mode, offset, lo, hi, 0);
        }
    }
}

static void conv_pixels_int8(int8_t *po, int32_t po_step, const int8_t *base, int32_t base_step, int32_t count,
                             int32_t row_step, const conv_shape *g, const epilogue *e)
{
    if (e->mode == 2 && e->lo == -128 && e->hi == 127) {
        int8_pixels(po, po_step, base, base_step, count, row_step, g, 2, e->offset, -128, 127, 1);
    } else if (e->mode == 2) {
        int8_pixels(po, po_step, base, base_step, count, row_step, g, 2, e->offset, e->lo, e->hi, 0);
    } else {
        int8_pixels(po, po_step, base, base_step, count, row_step, g, e->mode, e->offset, e->lo, e->hi, 0);
    }
}

void edgec_conv2d_dsp_int8(const edgec_view *in, edgec_view *out, const int32_t *blocks, const edgec_conv_params *p)
{
    conv_shape g;
    epilogue e;
    call_shape(in, out, p, blocks, &g, &e);
    g.block_words = 12 + g.kh * g.run;
    conv_walk(in, out, p, &g, &e, conv_pixels_int8);
}

void edgec_fully_connected_dsp_int8(const int8_t *in, int8_t *out, int32_t batches, const int32_t *blocks,
                                    const edgec_fc_params *p)
{
    const int32_t k = p->in_features;
    const int32_t cout = p->out_features;
    const int32_t full = cout / 4 * 4, rest = cout - full;
    int32_t b, oc, j;

    for (b = 0; b < batches; ++b) {
        const int8_t *x = in + b * k;
        int8_t *y = out + b * cout;
        const int32_t *w = blocks;
        for (oc = 0; oc < full; oc += 4) {
            acc4 acc;
            acc.a0 = w[0]; /* header: the folded biases */
            acc.a1 = w[1];
            acc.a2 = w[2];
            acc.a3 = w[3];
            w += 4;
            acc = dot4_run_int8(acc, x, &w, k);
            y[oc] = fc_requantize(acc.a0, p->out_scale[oc], p);
            y[oc + 1] = fc_requantize(acc.a1, p->out_scale[oc + 1], p);
            y[oc + 2] = fc_requantize(acc.a2, p->out_scale[oc + 2], p);
            y[oc + 3] = fc_requantize(acc.a3, p->out_scale[oc + 3], p);
        }
        for (j = 0; j < rest; ++j) {
            const int32_t acc = dot1_run_int8(w[j], x, w + rest + j, rest, k);
            y[full + j] = fc_requantize(acc, p->out_scale[full + j], p);
        }
    }
}
