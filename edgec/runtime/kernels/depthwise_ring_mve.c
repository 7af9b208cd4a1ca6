/*
 * Helium (MVE) depthwise conv2d, one channel plane at a time
 * (depthwise_ring_mve.h says what it handles).
 *
 * Helium has no lane-by-lane integer multiply-accumulate of two vectors, but
 * VMLA.S32 multiplies a vector by a scalar.  A depthwise weight is a scalar for
 * its whole channel, so the vectors here run along a row of one channel:
 *
 *   - the channel's input rows are copied, at their first use, into a ring of
 *     K rows that hold the zero point in their padding (eight pixels per VLDRB
 *     gather with offsets 0, C, 2C, ...);
 *   - so every tap of every output reads the ring, and each output starts from
 *     bias + input_offset * sum(w) and adds w * x over all K*K taps (the padding
 *     contributes w * zero_point, cancelled by the folded term exactly);
 *   - eight outputs of a row per step, as two vectors of four int32 lanes: per
 *     tap, two loads (VLDRB.S32, or gathers with offsets 0, 2, 4, 6 for stride
 *     2) and two VMLA.S32 by the weight: 8 MACs in 4 instructions;
 *   - the kernel size, the stride and the sign of the channel's shift are
 *     compile-time constants of the inner loop (one specialised body each), so
 *     the taps unroll and the requantization keeps only the steps it needs:
 *     VSHL + VQRDMULH for shift >= 0, VQRDMULH + the saturating step down +
 *     VRSHL for shift < 0 (the two cases of mve_requant.h, same proof), then
 *     the offset, the clamp and a VSTRB scatter to the NHWC slots.
 *
 * Bit-exact with edgec_depthwise_conv2d: the int32 sums are the same sums (no
 * intermediate can overflow: |acc| < 2^31 as in the portable kernel, and the
 * folded term is that kernel's bias + input_offset * sum(w) over padding taps
 * whose (x + input_offset) is 0).  Built only for targets with integer MVE.
 */
#include <string.h>

#include "depthwise_ring_mve.h"
#include "depthwise_shapes_mve.h"

#if defined(__ARM_FEATURE_MVE) && (__ARM_FEATURE_MVE & 1)

#include <arm_mve.h>

#define RING_BYTES 4096 /* the ring lives on the stack; wider rows take the other kernels */
#define MAX_K 7

#define ALWAYS_INLINE static inline __attribute__((always_inline))

/* One channel's constants. */
typedef struct {
    int32_t start;         /* bias + input_offset * sum(w) */
    int32_t mult;          /* quantized multiplier */
    int32_t left;          /* max(shift, 0) */
    int32_t right_neg;     /* min(shift, 0) */
    int32_t output_offset; /* output zero point */
    int32x4_t lo, hi;      /* act_min, act_max */
    uint32x4_t in_offsets; /* 0, S, 2S, 3S: four outputs' inputs in a ring row (stride S > 1) */
    uint32x4_t out_offsets; /* 0, C, 2C, 3C: four outputs' NHWC slots */
} channel_stage;

/* Four consecutive outputs' inputs at tap p (stride S). */
ALWAYS_INLINE int32x4_t load_four(const int8_t *p, const int S, uint32x4_t in_offsets)
{
    return S == 1 ? vldrbq_s32(p) : vldrbq_gather_offset_s32(p, in_offsets);
}

/* The same, reading only the first lanes' bytes. */
ALWAYS_INLINE int32x4_t load_four_z(const int8_t *p, const int S, uint32x4_t in_offsets, mve_pred16_t lanes)
{
    return S == 1 ? vldrbq_z_s32(p, lanes) : vldrbq_gather_offset_z_s32(p, in_offsets, lanes);
}

/* MultiplyByQuantizedMultiplier, offset, clamp, store: `negative` is the sign of the shift. */
ALWAYS_INLINE int32x4_t requantize(int32x4_t acc, const channel_stage *s, const int negative)
{
    if (negative) {
        acc = vqrdmulhq_n_s32(acc, s->mult);
        acc = vqaddq_s32(acc, vshrq_n_s32(acc, 31)); /* halves away from zero (mve_requant.h) */
        acc = vrshlq_n_s32(acc, s->right_neg);
    } else {
        acc = vqrdmulhq_n_s32(vshlq_r_s32(acc, s->left), s->mult);
    }
    acc = vaddq_n_s32(acc, s->output_offset);
    return vminq_s32(vmaxq_s32(acc, s->lo), s->hi);
}

/* One output row of one channel: rows[ky] is the ring row tap row ky reads (at output 0), w the
 * channel's K*K weights, dst its output 0 (outputs `col` bytes apart). */
