/*
 * The first conv of a network on an RGB image, in Helium (MVE) for Cortex-M55: a receptive field of
 * at most 32 bytes (3x3 on 3 channels: 27), whole blocks of four output channels, right shifts only.
 * Same arguments and results, bit for bit, as edgec_conv2d; edgec_conv_first_mve returns 0 (having
 * done nothing) for the shapes it does not take, and conv_mve.c runs its other paths for them.
 *
 * The input columns a row segment of output pixels reads are first transposed into a stack buffer,
 * column by column, each column holding its KH kernel rows' pixels back to back (the input zero
 * point for taps outside the input): byte (kx, ky, ci) of a field is then column kx's byte ky * Ci +
 * ci, and the field of every output pixel, borders included, is one contiguous run of
 * KW * KH * Ci bytes, two vector loads.  The weights are reordered to that (kx, ky, ci) order and
 * zero-padded to 32 bytes per channel once per call (the bytes past a field multiply zeros), together
 * with the per-block constants (bias + input_offset * sum(w), multipliers, shifts).
 *
 * Output pixels go in pairs (first_pairs, inline assembly): per block of four channels the pair
 * shares the eight weight loads and the four constant loads; the sixteen VMLADAV.S8 dot products
 * go into the lanes of one vector per pixel two per VMOV, and each pixel's four channels are
 * requantized together (mve_requant.h with right shifts only: VQRDMULH, the step down of negative
 * values, VRSHL), offset, clamped and stored with one narrowing VSTRB.32.
 */
#include "edgec_kernels.h"

#if defined(__ARM_FEATURE_MVE) && (__ARM_FEATURE_MVE & 1)

#include <arm_mve.h>

#include "kernels_internal.h"

#define FIRST_FIELD 32           /* bytes of a field: two vectors */
#define FIRST_MAX_COUT 32        /* output channels the plan holds */
#define FIRST_COLUMNS_BYTES 1536 /* the transposed input columns of one row segment */

/* The plan of a call (first_plan), read in order by first_pairs: a head of 32 bytes (the block count
 * and the lower clamp bound), per block of four channels its four weight rows (in the slots whose dot
 * products land in the channels' lanes, slot_of_lane) and four vectors of constants, then the plan's
 * size, by which first_pairs steps back to its start. */
#define PLAN_HEAD 32
#define PLAN_BLOCK (4 * FIRST_FIELD + 4 * 16)
#define PLAN_BYTES (PLAN_HEAD + PLAN_BLOCK * (FIRST_MAX_COUT / 4) + 16)

/* The gather offsets that reorder a channel's weights to the columns' (kx, ky, ci) order: byte j of a
 * field in that order is byte order[j] of the weights' (ky, kx, ci) (0 past the field). */
static void field_order(uint8_t order[FIRST_FIELD], int32_t kh, int32_t kw, int32_t cin)
{
    const mve_pred16_t pixel_lanes = vctp8q((uint32_t)cin);
    int32_t kx, ky, j = 0;
    vst1q_u8(order, vdupq_n_u8(0));
    vst1q_u8(order + 16, vdupq_n_u8(0));
    for (kx = 0; kx < kw; ++kx) {
        for (ky = 0; ky < kh; ++ky, j += cin) {
            vstrbq_p_u8(order + j, vidupq_n_u8((uint32_t)((ky * kw + kx) * cin), 1), pixel_lanes);
        }
    }
}

/* The slot of the plan's weight rows whose dot products each lane of first_pairs' accumulators
 * receives: its VMOVs on the slot numbers (dots of slots 0 and 1, then of 2 and 3, into lanes 0 and 2,
 * then 1 and 3; which lane of a pair gets which register is read here, not assumed). */
static void slot_of_lane(int32_t slots[4])
{
    int32x4_t v;
    __asm__("vmov %q0[2], %q0[0], %2, %1\n\tvmov %q0[3], %q0[1], %4, %3" : "=&w"(v) : "r"(0), "r"(1), "r"(2), "r"(3));
    vst1q_s32(slots, v);
}

/* The plan of this call's weights and constants (see PLAN_HEAD); 0 when a shift is not below 0 (the
 * plan is then unfinished), else 1. */
