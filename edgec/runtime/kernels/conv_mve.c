/*
 * Helium (MVE) convolutions for Cortex-M55: 1x1 and general (dense, groups
 * 1).  Same arguments, weight layout (OHWI) and results, bit for bit, as the
 * portable kernels in conv.c; other shapes (grouped convs, receptive fields
 * over CONV_FIELD_BYTES) are handed to those.
 *
 * Dot products run along the input channels, which are contiguous in both
 * the input pixel and the weights: VMLADAVA.S8 multiplies 16 int8 pairs and
 * adds them to a 32-bit accumulator in one instruction; the channel tail
 * uses tail-predicated loads that read zeros past the end.  The input
 * offset enters as input_offset * sum(w) over the taps used, so the int8
 * inputs are never widened.  Four output channels (one weight row each)
 * share every input load (four accumulators: VMLADAVA writes even
 * registers only), and their accumulators are requantized together
 * (mve_requant.h).  The general conv first gathers the receptive fields of
 * a run of output pixels (zero point in the padding) into a stack buffer,
 * so every output is one contiguous dot product; convs with three kernel
 * rows of at most 16 bytes (a first layer on RGB) load each kernel row of a
 * field as one predicated vector instead (conv_short_rows).  1x1 convs with
 * at most 16 input channels take output pixels in pairs (conv1x1_thin; with
 * whole blocks of four output channels and only right shifts, and up to 32
 * input channels, conv1x1_thin_right, whose per-block constants are prepared
 * once per call and whose rows of pixel pairs are inline assembly).  With
 * whole blocks, only right shifts and over 32 input channels,
 * conv1x1_wide keeps one pixel's input in vector registers (up to 112
 * channels, else six vectors at a time through partial sums) over every block,
 * also in assembly.  Built only for targets with integer MVE.
 */
#include "edgec_kernels.h"

#if defined(__ARM_FEATURE_MVE) && (__ARM_FEATURE_MVE & 1)

#include "kernels_internal.h"
#include "mve_requant.h"

#define CO_BLOCK 4
#define CONV_FIELD_BYTES 4096 /* stack buffer of gathered receptive fields (conv2d) */
#define THIN_MAX_COUT 256      /* 1x1 convs with <= 16 input channels: padded weight rows on the stack */
#define THIN_RIGHT_COUT 192    /* their right-shift-only form (<= 32 input channels): per-block constants */
#define THIN_RIGHT_ROW_BYTES 6144 /* and padded weight rows (16 or 32 bytes each) on the stack */
#define THIN_RIGHT_MAX_STRIDE 32768 /* and output pixels closer than this: int16 scatter offsets */
#define WIDE_MAX_VECTORS 7      /* conv1x1_wide: pixels of up to 112 channels in one part */
#define SHORT_ROWS 3           /* conv_short_rows: three kernel rows of at most 16 bytes */
#define SHORT_ROWS_COUT 32     /* and at most this many output channels: padded weight rows on the stack */

/* Requantization constants and bias + offset term of channels oc..oc+n-1 (n <= 4), lanes past n zero. */
typedef struct {
    mve_requant_q q;
    int32x4_t base; /* bias + input_offset * sum(w), when every tap is used */
    mve_pred16_t lanes;
} co_block;

static co_block load_co_block(const int32_t *bias, const edgec_conv_params *p, int32_t oc, int32_t n,
                              const int32_t *wsum)
{
    co_block b;
    int32x4_t base;
    b.lanes = vctp32q((uint32_t)n);
    b.q = mve_requant_make(vldrwq_z_s32(p->out_mult + oc, b.lanes), vldrwq_z_s32(p->out_shift + oc, b.lanes));
    base = vmulq_n_s32(vldrwq_z_s32(wsum, b.lanes), p->input_offset);
    if (bias) {
        base = vaddq_s32(base, vldrwq_z_s32(bias + oc, b.lanes));
    }
    b.base = base;
    return b;
}

/* sum(w[i]) for i < n. */
static int32_t sum_s8(const int8_t *w, int32_t n)
{
    int32_t s = 0, i;
    for (i = 0; i < n; i += 16) {
        s = vaddvaq_s8(s, vldrbq_z_s8(w + i, vctp8q((uint32_t)(n - i))));
    }
    return s;
}

/* acc[k] += sum_i x[i] * w[k][i] for k < 4, i < n.  Four accumulators: VMLADAVA takes even
 * registers only, and r0-r12 hold seven. */
static inline void dot4(const int8_t *x, const int8_t *const w[CO_BLOCK], int32_t n, int32_t acc[CO_BLOCK])
{
    const int8_t *w0 = w[0], *w1 = w[1], *w2 = w[2], *w3 = w[3];
    int32_t a0 = acc[0], a1 = acc[1], a2 = acc[2], a3 = acc[3], i;
    for (i = 0; i + 16 <= n; i += 16) {
        const int8x16_t xv = vldrbq_s8(x + i);
        a0 = vmladavaq_s8(a0, xv, vldrbq_s8(w0 + i));
        a1 = vmladavaq_s8(a1, xv, vldrbq_s8(w1 + i));
        a2 = vmladavaq_s8(a2, xv, vldrbq_s8(w2 + i));
        a3 = vmladavaq_s8(a3, xv, vldrbq_s8(w3 + i));
    }
    if (i < n) {
        const mve_pred16_t p = vctp8q((uint32_t)(n - i));
        const int8x16_t xv = vldrbq_z_s8(x + i, p);
        a0 = vmladavaq_s8(a0, xv, vldrbq_z_s8(w0 + i, p));
        a1 = vmladavaq_s8(a1, xv, vldrbq_z_s8(w1 + i, p));
        a2 = vmladavaq_s8(a2, xv, vldrbq_z_s8(w2 + i, p));
        a3 = vmladavaq_s8(a3, xv, vldrbq_z_s8(w3 + i, p));
    }
    acc[0] = a0;
    acc[1] = a1;
    acc[2] = a2;
    acc[3] = a3;
}

static inline int32x4_t as_vector(const int32_t acc[CO_BLOCK])
{
    int32x4_t v = vdupq_n_s32(acc[0]);
    v = vsetq_lane_s32(acc[1], v, 1);
    v = vsetq_lane_s32(acc[2], v, 2);
    return vsetq_lane_s32(acc[3], v, 3);
}

/* The output stage of a layer: offset and clamp. */
typedef struct {
    int32_t offset;
    int32x4_t lo, hi;
} out_stage;

static inline out_stage make_out_stage(const edgec_conv_params *p)
{
    out_stage o;
    o.offset = p->output_offset;
    o.lo = vdupq_n_s32(p->act_min);
    o.hi = vdupq_n_s32(p->act_max);
    return o;
}

/* acc + base, requantized, clamped and stored to the first `lanes` channels at dst. */
static inline void store_block(int8_t *dst, const int32_t acc[CO_BLOCK], int32x4_t base, mve_requant_q q,
                               mve_pred16_t lanes, out_stage o)
{
    const int32x4_t v = vaddq_s32(as_vector(acc), base);
    vstrbq_p_s32(dst, mve_requant_clamp(v, q, o.offset, o.lo, o.hi), lanes);
}

/* Weight rows (`row` bytes each) of channels oc..oc+3; past the last channel, copies of its row (those
 * results are computed but not stored).  Also their sums. */
static int32_t weight_rows(const int8_t *weights, int32_t oc, int32_t cout, int32_t row, const int8_t *rows[CO_BLOCK],
                           int32_t wsum[CO_BLOCK])
{
    const int32_t n = cout - oc < CO_BLOCK ? cout - oc : CO_BLOCK;
    int32_t k;
    for (k = 0; k < CO_BLOCK; ++k) {
        rows[k] = weights + (oc + (k < n ? k : n - 1)) * row;
        wsum[k] = sum_s8(rows[k], row);
    }
    return n;
}

static inline int8_t *pixel(const edgec_view *v, int32_t y, int32_t x)
{
    return v->data + y * v->row_stride + x * v->col_stride;
}

/* The dot products of one input pixel with four padded weight rows, as a vector. */
static inline int32x4_t dot_rows(int8x16_t xv, int8x16_t w0, int8x16_t w1, int8x16_t w2, int8x16_t w3)
{
    int32x4_t acc = vdupq_n_s32(vmladavq_s8(xv, w0));
    acc = vsetq_lane_s32(vmladavq_s8(xv, w1), acc, 1);
    acc = vsetq_lane_s32(vmladavq_s8(xv, w2), acc, 2);
    return vsetq_lane_s32(vmladavq_s8(xv, w3), acc, 3);
}

