/* In-place depthwise conv2d, one channel at a time through a ring of padded
 * rows (TinyEngine-style).  Same arithmetic as edgec_depthwise_conv2d
 * (reference_integer_ops::DepthwiseConvPerChannel): every accumulator starts
 * at the bias and adds w * (x + input_offset) over the taps in (ky, kx) order;
 * padding taps read the input zero point (-input_offset) and so add exactly
 * 0, leaving every partial sum equal to the out-of-place kernel's.
 *
 * Scratch: R = (KH - 1) * dilation_h + 1 rows of the zero-point-padded input
 * plane of one channel, pw = pad_left + W + pad_right bytes each.  Padded row
 * r (input row iy = r - pad_top; all zero point outside [0, H)) lives in ring
 * slot r mod R.  Output row oy taps padded rows oy * sh + k * dh, k < KH, all
 * inside the window [oy * sh, oy * sh + R): R consecutive rows, so distinct
 * slots.
 *
 * Ring correctness.  Each tapped row is copied into its slot at its first use
 * (the first output row that taps it), before that output row is computed.
 * Suppose row r, copied at output row oy1, is tapped again at oy > oy1, and
 * some row r' != r with r' = r (mod R) was copied in between, at oy2 with
 * oy1 <= oy2 <= oy.  Then r' lies in window(oy2); r lies in window(oy1) and
 * window(oy), and since the windows' ends grow with oy, also in window(oy2).
 * Two distinct rows of one window cannot share a slot: contradiction.  So the
 * ring holds every row an output row taps.
 *
 * First use.  Row r is tapped at oy by tap k iff r = oy * sh + k * dh; it was
 * tapped at an earlier row oy - d (d >= 1) by a tap k' > k iff
 * k * dh + d * sh = k' * dh <= (KH - 1) * dh.  The d with d * sh = 0 (mod dh)
 * are the multiples of period = dh / gcd(sh, dh), and both bounds grow with
 * d, so (oy, k) is the first use of its row iff
 *     oy < period  or  k * dh + period * sh > (KH - 1) * dh.
 *
 * No input row is overwritten before it is copied (the planner's condition,
 * edgec.schedule.arena._depthwise_inplace_ok).  Channel c writes only the
 * buffer's channel-c slots (output (p, c) at p * C + c), so channels > c are
 * intact when channel c starts; within channel c, element index p = oy * OW +
 * ox.  When output row oy0 starts, channel c has written outputs p < oy0 * OW
 * only.  A row iy first used at oy0 occupies p in [iy * W, iy * W + W), so it
 * is still intact when copied iff iy * W >= oy0 * OW.  The caller guarantees
 * this for every in-range input row at its first use.  It always holds with
 * dilation 1, pad_top <= KH - 1 and OW <= W, for any stride: then
 * oy0 = max(0, ceil((iy + pad_top - KH + 1) / sh)) <= iy. */
#include <string.h>

#include "arm_dsp.h"
#include "kernels_internal.h"
#include "requant_fast.h"

/* The DSP rows (edgec_depthwise_conv2d_inplace_dsp): kernel width 3 or 7
 * (KW = 4G - 1), stride and dilation 1 along the row.  Two neighbouring
 * outputs share G 4-byte loads per kernel row: with x0..x3 the padded input
 * bytes at ox + 4g, SXTAB16 gives (x0 + off, x2 + off) and, rotated,
 * (x1 + off, x3 + off); with w_k the row's weights (0 outside [0, KW)),
 *     out[ox]     += (x0, x2) . (w_4g, w_4g+2)   + (x1, x3) . (w_4g+1, w_4g+3)
 *     out[ox + 1] += (x0, x2) . (w_4g-1, w_4g+1) + (x1, x3) . (w_4g, w_4g+2)
 * four SMLADs per load.  The loads stay inside the padded row:
 * ox + 4G - 1 <= out_w + KW - 2 < pad_left + in_w + pad_right. */
#define DWIP_DSP_MAX_KH 16
#define DWIP_DSP_MAX_GROUPS 2

typedef struct {
    int32_t even, odd, shifted; /* (w_4g, w_4g+2), (w_4g+1, w_4g+3), (w_4g-1, w_4g+1) */
} dwip_group_weights;