static int first_plan(int32_t *plan, const int8_t *weights, const int32_t *bias, const edgec_conv_params *p,
                      int32_t cin, int32_t cout)
{
    const int32_t field = p->kernel_h * p->kernel_w * cin, blocks = cout / 4;
    /* Lanes past the field gather byte 0 of the channel (order is 0 there) and are masked to zeros. */
    const int8x16_t lo_mask = vdupq_m_n_s8(vdupq_n_s8(0), -1, vctp8q((uint32_t)field));
    const int8x16_t hi_mask = vdupq_m_n_s8(vdupq_n_s8(0), -1, vctp8q((uint32_t)(field > 16 ? field - 16 : 0)));
    const int32x4_t hi_bound = vdupq_n_s32(p->act_max);
    uint8_t order[FIRST_FIELD] __attribute__((aligned(4)));
    int32_t sums[4] __attribute__((aligned(8))), slots[4] __attribute__((aligned(8)));
    int32_t top_shift = -1, b, k;
    uint8x16_t order_lo, order_hi;

    slot_of_lane(slots);
    field_order(order, p->kernel_h, p->kernel_w, cin);
    order_lo = vld1q_u8(order);
    order_hi = vld1q_u8(order + 16);
    plan[0] = blocks;
    vst1q_s32(plan + 4, vdupq_n_s32(p->act_min));
    for (b = 0; b < blocks; ++b) {
        int8_t *rows = (int8_t *)plan + PLAN_HEAD + b * PLAN_BLOCK;
        int32_t *k4 = (int32_t *)(rows + 4 * FIRST_FIELD);
        const int32x4_t shift = vld1q_s32(p->out_shift + 4 * b);
        int32x4_t base;
        for (k = 0; k < 4; ++k) {
            const int8_t *w = weights + (4 * b + k) * field;
            int8_t *row = rows + slots[k] * FIRST_FIELD;
            const int8x16_t lo = vandq_s8(vldrbq_gather_offset_s8(w, order_lo), lo_mask);
            const int8x16_t hi = vandq_s8(vldrbq_gather_offset_s8(w, order_hi), hi_mask);
            vst1q_s8(row, lo);
            vst1q_s8(row + 16, hi);
            sums[k] = vaddvaq_s8(vaddvq_s8(lo), hi);
        }
        base = vmulq_n_s32(vld1q_s32(sums), p->input_offset);
        if (bias) {
            base = vaddq_s32(base, vld1q_s32(bias + 4 * b));
        }
        vst1q_s32(k4, base);
        vst1q_s32(k4 + 4, vld1q_s32(p->out_mult + 4 * b));
        vst1q_s32(k4 + 8, shift);
        vst1q_s32(k4 + 12, hi_bound);
        top_shift = vmaxvq_s32(top_shift, shift);
    }
    plan[(PLAN_HEAD + blocks * PLAN_BLOCK) / 4] = PLAN_HEAD + blocks * PLAN_BLOCK;
    return top_shift < 0;
}

/* `pairs` pairs of output pixels whose fields start at src, src + step, src + 2 * step, ...: the first
 * of each pair to d0, the second to d1, the next pair's to d1 + cout and d1 + 2 * cout (dense output
 * pixels; the single pixel of a row's odd end goes with step 0 and d1 a scratch buffer).  q0-q3 hold
 * the two fields, q4 each weight row and constant in turn, q5 and q6 the two pixels' accumulators,
 * q7 the lower clamp bound; the dot products go through r0, r2, r8 and r10 (VMLADAV writes even
 * registers), and VSTRB.32 takes low base registers. */