/* Four values in the lanes of one vector, two lanes per VMOV (GCC 12 moves them one at a time).
 * Which of a pair of lanes receives which register is not relied on: the values and the output
 * slots they are stored to go through this same function (as in depthwise_window_mve.c). */
static inline __attribute__((always_inline)) int32x4_t paired_lanes(int32_t a, int32_t b, int32_t c, int32_t d)
{
    int32x4_t v;
    __asm__("vmov %q0[2], %q0[0], %3, %1\n\tvmov %q0[3], %q0[1], %4, %2" : "=&w"(v) : "r"(a), "r"(b), "r"(c), "r"(d));
    return v;
}

/* v's lanes moved as paired_lanes moves four values. */
static inline int32x4_t in_pair_order(int32x4_t v)
{
    return paired_lanes(vgetq_lane_s32(v, 0), vgetq_lane_s32(v, 1), vgetq_lane_s32(v, 2), vgetq_lane_s32(v, 3));
}

/* 1x1 conv with at most 16 input channels (one vector per pixel).  Output pixels go in pairs: for
 * each block of four output channels the pair shares the weight loads and the requantization
 * constants, and each pixel's input stays in one register for every block.  Weight rows padded to
 * 16 bytes with zeros and bias + input_offset * sum(w) are prepared once on the stack. */
static __attribute__((noinline)) void conv1x1_thin(const edgec_view *in, edgec_view *out, const int8_t *weights,
                                                   const int32_t *bias, const edgec_conv_params *p, int32_t sh,
                                                   int32_t sw)
{
    const int32_t cin = in->c, cout = out->c, blocks = (cout + CO_BLOCK - 1) / CO_BLOCK;
    const int32_t height = out->h, width = out->w;
    const int32_t in_row = in->row_stride * sh, in_col = in->col_stride * sw;
    const int32_t out_row = out->row_stride, out_col = out->col_stride;
    const int32_t input_offset = p->input_offset;
    const int32_t *mult = p->out_mult, *shift = p->out_shift;
    const out_stage o = make_out_stage(p);
    const mve_pred16_t channels = vctp8q((uint32_t)cin);
    int8_t rows[THIN_MAX_COUT][16] __attribute__((aligned(4)));
    int32_t base[THIN_MAX_COUT + CO_BLOCK];
    int32_t oc, y, x, b;

    for (oc = 0; oc < blocks * CO_BLOCK; ++oc) {
        if (oc < cout) {
            const int8x16_t w = vldrbq_z_s8(weights + oc * cin, channels);
            vst1q_s8(rows[oc], w);
            base[oc] = (bias ? bias[oc] : 0) + input_offset * vaddvq_s8(w);
        } else {
            vst1q_s8(rows[oc], vdupq_n_s8(0));
            base[oc] = 0;
        }
    }
    for (y = 0; y < height; ++y) {
        const int8_t *src = in->data + y * in_row;
        int8_t *dst = out->data + y * out_row;
        for (x = 0; x + 2 <= width; x += 2, src += 2 * in_col, dst += 2 * out_col) {
            const int8x16_t x0 = vldrbq_z_s8(src, channels), x1 = vldrbq_z_s8(src + in_col, channels);
            const int8_t *w = rows[0];
            for (b = 0; b < blocks; ++b, w += CO_BLOCK * 16) {
                const int32_t c0 = b * CO_BLOCK;
                const mve_pred16_t lanes = vctp32q((uint32_t)(cout - c0));
                const mve_requant_q q = mve_requant_make(vldrwq_z_s32(mult + c0, lanes), vldrwq_z_s32(shift + c0, lanes));
                const int8x16_t w0 = vld1q_s8(w), w1 = vld1q_s8(w + 16), w2 = vld1q_s8(w + 32), w3 = vld1q_s8(w + 48);
                const int32x4_t bv = vld1q_s32(base + c0);
                const int32x4_t a0 = vaddq_s32(dot_rows(x0, w0, w1, w2, w3), bv);
                const int32x4_t a1 = vaddq_s32(dot_rows(x1, w0, w1, w2, w3), bv);
                vstrbq_p_s32(dst + c0, mve_requant_clamp(a0, q, o.offset, o.lo, o.hi), lanes);
                vstrbq_p_s32(dst + out_col + c0, mve_requant_clamp(a1, q, o.offset, o.lo, o.hi), lanes);
            }
        }
        if (x < width) {
            const int8x16_t xv = vldrbq_z_s8(src, channels);
            const int8_t *w = rows[0];
            for (b = 0; b < blocks; ++b, w += CO_BLOCK * 16) {
                const int32_t c0 = b * CO_BLOCK;
                const mve_pred16_t lanes = vctp32q((uint32_t)(cout - c0));
                const mve_requant_q q = mve_requant_make(vldrwq_z_s32(mult + c0, lanes), vldrwq_z_s32(shift + c0, lanes));
                const int32x4_t a = dot_rows(xv, vld1q_s8(w), vld1q_s8(w + 16), vld1q_s8(w + 32), vld1q_s8(w + 48));
                vstrbq_p_s32(dst + c0, mve_requant_clamp(vaddq_s32(a, vld1q_s32(base + c0)), q, o.offset, o.lo, o.hi),
                             lanes);
            }
        }
    }
}

/* 1x1 conv, unpadded, output (y, x) reading input (y * sh, x * sw). */
/* MultiplyByQuantizedMultiplier for shifts that are all below 0 (mve_requant.h with no left shift
 * and every lane stepping down before VRSHL), then the offset and the clamp. */
static inline __attribute__((always_inline)) int32x4_t requant_right(int32x4_t acc, int32x4_t mult, int32x4_t shift,
                                                                     out_stage o)
{
    int32x4_t v = vqrdmulhq_s32(acc, mult);
    v = vrshlq_s32(vqaddq_s32(v, vshrq_n_s32(v, 31)), shift);
    return vminq_s32(vmaxq_s32(vaddq_n_s32(v, o.offset), o.lo), o.hi);
}
/* The dot products of one input pixel (NV vectors, zeros past its channels) with four weight rows
 * padded to 16 * NV bytes, in paired_lanes' lane order. */
static inline __attribute__((always_inline)) int32x4_t paired_dots(const int8x16_t *xv, const int8_t *w, const int NV)
{
    int32_t acc[CO_BLOCK];
    int c, v;
#pragma GCC unroll 4
    for (c = 0; c < CO_BLOCK; ++c) {
        acc[c] = vmladavq_s8(xv[0], vld1q_s8(w + 16 * NV * c));
#pragma GCC unroll 2
        for (v = 1; v < NV; ++v) {
            acc[c] = vmladavaq_s8(acc[c], xv[v], vld1q_s8(w + 16 * (NV * c + v)));
        }
    }
    return paired_lanes(acc[0], acc[1], acc[2], acc[3]);
}

/* Pixel x of a row (NV vectors; the last one's lanes past the channels read as zeros). */
static inline __attribute__((always_inline)) void load_pixel(int8x16_t *xv, const int8_t *src, mve_pred16_t last,
                                                             const int NV)
{
    int v;
#pragma GCC unroll 2
    for (v = 0; v + 1 < NV; ++v) {
        xv[v] = vld1q_s8(src + 16 * v);
    }
    xv[NV - 1] = vldrbq_z_s8(src + 16 * (NV - 1), last);
}

/* Staged constants of the right-shift 1x1 convs: a head (its first vectors the clamp bounds and the
 * scatter offsets), then per block of four output channels its folded biases, multipliers and shifts,
 * all in paired_lanes' lane order. */
enum { STAGE_LO, STAGE_HI, STAGE_SLOTS };
enum { BLOCK_BASE, BLOCK_MULT, BLOCK_SHIFT, BLOCK_VECTORS };