static int32_t dwip_pair(const int8_t *wk, int32_t kw, int32_t channels, int32_t k0, int32_t k1)
{
    const uint32_t lo = k0 >= 0 && k0 < kw ? (uint16_t)(int16_t)wk[k0 * channels] : 0u;
    const uint32_t hi = k1 >= 0 && k1 < kw ? (uint16_t)(int16_t)wk[k1 * channels] : 0u;
    return (int32_t)(lo | (hi << 16));
}

static void dwip_dsp_weights(const int8_t *wc, int32_t kh, int32_t kw, int32_t channels, dwip_group_weights *gw)
{
    const int32_t groups = (kw + 1) / 4;
    int32_t ky, g;
    for (ky = 0; ky < kh; ++ky) {
        const int8_t *wk = wc + ky * kw * channels;
        for (g = 0; g < groups; ++g) {
            dwip_group_weights *t = &gw[ky * DWIP_DSP_MAX_GROUPS + g];
            t->even = dwip_pair(wk, kw, channels, 4 * g, 4 * g + 2);
            t->odd = dwip_pair(wk, kw, channels, 4 * g + 1, 4 * g + 3);
            t->shifted = dwip_pair(wk, kw, channels, 4 * g - 1, 4 * g + 1);
        }
    }
}

/* The requantization of a layer, in locals: the int8 output stores may alias the parameter struct. */
typedef struct {
    int32_t fast, output_offset, act_min, act_max;
} dwip_out;

static inline int8_t dwip_requant(int32_t acc, int32_t mult, int32_t shift, dwip_out o)
{
    if (o.fast) {
        return rq_fast_clamp(acc, mult, shift, o.output_offset, o.act_min, o.act_max);
    }
    return requantize_and_clamp(acc, mult, shift, o.output_offset, o.act_min, o.act_max);
}

/* One kernel row's taps for two neighbouring outputs: *a gets those of the output at px, *b those
 * of the next one (the same weights one input to the right: t->shifted). */
#ifdef __GNUC__
__attribute__((always_inline))
#endif
static inline void dwip_kernel_row(const int8_t *px, const dwip_group_weights *t, int32_t groups, int32_t off2,
                                   int32_t *a, int32_t *b)
{
    int32_t g;
    for (g = 0; g < groups; ++g, px += 4, ++t) {
        const int32_t x = dsp_read_quad(px);
        const int32_t x02 = dsp_sxtab16(off2, x), x13 = dsp_sxtab16_ror8(off2, x);
        *a = dsp_smlad(x02, t->even, *a);
        *a = dsp_smlad(x13, t->odd, *a);
        *b = dsp_smlad(x02, t->shifted, *b);
        *b = dsp_smlad(x13, t->even, *b);
    }
}

/* One output row of one channel, two outputs per step; returns the outputs written.  Inlined with
 * groups a constant (1 for 3-wide kernels, 2 for 7-wide), so the group loop unrolls. */
#ifdef __GNUC__
__attribute__((always_inline))
#endif
static inline int32_t dwip_dsp_row(const int8_t *scratch, int32_t slot0, int32_t row_w, int32_t ring_rows, int32_t kh,
                            int32_t dh, int32_t groups, int32_t out_w, int32_t channels, int32_t acc0, int32_t mult,
                            int32_t shift, int32_t off2, const dwip_group_weights *gw, dwip_out o, int8_t *po)
{
    int32_t ox, ky;
    for (ox = 0; ox + 2 <= out_w; ox += 2) {
        int32_t a = acc0, b = acc0, slot = slot0;
        for (ky = 0; ky < kh; ++ky) {
            dwip_kernel_row(scratch + slot * row_w + ox, gw + ky * DWIP_DSP_MAX_GROUPS, groups, off2, &a, &b);
            slot += dh;
            if (slot >= ring_rows) {
                slot -= ring_rows;
            }
        }
        po[0] = dwip_requant(a, mult, shift, o);
        po[channels] = dwip_requant(b, mult, shift, o);
        po += 2 * channels;
    }
    return ox;
}

/* dwip_dsp_row for fast_requant 2 (every shift negative, rq_fast_right_mla exact): the kernel
 * rows' ring slots come as pointers (rowp[ky], computed once per output row), the requantization
 * constants (right = -shift, rounding with the output offset) once per channel.  Inlined with kh
 * and groups constants for the 3x3 and 7x7 kernels, so the tap loops unroll. */