ALWAYS_INLINE void output_row(const int8_t *const *rows, const int32_t *w, int32_t out_w, int8_t *dst, int32_t col,
                              const channel_stage *stage, const int K, const int S, const int negative)
{
    const channel_stage s = *stage;
    const int8_t *r[MAX_K];
    int32_t ox = 0, ky, kx;
#pragma GCC unroll 7
    for (ky = 0; ky < K; ++ky) {
        r[ky] = rows[ky];
    }
    for (; ox + 8 <= out_w; ox += 8) {
        int32x4_t a0 = vdupq_n_s32(s.start), a1 = a0;
#pragma GCC unroll 7
        for (ky = 0; ky < K; ++ky) {
#pragma GCC unroll 7
            for (kx = 0; kx < K; ++kx) {
                a0 = vmlaq_n_s32(a0, load_four(r[ky] + kx, S, s.in_offsets), w[ky * K + kx]);
                a1 = vmlaq_n_s32(a1, load_four(r[ky] + kx + 4 * S, S, s.in_offsets), w[ky * K + kx]);
            }
            r[ky] += 8 * S;
        }
        vstrbq_scatter_offset_s32(dst, s.out_offsets, requantize(a0, &s, negative));
        vstrbq_scatter_offset_s32(dst + 4 * col, s.out_offsets, requantize(a1, &s, negative));
        dst += 8 * col;
    }
    /* The last outputs, four at a time: predicated loads, so nothing past the ring row is read. */
    for (; ox < out_w; ox += 4) {
        const mve_pred16_t lanes = vctp32q((uint32_t)(out_w - ox));
        int32x4_t a0 = vdupq_n_s32(s.start);
#pragma GCC unroll 7
        for (ky = 0; ky < K; ++ky) {
#pragma GCC unroll 7
            for (kx = 0; kx < K; ++kx) {
                a0 = vmlaq_n_s32(a0, load_four_z(r[ky] + kx, S, s.in_offsets, lanes), w[ky * K + kx]);
            }
            r[ky] += 4 * S;
        }
        vstrbq_scatter_offset_p_s32(dst, s.out_offsets, requantize(a0, &s, negative), lanes);
        dst += 4 * col;
    }
}

/* dst[x] = src[x * step] for x < n (step * 7 < 2^16). */
static void copy_channel_row(int8_t *dst, const int8_t *src, int32_t step, int32_t n)
{
    const uint16x8_t offsets = vmulq_n_u16(vidupq_n_u16(0, 1), (uint16_t)step);
    int32_t x;
    for (x = 0; x < n; x += 8) {
        const mve_pred16_t lanes = vctp16q((uint32_t)(n - x));
        vstrbq_p_s16(dst + x, vldrbq_gather_offset_z_s16(src + x * step, offsets, lanes), lanes);
    }
}

/* The geometry of one call. */
typedef struct {
    const int8_t *in;
    int8_t *out;
    int32_t in_h, in_w, in_row, in_col;
    int32_t out_h, out_w, out_row, out_col;
    int32_t stride_h, pad_top, pad_left;
    int8_t *ring;
    int32_t row_w;
    int8_t zero_point;
} plane;

/* Channel c, every output row: each input row copied into the ring at its first use (ring slot
 * r % K for padded row r), then the output row from the K slots it reads. */
ALWAYS_INLINE void channel_plane(const plane *g, int32_t c, const int32_t *wk, const channel_stage *s, const int K,
                                 const int S, const int negative)
{
    /* The constants as locals: the stores could alias anything behind a pointer, as far as the
     * compiler knows, and would make it reload them every step. */
    const channel_stage st = *s;
    const int8_t *rows[MAX_K];
    int32_t w[MAX_K * MAX_K];
    int32_t oy, ky, next_row = 0;
#pragma GCC unroll 49
    for (ky = 0; ky < K * K; ++ky) {
        w[ky] = wk[ky];
    }
    for (oy = 0; oy < g->out_h; ++oy) {
        const int32_t first = oy * g->stride_h; /* padded index of the row tap row 0 reads */
        int32_t r = next_row > first ? next_row : first;
        for (; r < first + K; ++r) {
            const int32_t iy = r - g->pad_top;
            int8_t *dst = g->ring + (r % K) * g->row_w + g->pad_left;
            if (iy < 0 || iy >= g->in_h) {
                memset(dst, g->zero_point, (size_t)g->in_w);
            } else {
                copy_channel_row(dst, g->in + iy * g->in_row + c, g->in_col, g->in_w);
            }
        }
        next_row = first + K;
#pragma GCC unroll 7
        for (ky = 0; ky < K; ++ky) {
            rows[ky] = g->ring + ((first + ky) % K) * g->row_w;
        }
        output_row(rows, w, g->out_w, g->out + oy * g->out_row + c, g->out_col, &st, K, S, negative);
    }
}