/* The sums of four weight rows of n bytes each (rows n bytes apart from w), in paired_lanes' lane order. */
static inline int32x4_t row_sums4(const int8_t *w, int32_t n)
{
    int32_t s0 = 0, s1 = 0, s2 = 0, s3 = 0, i;
    for (i = 0; i + 16 <= n; i += 16) {
        s0 = vaddvaq_s8(s0, vld1q_s8(w + i));
        s1 = vaddvaq_s8(s1, vld1q_s8(w + n + i));
        s2 = vaddvaq_s8(s2, vld1q_s8(w + 2 * n + i));
        s3 = vaddvaq_s8(s3, vld1q_s8(w + 3 * n + i));
    }
    if (i < n) {
        const mve_pred16_t p = vctp8q((uint32_t)(n - i));
        s0 = vaddvaq_s8(s0, vldrbq_z_s8(w + i, p));
        s1 = vaddvaq_s8(s1, vldrbq_z_s8(w + n + i, p));
        s2 = vaddvaq_s8(s2, vldrbq_z_s8(w + 2 * n + i, p));
        s3 = vaddvaq_s8(s3, vldrbq_z_s8(w + 3 * n + i, p));
    }
    return paired_lanes(s0, s1, s2, s3);
}

/* The constants of blocks b0..b0+n-1 of a right-shift 1x1 conv (rows of cin weights) into stage: the head
 * (`head` vectors) starts with the clamp bounds and the scatter offsets, block b (at stage + head +
 * stride * b) with its folded biases, multipliers and shifts in paired_lanes' lane order (gathered
 * through the scatter offsets, which are that order). */
static void stage_blocks(int32x4_t *stage, int32_t head, int32_t stride, const int8_t *weights, const int32_t *bias,
                         const edgec_conv_params *p, int32_t cin, int32_t b0, int32_t n)
{
    const out_stage o = make_out_stage(p);
    const int32x4_t order = paired_lanes(0, 1, 2, 3);
    const uint32x4_t slots = vreinterpretq_u32_s32(order);
    int32_t b;

    stage[STAGE_LO] = o.lo;
    stage[STAGE_HI] = o.hi;
    stage[STAGE_SLOTS] = order;
    for (b = 0; b < n; ++b) {
        int32x4_t *block = stage + head + stride * b;
        const int32_t c0 = (b0 + b) * CO_BLOCK;
        int32x4_t base = vmulq_n_s32(row_sums4(weights + c0 * cin, cin), p->input_offset);
        if (bias) {
            base = vaddq_s32(base, vldrwq_gather_shifted_offset_s32(bias + c0, slots));
        }
        block[BLOCK_BASE] = base;
        block[BLOCK_MULT] = vldrwq_gather_shifted_offset_s32(p->out_mult + c0, slots);
        block[BLOCK_SHIFT] = vldrwq_gather_shifted_offset_s32(p->out_shift + c0, slots);
    }
}

/* The head of conv1x1_thin_right's stage as thin_pairs reads it: the clamp bounds as int16 lanes, the
 * scatter offsets of a pixel pair's int16 lanes (even lanes the first pixel, odd the second, as VQMOVNB
 * and VQMOVNT narrow into them), the counts, then the lanes of the pixel's last vector. */
enum { THIN_LO16, THIN_HI16, THIN_SLOTS16, THIN_COUNTS, THIN_LAST, THIN_HEAD };
enum { COUNT_BLOCKS, COUNT_IN_COL, COUNT_OUT_STEP, COUNT_ROWS }; /* lanes of THIN_COUNTS */

/* Every pixel pair of a row of conv1x1_thin_right (`pairs` of them from x and dst, pixels NV vectors:
 * one or two), in assembly because GCC 12 spills the loop's eight Q registers' worth of values.  Per
 * block of four output channels each weight row is loaded once for both pixels, the four dot products of
 * a pixel (r0, r2, r4, r6: VMLADAV writes even registers) go into its accumulator two lanes per VMOV
 * (lanes 0/2 first), the folded biases, multipliers and shifts are three loads, and the two pixels'
 * results are narrowed with saturation into the even and odd int16 lanes of one vector, whose offset
 * (a saturating add), clamp and scattered store take one instruction each for both pixels (exact: a
 * value that saturates to int16 stays outside the int8 clamp bounds after the offset).  NV == 1: q0/q1
 * the inputs, q2 each weight row and constant, q3/q4 the accumulators, q5-q7 the int16 clamp bounds and
 * scatter offsets; NV == 2: q0-q3 the inputs, q4 each weight row, constant and rounding step, q5/q6
 * the accumulators, q7 the lower clamp bound, the upper one and the offsets reloaded per block. */
static inline __attribute__((always_inline)) void thin_pairs(const int8_t *x, int8_t *dst, const int32x4_t *stage,
                                                             int32_t pairs, int32_t offset, const int NV)
{
    const int8_t *w;
    const int32x4_t *k;
    __asm__ volatile(
        "ldr r0, [%[h], #64]\n\t"
        "vctp.8 r0\n\t" /* P0: the lanes of the pixel's last vector */
        ".if %c[nv] == 1\n\t"
        "vldrw.32 q5, [%[h]]\n\t"
        "vldrw.32 q6, [%[h], #16]\n\t"
        "vldrw.32 q7, [%[h], #32]\n\t"
        ".else\n\t"
        "vldrw.32 q7, [%[h]]\n\t"
        ".endif\n"
        "2:\n\t"
        "ldr r0, [%[h], #52]\n\t" /* the second pixel */
        "add r0, %[x], r0\n\t"
        ".if %c[nv] == 1\n\t"
        "vpstt\n\t"
        "vldrbt.8 q0, [%[x]]\n\t"
        "vldrbt.8 q1, [r0]\n\t"
        ".else\n\t"
        "vldrb.8 q0, [%[x]]\n\t"
        "vldrb.8 q2, [r0]\n\t"
        "vpstt\n\t"
        "vldrbt.8 q1, [%[x], #16]\n\t"
        "vldrbt.8 q3, [r0, #16]\n\t"
        ".endif\n\t"
        "ldr %[w], [%[h], #60]\n\t"
        "add %[k], %[h], #(80 - 48)\n\t"
        "ldr r0, [%[h], #48]\n\t"
        "dls lr, r0\n"
        "1:\n\t"
        ".if %c[nv] == 1\n\t"
        "vldrb.8 q2, [%[w]], #64\n\t" /* channel 0 (a) */
        "vmladav.s8 r0, q0, q2\n\t"
        "vmladav.s8 r2, q1, q2\n\t"
        "vldrb.8 q2, [%[w], #-32]\n\t" /* channel 2 (c) */
        "vmladav.s8 r4, q0, q2\n\t"
        "vmladav.s8 r6, q1, q2\n\t"
        "vmov q3[2], q3[0], r4, r0\n\t"
        "vmov q4[2], q4[0], r6, r2\n\t"
        "vldrb.8 q2, [%[w], #-48]\n\t" /* channel 1 (b) */
        "vmladav.s8 r0, q0, q2\n\t"
        "vmladav.s8 r2, q1, q2\n\t"
        "vldrb.8 q2, [%[w], #-16]\n\t" /* channel 3 (d) */
        "vmladav.s8 r4, q0, q2\n\t"
        "vmladav.s8 r6, q1, q2\n\t"
        "vmov q3[3], q3[1], r4, r0\n\t"
        "vmov q4[3], q4[1], r6, r2\n\t"
        "vldrw.32 q2, [%[k], #48]!\n\t" /* folded biases */
        "vadd.i32 q3, q3, q2\n\t"
        "vadd.i32 q4, q4, q2\n\t"
        "vldrw.32 q2, [%[k], #16]\n\t" /* multipliers */
        "vqrdmulh.s32 q3, q3, q2\n\t"
        "vqrdmulh.s32 q4, q4, q2\n\t"
        "vshr.s32 q2, q3, #31\n\t"
        "vqadd.s32 q3, q3, q2\n\t"
        "vshr.s32 q2, q4, #31\n\t"
        "vqadd.s32 q4, q4, q2\n\t"
        "vldrw.32 q2, [%[k], #32]\n\t" /* shifts */
        "vrshl.s32 q3, q3, q2\n\t"
        "vrshl.s32 q4, q4, q2\n\t"
        "vqmovnb.s32 q3, q3\n\t"
        "vqmovnt.s32 q3, q4\n\t"
        "vqadd.s16 q3, q3, %[off]\n\t"
        "vmax.s16 q3, q3, q5\n\t"
        "vmin.s16 q3, q3, q6\n\t"
        "vstrb.16 q3, [%[d], q7]\n\t"
        ".else\n\t"
        "vldrb.8 q4, [%[w]], #64\n\t" /* channel 0 (a); w steps 64 bytes twice */
        "vmladav.s8 r0, q0, q4\n\t"
        "vmladav.s8 r2, q2, q4\n\t"
        "vldrb.8 q4, [%[w], #-48]\n\t"
        "vmladava.s8 r0, q1, q4\n\t"
        "vmladava.s8 r2, q3, q4\n\t"
        "vldrb.8 q4, [%[w]], #64\n\t" /* channel 2 (c) */
        "vmladav.s8 r4, q0, q4\n\t"
        "vmladav.s8 r6, q2, q4\n\t"
        "vldrb.8 q4, [%[w], #-48]\n\t"
        "vmladava.s8 r4, q1, q4\n\t"
        "vmladava.s8 r6, q3, q4\n\t"
        "vmov q5[2], q5[0], r4, r0\n\t"
        "vmov q6[2], q6[0], r6, r2\n\t"
        "vldrb.8 q4, [%[w], #-96]\n\t" /* channel 1 (b) */
        "vmladav.s8 r0, q0, q4\n\t"
        "vmladav.s8 r2, q2, q4\n\t"
        "vldrb.8 q4, [%[w], #-80]\n\t"
        "vmladava.s8 r0, q1, q4\n\t"
        "vmladava.s8 r2, q3, q4\n\t"
        "vldrb.8 q4, [%[w], #-32]\n\t" /* channel 3 (d) */
        "vmladav.s8 r4, q0, q4\n\t"
        "vmladav.s8 r6, q2, q4\n\t"
        "vldrb.8 q4, [%[w], #-16]\n\t"
        "vmladava.s8 r4, q1, q4\n\t"
        "vmladava.s8 r6, q3, q4\n\t"
        "vmov q5[3], q5[1], r4, r0\n\t"
        "vmov q6[3], q6[1], r6, r2\n\t"
        "vldrw.32 q4, [%[k], #48]!\n\t" /* folded biases */
        "vadd.i32 q5, q5, q4\n\t"
        "vadd.i32 q6, q6, q4\n\t"
        "vldrw.32 q4, [%[k], #16]\n\t" /* multipliers */
        "vqrdmulh.s32 q5, q5, q4\n\t"
        "vqrdmulh.s32 q6, q6, q4\n\t"
        "vshr.s32 q4, q5, #31\n\t"
        "vqadd.s32 q5, q5, q4\n\t"
        "vshr.s32 q4, q6, #31\n\t"
        "vqadd.s32 q6, q6, q4\n\t"
        "vldrw.32 q4, [%[k], #32]\n\t" /* shifts */
        "vrshl.s32 q5, q5, q4\n\t"
        "vrshl.s32 q6, q6, q4\n\t"
        "vqmovnb.s32 q5, q5\n\t"
        "vqmovnt.s32 q5, q6\n\t"
        "vqadd.s16 q5, q5, %[off]\n\t"
        "vmax.s16 q5, q5, q7\n\t" /* the clamp bounds */
        "vldrw.32 q4, [%[h], #16]\n\t"
        "vmin.s16 q5, q5, q4\n\t"
        "vldrw.32 q4, [%[h], #32]\n\t" /* the scatter offsets */
        "vstrb.16 q5, [%[d], q4]\n\t"
        ".endif\n\t"
        "adds %[d], %[d], #4\n\t"
        "le lr, 1b\n\t"
        "ldr r0, [%[h], #56]\n\t" /* the next pair */
        "add %[d], %[d], r0\n\t"
        "ldr r0, [%[h], #52]\n\t"
        "add %[x], %[x], r0, lsl #1\n\t"
        "subs %[pairs], %[pairs], #1\n\t"
        "bne 2b"
        : [w] "=&r"(w), [k] "=&r"(k), [d] "+&r"(dst), [x] "+&r"(x), [pairs] "+&r"(pairs)
        : [h] "r"(stage), [off] "r"(offset), [nv] "i"(NV)
        : "r0", "r2", "r4", "r6", "lr", "q0", "q1", "q2", "q3", "q4", "q5", "q6", "q7", "memory", "cc");
}