static __attribute__((noinline)) void first_pairs(const int8_t *src, int32_t step, int32_t pairs, const int32_t *plan,
                                                  int8_t *d0, int8_t *d1, int32_t offset)
{
    const int32_t *w = plan;
    __asm__ volatile(
        "vldrw.32 q7, [%[w], #16]\n"
        "2:\n\t"
        "ldr lr, [%[w]], #32\n\t" /* the block count */
        "vldrb.8 q0, [%[src]]\n\t"
        "vldrb.8 q1, [%[src], #16]\n\t"
        "add %[src], %[src], %[step]\n\t"
        "vldrb.8 q2, [%[src]]\n\t"
        "vldrb.8 q3, [%[src], #16]\n\t"
        "add %[src], %[src], %[step]\n\t"
        "dls lr, lr\n"
        "1:\n\t"
        "vldrb.8 q4, [%[w]], #16\n\t" /* slot 0 */
        "vmladav.s8 r0, q0, q4\n\t"
        "vmladav.s8 r2, q2, q4\n\t"
        "vldrb.8 q4, [%[w]], #16\n\t"
        "vmladava.s8 r0, q1, q4\n\t"
        "vmladava.s8 r2, q3, q4\n\t"
        "vldrb.8 q4, [%[w]], #16\n\t" /* slot 1 */
        "vmladav.s8 r8, q0, q4\n\t"
        "vmladav.s8 r10, q2, q4\n\t"
        "vldrb.8 q4, [%[w]], #16\n\t"
        "vmladava.s8 r8, q1, q4\n\t"
        "vmladava.s8 r10, q3, q4\n\t"
        "vmov q5[2], q5[0], r8, r0\n\t"
        "vmov q6[2], q6[0], r10, r2\n\t"
        "vldrb.8 q4, [%[w]], #16\n\t" /* slot 2 */
        "vmladav.s8 r0, q0, q4\n\t"
        "vmladav.s8 r2, q2, q4\n\t"
        "vldrb.8 q4, [%[w]], #16\n\t"
        "vmladava.s8 r0, q1, q4\n\t"
        "vmladava.s8 r2, q3, q4\n\t"
        "vldrb.8 q4, [%[w]], #16\n\t" /* slot 3 */
        "vmladav.s8 r8, q0, q4\n\t"
        "vmladav.s8 r10, q2, q4\n\t"
        "vldrb.8 q4, [%[w]], #16\n\t"
        "vmladava.s8 r8, q1, q4\n\t"
        "vmladava.s8 r10, q3, q4\n\t"
        "vmov q5[3], q5[1], r8, r0\n\t"
        "vmov q6[3], q6[1], r10, r2\n\t"
        "vldrw.32 q4, [%[w]], #16\n\t" /* bias + input_offset * sum(w) */
        "vadd.i32 q5, q5, q4\n\t"
        "vadd.i32 q6, q6, q4\n\t"
        "vldrw.32 q4, [%[w]], #16\n\t" /* multipliers */
        "vqrdmulh.s32 q5, q5, q4\n\t"
        "vqrdmulh.s32 q6, q6, q4\n\t"
        "vshr.s32 q4, q5, #31\n\t" /* negative values step down by one (saturating) */
        "vqadd.s32 q5, q5, q4\n\t"
        "vshr.s32 q4, q6, #31\n\t"
        "vqadd.s32 q6, q6, q4\n\t"
        "vldrw.32 q4, [%[w]], #16\n\t" /* shifts */
        "vrshl.s32 q5, q5, q4\n\t"
        "vrshl.s32 q6, q6, q4\n\t"
        "vadd.i32 q5, q5, %[off]\n\t"
        "vadd.i32 q6, q6, %[off]\n\t"
        "vmax.s32 q5, q5, q7\n\t"
        "vmax.s32 q6, q6, q7\n\t"
        "vldrw.32 q4, [%[w]], #16\n\t" /* the upper clamp bound */
        "vmin.s32 q5, q5, q4\n\t"
        "vmin.s32 q6, q6, q4\n\t"
        "vstrb.32 q5, [%[d0]], #4\n\t"
        "vstrb.32 q6, [%[d1]], #4\n\t"
        "le lr, 1b\n\t"
        "ldr r0, [%[w]]\n\t" /* back to the plan's start */
        "sub %[w], %[w], r0\n\t"
        "sub r0, %[d1], %[d0]\n\t" /* the next pair */
        "mov %[d0], %[d1]\n\t"
        "add %[d1], %[d1], r0\n\t"
        "subs %[n], %[n], #1\n\t"
        "bne 2b"
        : [src] "+&r"(src), [w] "+&r"(w), [d0] "+&l"(d0), [d1] "+&l"(d1), [n] "+&r"(pairs)
        : [step] "r"(step), [off] "r"(offset)
        : "r0", "r2", "r8", "r10", "lr", "d0", "d1", "d2", "d3", "d4", "d5", "d6", "d7", "d8", "d9", "d10", "d11",
          "d12", "d13", "d14", "d15", "memory", "cc");
}

/* The scatter offsets of first_columns: byte l of a run of input pixels (Ci bytes each) to column
 * l / Ci of the transposed layout, at (l / Ci) * KH * Ci + l % Ci (below 256 for KH <= 16). */
static uint8x16_t column_offsets(int32_t cin, int32_t kh)
{
    uint8_t offsets[16] __attribute__((aligned(4)));
    int32_t l;
    for (l = 0; l < 16; l += cin) {
        vstrbq_p_u8(offsets + l, vidupq_n_u8((uint32_t)(l * kh), 1), vctp8q((uint32_t)(16 - l < cin ? 16 - l : cin)));
    }
    return vld1q_u8(offsets);
}

/* Input columns ix0 .. ix0 + ncols - 1 of the kernel rows iy0 + ky * dilation_h, transposed into cols:
 * column j's kernel row ky at cols + (j * KH + ky) * Ci (the zero point outside the input).  One
 * scatter moves 16 bytes of a kernel row (16 / Ci columns and, for a Ci that does not divide 16, the
 * first bytes of the next, which the next scatter moves again); rows outside the input get the zero
 * point in every column and up to 15 columns past the last. */