#ifdef __GNUC__
__attribute__((always_inline))
#endif
static inline int32_t dwip_fast_row(const int8_t *const *rowp, int32_t kh, int32_t groups, int32_t out_w,
                                    int32_t channels, int32_t acc0, int32_t mult, int32_t right, int32_t rounding,
                                    int32_t off2, const dwip_group_weights *gw, int32_t act_min, int32_t act_max,
                                    int8_t *po)
{
    int32_t ox, ky;
    for (ox = 0; ox + 2 <= out_w; ox += 2) {
        int32_t a = acc0, b = acc0;
#if defined(__GNUC__) && !defined(__clang__) && defined(__arm__) /* host builds: 5x faster to compile */
#pragma GCC unroll 16
#endif
        for (ky = 0; ky < kh; ++ky) {
            dwip_kernel_row(rowp[ky] + ox, gw + ky * DWIP_DSP_MAX_GROUPS, groups, off2, &a, &b);
        }
        a = rq_fast_right_mla(a, mult, right, rounding);
        b = rq_fast_right_mla(b, mult, right, rounding);
        a = a < act_min ? act_min : a;
        b = b < act_min ? act_min : b;
        po[0] = (int8_t)(a > act_max ? act_max : a);
        po[channels] = (int8_t)(b > act_max ? act_max : b);
        po += 2 * channels;
    }
    return ox;
}

/* ---- Square 3x3 and 7x7 rows with the fast epilogue (fast_requant 2) -------------------------
 *
 * The requantization constants of a channel and the layer's clamp, for dwip_square_rows. */
typedef struct {
    int32_t acc0, mult, right, rounding, act_min, act_max, channels;
} dwip_rq;

/* Weight word `off` (bytes) of the channel's gw table, kept in program order: GCC would otherwise
 * load all of a 7x7 kernel's 42 words once per row and spill them. */
#if EDGEC_DSP_NATIVE
#define DWIP_GW(gw) "m"(*(const int32_t(*)[DWIP_DSP_MAX_KH * DWIP_DSP_MAX_GROUPS * 3])(gw))
#define DWIP_LDRD(gw, off, lo, hi) __asm__ volatile("ldrd %0, %1, [%2, %3]" : "=r"(lo), "=r"(hi) : "r"(gw), "n"(off), DWIP_GW(gw))
#define DWIP_LDR(gw, off, v) __asm__ volatile("ldr %0, [%1, %2]" : "=r"(v) : "r"(gw), "n"(off), DWIP_GW(gw))
#else
#define DWIP_LDRD(gw, off, lo, hi) ((lo) = (gw)[(off) / 4], (hi) = (gw)[(off) / 4 + 1])
#define DWIP_LDR(gw, off, v) ((v) = (gw)[(off) / 4])
#endif

/* Kernel row k, group g (inputs ox + 4g .. ox + 4g + 3) of outputs ox (a) and ox + 1 (b):
 * (even, odd, shifted) are words 3 (2k + g) .. of gw (dwip_group_weights). */
#define DWIP_TAPS(k, g)                                                                                                \
    do {                                                                                                               \
        int32_t e_, o_, s_;                                                                                            \
        const int32_t x_ = dsp_read_quad(rowp[k] + ox + 4 * (g));                                                      \
        const int32_t x02_ = dsp_sxtb16(x_), x13_ = dsp_sxtb16_ror8(x_);                                               \
        DWIP_LDRD(gw, 12 * (2 * (k) + (g)), e_, o_);                                                                   \
        a = dsp_smlad(x02_, e_, a);                                                                                    \
        a = dsp_smlad(x13_, o_, a);                                                                                    \
        b = dsp_smlad(x13_, e_, b);                                                                                    \
        DWIP_LDR(gw, 12 * (2 * (k) + (g)) + 8, s_);                                                                    \
        b = dsp_smlad(x02_, s_, b);                                                                                    \
    } while (0)

/* v requantized (rq_fast_right_mla), saturated and clamped to the layer's range (full: it is all
 * of int8, SSAT alone). */
#ifdef __GNUC__
__attribute__((always_inline))
#endif
static inline int8_t dwip_out_fast(int32_t v, const dwip_rq *q, int full)
{
    v = dsp_ssat8(rq_fast_right_mla(v, q->mult, q->right, q->rounding));
    if (!full) {
        v = v < q->act_min ? q->act_min : v;
        v = v > q->act_max ? q->act_max : v;
    }
    return (int8_t)v;
}