/* thin_pairs as a function of its own per vector count; VPR is not preserved, and no caller keeps a
 * predicate across. */
static __attribute__((noinline)) void thin_pairs_16(const int8_t *x, int8_t *dst, const int32x4_t *stage,
                                                    int32_t pairs, int32_t offset)
{
    thin_pairs(x, dst, stage, pairs, offset, 1);
}

static __attribute__((noinline)) void thin_pairs_32(const int8_t *x, int8_t *dst, const int32x4_t *stage,
                                                    int32_t pairs, int32_t offset)
{
    thin_pairs(x, dst, stage, pairs, offset, 2);
}

/* The pixel loop of conv1x1_thin_right for pixels of NV vectors: a row's pixel pairs in one thin_pairs
 * call, an odd last pixel in C. */
static inline __attribute__((always_inline)) void thin_right_pixels(const edgec_view *in, edgec_view *out,
                                                                    const int8_t *rows, const int32x4_t *stage,
                                                                    int32_t blocks, int32_t sh, int32_t sw,
                                                                    const out_stage o, const int NV)
{
    const int32_t height = out->h, width = out->w;
    const int32_t in_row = in->row_stride * sh, in_col = in->col_stride * sw;
    const int32_t out_row = out->row_stride, out_col = out->col_stride;
    const mve_pred16_t last = vctp8q((uint32_t)(in->c - 16 * (NV - 1)));
    const uint32x4_t slots = vreinterpretq_u32_s32(paired_lanes(0, 1, 2, 3));
    const int32x4_t *block;
    int32_t y, b;

    for (y = 0; y < height; ++y) {
        const int8_t *src = in->data + y * in_row;
        int8_t *dst = out->data + y * out_row;
        if (width >= 2) {
            if (NV == 1) {
                thin_pairs_16(src, dst, stage, width / 2, o.offset);
            } else {
                thin_pairs_32(src, dst, stage, width / 2, o.offset);
            }
        }
        if (width % 2) {
            int8x16_t xv[2];
            src += (width - 1) * in_col;
            dst += (width - 1) * out_col;
            load_pixel(xv, src, last, NV);
            for (b = 0, block = stage + THIN_HEAD; b < blocks; ++b, block += BLOCK_VECTORS) {
                const int32x4_t a = vaddq_s32(paired_dots(xv, rows + b * CO_BLOCK * 16 * NV, NV), block[BLOCK_BASE]);
                vstrbq_scatter_offset_s32(dst + b * CO_BLOCK, slots,
                                          requant_right(a, block[BLOCK_MULT], block[BLOCK_SHIFT], o));
            }
        }
    }
}

/* 1x1 conv with at most 32 input channels (one or two vectors per pixel) whose output channels come in
 * whole blocks of four and whose shifts are all below 0 (the usual case).  Output pixels go in pairs,
 * which share each block's weight loads; the weight rows (padded with zeros to whole vectors on the
 * stack, unless they are 16 or 32 channels: then read in place) and the folded biases, multipliers and
 * shifts of every block (in paired_lanes' lane order) are prepared once per call, so a pixel pair's
 * block is 4 * NV weight loads and 8 * NV VMLADAVs, four two-lane moves, three constant loads, the two
 * requantizations, and the narrowing, offset, clamp and scattered store of both pixels at once
 * (thin_pairs, a row per call). */
static __attribute__((noinline)) void conv1x1_thin_right(const edgec_view *in, edgec_view *out, const int8_t *weights,
                                                         const int32_t *bias, const edgec_conv_params *p, int32_t sh,
                                                         int32_t sw)
{
    const int32_t cin = in->c, cout = out->c, blocks = cout / CO_BLOCK, nv = cin > 16 ? 2 : 1;
    const out_stage o = make_out_stage(p);
    const uint32x4_t slots = vreinterpretq_u32_s32(paired_lanes(0, 1, 2, 3));
    const uint32_t out_col = (uint32_t)out->col_stride;
    int8_t padded[THIN_RIGHT_ROW_BYTES] __attribute__((aligned(4)));
    const int8_t *rows = weights; /* rows of 16 or 32 channels as they are */
    int32x4_t stage[THIN_HEAD + BLOCK_VECTORS * (THIN_RIGHT_COUT / CO_BLOCK)];
    int32_t oc, v;

    if (cin != 16 * nv) {
        for (oc = 0; oc < cout; ++oc) {
            for (v = 0; v < nv; ++v) {
                vst1q_s8(padded + (oc * nv + v) * 16,
                         vldrbq_z_s8(weights + oc * cin + 16 * v, vctp8q((uint32_t)(cin - 16 * v))));
            }
        }
        rows = padded;
    }
    stage_blocks(stage, THIN_HEAD, BLOCK_VECTORS, weights, bias, p, cin, 0, blocks);
    stage[THIN_LO16] = vreinterpretq_s32_s16(vdupq_n_s16((int16_t)p->act_min));
    stage[THIN_HI16] = vreinterpretq_s32_s16(vdupq_n_s16((int16_t)p->act_max));
    stage[THIN_SLOTS16] = vreinterpretq_s32_u16(
        vmovntq_u32(vmovnbq_u32(vdupq_n_u16(0), slots), vaddq_n_u32(slots, out_col)));
    {
        int32_t counts[4] __attribute__((aligned(4)));
        counts[COUNT_BLOCKS] = blocks;
        counts[COUNT_IN_COL] = in->col_stride * sw;
        counts[COUNT_OUT_STEP] = 2 * out->col_stride - CO_BLOCK * blocks;
        counts[COUNT_ROWS] = (int32_t)(uintptr_t)rows;
        stage[THIN_COUNTS] = vld1q_s32(counts);
    }
    stage[THIN_LAST] = vdupq_n_s32(cin - 16 * (nv - 1));
    if (nv == 1) {
        thin_right_pixels(in, out, rows, stage, blocks, sh, sw, o, 1);
    } else {
        thin_right_pixels(in, out, rows, stage, blocks, sh, sw, o, 2);
    }
}