static void first_columns(int8_t *cols, const edgec_view *in, const edgec_conv_params *p, uint8x16_t off, int32_t iy0,
                          int32_t ix0, int32_t ncols)
{
    const int32_t cin = in->c, kh = p->kernel_h, col = kh * cin, per = 16 / cin;
    const int32_t left = ix0 < 0 ? (-ix0 < ncols ? -ix0 : ncols) : 0;
    const int32_t right = in->w - ix0 < left ? left : (in->w - ix0 < ncols ? in->w - ix0 : ncols);
    const int8x16_t zero_point = vdupq_n_s8((int8_t)(-p->input_offset));
    const mve_pred16_t pixel_lanes = vctp8q((uint32_t)cin);
    int32_t j, ky;

    for (ky = 0; ky < kh; ++ky) {
        const int32_t iy = iy0 + ky * p->dilation_h;
        int8_t *dst = cols + ky * cin;
        const int8_t *src;
        if (iy < 0 || iy >= in->h) {
            for (j = 0; j < ncols; j += per) {
                vstrbq_scatter_offset_s8(dst + j * col, off, zero_point);
            }
            continue;
        }
        src = in->data + iy * in->row_stride + ix0 * cin;
        for (j = 0; j < left; ++j) {
            vstrbq_p_s8(dst + j * col, zero_point, pixel_lanes);
        }
        {
            /* Whole vectors while all 16 bytes lie in valid columns. */
            const int32_t bytes = (right - left) * cin, whole = bytes < 16 ? 0 : (bytes - 16) / (per * cin) + 1;
            const int8_t *s = src + left * cin;
            int8_t *d = dst + left * col;
            int32_t i;
            for (i = whole; i > 0; --i, s += per * cin, d += per * col) {
                vstrbq_scatter_offset_s8(d, off, vld1q_s8(s));
            }
            j = left + whole * per;
        }
        if (j < right) {
            const mve_pred16_t last = vctp8q((uint32_t)((right - j) * cin));
            vstrbq_scatter_offset_p_s8(dst + j * col, off, vldrbq_z_s8(src + j * cin, last), last);
        }
        for (j = right; j < ncols; ++j) {
            vstrbq_p_s8(dst + j * col, zero_point, pixel_lanes);
        }
    }
}

int edgec_conv_first_mve(const edgec_view *in, edgec_view *out, const int8_t *weights, const int32_t *bias,
                         const edgec_conv_params *p)
{
    const int32_t cin = in->c, cout = out->c, kh = p->kernel_h, kw = p->kernel_w, sw = p->stride_w;
    const int32_t col = kh * cin, step = sw * col;
    int32_t plan[PLAN_BYTES / 4] __attribute__((aligned(16)));
    int8_t cols[FIRST_COLUMNS_BYTES] __attribute__((aligned(16)));
    int8_t scratch[FIRST_MAX_COUT] __attribute__((aligned(4)));
    int32_t segment, oy, ox0;
    uint8x16_t off;

    if (p->groups > 1 || cin > 16 || kh < 1 || kh > 16 || kw < 1 || kh * kw * cin > FIRST_FIELD || p->dilation_w != 1 ||
        in->col_stride != cin || out->col_stride != cout || cout % 4 != 0 || cout < 4 || cout > FIRST_MAX_COUT ||
        !first_plan(plan, weights, bias, p, cin, cout)) {
        return 0;
    }
    /* Output pixels per segment: their columns fit the buffer with 256 bytes to spare, for the last
     * field's overread (under 32 bytes) and the columns past the last that a scatter of zero points
     * fills (15 / Ci columns of KH * Ci bytes, at most 240). */
    segment = ((FIRST_COLUMNS_BYTES - 256) / col - kw) / sw + 1;
    off = column_offsets(cin, kh);
    for (oy = 0; oy < out->h; ++oy) {
        const int32_t iy0 = oy * p->stride_h - p->pad_top;
        for (ox0 = 0; ox0 < out->w; ox0 += segment) {
            const int32_t n = out->w - ox0 < segment ? out->w - ox0 : segment;
            int8_t *dst = out->data + oy * out->row_stride + ox0 * cout;
            first_columns(cols, in, p, off, iy0, ox0 * sw - p->pad_left, (n - 1) * sw + kw);
            if (n >= 2) {
                first_pairs(cols, step, n / 2, plan, dst, dst + cout, p->output_offset);
            }
            if (n % 2) {
                first_pairs(cols + (n - 1) * step, 0, 1, plan, dst + (n - 1) * cout, scratch, p->output_offset);
            }
        }
    }
    return 1;
}

#else

typedef int edgec_conv_first_mve_needs_mve; /* ISO C: a translation unit needs a declaration */

#endif