typedef void channel_fn(const plane *g, int32_t c, const int32_t *wk, const channel_stage *s, int negative);

/* The specialised bodies: kernel K x K, horizontal stride S, each sign of the shift. */
#define CHANNEL_BODY(K, S)                                                                                        \
    static void channel_##K##x##K##_s##S(const plane *g, int32_t c, const int32_t *wk, const channel_stage *s,  \
                                         int negative)                                                           \
    {                                                                                                            \
        if (negative) {                                                                                          \
            channel_plane(g, c, wk, s, K, S, 1);                                                                 \
        } else {                                                                                                 \
            channel_plane(g, c, wk, s, K, S, 0);                                                                 \
        }                                                                                                        \
    }
CHANNEL_BODY(3, 1)
CHANNEL_BODY(3, 2)
CHANNEL_BODY(5, 1)
CHANNEL_BODY(5, 2)
CHANNEL_BODY(7, 1)
CHANNEL_BODY(7, 2)

static channel_fn *channel_body(int32_t k, int32_t s)
{
    static channel_fn *const bodies[EDGEC_MVE_DW_SHAPES] = {channel_3x3_s1, channel_3x3_s2, channel_5x5_s1,
                                                            channel_5x5_s2, channel_7x7_s1, channel_7x7_s2};
    const int shape = edgec_mve_dw_shape(k, s);
    return shape < 0 ? 0 : bodies[shape];
}

int edgec_depthwise_ring_mve(const edgec_view *in, edgec_view *out, const int8_t *weights, const int32_t *bias,
                             const edgec_depthwise_params *p, int8_t *scratch, int32_t scratch_bytes)
{
    const int32_t k = p->kernel_h, sw = p->stride_w, channels = out->c;
    channel_fn *const body = channel_body(k, sw);
    int8_t stack_ring[RING_BYTES] __attribute__((aligned(4)));
    const int32_t ring_bytes = scratch ? scratch_bytes : RING_BYTES;
    int32_t wk[MAX_K * MAX_K];
    channel_stage s;
    plane g;
    int32_t c, i;

    g.in = in->data;
    g.out = out->data;
    g.in_h = in->h;
    g.in_w = in->w;
    g.in_row = in->row_stride;
    g.in_col = in->col_stride;
    g.out_h = out->h;
    g.out_w = out->w;
    g.out_row = out->row_stride;
    g.out_col = out->col_stride;
    g.stride_h = p->stride_h;
    g.pad_top = p->pad_top;
    g.pad_left = p->pad_left;
    g.ring = scratch ? scratch : stack_ring;
    g.zero_point = (int8_t)(-p->input_offset);
    /* Ring row: the padded input row (the in-place scratch's layout), and every byte the taps of the
     * last output read. */
    g.row_w = (g.out_w - 1) * sw + k;
    if (g.row_w < g.pad_left + g.in_w + p->pad_right) {
        g.row_w = g.pad_left + g.in_w + p->pad_right;
    }
    if (body == 0 || p->kernel_w != k || p->dilation_h != 1 || p->dilation_w != 1 || p->depth_multiplier != 1 ||
        g.stride_h < 1 || g.stride_h > k || in->c != channels || k * g.row_w > ring_bytes || 7 * g.in_col >= 65536 ||
        g.out_h <= 0 || g.out_w <= 0) {
        return 0;
    }
    memset(g.ring, g.zero_point, (size_t)(k * g.row_w));
    s.output_offset = p->output_offset;
    s.lo = vdupq_n_s32(p->act_min);
    s.hi = vdupq_n_s32(p->act_max);
    s.in_offsets = vmulq_n_u32(vidupq_n_u32(0, 1), (uint32_t)sw);
    s.out_offsets = vmulq_n_u32(vidupq_n_u32(0, 1), (uint32_t)g.out_col);

    for (c = 0; c < channels; ++c) {
        const int32_t shift = p->out_shift[c];
        int32_t wsum = 0;
        for (i = 0; i < k * k; ++i) {
            wk[i] = weights[i * channels + c];
            wsum += wk[i];
        }
        s.start = (bias ? bias[c] : 0) + p->input_offset * wsum;
        s.mult = p->out_mult[c];
        s.left = shift > 0 ? shift : 0;
        s.right_neg = shift < 0 ? shift : 0;
        body(&g, c, wk, &s, shift < 0);
    }
    return 1;
}

#else

typedef int edgec_depthwise_ring_mve_needs_mve; /* ISO C: a translation unit needs a declaration */

#endif