/* conv1x1_wide's staged constants: the head (clamp bounds, scatter offsets, then the counts and the row's
 * pointers), then per block the folded biases, multipliers and shifts (stage_blocks) and the block's
 * partial sums of the current pixel. */
enum { WIDE_COUNTS = STAGE_SLOTS + 1, WIDE_ROW_AT, WIDE_HEAD };
enum { WIDE_PARTIAL = BLOCK_SHIFT + 1, WIDE_VECTORS };
/* Lanes of WIDE_COUNTS: the blocks, the channels of the pixel's last vector, the input and output steps
 * from one pixel to the next; of WIDE_ROW_AT: the weights of the first block, the end of the row's input. */
enum { WIDE_BLOCKS_N, WIDE_LAST_LANES, WIDE_IN_STEP, WIDE_OUT_STEP };
enum { WIDE_WEIGHTS, WIDE_ROW_END };
/* How wide_blocks walks the blocks: requantize the dot products of whole pixels (one part; every pixel of
 * a row, one call), or, for
 * pixels over WIDE_MAX_VECTORS vectors taken WIDE_PART vectors at a time, store the first part's dot
 * products plus the folded biases as partial sums, add a middle part's to them, or add the last part's
 * and requantize. */
enum { WIDE_WHOLE, WIDE_FIRST, WIDE_MIDDLE, WIDE_LAST };
#define WIDE_PART 6 /* vectors of a part: q0-q5 */

/* One dot product tap of wide_blocks: vector V of the weight row at w against input vector V (q0-q5; a
 * seventh, q6, is reloaded for every row), into the core register ACC; the pixel's last vector
 * (V == NV - 1, whole and last parts) is a predicated load (P0: the lanes of its channels) unless the
 * pixel is whole vectors (TAIL 0). */
#define WIDE_TAP(ACC, V)                                                                                         \
    ".if " #V " < %c[nv]\n\t"                                                                                  \
    ".if " #V " == %c[nv] - 1 && %c[tail]\n\t"                                                                 \
    ".if " #V " == 6\n\t"                                                                                       \
    "vpst\n\tvldrbt.8 q6, [%[x], #96]\n\t"                                                                     \
    ".endif\n\t"                                                                                                \
    "vpst\n\tvldrbt.8 q7, [%[w], #" #V " * 16]\n\t"                                                          \
    ".else\n\t"                                                                                                 \
    ".if " #V " == 6\n\tvldrb.8 q6, [%[x], #96]\n\t.endif\n\t"                                                 \
    "vldrb.8 q7, [%[w], #" #V " * 16]\n\t"                                                                   \
    ".endif\n\t"                                                                                                \
    ".if " #V " == 0\n\tvmladav.s8 " ACC ", q0, q7\n\t.else\n\tvmladava.s8 " ACC ", q" #V ", q7\n\t.endif\n\t" \
    ".endif\n\t"
/* The dot product of the pixel with one weight row (cin bytes at w), into ACC; w steps to the next row. */
#define WIDE_ROW(ACC)                                                                                           \
    WIDE_TAP(ACC, 0) WIDE_TAP(ACC, 1) WIDE_TAP(ACC, 2) WIDE_TAP(ACC, 3) WIDE_TAP(ACC, 4) WIDE_TAP(ACC, 5)      \
    WIDE_TAP(ACC, 6) "adds %[w], %[w], %[cin]\n\t"
/* Input vector V of the pixel into qV (the last one predicated in whole and last parts). */
#define WIDE_INPUT(V)                                                                                          \
    ".if " #V " < %c[nv] && " #V " < 6\n\t"                                                                    \
    ".if " #V " == %c[nv] - 1 && %c[tail]\n\t"                                         \
    "vpst\n\tvldrbt.8 q" #V ", [%[x], #" #V " * 16]\n\t"                                                     \
    ".else\n\t"                                                                                                 \
    "vldrb.8 q" #V ", [%[x], #" #V " * 16]\n\t"                                                              \
    ".endif\n\t"                                                                                                \
    ".endif\n\t"

/* Every block of the output pixels of a row of a 1x1 conv (MODE WIDE_WHOLE: from x and dst up to the row
 * end in the head), or of one output pixel for one part of its input channels (the other modes), for NV
 * vectors at x (up to seven), weight rows read in place (cin bytes apart), constants staged as described
 * above.  The input vectors stay in q0-q5 (a seventh is reloaded per row into q6); q7 takes each weight
 * vector, the four dot products (r0, r2, r4, r6: VMLADAV writes even registers) go into q6 two lanes per
 * VMOV, and q7 takes each constant of the requantization in turn. */
static inline __attribute__((always_inline)) void wide_blocks(const int8_t *x, const int8_t *weights,
                                                              int32x4_t *stage, int8_t *dst, int32_t offset,
                                                              int32_t cin, const int NV, const int MODE,
                                                              const int TAIL)
{
    const int8_t *w = weights;
    int32x4_t *k;
    __asm__ volatile(
        "ldr r0, [%[h], #52]\n\t"
        "vctp.8 r0\n\t" /* P0: the lanes of the last vector */
        ".if %c[mode] == 0\n"
        "2:\n\t"
        "ldr %[w], [%[h], #64]\n\t"
        ".endif\n\t"
        "add %[k], %[h], #(80 - 64)\n\t"
        WIDE_INPUT(0) WIDE_INPUT(1) WIDE_INPUT(2) WIDE_INPUT(3) WIDE_INPUT(4) WIDE_INPUT(5)
        "ldr r0, [%[h], #48]\n\t"
        "dls lr, r0\n"
        "1:\n\t" WIDE_ROW("r0") WIDE_ROW("r2") WIDE_ROW("r4") WIDE_ROW("r6")
        "vmov q6[2], q6[0], r4, r0\n\t"
        "vmov q6[3], q6[1], r6, r2\n\t"
        ".if %c[mode] == 0 || %c[mode] == 1\n\t"
        "vldrw.32 q7, [%[k], #64]!\n\t" /* folded biases */
        ".else\n\t"
        "adds %[k], %[k], #64\n\t"
        "vldrw.32 q7, [%[k], #48]\n\t" /* partial sums */
        ".endif\n\t"
        "vadd.i32 q6, q6, q7\n\t"
        ".if %c[mode] == 1 || %c[mode] == 2\n\t"
        "vstrw.32 q6, [%[k], #48]\n\t"
        ".else\n\t"
        "vldrw.32 q7, [%[k], #16]\n\t" /* multipliers */
        "vqrdmulh.s32 q6, q6, q7\n\t"
        "vshr.s32 q7, q6, #31\n\t"
        "vqadd.s32 q6, q6, q7\n\t"
        "vldrw.32 q7, [%[k], #32]\n\t" /* shifts */
        "vrshl.s32 q6, q6, q7\n\t"
        "vadd.i32 q6, q6, %[off]\n\t"
        "vldrw.32 q7, [%[h]]\n\t" /* the clamp bounds */
        "vmax.s32 q6, q6, q7\n\t"
        "vldrw.32 q7, [%[h], #16]\n\t"
        "vmin.s32 q6, q6, q7\n\t"
        "vldrw.32 q7, [%[h], #32]\n\t" /* the scatter offsets */
        "vstrb.32 q6, [%[d], q7]\n\t"
        "adds %[d], %[d], #4\n\t"
        ".endif\n\t"
        "le lr, 1b\n\t"
        ".if %c[mode] == 0\n\t" /* the next pixel of the row */
        "ldr r0, [%[h], #56]\n\t"
        "add %[x], %[x], r0\n\t"
        "ldr r0, [%[h], #60]\n\t"
        "add %[d], %[d], r0\n\t"
        "ldr r0, [%[h], #68]\n\t"
        "cmp %[x], r0\n\t"
        "bne 2b\n\t"
        ".endif"
        : [w] "+&r"(w), [k] "=&r"(k), [d] "+&r"(dst), [x] "+&r"(x)
        : [h] "r"(stage), [off] "r"(offset), [cin] "r"(cin), [nv] "i"(NV), [mode] "i"(MODE), [tail] "i"(TAIL)
        : "r0", "r2", "r4", "r6", "lr", "q0", "q1", "q2", "q3", "q4", "q5", "q6", "q7", "memory", "cc");
}