/* One output row of one channel for a square kernel of size 3 (k = 3, one group) or 7 (two
 * groups), stride and dilation 1: two outputs per step, written `channels` apart from po; returns
 * the outputs written (out_w rounded down to even).  The inputs are widened with SXTB16 alone:
 * q->acc0 is the bias plus input_offset times the sum of the channel's weights, and the ring's
 * padding holds the input zero point, whose products cancel that part of it exactly. */
#ifdef __GNUC__
__attribute__((always_inline))
#endif
static inline int32_t dwip_square_rows(const int8_t *const *rowp, const int32_t *gw, int32_t out_w, int8_t *po,
                                       const dwip_rq *q, int k, int full)
{
    const int32_t step = q->channels;
    int32_t ox;
    for (ox = 0; ox + 2 <= out_w; ox += 2, po += 2 * step) {
        int32_t a = q->acc0, b = q->acc0;
        DWIP_TAPS(0, 0);
        DWIP_TAPS(1, 0);
        DWIP_TAPS(2, 0);
        if (k == 7) {
            DWIP_TAPS(3, 0);
            DWIP_TAPS(4, 0);
            DWIP_TAPS(5, 0);
            DWIP_TAPS(6, 0);
            DWIP_TAPS(0, 1);
            DWIP_TAPS(1, 1);
            DWIP_TAPS(2, 1);
            DWIP_TAPS(3, 1);
            DWIP_TAPS(4, 1);
            DWIP_TAPS(5, 1);
            DWIP_TAPS(6, 1);
        }
        po[0] = dwip_out_fast(a, q, full);
        po[step] = dwip_out_fast(b, q, full);
    }
    return ox;
}

/* The four instances, out of line: each gets the registers to itself. */
#if defined(__GNUC__)
#define DWIP_NOINLINE __attribute__((noinline))
#else
#define DWIP_NOINLINE
#endif
static DWIP_NOINLINE int32_t dwip_rows3_full(const int8_t *const *rowp, const int32_t *gw, int32_t out_w, int8_t *po,
                                             const dwip_rq *q)
{
    return dwip_square_rows(rowp, gw, out_w, po, q, 3, 1);
}

static DWIP_NOINLINE int32_t dwip_rows3_clamp(const int8_t *const *rowp, const int32_t *gw, int32_t out_w, int8_t *po,
                                              const dwip_rq *q)
{
    return dwip_square_rows(rowp, gw, out_w, po, q, 3, 0);
}

static DWIP_NOINLINE int32_t dwip_rows7_full(const int8_t *const *rowp, const int32_t *gw, int32_t out_w, int8_t *po,
                                             const dwip_rq *q)
{
    return dwip_square_rows(rowp, gw, out_w, po, q, 7, 1);
}

static DWIP_NOINLINE int32_t dwip_rows7_clamp(const int8_t *const *rowp, const int32_t *gw, int32_t out_w, int8_t *po,
                                              const dwip_rq *q)
{
    return dwip_square_rows(rowp, gw, out_w, po, q, 7, 0);
}

/* ---- "Same" square layers: 3x3 and 7x7, stride and dilation 1, pad (K - 1) / 2 on every side --
 *
 * The output has the input's size, so output row oy taps padded rows oy .. oy + K - 1 and input
 * row oy + (K + 1) / 2 is first tapped by output row oy + 1.  dwip_same_layer keeps the K ring slots
 * of the current output row as pointers in tap order: after each output row the top slot takes
 * the next input row (copied four bytes per store, dwip_copy_column) and moves to the bottom.  The
 * input row is copied after output row oy is written, which overwrote pixels < (oy + 1) * W of
 * channel c only; the copied row starts at pixel (oy + (K + 1) / 2) * W.  No per-row ring
 * arithmetic or first-use tests, which cost the general loop more than a 12-wide 3x3 row's MACs. */