typedef void wide_blocks_fn(const int8_t *x, const int8_t *weights, int32x4_t *stage, int8_t *dst, int32_t offset,
                            int32_t cin);

/* wide_blocks as a function of its own for each vector count and mode (the asm statement's registers
 * leave none for a loop around it); VPR is not preserved, and no caller keeps a predicate across. */
#define WIDE_BLOCKS(NAME, NV, MODE, TAIL)                                                                       \
    static __attribute__((noinline)) void NAME(const int8_t *x, const int8_t *weights, int32x4_t *stage,     \
                                               int8_t *dst, int32_t offset, int32_t cin)                        \
    {                                                                                                          \
        wide_blocks(x, weights, stage, dst, offset, cin, NV, MODE, TAIL);                                      \
    }
WIDE_BLOCKS(wide_whole_3, 3, WIDE_WHOLE, 1)
WIDE_BLOCKS(wide_whole_4, 4, WIDE_WHOLE, 1)
WIDE_BLOCKS(wide_whole_5, 5, WIDE_WHOLE, 1)
WIDE_BLOCKS(wide_whole_6, 6, WIDE_WHOLE, 1)
WIDE_BLOCKS(wide_whole_7, 7, WIDE_WHOLE, 1)
WIDE_BLOCKS(wide_first, WIDE_PART, WIDE_FIRST, 0)
WIDE_BLOCKS(wide_middle, WIDE_PART, WIDE_MIDDLE, 0)
WIDE_BLOCKS(wide_last_1, 1, WIDE_LAST, 1)
WIDE_BLOCKS(wide_last_2, 2, WIDE_LAST, 1)
WIDE_BLOCKS(wide_last_3, 3, WIDE_LAST, 1)
WIDE_BLOCKS(wide_last_4, 4, WIDE_LAST, 1)
WIDE_BLOCKS(wide_last_5, 5, WIDE_LAST, 1)
WIDE_BLOCKS(wide_last_6, 6, WIDE_LAST, 1)
/* Pixels of whole vectors (48, 96, 112 channels; 144, 192, 288, 336, 384 in parts) without the
 * predicated loads. */
WIDE_BLOCKS(wide_whole_3_full, 3, WIDE_WHOLE, 0)
WIDE_BLOCKS(wide_whole_6_full, 6, WIDE_WHOLE, 0)
WIDE_BLOCKS(wide_whole_7_full, 7, WIDE_WHOLE, 0)
WIDE_BLOCKS(wide_last_3_full, 3, WIDE_LAST, 0)
WIDE_BLOCKS(wide_last_6_full, 6, WIDE_LAST, 0)

#define WIDE_CHUNK 48 /* blocks of four output channels staged at a time (about 3 KiB) */

/* 1x1 conv with over 32 input channels, whole blocks of four output channels and every shift below 0: one
 * output pixel at a time, its input (up to WIDE_MAX_VECTORS vectors, else WIDE_PART at a time) in vector
 * registers across every block (wide_blocks); the blocks' constants are staged WIDE_CHUNK blocks at a
 * time, the weights read in place. */
static __attribute__((noinline)) void conv1x1_wide(const edgec_view *in, edgec_view *out, const int8_t *weights,
                                                   const int32_t *bias, const edgec_conv_params *p, int32_t sh,
                                                   int32_t sw)
{
    static wide_blocks_fn *const whole[WIDE_MAX_VECTORS + 1] = {
        0, 0, 0, wide_whole_3, wide_whole_4, wide_whole_5, wide_whole_6, wide_whole_7,
    };
    static wide_blocks_fn *const last[WIDE_PART + 1] = {
        0, wide_last_1, wide_last_2, wide_last_3, wide_last_4, wide_last_5, wide_last_6,
    };
    static wide_blocks_fn *const whole_full[WIDE_MAX_VECTORS + 1] = {
        0, 0, 0, wide_whole_3_full, 0, 0, wide_whole_6_full, wide_whole_7_full,
    };
    static wide_blocks_fn *const last_full[WIDE_PART + 1] = {0, 0, 0, wide_last_3_full, 0, 0, wide_last_6_full};
    const int32_t cin = in->c, blocks = out->c / CO_BLOCK, offset = p->output_offset, nv = (cin + 15) / 16;
    const int32_t height = out->h, width = out->w;
    const int32_t in_row = in->row_stride * sh, in_col = in->col_stride * sw;
    const int32_t out_row = out->row_stride, out_col = out->col_stride;
    /* Over WIDE_MAX_VECTORS vectors: parts of WIDE_PART, the last one of 1..WIDE_PART. */
    const int32_t parts = nv > WIDE_MAX_VECTORS ? (nv + WIDE_PART - 1) / WIDE_PART : 1;
    const int32_t last_at = 16 * WIDE_PART * (parts - 1);
    const int32_t last_nv = nv - WIDE_PART * (parts - 1);
    wide_blocks_fn *const full = cin % 16 ? 0 : parts == 1 ? whole_full[nv] : last_full[last_nv];
    wide_blocks_fn *const walk = full ? full : parts == 1 ? whole[nv] : last[last_nv];
    int32x4_t stage[WIDE_HEAD + WIDE_VECTORS * WIDE_CHUNK];
    int32_t row_at[4] __attribute__((aligned(4))) = {0, 0, 0, 0};
    int32_t b0, y, x, part;

    for (b0 = 0; b0 < blocks; b0 += WIDE_CHUNK) {
        const int8_t *w = weights + b0 * CO_BLOCK * cin;
        const int32_t n = blocks - b0 < WIDE_CHUNK ? blocks - b0 : WIDE_CHUNK;
        int32_t counts[4] __attribute__((aligned(4)));
        stage_blocks(stage, WIDE_HEAD, WIDE_VECTORS, weights, bias, p, cin, b0, n);
        counts[WIDE_BLOCKS_N] = n;
        counts[WIDE_LAST_LANES] = cin - 16 * (nv - 1);
        counts[WIDE_IN_STEP] = in_col;
        counts[WIDE_OUT_STEP] = out_col - CO_BLOCK * n;
        stage[WIDE_COUNTS] = vld1q_s32(counts);
        row_at[WIDE_WEIGHTS] = (int32_t)(uintptr_t)w;
        for (y = 0; y < height; ++y) {
            const int8_t *src = in->data + y * in_row;
            int8_t *dst = out->data + y * out_row + b0 * CO_BLOCK;
            if (width == 0) {
                break;
            }
            if (parts == 1) { /* the whole row in one call */
                row_at[WIDE_ROW_END] = (int32_t)(uintptr_t)(src + width * in_col);
                stage[WIDE_ROW_AT] = vld1q_s32(row_at);
                walk(src, w, stage, dst, offset, cin);
                continue;
            }
            for (x = 0; x < width; ++x, src += in_col, dst += out_col) {
                wide_first(src, w, stage, dst, offset, cin);
                for (part = 1; part + 1 < parts; ++part) {
                    wide_middle(src + 16 * WIDE_PART * part, w + 16 * WIDE_PART * part, stage, dst, offset, cin);
                }
                walk(src + last_at, w + last_at, stage, dst, offset, cin);
            }
        }
    }
}