/* The n bytes src[0], src[stride], ... into dst (any alignment): four loads, one store per four. */
static inline void dwip_copy_column(int8_t *dst, const int8_t *src, int32_t n, int32_t stride)
{
    const uint8_t *s = (const uint8_t *)src;
    int32_t x;
    for (x = 0; x + 4 <= n; x += 4, s += 4 * stride) {
        const uint32_t v = (uint32_t)s[0] | ((uint32_t)s[stride] << 8) | ((uint32_t)s[2 * stride] << 16) |
                           ((uint32_t)s[3 * stride] << 24);
        memcpy(dst + x, &v, sizeof v);
    }
    for (; x < n; ++x, s += stride) {
        dst[x] = (int8_t)*s;
    }
}

/* The 3x3 rows of dwip_same_layer: the weights of channel c doubled, per kernel row k the words
 * (2 w_k0, 2 w_k2), (2 w_k1, 0), (0, 2 w_k1) at w9[3k..3k + 2], and the accumulators start at twice
 * the folded bias (q->acc0), so each output is rq_fast_right_x2_mla (no LSL; the build's
 * fast_requant 2 keeps 2 * acc in int32).  Outputs ox, ox + 1 from the quad x0..x3 of each row:
 *     a += (x0, x2) . (w0, w2) + (x1, x3) . (w1, 0),   b += (x1, x3) . (w0, w2) + (x0, x2) . (0, w1).
 * Returns the outputs written (out_w rounded down to even). */
#ifdef __GNUC__
__attribute__((always_inline))
#endif
static inline int32_t dwip_same3_rows(const int8_t *r0, const int8_t *r1, const int8_t *r2, const int32_t *w9,
                                      int32_t out_w, int8_t *po, const dwip_rq *q, int full)
{
    const int32_t step = q->channels;
    int32_t ox;
    for (ox = 0; ox + 2 <= out_w; ox += 2, po += 2 * step) {
        int32_t a = q->acc0, b, e, o, s, x, x02, x13;
        b = a;
#define DWIP_SAME3_ROW(rp, k)                                                                                          \
    do {                                                                                                               \
        x = dsp_read_quad((rp) + ox);                                                                                  \
        x02 = dsp_sxtb16(x);                                                                                           \
        x13 = dsp_sxtb16_ror8(x);                                                                                      \
        DWIP_LDRD(w9, 12 * (k), e, o);                                                                                 \
        a = dsp_smlad(x02, e, a);                                                                                      \
        a = dsp_smlad(x13, o, a);                                                                                      \
        b = dsp_smlad(x13, e, b);                                                                                      \
        DWIP_LDR(w9, 12 * (k) + 8, s);                                                                                 \
        b = dsp_smlad(x02, s, b);                                                                                      \
    } while (0)
        DWIP_SAME3_ROW(r0, 0);
        DWIP_SAME3_ROW(r1, 1);
        DWIP_SAME3_ROW(r2, 2);
#undef DWIP_SAME3_ROW
        a = dsp_ssat8(rq_fast_right_x2_mla(a, q->mult, q->right, q->rounding));
        b = dsp_ssat8(rq_fast_right_x2_mla(b, q->mult, q->right, q->rounding));
        if (!full) {
            a = a < q->act_min ? q->act_min : a;
            a = a > q->act_max ? q->act_max : a;
            b = b < q->act_min ? q->act_min : b;
            b = b > q->act_max ? q->act_max : b;
        }
        po[0] = (int8_t)a;
        po[step] = (int8_t)b;
    }
    return ox;
}

static DWIP_NOINLINE int32_t dwip_same3_full(const int8_t *const *rowp, const int32_t *w9, int32_t out_w, int8_t *po,
                                             const dwip_rq *q)
{
    return dwip_same3_rows(rowp[0], rowp[1], rowp[2], w9, out_w, po, q, 1);
}

static DWIP_NOINLINE int32_t dwip_same3_clamp(const int8_t *const *rowp, const int32_t *w9, int32_t out_w, int8_t *po,
                                              const dwip_rq *q)
{
    return dwip_same3_rows(rowp[0], rowp[1], rowp[2], w9, out_w, po, q, 0);
}

/* Whether dwip_same_layer takes a layer. */
static int dwip_same_ok(int32_t in_h, int32_t in_w, int32_t out_h, int32_t out_w, const edgec_depthwise_params *p)
{
    const int32_t k = p->kernel_h, pad = (k - 1) / 2;
    return p->fast_requant == 2 && (k == 3 || k == 7) && p->kernel_w == k && p->stride_h == 1 && p->stride_w == 1 &&
           p->dilation_h == 1 && p->dilation_w == 1 && p->pad_top == pad && p->pad_left == pad &&
           p->pad_bottom >= pad && p->pad_right >= pad && out_h == in_h && out_w == in_w;
}