/* Whether every shift in shift[0..n) is below 0, n a multiple of 4. */
static int shifts_below_zero(const int32_t *shift, int32_t n)
{
    int32_t top = -1, i;
    for (i = 0; i < n; i += 4) {
        top = vmaxvq_s32(top, vld1q_s32(shift + i));
    }
    return top < 0;
}

static void conv1x1(const edgec_view *in, edgec_view *out, const int8_t *weights, const int32_t *bias,
                    const edgec_conv_params *p, int32_t sh, int32_t sw)
{
    const int32_t cin = in->c, cout = out->c;
    const int32_t height = out->h, width = out->w;
    const int32_t in_row = in->row_stride * sh, in_col = in->col_stride * sw;
    const int32_t out_row = out->row_stride, out_col = out->col_stride;
    const out_stage o = make_out_stage(p);
    const int8_t *rows[CO_BLOCK];
    int32_t wsum[CO_BLOCK];
    int32_t oc, y, x;

    if (cin <= 32 && cout <= THIN_RIGHT_COUT && cout * (cin > 16 ? 32 : 16) <= THIN_RIGHT_ROW_BYTES &&
        cout % CO_BLOCK == 0 && out->col_stride < THIN_RIGHT_MAX_STRIDE && shifts_below_zero(p->out_shift, cout)) {
        conv1x1_thin_right(in, out, weights, bias, p, sh, sw);
        return;
    }
    if (cin <= 16 && cout <= THIN_MAX_COUT) {
        conv1x1_thin(in, out, weights, bias, p, sh, sw);
        return;
    }
    if (cin > 32 && cout % CO_BLOCK == 0 && shifts_below_zero(p->out_shift, cout)) {
        conv1x1_wide(in, out, weights, bias, p, sh, sw);
        return;
    }
    for (oc = 0; oc < cout; oc += CO_BLOCK) {
        const int32_t n = weight_rows(weights, oc, cout, cin, rows, wsum);
        const co_block b = load_co_block(bias, p, oc, n, wsum);
        const mve_requant_q q = b.q;
        const int32x4_t base = b.base;
        const mve_pred16_t lanes = b.lanes;
        for (y = 0; y < height; ++y) {
            const int8_t *src = in->data + y * in_row;
            int8_t *dst = out->data + y * out_row + oc;
            for (x = 0; x < width; ++x, src += in_col, dst += out_col) {
                int32_t acc[CO_BLOCK] = {0, 0, 0, 0};
                dot4(src, rows, cin, acc);
                store_block(dst, acc, base, q, lanes, o);
            }
        }
    }
}

void edgec_conv2d_1x1_mve(const edgec_view *in, edgec_view *out, const int8_t *weights, const int32_t *bias,
                          const edgec_conv_params *p)
{
    conv1x1(in, out, weights, bias, p, 1, 1);
}

/* dst[0..n) = src[0..n), sixteen bytes per step. */
static inline void copy_bytes(int8_t *dst, const int8_t *src, int32_t n)
{
    int32_t i;
    for (i = 0; i < n; i += 16) {
        const mve_pred16_t p = vctp8q((uint32_t)(n - i));
        vstrbq_p_s8(dst + i, vldrbq_z_s8(src + i, p), p);
    }
}

static inline void fill_bytes(int8_t *dst, int8_t value, int32_t n)
{
    const int8x16_t v = vdupq_n_s8(value);
    int32_t i;
    for (i = 0; i < n; i += 16) {
        vstrbq_p_s8(dst + i, v, vctp8q((uint32_t)(n - i)));
    }
}

/* The receptive field of output pixel (oy, ox) as one run of KH * KW * Ci bytes in the weights'
 * (ky, kx, ci) order, taps outside the input holding the input zero point (so that
 * bias + input_offset * sum(w) is exact for every pixel). */
static void gather_field(const edgec_view *in, const edgec_conv_params *p, int32_t oy, int32_t ox, int8_t *dst)
{
    const int32_t cin = in->c, kh = p->kernel_h, kw = p->kernel_w, dh = p->dilation_h, dw = p->dilation_w;
    const int8_t zero_point = (int8_t)(-p->input_offset);
    const int32_t in_y0 = oy * p->stride_h - p->pad_top, in_x0 = ox * p->stride_w - p->pad_left;
    int32_t ky0, kx0, ky, kx;
    const int32_t ky1 = valid_taps(in_y0, dh, kh, in->h, &ky0);
    const int32_t kx1 = valid_taps(in_x0, dw, kw, in->w, &kx0);
    const int runs = dw == 1 && in->col_stride == cin; /* a kernel row's valid taps are one input run */
    for (ky = 0; ky < kh; ++ky, dst += kw * cin) {
        const int8_t *row;
        if (ky < ky0 || ky >= ky1 || kx1 <= kx0) {
            fill_bytes(dst, zero_point, kw * cin);
            continue;
        }
        row = in->data + (in_y0 + ky * dh) * in->row_stride;
        if (kx0 > 0) {
            fill_bytes(dst, zero_point, kx0 * cin);
        }
        if (runs) {
            copy_bytes(dst + kx0 * cin, row + (in_x0 + kx0) * cin, (kx1 - kx0) * cin);
        } else {
            for (kx = kx0; kx < kx1; ++kx) {
                copy_bytes(dst + kx * cin, row + (in_x0 + kx * dw) * in->col_stride, cin);
            }
        }
        if (kx1 < kw) {
            fill_bytes(dst + kx1 * cin, zero_point, (kw - kx1) * cin);
        }
    }
}

/* The general conv through gathered receptive fields (its own frame: the buffer is big). */
static __attribute__((noinline)) void conv_gathered(const edgec_view *in, edgec_view *out, const int8_t *weights,
                                                    const int32_t *bias, const edgec_conv_params *p, int32_t field)
{
    const int32_t cout = out->c, width = out->w;
    const out_stage o = make_out_stage(p);
    /* Receptive fields of up to `batch` pixels of one output row, gathered once for all output channels. */
    int8_t fields[CONV_FIELD_BYTES] __attribute__((aligned(4)));
    const int32_t batch = CONV_FIELD_BYTES / field;
    const int8_t *rows[CO_BLOCK];
    int32_t wsum[CO_BLOCK];
    int32_t oc, oy, ox0, i;

    for (oy = 0; oy < out->h; ++oy) {
        for (ox0 = 0; ox0 < width; ox0 += batch) {
            const int32_t count = width - ox0 < batch ? width - ox0 : batch;
            for (i = 0; i < count; ++i) {
                gather_field(in, p, oy, ox0 + i, fields + i * field);
            }
            for (oc = 0; oc < cout; oc += CO_BLOCK) {
                const int32_t n = weight_rows(weights, oc, cout, field, rows, wsum);
                const co_block b = load_co_block(bias, p, oc, n, wsum);
                const mve_requant_q q = b.q;
                const int32x4_t base = b.base;
                const mve_pred16_t lanes = b.lanes;
                int8_t *dst = pixel(out, oy, ox0) + oc;
                for (i = 0; i < count; ++i, dst += out->col_stride) {
                    int32_t acc[CO_BLOCK] = {0, 0, 0, 0};
                    dot4(fields + i * field, rows, field, acc);
                    store_block(dst, acc, base, q, lanes, o);
                }
            }
        }
    }
}

/* Kernel row ky of the field of the output pixel whose taps start at input (iy, ix0): its kw * cin bytes
 * in the first lanes (the zero point for taps outside the input), zeros after them. */
static inline int8x16_t field_row(const edgec_view *in, int32_t iy, int32_t ix0, int32_t kw, int8_t zero_point,
                                  mve_pred16_t row_lanes)
{
    const int32_t cin = in->c;
    int8_t bytes[16] __attribute__((aligned(4)));
    int32_t kx0, kx1;
    if (iy < 0 || iy >= in->h) {
        return vdupq_m_n_s8(vdupq_n_s8(0), zero_point, row_lanes);
    }
    kx1 = valid_taps(ix0, 1, kw, in->w, &kx0);
    if (kx0 == 0 && kx1 == kw) {
        return vldrbq_z_s8(in->data + iy * in->row_stride + ix0 * cin, row_lanes);
    }
    vstrbq_s8(bytes, vdupq_m_n_s8(vdupq_n_s8(0), zero_point, row_lanes));
    if (kx1 > kx0) {
        const mve_pred16_t valid = vctp8q((uint32_t)((kx1 - kx0) * cin));
        vstrbq_p_s8(bytes + kx0 * cin, vldrbq_z_s8(in->data + iy * in->row_stride + (ix0 + kx0) * cin, valid), valid);
    }
    return vldrbq_s8(bytes);
}

/* The dot products of a packed field (NV vectors) with four output channels' packed weights, in
 * paired_lanes' lane order. */
static inline __attribute__((always_inline)) int32x4_t field_dots(const int8x16_t *f, const int8x16_t (*w)[SHORT_ROWS],
                                                                  const int NV)
{
    int32_t acc[CO_BLOCK];
    int c, v;
#pragma GCC unroll 4
    for (c = 0; c < CO_BLOCK; ++c) {
        acc[c] = vmladavq_s8(f[0], w[c][0]);
#pragma GCC unroll 2
        for (v = 1; v < NV; ++v) {
            acc[c] = vmladavaq_s8(acc[c], f[v], w[c][v]);
        }
    }
    return paired_lanes(acc[0], acc[1], acc[2], acc[3]);
}

/* Every output pixel of conv_short_rows with its field packed into NV vectors. */
static inline __attribute__((always_inline)) void short_rows_pixels(const edgec_view *in, edgec_view *out,
                                                                    const edgec_conv_params *p,
                                                                    const int8x16_t (*rows)[SHORT_ROWS],
                                                                    const co_block *stage, int32_t blocks,
                                                                    const out_stage *o, const int NV)
{
    const int32_t kw = p->kernel_w, cin = in->c, row = kw * cin, dy = p->dilation_h;
    const int32_t in_h = in->h, in_w = in->w, in_row = in->row_stride;
    const mve_pred16_t row_lanes = vctp8q((uint32_t)row);
    const int8_t zero_point = (int8_t)(-p->input_offset);
    const uint32x4_t slots = vreinterpretq_u32_s32(paired_lanes(0, 1, 2, 3));
    /* The field of one pixel, its kernel rows back to back; zeros after them (their weights are 0). */
    int8_t packed[SHORT_ROWS * 16] __attribute__((aligned(4)));
    int32_t oy, ox, b, v;
    for (v = 0; v < SHORT_ROWS; ++v) {
        vstrbq_s8(packed + 16 * v, vdupq_n_s8(0));
    }
    for (oy = 0; oy < out->h; ++oy) {
        const int32_t iy0 = oy * p->stride_h - p->pad_top;
        for (ox = 0; ox < out->w; ++ox) {
            const int32_t ix0 = ox * p->stride_w - p->pad_left;
            int8x16_t f[SHORT_ROWS];
            int8_t *dst = pixel(out, oy, ox);
            if (iy0 >= 0 && iy0 + 2 * dy < in_h && ix0 >= 0 && ix0 + kw <= in_w) {
                /* Every tap inside the input (most pixels): the three rows as they are. */
                const int8_t *src = in->data + iy0 * in_row + ix0 * cin;
                vstrbq_p_s8(packed, vldrbq_z_s8(src, row_lanes), row_lanes);
                vstrbq_p_s8(packed + row, vldrbq_z_s8(src + dy * in_row, row_lanes), row_lanes);
                vstrbq_p_s8(packed + 2 * row, vldrbq_z_s8(src + 2 * dy * in_row, row_lanes), row_lanes);
            } else {
                vstrbq_p_s8(packed, field_row(in, iy0, ix0, kw, zero_point, row_lanes), row_lanes);
                vstrbq_p_s8(packed + row, field_row(in, iy0 + dy, ix0, kw, zero_point, row_lanes), row_lanes);
                vstrbq_p_s8(packed + 2 * row, field_row(in, iy0 + 2 * dy, ix0, kw, zero_point, row_lanes),
                            row_lanes);
            }
#pragma GCC unroll 3
            for (v = 0; v < NV; ++v) {
                f[v] = vldrbq_s8(packed + 16 * v);
            }
            for (b = 0; b < blocks; ++b, dst += CO_BLOCK) {
                const int32x4_t acc = field_dots(f, rows + b * CO_BLOCK, NV);
                const int32x4_t r = mve_requant_clamp(vaddq_s32(acc, stage[b].base), stage[b].q, o->offset, o->lo, o->hi);
                vstrbq_scatter_offset_p_s32(dst, slots, r, stage[b].lanes);
            }
        }
    }
}

/* Convs with three kernel rows of at most 16 bytes each (a first layer: 3x3 kernel, 3 input channels):
 * each kernel row of an output pixel's field is one predicated load (zeros past its kw * cin bytes),
 * the three are packed back to back into ceil(3 * kw * cin / 16) vectors (two for 27 bytes), and each
 * output channel is that many VMLADAV.S8 against its field's weights (contiguous in the [Co][KH][KW][Ci]
 * layout), zero-padded to whole vectors on the stack once per call, as are the requantization
 * constants of every block of four channels. */
static __attribute__((noinline)) void conv_short_rows(const edgec_view *in, edgec_view *out, const int8_t *weights,
                                                      const int32_t *bias, const edgec_conv_params *p)
{
    const int32_t cout = out->c, blocks = (cout + CO_BLOCK - 1) / CO_BLOCK, kw = p->kernel_w;
    const int32_t row = kw * in->c, field = SHORT_ROWS * row;
    const out_stage o = make_out_stage(p);
    int8x16_t rows[SHORT_ROWS_COUT][SHORT_ROWS];
    co_block stage[SHORT_ROWS_COUT / CO_BLOCK];
    int32_t wsum[SHORT_ROWS_COUT];
    const uint32x4_t slots = vreinterpretq_u32_s32(paired_lanes(0, 1, 2, 3));
    int32_t oc, b, v;

    for (oc = 0; oc < blocks * CO_BLOCK; ++oc) {
        const int8_t *w = weights + (oc < cout ? oc : cout - 1) * field;
        for (v = 0; v < SHORT_ROWS; ++v) {
            rows[oc][v] = field > 16 * v ? vldrbq_z_s8(w + 16 * v, vctp8q((uint32_t)(field - 16 * v))) : vdupq_n_s8(0);
        }
        wsum[oc] = sum_s8(w, field);
    }
    for (b = 0; b < blocks; ++b) {
        const int32_t n = cout - b * CO_BLOCK < CO_BLOCK ? cout - b * CO_BLOCK : CO_BLOCK;
        co_block k = load_co_block(bias, p, b * CO_BLOCK, n, wsum + b * CO_BLOCK);
        /* In the lane order of paired_lanes, like the dot products. */
        k.q.mult = in_pair_order(k.q.mult);
        k.q.left = in_pair_order(k.q.left);
        k.q.right_neg = in_pair_order(k.q.right_neg);
        k.q.shifting = in_pair_order(k.q.shifting);
        k.base = in_pair_order(k.base);
        k.lanes = vcmphiq_u32(vdupq_n_u32((uint32_t)n), slots);
        stage[b] = k;
    }
    if (field <= 32) {
        short_rows_pixels(in, out, p, (const int8x16_t(*)[SHORT_ROWS])rows, stage, blocks, &o, 2);
    } else {
        short_rows_pixels(in, out, p, (const int8x16_t(*)[SHORT_ROWS])rows, stage, blocks, &o, 3);
    }
}

void edgec_conv2d_mve(const edgec_view *in, edgec_view *out, const int8_t *weights, const int32_t *bias,
                      const edgec_conv_params *p)
{
    const int32_t field = p->kernel_h * p->kernel_w * in->c;
    if (p->kernel_h == 1 && p->kernel_w == 1 && p->pad_top == 0 && p->pad_left == 0 && p->groups <= 1 &&
        (out->h - 1) * p->stride_h < in->h && (out->w - 1) * p->stride_w < in->w) {
        conv1x1(in, out, weights, bias, p, p->stride_h, p->stride_w); /* every tap inside the input */
    } else if (p->groups > 1 || field <= 0 || field > CONV_FIELD_BYTES) {
        edgec_conv2d(in, out, weights, bias, p);
    } else if (field <= 32 && edgec_conv_first_mve(in, out, weights, bias, p)) {
        return; /* conv_first_mve.c */
    } else if (p->kernel_h == SHORT_ROWS && p->kernel_w * in->c <= 16 && p->dilation_w == 1 &&
               in->col_stride == in->c && out->c <= SHORT_ROWS_COUT) {
        conv_short_rows(in, out, weights, bias, p);
    } else {
        conv_gathered(in, out, weights, bias, p, field);
    }
}

#else

typedef int edgec_conv_mve_needs_mve; /* ISO C: a translation unit needs a declaration */

#endif