/* The in-place DSP layer for dwip_same_ok geometries (fast_requant 2); scratch holds the ring of K
 * padded rows, row_w bytes each, every byte the input zero point on entry. */
static DWIP_NOINLINE void dwip_same_layer(int8_t *buffer, int32_t h, int32_t w, int32_t channels, int8_t *scratch,
                                          int32_t row_w, const int8_t *weights, const int32_t *bias,
                                          const edgec_depthwise_params *p)
{
    const int32_t k = p->kernel_h, pad = (k - 1) / 2, input_offset = p->input_offset;
    const int8_t zero_point = (int8_t)(-input_offset);
    const int full = p->act_min == -128 && p->act_max == 127;
    const int32_t row_bytes = w * channels;
    dwip_group_weights gw[DWIP_DSP_MAX_KH * DWIP_DSP_MAX_GROUPS];
    const int8_t *ring[14]; /* slot i at ring[i] and ring[i + K]: the current rows are ring[top .. top + K) */
    dwip_rq q;
    int32_t c, oy, i, x, top;

    q.act_min = p->act_min;
    q.act_max = p->act_max;
    q.channels = channels;
    for (c = 0; c < channels; ++c) {
        const int8_t *const wc = weights + c;
        const int32_t shift = p->out_shift[c];
        int32_t acc0 = bias ? bias[c] : 0;
        int8_t *po = buffer + c;
        for (x = 0; x < k * k; ++x) {
            acc0 += input_offset * wc[x * channels]; /* the padding's zero points cancel this part */
        }
        q.mult = p->out_mult[c];
        q.right = -shift;
        q.rounding = (int32_t)(((uint32_t)1 << (q.right - 1)) + ((uint32_t)p->output_offset << q.right));
        if (k == 3) {
            int32_t *const w9 = (int32_t *)gw; /* the doubled words of dwip_same3_rows */
            for (i = 0; i < 3; ++i) {
                const int32_t w0 = 2 * wc[3 * i * channels], w1 = 2 * wc[(3 * i + 1) * channels];
                const int32_t w2 = 2 * wc[(3 * i + 2) * channels];
                w9[3 * i] = (int32_t)(((uint32_t)w0 & 0xffffu) | ((uint32_t)w2 << 16));
                w9[3 * i + 1] = (int32_t)((uint32_t)w1 & 0xffffu);
                w9[3 * i + 2] = (int32_t)((uint32_t)w1 << 16);
            }
            q.acc0 = (int32_t)((uint32_t)acc0 << 1);
        } else {
            dwip_dsp_weights(wc, k, k, channels, gw);
            q.acc0 = acc0;
        }
        /* The ring for output row 0: padded rows 0 .. K - 1 (input rows -pad .. K - 1 - pad). */
        for (i = 0; i < k; ++i) {
            const int32_t iy = i - pad;
            int8_t *const dst = scratch + i * row_w;
            ring[i] = ring[i + k] = dst;
            if (iy >= 0 && iy < h) {
                dwip_copy_column(dst + pad, buffer + iy * row_bytes + c, w, channels);
            } else {
                memset(dst + pad, zero_point, (size_t)w);
            }
        }
        top = 0;
        for (oy = 0; oy < h; ++oy, po += row_bytes) {
            const int8_t *const *const rowp = ring + top;
            int32_t ox;
            if (k == 3) {
                ox = full ? dwip_same3_full(rowp, (const int32_t *)gw, w, po, &q)
                          : dwip_same3_clamp(rowp, (const int32_t *)gw, w, po, &q);
            } else {
                ox = full ? dwip_rows7_full(rowp, (const int32_t *)gw, w, po, &q)
                          : dwip_rows7_clamp(rowp, (const int32_t *)gw, w, po, &q);
            }
            if (ox < w) { /* an odd width's last output */
                int32_t acc = acc0, ky, kx;
                for (ky = 0; ky < k; ++ky) {
                    for (kx = 0; kx < k; ++kx) {
                        acc += wc[(ky * k + kx) * channels] * rowp[ky][ox + kx];
                    }
                }
                acc = dsp_ssat8(rq_fast_right_mla(acc, q.mult, q.right, q.rounding));
                acc = acc < q.act_min ? q.act_min : acc;
                po[ox * channels] = (int8_t)(acc > q.act_max ? q.act_max : acc);
            }
            if (oy + 1 < h) { /* the top slot takes padded row oy + K (input row oy + pad + 1) */
                int8_t *const dst = (int8_t *)rowp[0];
                const int32_t iy = oy + pad + 1;
                top = top + 1 == k ? 0 : top + 1;
                if (iy < h) {
                    dwip_copy_column(dst + pad, buffer + iy * row_bytes + c, w, channels);
                } else {
                    memset(dst + pad, zero_point, (size_t)w);
                }
            }
        }
    }
}

/* Inlined into both entry points, so the portable one carries no DSP test. */
#ifdef __GNUC__
__attribute__((always_inline))
#endif
static inline void depthwise_inplace(int8_t *buffer, int32_t in_h, int32_t in_w, int32_t channels, int32_t out_h,
                                     int32_t out_w, int8_t *scratch, const int8_t *weights, const int32_t *bias,
                                     const edgec_depthwise_params *p, int use_dsp)
{
    const int32_t kh = p->kernel_h, kw = p->kernel_w;
    const int32_t sh = p->stride_h, sw = p->stride_w;
    const int32_t dh = p->dilation_h, dw = p->dilation_w;
    const int32_t pad_top = p->pad_top, pad_left = p->pad_left;
    const int32_t ring_rows = (kh - 1) * dh + 1;
    const int32_t row_w = in_w + pad_left + p->pad_right;
    const int32_t ring_size = edgec_depthwise_inplace_scratch_size(in_h, in_w, p);
    const int32_t input_offset = p->input_offset;
    const int8_t zero_point = (int8_t)(-input_offset);
    const int32_t off2 = (int32_t)(((uint32_t)input_offset & 0xffffu) * 0x10001u); /* input_offset, both halves */
    const int dsp_rows = use_dsp && (kw == 3 || kw == 7) && sw == 1 && dw == 1 && kh <= DWIP_DSP_MAX_KH;
    dwip_group_weights gw[DWIP_DSP_MAX_KH * DWIP_DSP_MAX_GROUPS];
    dwip_out o;
    int32_t period = 1, c, x, oy, ox, ky, kx;

    o.fast = p->fast_requant;
    o.output_offset = p->output_offset;
    o.act_min = p->act_min;
    o.act_max = p->act_max;
    if (ring_size <= 0 || out_h <= 0 || out_w <= 0) {
        return;
    }
    while ((period * sh) % dh != 0) {
        ++period;
    }
    /* Border columns hold the input zero point for every row and channel;
     * only the interior [pad_left, pad_left + in_w) of a slot is rewritten. */
    memset(scratch, zero_point, (size_t)ring_size);
    if (use_dsp && dwip_same_ok(in_h, in_w, out_h, out_w, p)) {
        dwip_same_layer(buffer, in_h, in_w, channels, scratch, row_w, weights, bias, p);
        return;
    }

    for (c = 0; c < channels; ++c) {
        const int8_t *wc = weights + c;
        const int32_t acc0 = bias ? bias[c] : 0;
        const int32_t mult = p->out_mult[c], shift = p->out_shift[c];
        int8_t *po = buffer + c;

        int32_t acc0_folded = acc0; /* acc0 + input_offset * (sum of the channel's weights) */
        if (dsp_rows) {
            dwip_dsp_weights(wc, kh, kw, channels, gw);
            for (x = 0; x < kh * kw; ++x) {
                acc0_folded += input_offset * wc[x * channels];
            }
        }
        for (oy = 0; oy < out_h; ++oy) {
            const int32_t slot0 = (oy * sh) % ring_rows;

            /* Rows first tapped by this output row -> their ring slots, before
             * any output of this row overwrites them. */
            for (ky = 0; ky < kh; ++ky) {
                if (oy >= period && ky * dh + period * sh <= (kh - 1) * dh) {
                    continue; /* already in the ring */
                }
                {
                    const int32_t r = oy * sh + ky * dh, iy = r - pad_top;
                    int8_t *dst = scratch + (r % ring_rows) * row_w + pad_left;
                    if (iy < 0 || iy >= in_h) {
                        memset(dst, zero_point, (size_t)in_w);
                    } else {
                        const int8_t *src = buffer + iy * in_w * channels + c;
                        for (x = 0; x < in_w; ++x) {
                            dst[x] = src[x * channels];
                        }
                    }
                }
            }

            /* Output row oy of channel c, written in NHWC order over the
             * buffer's channel-c slots. */
            ox = 0;
            if (dsp_rows && o.fast == 2) {
                const int32_t right = -shift;
                const int32_t rounding = (int32_t)(((uint32_t)1 << (right - 1)) + ((uint32_t)o.output_offset << right));
                const int8_t *rowp[DWIP_DSP_MAX_KH];
                int32_t slot = slot0;
                for (ky = 0; ky < kh; ++ky) {
                    rowp[ky] = scratch + slot * row_w;
                    slot += dh;
                    if (slot >= ring_rows) {
                        slot -= ring_rows;
                    }
                }
                if (kw == kh && dh == 1) { /* 3x3 or 7x7 */
                    const int full = o.act_min == -128 && o.act_max == 127;
                    dwip_rq q;
                    q.acc0 = acc0_folded;
                    q.mult = mult;
                    q.right = right;
                    q.rounding = rounding;
                    q.act_min = o.act_min;
                    q.act_max = o.act_max;
                    q.channels = channels;
                    if (kw == 3) {
                        ox = full ? dwip_rows3_full(rowp, (const int32_t *)gw, out_w, po, &q)
                                  : dwip_rows3_clamp(rowp, (const int32_t *)gw, out_w, po, &q);
                    } else {
                        ox = full ? dwip_rows7_full(rowp, (const int32_t *)gw, out_w, po, &q)
                                  : dwip_rows7_clamp(rowp, (const int32_t *)gw, out_w, po, &q);
                    }
                } else if (kw == 3) {
                    ox = dwip_fast_row(rowp, kh, 1, out_w, channels, acc0, mult, right, rounding, off2, gw, o.act_min,
                                       o.act_max, po);
                } else {
                    ox = dwip_fast_row(rowp, kh, 2, out_w, channels, acc0, mult, right, rounding, off2, gw, o.act_min,
                                       o.act_max, po);
                }
                po += ox * channels;
            } else if (dsp_rows) {
                ox = kw == 3 ? dwip_dsp_row(scratch, slot0, row_w, ring_rows, kh, dh, 1, out_w, channels, acc0, mult,
                                            shift, off2, gw, o, po)
                             : dwip_dsp_row(scratch, slot0, row_w, ring_rows, kh, dh, 2, out_w, channels, acc0, mult,
                                            shift, off2, gw, o, po);
                po += ox * channels;
            }
            for (; ox < out_w; ++ox) {
                int32_t acc = acc0, slot = slot0;
                for (ky = 0; ky < kh; ++ky) {
                    const int8_t *px = scratch + slot * row_w + ox * sw;
                    const int8_t *wk = wc + ky * kw * channels;
                    for (kx = 0; kx < kw; ++kx) {
                        acc += wk[kx * channels] * (px[kx * dw] + input_offset);
                    }
                    slot += dh;
                    if (slot >= ring_rows) {
                        slot -= ring_rows;
                    }
                }
                *po = use_dsp ? dwip_requant(acc, mult, shift, o)
                              : requantize_and_clamp(acc, mult, shift, p->output_offset, p->act_min, p->act_max);
                po += channels;
            }
        }
    }
}

void edgec_depthwise_conv2d_inplace(int8_t *buffer, int32_t in_h, int32_t in_w, int32_t channels, int32_t out_h,
                                    int32_t out_w, int8_t *scratch, const int8_t *weights, const int32_t *bias,
                                    const edgec_depthwise_params *p)
{
    depthwise_inplace(buffer, in_h, in_w, channels, out_h, out_w, scratch, weights, bias, p, 0);
}

void edgec_depthwise_conv2d_inplace_dsp(int8_t *buffer, int32_t in_h, int32_t in_w, int32_t channels, int32_t out_h,
                                        int32_t out_w, int8_t *scratch, const int8_t *weights, const int32_t *bias,
                                        const edgec_depthwise_params *p)
{
    depthwise_inplace(buffer, in_h, in_w, channels, out_h, out_w, scratch, weights, bias, p, 1);
}
