/*
 * Helium (MVE) depthwise conv2d on NHWC, sixteen channels per vector, taps
 * summed in pairs (depthwise_pairs_mve.h says what it handles).
 *
 * NHWC keeps sixteen neighbouring channels in one 16-byte vector, and so does
 * the [1, K, K, C] weight layout, so a tap of sixteen channels is two loads
 * and VMULLB.S8 / VMULLT.S8: the even and the odd channels' int16 products.
 * Two taps' products are added in int16 before they are widened: with the
 * weights in [-127, 127] a product is at most 128 * 127 = 16256 in
 * magnitude, so the sum of two (32512) is exact; a layer with a weight of
 * -128 is left to the other kernels.  Each pair sum is widened (VMOVLB /
 * VMOVLT.S16) into four int32x4 accumulators, which hold channels
 * {0,4,8,12}, {2,6,10,14}, {1,5,9,13} and {3,7,11,15} of the block: per
 * pair of taps 4 loads, 4 multiplies, 2 int16 adds, 4 widenings and 4 adds
 * for 32 MACs.
 *
 * Each output starts from bias + input_offset * sum(w) (per channel: once
 * per call, or per block of the ring's assembly bodies, which stage their
 * weights anyway) and every tap multiplies the raw input: a tap outside the input
 * reads a buffer holding the zero point, whose (x + input_offset) is 0, so
 * the folded term is exact for border pixels too.  The accumulators are
 * requantized per lane (mve_requant.h, constants gathered in the same
 * channel order) and narrowed back into channel order (VMOVNB/VMOVNT twice),
 * one 16-byte store per block.  The channel tail is predicated.
 *
 * Two entries: edgec_depthwise_pairs_mve walks the output pixels, each with
 * a table of its K*K tap pointers, every block of channels per pixel;
 * edgec_depthwise_pairs_ring_mve (below) walks one block of channels at a
 * time through a ring of padded rows.  Built only for targets with integer
 * MVE.
 */
#include <stddef.h>

#include "depthwise_pairs_mve.h"

#if defined(__ARM_FEATURE_MVE) && (__ARM_FEATURE_MVE & 1)

#include "mve_requant.h"

#define MAX_CHANNELS 512 /* the per-call folded bias and zero-point row live on the stack */
#define RING_BYTES 6144   /* the ring, on the stack (7x7 rows of up to 54 padded pixels); larger rings go elsewhere */
#define MAX_K 7
#define LANES 16

#define ALWAYS_INLINE static inline __attribute__((always_inline))

/* Where the four accumulators' lanes come from: channel (first[k] + 4 * lane) of the block. */
static const uint32_t accumulator_first[4] = {0, 2, 1, 3};

/* The constants of one call. */
typedef struct {
    const int32_t *start;       /* per channel: bias + input_offset * sum(w) (0: the ring's assembly
                                 * bodies fold them per block, asm_block_constants) */
    const int32_t *bias;        /* or 0 */
    int32_t input_offset;
    const int32_t *mult, *shift;
    uint32x4_t channel[4];      /* per accumulator: its lanes' channels in a block */
    int32_t output_offset, channels;
    int32x4_t lo, hi;
} call_stage;

/* The accumulators of a block, each tap pair added (taps[t] + c0: tap t's sixteen inputs). */
ALWAYS_INLINE void block_taps(const int8_t *const *taps, const int8_t *w, int32_t c0, int32_t channels,
                              mve_pred16_t lanes, const int full, const int K, int32x4_t acc[4])
{
    int32x4_t a0 = acc[0], a1 = acc[1], a2 = acc[2], a3 = acc[3];
    int t;
#pragma GCC unroll 25
    for (t = 0; t < K * K; t += 2) {
        const int8x16_t xa = full ? vldrbq_s8(taps[t] + c0) : vldrbq_z_s8(taps[t] + c0, lanes);
        const int8x16_t wa = full ? vldrbq_s8(w + t * channels + c0) : vldrbq_z_s8(w + t * channels + c0, lanes);
        int16x8_t even = vmullbq_int_s8(xa, wa), odd = vmulltq_int_s8(xa, wa);
        if (t + 1 < K * K) {
            const int8x16_t xb = full ? vldrbq_s8(taps[t + 1] + c0) : vldrbq_z_s8(taps[t + 1] + c0, lanes);
            const int8x16_t wb = full ? vldrbq_s8(w + (t + 1) * channels + c0)
                                      : vldrbq_z_s8(w + (t + 1) * channels + c0, lanes);
            even = vaddq_s16(even, vmullbq_int_s8(xb, wb));
            odd = vaddq_s16(odd, vmulltq_int_s8(xb, wb));
        }
        a0 = vaddq_s32(a0, vmovlbq_s16(even));
        a1 = vaddq_s32(a1, vmovltq_s16(even));
        a2 = vaddq_s32(a2, vmovlbq_s16(odd));
        a3 = vaddq_s32(a3, vmovltq_s16(odd));
        /* The four sums complete, in registers, before the next pair's loads: otherwise GCC 12
         * hoists the loads of the unrolled taps and sinks the adds, and spills (eight Q registers). */
        __asm__ volatile("" : "+w"(a0), "+w"(a1), "+w"(a2), "+w"(a3)::"memory");
    }
    acc[0] = a0;
    acc[1] = a1;
    acc[2] = a2;
    acc[3] = a3;
}

/* Channel constants of accumulator k's lanes in the block at c0 (n channels: zero past them). */
ALWAYS_INLINE int32x4_t gather_lanes(const int32_t *values, const call_stage *s, int32_t c0, int k, int32_t n,
                                     const int full)
{
    return full ? vldrwq_gather_shifted_offset_s32(values + c0, s->channel[k])
                : vldrwq_gather_shifted_offset_z_s32(values + c0, s->channel[k],
                                                     vcmphiq_u32(vdupq_n_u32((uint32_t)n), s->channel[k]));
}

/* Accumulator k of the block at c0 requantized, offset and clamped.  `negative`: every shift of the
 * layer is below 0, so there is no left shift and every lane steps down before VRSHL (mve_requant.h,
 * the same steps with their constants known). */
ALWAYS_INLINE int32x4_t finish(int32x4_t acc, const call_stage *s, int32_t c0, int k, int32_t n, const int full,
                               const int negative)
{
    if (negative) {
        int32x4_t v = vqrdmulhq_s32(acc, gather_lanes(s->mult, s, c0, k, n, full));
        v = vrshlq_s32(vqaddq_s32(v, vshrq_n_s32(v, 31)), gather_lanes(s->shift, s, c0, k, n, full));
        v = vaddq_n_s32(v, s->output_offset);
        return vminq_s32(vmaxq_s32(v, s->lo), s->hi);
    } else {
        const mve_requant_q q =
            mve_requant_make(gather_lanes(s->mult, s, c0, k, n, full), gather_lanes(s->shift, s, c0, k, n, full));
        return mve_requant_clamp(acc, q, s->output_offset, s->lo, s->hi);
    }
}

/* The accumulators of a block at their starting values: bias + input_offset * sum(w). */
ALWAYS_INLINE void block_start(int32x4_t acc[4], const call_stage *s, int32_t c0, int32_t n, const int full)
{
    int k;
#pragma GCC unroll 4
    for (k = 0; k < 4; ++k) {
        acc[k] = gather_lanes(s->start, s, c0, k, n, full);
    }
}

/* The accumulators of the block at c0 requantized, back in channel order and stored at dst + c0. */
ALWAYS_INLINE void block_store(const int32x4_t acc[4], int8_t *dst, const call_stage *s, int32_t c0, int32_t n,
                               mve_pred16_t lanes, const int full, const int negative)
{
    int16x8_t even, odd;
    int8x16_t bytes;
    /* Back to channel order: int16 lanes 0, 2, 4, ... of the even channels, then the odd ones. */
    even = vmovnbq_s32(vuninitializedq_s16(), finish(acc[0], s, c0, 0, n, full, negative));
    even = vmovntq_s32(even, finish(acc[1], s, c0, 1, n, full, negative));
    odd = vmovnbq_s32(vuninitializedq_s16(), finish(acc[2], s, c0, 2, n, full, negative));
    odd = vmovntq_s32(odd, finish(acc[3], s, c0, 3, n, full, negative));
    bytes = vmovntq_s16(vmovnbq_s16(vuninitializedq_s8(), even), odd);
    if (full) {
        vstrbq_s8(dst + c0, bytes);
    } else {
        vstrbq_p_s8(dst + c0, bytes, lanes);
    }
}

/* The block of n channels at c0 of one output pixel. */
ALWAYS_INLINE void block(const int8_t *const *taps, const int8_t *w, int8_t *dst, const call_stage *s, int32_t c0,
                         int32_t n, const int full, const int K, const int negative)
{
    const mve_pred16_t lanes = vctp8q((uint32_t)n);
    int32x4_t acc[4];
    block_start(acc, s, c0, n, full);
    block_taps(taps, w, c0, s->channels, lanes, full, K, acc);
    block_store(acc, dst, s, c0, n, lanes, full, negative);
}

/* One output pixel, every block of sixteen channels. */
ALWAYS_INLINE void pixel(const int8_t *const *taps, const int8_t *w, int8_t *dst, const call_stage *s, const int K,
                         const int negative)
{
    const int32_t channels = s->channels;
    int32_t c0;
    for (c0 = 0; c0 + LANES <= channels; c0 += LANES) {
        block(taps, w, dst, s, c0, LANES, 1, K, negative);
    }
    if (c0 < channels) {
        block(taps, w, dst, s, c0, channels - c0, 0, K, negative);
    }
}

typedef void pixel_fn(const int8_t *const *taps, const int8_t *w, int8_t *dst, const call_stage *s);

/* The specialised pixel bodies, per kernel size and for layers whose shifts are all negative (their
 * own frames keep the tap loop compact). */
#define PIXEL_BODY(K, NAME, NEGATIVE)                                                                              \
    static __attribute__((noinline)) void NAME(const int8_t *const *taps, const int8_t *w, int8_t *dst,            \
                                               const call_stage *s)                                              \
    {                                                                                                             \
        pixel(taps, w, dst, s, K, NEGATIVE);                                                                      \
    }
PIXEL_BODY(3, pixel_3x3, 0)
PIXEL_BODY(5, pixel_5x5, 0)
PIXEL_BODY(7, pixel_7x7, 0)
PIXEL_BODY(3, pixel_3x3_negative, 1)
PIXEL_BODY(5, pixel_5x5_negative, 1)
PIXEL_BODY(7, pixel_7x7_negative, 1)

static pixel_fn *pixel_body(int32_t k, int negative)
{
    switch (k) {
    case 3: return negative ? pixel_3x3_negative : pixel_3x3;
    case 5: return negative ? pixel_5x5_negative : pixel_5x5;
    default: return negative ? pixel_7x7_negative : pixel_7x7;
    }
}

/* Every output pixel: its K*K tap pointers (the zero-point row for taps outside the input), then its
 * channels.  Pixels whose taps all lie inside the input (most of them) add fixed offsets to one base. */
static void all_pixels(const edgec_view *in, edgec_view *out, const int8_t *w, const edgec_depthwise_params *p,
                       const int8_t *zero_row, const call_stage *s, pixel_fn *body)
{
    const int32_t k = p->kernel_h, in_h = in->h, in_w = in->w, in_row = in->row_stride, in_col = in->col_stride;
    const int32_t dh = p->dilation_h, dw = p->dilation_w, sw = p->stride_w;
    const int32_t reach_y = (k - 1) * dh, reach_x = (k - 1) * dw;
    const int8_t *taps[MAX_K * MAX_K];
    int32_t offsets[MAX_K * MAX_K];
    int32_t oy, ox, ky, kx, t;
    for (ky = 0, t = 0; ky < k; ++ky) {
        for (kx = 0; kx < k; ++kx, ++t) {
            offsets[t] = ky * dh * in_row + kx * dw * in_col;
        }
    }
    for (oy = 0; oy < out->h; ++oy) {
        const int32_t iy0 = oy * p->stride_h - p->pad_top;
        const int rows_inside = iy0 >= 0 && iy0 + reach_y < in_h;
        int8_t *dst = out->data + oy * out->row_stride;
        for (ox = 0; ox < out->w; ++ox, dst += out->col_stride) {
            const int32_t ix0 = ox * sw - p->pad_left;
            const int8_t *base = in->data + iy0 * in_row + ix0 * in_col;
            if (rows_inside && ix0 >= 0 && ix0 + reach_x < in_w) {
                for (t = 0; t < k * k; ++t) {
                    taps[t] = base + offsets[t];
                }
            } else {
                for (ky = 0, t = 0; ky < k; ++ky) {
                    const int32_t iy = iy0 + ky * dh;
                    for (kx = 0; kx < k; ++kx, ++t) {
                        const int32_t ix = ix0 + kx * dw;
                        taps[t] = iy >= 0 && iy < in_h && ix >= 0 && ix < in_w ? base + offsets[t] : zero_row;
                    }
                }
            }
            body(taps, w, dst, s);
        }
    }
}

/* Whether every weight is above -128 (then two taps' products add exactly in int16). */
static int weights_above_min(const int8_t *w, int32_t n)
{
    int8x16_t least = vdupq_n_s8(0);
    int32_t i;
    for (i = 0; i + LANES <= n; i += LANES) {
        least = vminq_s8(least, vldrbq_s8(w + i));
    }
    return vminvq_p_s8(vminvq_s8(0, least), vldrbq_z_s8(w + i, vctp8q((uint32_t)(n - i))),
                       vctp8q((uint32_t)(n - i))) > -128;
}

/* Whether every channel's shift is below 0 (a right shift only). */
static int shifts_negative(const int32_t *shift, int32_t n)
{
    int32_t most = -1, i;
    for (i = 0; i < n; i += 4) {
        const mve_pred16_t lanes = vctp32q((uint32_t)(n - i));
        most = vmaxvq_p_s32(most, vldrwq_z_s32(shift + i, lanes), lanes);
    }
    return most < 0;
}

/* Whether the sixteen-channel kernels take a layer of `channels` channels: square 3x3/5x5/7x7,
 * depth multiplier 1, no weight of -128. */
static int pairs_ok(const edgec_depthwise_params *p, const int8_t *weights, int32_t channels)
{
    const int32_t k = p->kernel_h;
    return (k == 3 || k == 5 || k == 7) && p->kernel_w == k && p->depth_multiplier == 1 && channels > 0 &&
           channels <= MAX_CHANNELS && weights_above_min(weights, k * k * channels);
}

/* The constants of a call into s; start[] (MAX_CHANNELS entries) receives the folded biases, unless
 * it is 0. */
static void call_constants(call_stage *s, int32_t *start, const int8_t *weights, const int32_t *bias,
                           const edgec_depthwise_params *p, int32_t channels)
{
    const int32_t taps = p->kernel_h * p->kernel_w;
    int32_t c, t, i;
    /* Eight channels' weight sums at a time, in int16 (at most 49 * 128 in magnitude). */
    for (c = 0; start && c < channels; c += 8) {
        const mve_pred16_t lanes = vctp16q((uint32_t)(channels - c));
        int16_t sums[8];
        int16x8_t wsum = vdupq_n_s16(0);
        for (t = 0; t < taps; ++t) {
            wsum = vaddq_s16(wsum, vldrbq_z_s16(weights + t * channels + c, lanes));
        }
        vst1q_s16(sums, wsum);
        for (i = 0; i < 8; i += 4) {
            const mve_pred16_t four = vctp32q((uint32_t)(channels - c - i));
            const int32x4_t b = bias ? vldrwq_z_s32(bias + c + i, four) : vdupq_n_s32(0);
            vstrwq_p_s32(start + c + i, vmlaq_n_s32(b, vldrhq_s32(sums + i), p->input_offset), four);
        }
    }
    s->start = start;
    s->bias = bias;
    s->input_offset = p->input_offset;
    s->mult = p->out_mult;
    s->shift = p->out_shift;
    for (i = 0; i < 4; ++i) {
        s->channel[i] = vaddq_n_u32(vidupq_n_u32(0, 4), accumulator_first[i]);
    }
    s->output_offset = p->output_offset;
    s->channels = channels;
    s->lo = vdupq_n_s32(p->act_min);
    s->hi = vdupq_n_s32(p->act_max);
}

int edgec_depthwise_pairs_mve(const edgec_view *in, edgec_view *out, const int8_t *weights, const int32_t *bias,
                              const edgec_depthwise_params *p)
{
    const int32_t channels = out->c;
    int32_t start[MAX_CHANNELS];
    int8_t zero_row[MAX_CHANNELS] __attribute__((aligned(4)));
    call_stage s;
    int32_t i;

    if (!pairs_ok(p, weights, channels) || in->c != channels || in->col_stride < channels) {
        return 0;
    }
    call_constants(&s, start, weights, bias, p, channels);
    for (i = 0; i < channels; i += LANES) {
        vstrbq_p_s8(zero_row + i, vdupq_n_s8((int8_t)(-p->input_offset)), vctp8q((uint32_t)(channels - i)));
    }
    all_pixels(in, out, weights, p, zero_row, &s, pixel_body(p->kernel_h, shifts_negative(p->out_shift, channels)));
    return 1;
}

/*
 * The ring (edgec_depthwise_pairs_ring_mve): the procedure of depthwise_inplace.c -- input rows
 * copied into a ring of K zero-point-padded rows at their first use, output row oy written only
 * after every row it taps is in the ring -- run for a block of sixteen channels at once instead of
 * one channel.  Channel c of the output only overwrites channel c of the input, so the blocks are
 * independent and each block's channels follow exactly the per-channel order proven there: the
 * same code serves separate input and output views and the in-place layers' single buffer.  A
 * ring pixel is the block's sixteen bytes, so tap (ky, kx) of an output is one 16-byte load at a
 * constant offset from its ring row, and the padding (columns set once per call, rows outside the
 * input filled at their use) holds the zero point, whose (x + input_offset) is 0 under the folded
 * start.  The block's weights, starts and requantization constants are staged once per block for
 * the assembly row bodies (every shift below 0, the usual case), or gathered once per output row
 * by the compiled ones.  Output rows whose taps all lie inside a dense input skip the ring (the
 * direct rows, below).
 */

/* The geometry of a ring call. */
typedef struct {
    const int8_t *in;
    int32_t in_h, in_w, in_row, in_col;
    int32_t stride_h, pad_top, pad_left;
    int8_t *ring;  /* K rows of row_w pixels of LANES bytes */
    int32_t row_w; /* pixels per ring row, the padding included */
    int8_t zero_point;
} ring_plane;

/* The constants of one block of sixteen channels for the compiled row bodies (layers with a shift
 * of 0 or more), gathered once per output row: its weights, tap by tap (zero past the block's
 * channels), and per accumulator its lanes' start and requantization constants (mve_requant.h). */
typedef struct {
    int8x16_t w[MAX_K * MAX_K];
    int32x4_t start[4];
    mve_requant_q q[4];
} block_stage;

ALWAYS_INLINE void block_constants(block_stage *b, const int8_t *w, const call_stage *s, int32_t c0, int32_t n,
                                   const int full, const int K)
{
    const mve_pred16_t lanes = vctp8q((uint32_t)n);
    int t, k;
#pragma GCC unroll 49
    for (t = 0; t < K * K; ++t) {
        b->w[t] = full ? vldrbq_s8(w + t * s->channels + c0) : vldrbq_z_s8(w + t * s->channels + c0, lanes);
    }
#pragma GCC unroll 4
    for (k = 0; k < 4; ++k) {
        b->start[k] = gather_lanes(s->start, s, c0, k, n, full);
        b->q[k] = mve_requant_make(gather_lanes(s->mult, s, c0, k, n, full), gather_lanes(s->shift, s, c0, k, n, full));
    }
}

/* The block's accumulators for one output: tap (ky, kx) reads rows[ky] + kx * LANES. */
ALWAYS_INLINE void ring_taps(const int8_t *const *rows, const block_stage *b, const int K, int32x4_t acc[4])
{
    int32x4_t a0 = acc[0], a1 = acc[1], a2 = acc[2], a3 = acc[3];
    int t;
#pragma GCC unroll 25
    for (t = 0; t < K * K; t += 2) {
        const int8x16_t xa = vldrbq_s8(rows[t / K] + (t % K) * LANES);
        int16x8_t even = vmullbq_int_s8(xa, b->w[t]), odd = vmulltq_int_s8(xa, b->w[t]);
        if (t + 1 < K * K) {
            const int8x16_t xb = vldrbq_s8(rows[(t + 1) / K] + ((t + 1) % K) * LANES);
            even = vaddq_s16(even, vmullbq_int_s8(xb, b->w[t + 1]));
            odd = vaddq_s16(odd, vmulltq_int_s8(xb, b->w[t + 1]));
        }
        a0 = vaddq_s32(a0, vmovlbq_s16(even));
        a1 = vaddq_s32(a1, vmovltq_s16(even));
        a2 = vaddq_s32(a2, vmovlbq_s16(odd));
        a3 = vaddq_s32(a3, vmovltq_s16(odd));
        __asm__ volatile("" : "+w"(a0), "+w"(a1), "+w"(a2), "+w"(a3)::"memory"); /* as in block_taps */
    }
    acc[0] = a0;
    acc[1] = a1;
    acc[2] = a2;
    acc[3] = a3;
}

/* Accumulator k of a block requantized, offset and clamped (constants from b). */
ALWAYS_INLINE int32x4_t ring_finish(int32x4_t acc, const block_stage *b, const call_stage *s, int k)
{
    return mve_requant_clamp(acc, b->q[k], s->output_offset, s->lo, s->hi);
}

/* One output row of the block at c0 (n channels): ring[ky] is the ring row tap row ky reads, dst
 * the row's first output pixel.  The weights of a lane past n are 0, so whatever a ring lane past n
 * holds adds nothing. */
ALWAYS_INLINE void ring_row(const int8_t *const *ring, const int8_t *w, int8_t *dst, const call_stage *s, int32_t c0,
                            int32_t n, int32_t out_w, int32_t out_col, int32_t step, const int full, const int K)
{
    const mve_pred16_t lanes = vctp8q((uint32_t)n);
    const int8_t *rows[MAX_K];
    block_stage b;
    int32_t ox, ky;
    block_constants(&b, w, s, c0, n, full, K);
#pragma GCC unroll 7
    for (ky = 0; ky < K; ++ky) {
        rows[ky] = ring[ky];
    }
    for (ox = 0; ox < out_w; ++ox, dst += out_col) {
        int32x4_t acc[4] = {b.start[0], b.start[1], b.start[2], b.start[3]};
        int16x8_t even, odd;
        int8x16_t bytes;
        ring_taps(rows, &b, K, acc);
        even = vmovnbq_s32(vuninitializedq_s16(), ring_finish(acc[0], &b, s, 0));
        even = vmovntq_s32(even, ring_finish(acc[1], &b, s, 1));
        odd = vmovnbq_s32(vuninitializedq_s16(), ring_finish(acc[2], &b, s, 2));
        odd = vmovntq_s32(odd, ring_finish(acc[3], &b, s, 3));
        bytes = vmovntq_s16(vmovnbq_s16(vuninitializedq_s8(), even), odd);
        if (full) {
            vstrbq_s8(dst + c0, bytes);
        } else {
            vstrbq_p_s8(dst + c0, bytes, lanes);
        }
#pragma GCC unroll 7
        for (ky = 0; ky < K; ++ky) {
            rows[ky] += step;
        }
    }
}

typedef void ring_row_fn(const int8_t *const *ring, const int8_t *w, int8_t *dst, const call_stage *s, int32_t c0,
                         int32_t n, int32_t out_w, int32_t out_col, int32_t step);

/* The compiled row bodies, per kernel size, each with its whole-block and its predicated-tail loop:
 * layers with a shift of 0 or more (every other layer takes the assembly bodies below). */
#define RING_ROW_BODY(K, NAME)                                                                                    \
    static __attribute__((noinline)) void NAME(const int8_t *const *ring, const int8_t *w, int8_t *dst,          \
                                               const call_stage *s, int32_t c0, int32_t n, int32_t out_w,         \
                                               int32_t out_col, int32_t step)                                    \
    {                                                                                                            \
        if (n == LANES) {                                                                                        \
            ring_row(ring, w, dst, s, c0, LANES, out_w, out_col, step, 1, K);                                    \
        } else {                                                                                                 \
            ring_row(ring, w, dst, s, c0, n, out_w, out_col, step, 0, K);                                        \
        }                                                                                                        \
    }
RING_ROW_BODY(3, ring_row_3x3)
RING_ROW_BODY(5, ring_row_5x5)
RING_ROW_BODY(7, ring_row_7x7)

static ring_row_fn *ring_row_body(int32_t k)
{
    switch (k) {
    case 3: return ring_row_3x3;
    case 5: return ring_row_5x5;
    default: return ring_row_7x7;
    }
}

/*
 * The row bodies in assembly, for layers whose shifts are all negative (the usual case).  Compiled,
 * a 3x3 row spent about 172 instructions per output and block: the four accumulators, two inputs,
 * two weights and the products exceed the eight Q registers, so GCC spilled.  Here the four
 * accumulators stay in q0-q3 for the whole output and q4-q7 hold one pair of taps: tap a's input
 * and weight, its even and odd products (the input register reused for the odd ones), then tap b's
 * weight and input, whose input is loaded twice (its even products overwrite it): 19 instructions
 * per pair of taps against 18 with a spare register.  The weights come from the block's stage
 * (asm_stage, gathered once per block for all its rows) through a post-incremented pointer, the
 * requantization constants from fixed offsets of it.  Requantization: VQRDMULH, the step down of
 * negative values and VRSHL per accumulator; then the narrowing saturates (VQMOVN) to int16, the
 * output offset is added there with saturation (a value past int16 is past the clamp bounds either
 * way) and once more to int8, so the clamp is one VMAX/VMIN on all sixteen channels.
 */

/* The constants of one block of sixteen channels (asm_row_* read them at these offsets). */
typedef struct {
    int32x4_t start[4];           /* 0: bias + input_offset * sum(w), in the accumulators' lane order */
    int32x4_t mult[4];            /* 64 */
    int32x4_t shift[4];           /* 128: every one below 0 */
    int8x16_t lo, hi;             /* 192, 208: act_min, act_max */
    int8x16_t w[MAX_K * MAX_K];   /* 224: tap by tap, zero past the block's channels */
} asm_stage;

typedef char asm_stage_weights_at_224[offsetof(asm_stage, w) == 224 ? 1 : -1];

/* The block's stage.  Its starts are folded here from the weights it stages (the even and the odd
 * channels' sums in int16, at most 49 * 128 in magnitude, widened in the accumulators' lane order:
 * channels {0,4,8,12}, {2,6,10,14}, {1,5,9,13}, {3,7,11,15}), not per call over every channel:
 * most of these layers are row streamed, one output row per call. */
ALWAYS_INLINE void block_stage_fill(asm_stage *st, const int8_t *w, const call_stage *s, int32_t c0, int32_t n,
                                    int32_t taps, const int full)
{
    const mve_pred16_t lanes = vctp8q((uint32_t)n);
    const int32_t channels = s->channels;
    int16x8_t even = vdupq_n_s16(0), odd = vdupq_n_s16(0);
    int32x4_t sums[4];
    int t, k;
    for (t = 0; t < taps; ++t) {
        const int8x16_t v = full ? vldrbq_s8(w + t * channels + c0) : vldrbq_z_s8(w + t * channels + c0, lanes);
        st->w[t] = v;
        even = vaddq_s16(even, vmovlbq_s8(v));
        odd = vaddq_s16(odd, vmovltq_s8(v));
    }
    sums[0] = vmovlbq_s16(even);
    sums[1] = vmovltq_s16(even);
    sums[2] = vmovlbq_s16(odd);
    sums[3] = vmovltq_s16(odd);
    for (k = 0; k < 4; ++k) {
        const int32x4_t bias = s->bias ? gather_lanes(s->bias, s, c0, k, n, full) : vdupq_n_s32(0);
        st->start[k] = vmlaq_n_s32(bias, sums[k], s->input_offset);
        st->mult[k] = gather_lanes(s->mult, s, c0, k, n, full);
        st->shift[k] = gather_lanes(s->shift, s, c0, k, n, full);
    }
}

static void asm_block_constants(asm_stage *st, const int8_t *w, const call_stage *s, int32_t c0, int32_t n,
                                int32_t taps)
{
    if (n == LANES) { /* whole blocks without predicates */
        block_stage_fill(st, w, s, c0, LANES, taps, 1);
    } else {
        block_stage_fill(st, w, s, c0, n, taps, 0);
    }
    st->lo = vdupq_n_s8((int8_t)vgetq_lane_s32(s->lo, 0));
    st->hi = vdupq_n_s8((int8_t)vgetq_lane_s32(s->hi, 0));
}

/* Row ky's pointer for this output into register R: rows[ky] + xoff. */
#define ASM_ROW(KY, R) "ldr " R ", [%[rows], #(" #KY ")*4]\n\tadd " R ", " R ", %[xoff]\n\t"
#define RA "%[ra]"
#define RB "%[rb]"

/* The int16 sums of the even (q6) and odd (q4) channels' products widened into q0-q3. */
#define ASM_WIDEN                                                                                                 \
    "vmovlb.s16 q5, q6\n\tvadd.i32 q0, q0, q5\n\t"                                                               \
    "vmovlt.s16 q6, q6\n\tvadd.i32 q1, q1, q6\n\t"                                                               \
    "vmovlb.s16 q5, q4\n\tvadd.i32 q2, q2, q5\n\t"                                                               \
    "vmovlt.s16 q4, q4\n\tvadd.i32 q3, q3, q4\n\t"

/* Tap a at column XA of row register R1 and tap b at column XB of R2, the next two weights; the
 * columns are C bytes apart (16 in the ring, the input's column stride on the direct rows), so the
 * inputs are VLDRW.U32 loads (offsets up to 508 bytes, every address 4-byte aligned: the ring is, a
 * direct input is checked), the same sixteen bytes in the same lanes as VLDRB.8. */
#define ASM_PAIR(R1, XA, R2, XB, C)                                                                               \
    "vldrw.u32 q4, [" R1 ", #" #XA "*" #C "]\n\t"                                                               \
    "vldrw.u32 q5, [%[w]], #16\n\t"                                                                              \
    "vmullb.s8 q6, q4, q5\n\t"                                                                                   \
    "vmullt.s8 q4, q4, q5\n\t"                                                                                   \
    "vldrw.u32 q5, [" R2 ", #" #XB "*" #C "]\n\t"                                                               \
    "vldrw.u32 q7, [%[w]], #16\n\t"                                                                              \
    "vmullb.s8 q5, q5, q7\n\t"                                                                                   \
    "vadd.i16 q6, q6, q5\n\t"                                                                                    \
    "vldrw.u32 q5, [" R2 ", #" #XB "*" #C "]\n\t"                                                               \
    "vmullt.s8 q5, q5, q7\n\t"                                                                                   \
    "vadd.i16 q4, q4, q5\n\t" ASM_WIDEN

/* The last tap of an odd count, alone. */
#define ASM_SINGLE(R1, XA, C)                                                                                     \
    "vldrw.u32 q4, [" R1 ", #" #XA "*" #C "]\n\t"                                                               \
    "vldrw.u32 q5, [%[w]], #16\n\t"                                                                              \
    "vmullb.s8 q6, q4, q5\n\t"                                                                                   \
    "vmullt.s8 q4, q4, q5\n\t" ASM_WIDEN

/* Seven taps of an even row in R1 (columns 0-5 and 6 with the next row's 0 in R2), then of an odd row. */
#define ASM_ROWS_7(KY, R1, R2, C)                                                                                 \
    ASM_ROW(KY, R1) ASM_PAIR(R1, 0, R1, 1, C) ASM_PAIR(R1, 2, R1, 3, C) ASM_PAIR(R1, 4, R1, 5, C)                \
    ASM_ROW(KY + 1, R2) ASM_PAIR(R1, 6, R2, 0, C) ASM_PAIR(R2, 1, R2, 2, C) ASM_PAIR(R2, 3, R2, 4, C)            \
    ASM_PAIR(R2, 5, R2, 6, C)

#define ASM_TAPS_5(C)                                                                                             \
    ASM_ROW(0, RA) ASM_PAIR(RA, 0, RA, 1, C) ASM_PAIR(RA, 2, RA, 3, C) ASM_ROW(1, RB) ASM_PAIR(RA, 4, RB, 0, C)   \
    ASM_PAIR(RB, 1, RB, 2, C) ASM_PAIR(RB, 3, RB, 4, C)                                                          \
    ASM_ROW(2, RA) ASM_PAIR(RA, 0, RA, 1, C) ASM_PAIR(RA, 2, RA, 3, C) ASM_ROW(3, RB) ASM_PAIR(RA, 4, RB, 0, C)   \
    ASM_PAIR(RB, 1, RB, 2, C) ASM_PAIR(RB, 3, RB, 4, C)                                                          \
    ASM_ROW(4, RA) ASM_PAIR(RA, 0, RA, 1, C) ASM_PAIR(RA, 2, RA, 3, C) ASM_SINGLE(RA, 4, C)
#define ASM_TAPS_7(C)                                                                                             \
    ASM_ROWS_7(0, RA, RB, C) ASM_ROWS_7(2, RA, RB, C) ASM_ROWS_7(4, RA, RB, C)                                   \
    ASM_ROW(6, RA) ASM_PAIR(RA, 0, RA, 1, C) ASM_PAIR(RA, 2, RA, 3, C) ASM_PAIR(RA, 4, RA, 5, C)                 \
    ASM_SINGLE(RA, 6, C)

/* One output: the accumulators from the block's starts, the taps, the weight pointer back to tap 0,
 * the requantization, the narrowing, the offset and the clamp (q6: sixteen int8 outputs); STORE
 * writes them, then dst and the column offset step to the next output. */
#define ASM_OUTPUT(TAPS, WEIGHT_BYTES, STORE)                                                                     \
    "vldrw.u32 q0, [%[st]]\n\t"                                                                                  \
    "vldrw.u32 q1, [%[st], #16]\n\t"                                                                             \
    "vldrw.u32 q2, [%[st], #32]\n\t"                                                                             \
    "vldrw.u32 q3, [%[st], #48]\n\t" TAPS                                                                        \
    "sub %[w], %[w], #" #WEIGHT_BYTES "\n\t"                                                                     \
    "vldrw.u32 q4, [%[st], #64]\n\t"                                                                             \
    "vldrw.u32 q5, [%[st], #80]\n\t"                                                                             \
    "vldrw.u32 q6, [%[st], #96]\n\t"                                                                             \
    "vldrw.u32 q7, [%[st], #112]\n\t"                                                                            \
    "vqrdmulh.s32 q0, q0, q4\n\t"                                                                                \
    "vqrdmulh.s32 q1, q1, q5\n\t"                                                                                \
    "vqrdmulh.s32 q2, q2, q6\n\t"                                                                                \
    "vqrdmulh.s32 q3, q3, q7\n\t"                                                                                \
    "vshr.s32 q4, q0, #31\n\tvqadd.s32 q0, q0, q4\n\t"                                                           \
    "vshr.s32 q5, q1, #31\n\tvqadd.s32 q1, q1, q5\n\t"                                                           \
    "vshr.s32 q6, q2, #31\n\tvqadd.s32 q2, q2, q6\n\t"                                                           \
    "vshr.s32 q7, q3, #31\n\tvqadd.s32 q3, q3, q7\n\t"                                                           \
    "vldrw.u32 q4, [%[st], #128]\n\t"                                                                            \
    "vldrw.u32 q5, [%[st], #144]\n\t"                                                                            \
    "vldrw.u32 q6, [%[st], #160]\n\t"                                                                            \
    "vldrw.u32 q7, [%[st], #176]\n\t"                                                                            \
    "vrshl.s32 q0, q0, q4\n\t"                                                                                   \
    "vrshl.s32 q1, q1, q5\n\t"                                                                                   \
    "vrshl.s32 q2, q2, q6\n\t"                                                                                   \
    "vrshl.s32 q3, q3, q7\n\t"                                                                                   \
    "vqmovnb.s32 q4, q0\n\t"                                                                                     \
    "vqmovnt.s32 q4, q1\n\t"                                                                                     \
    "vqmovnb.s32 q5, q2\n\t"                                                                                     \
    "vqmovnt.s32 q5, q3\n\t"                                                                                     \
    "vqadd.s16 q4, q4, %[off]\n\t"                                                                               \
    "vqadd.s16 q5, q5, %[off]\n\t"                                                                               \
    "vqmovnb.s16 q6, q4\n\t"                                                                                     \
    "vqmovnt.s16 q6, q5\n\t"                                                                                     \
    "vldrw.u32 q7, [%[st], #192]\n\t"                                                                            \
    "vmax.s8 q6, q6, q7\n\t"                                                                                     \
    "vldrw.u32 q7, [%[st], #208]\n\t"                                                                            \
    "vmin.s8 q6, q6, q7\n\t" STORE                                                                              \
    "add %[dst], %[dst], %[col]\n\t"

#define ASM_STORE_FULL "vstrb.8 q6, [%[dst]]\n\t"
#define ASM_STORE_TAIL "vpst\n\tvstrbt.8 q6, [%[dst]]\n\t"

typedef void asm_row_fn(const int8_t *const *rows, const asm_stage *st, int8_t *dst, int32_t out_w, int32_t out_col,
                        int32_t step, int32_t offset, int32_t n);

/* An output row of the block staged in st (n channels): rows[ky] is the ring row tap row ky reads,
 * dst the first output's first channel; out_w outputs, out_col bytes apart, step ring bytes apart. */
#define ASM_ROW_BODY(NAME, TAPS, WEIGHT_BYTES)                                                                    \
    static __attribute__((noinline)) void NAME(const int8_t *const *rows, const asm_stage *st, int8_t *dst,      \
                                               int32_t out_w, int32_t out_col, int32_t step, int32_t offset,      \
                                               int32_t n)                                                         \
    {                                                                                                            \
        const int8_t *w = (const int8_t *)st->w;                                                                 \
        const int8_t *ra, *rb;                                                                                   \
        int32_t xoff = 0;                                                                                        \
        if (n == LANES) {                                                                                        \
            __asm__ volatile("dls lr, %[count]\n"                                                                \
                             "1:\n\t" ASM_OUTPUT(TAPS, WEIGHT_BYTES, ASM_STORE_FULL)                           \
                             "add %[xoff], %[xoff], %[step]\n\tle lr, 1b"                                        \
                             : [w] "+&r"(w), [dst] "+&r"(dst), [xoff] "+&r"(xoff), [ra] "=&r"(ra), [rb] "=&r"(rb) \
                             : [rows] "r"(rows), [st] "r"(st), [count] "r"(out_w), [col] "r"(out_col),          \
                               [step] "r"(step), [off] "r"(offset)                                              \
                             : "lr", "d0", "d1", "d2", "d3", "d4", "d5", "d6", "d7", "d8", "d9", "d10", "d11",   \
                               "d12", "d13", "d14", "d15", "memory", "cc");                                      \
        } else {                                                                                                 \
            __asm__ volatile("vctp.8 %[n]\n\t"                                                                   \
                             "dls lr, %[count]\n"                                                                \
                             "1:\n\t" ASM_OUTPUT(TAPS, WEIGHT_BYTES, ASM_STORE_TAIL)                           \
                             "add %[xoff], %[xoff], %[step]\n\tle lr, 1b"                                        \
                             : [w] "+&r"(w), [dst] "+&r"(dst), [xoff] "+&r"(xoff), [ra] "=&r"(ra), [rb] "=&r"(rb) \
                             : [rows] "r"(rows), [st] "r"(st), [count] "r"(out_w), [col] "r"(out_col),          \
                               [step] "r"(step), [off] "r"(offset), [n] "r"(n)                                  \
                             : "lr", "d0", "d1", "d2", "d3", "d4", "d5", "d6", "d7", "d8", "d9", "d10", "d11",   \
                               "d12", "d13", "d14", "d15", "memory", "cc");                                      \
        }                                                                                                        \
    }
ASM_ROW_BODY(asm_row_5x5, ASM_TAPS_5(16), 400)
ASM_ROW_BODY(asm_row_7x7, ASM_TAPS_7(16), 784)

/* The 3x3 rows keep their three row pointers in registers, stepped per output. */
#define ASM_TAPS_3_HELD(C)                                                                                        \
    ASM_PAIR("%[p0]", 0, "%[p0]", 1, C) ASM_PAIR("%[p0]", 2, "%[p1]", 0, C) ASM_PAIR("%[p1]", 1, "%[p1]", 2, C)   \
    ASM_PAIR("%[p2]", 0, "%[p2]", 1, C) ASM_SINGLE("%[p2]", 2, C)
#define ASM_STEP_3 "add %[p0], %[p0], %[step]\n\tadd %[p1], %[p1], %[step]\n\tadd %[p2], %[p2], %[step]\n\t"

static __attribute__((noinline)) void asm_row_3x3(const int8_t *const *rows, const asm_stage *st, int8_t *dst,
                                                  int32_t out_w, int32_t out_col, int32_t step, int32_t offset,
                                                  int32_t n)
{
    const int8_t *w = (const int8_t *)st->w;
    const int8_t *p0 = rows[0], *p1 = rows[1], *p2 = rows[2];
    if (n == LANES) {
        __asm__ volatile("dls lr, %[count]\n"
                         "1:\n\t" ASM_OUTPUT(ASM_TAPS_3_HELD(16), 144, ASM_STORE_FULL) ASM_STEP_3 "le lr, 1b"
                         : [w] "+&r"(w), [dst] "+&r"(dst), [p0] "+&r"(p0), [p1] "+&r"(p1), [p2] "+&r"(p2)
                         : [st] "r"(st), [count] "r"(out_w), [col] "r"(out_col), [step] "r"(step), [off] "r"(offset)
                         : "lr", "d0", "d1", "d2", "d3", "d4", "d5", "d6", "d7", "d8", "d9", "d10", "d11", "d12",
                           "d13", "d14", "d15", "memory", "cc");
    } else {
        __asm__ volatile("vctp.8 %[n]\n\t"
                         "dls lr, %[count]\n"
                         "1:\n\t" ASM_OUTPUT(ASM_TAPS_3_HELD(16), 144, ASM_STORE_TAIL) ASM_STEP_3 "le lr, 1b"
                         : [w] "+&r"(w), [dst] "+&r"(dst), [p0] "+&r"(p0), [p1] "+&r"(p1), [p2] "+&r"(p2)
                         : [st] "r"(st), [count] "r"(out_w), [col] "r"(out_col), [step] "r"(step), [off] "r"(offset),
                           [n] "r"(n)
                         : "lr", "d0", "d1", "d2", "d3", "d4", "d5", "d6", "d7", "d8", "d9", "d10", "d11", "d12",
                           "d13", "d14", "d15", "memory", "cc");
    }
}

/* The direct rows' bodies (edgec_depthwise_pairs_ring_mve reads the taps of interior outputs straight
 * from a dense input whose columns are C bytes apart): whole blocks only, the taps as above at
 * offsets of C bytes.  A 16-byte column is the ring's layout, so those rows take the ring's bodies. */
#define ASM_DIRECT_BODY(NAME, TAPS, WEIGHT_BYTES)                                                                 \
    static __attribute__((noinline)) void NAME(const int8_t *const *rows, const asm_stage *st, int8_t *dst,      \
                                               int32_t out_w, int32_t out_col, int32_t step, int32_t offset,      \
                                               int32_t n)                                                         \
    {                                                                                                            \
        const int8_t *w = (const int8_t *)st->w;                                                                 \
        const int8_t *ra, *rb;                                                                                   \
        int32_t xoff = 0;                                                                                        \
        (void)n;                                                                                                 \
        __asm__ volatile("dls lr, %[count]\n"                                                                    \
                         "1:\n\t" ASM_OUTPUT(TAPS, WEIGHT_BYTES, ASM_STORE_FULL)                                \
                         "add %[xoff], %[xoff], %[step]\n\tle lr, 1b"                                            \
                         : [w] "+&r"(w), [dst] "+&r"(dst), [xoff] "+&r"(xoff), [ra] "=&r"(ra), [rb] "=&r"(rb)     \
                         : [rows] "r"(rows), [st] "r"(st), [count] "r"(out_w), [col] "r"(out_col),              \
                           [step] "r"(step), [off] "r"(offset)                                                  \
                         : "lr", "d0", "d1", "d2", "d3", "d4", "d5", "d6", "d7", "d8", "d9", "d10", "d11",       \
                           "d12", "d13", "d14", "d15", "memory", "cc");                                          \
    }
#define ASM_DIRECT_3X3(NAME, C)                                                                                   \
    static __attribute__((noinline)) void NAME(const int8_t *const *rows, const asm_stage *st, int8_t *dst,      \
                                               int32_t out_w, int32_t out_col, int32_t step, int32_t offset,      \
                                               int32_t n)                                                         \
    {                                                                                                            \
        const int8_t *w = (const int8_t *)st->w;                                                                 \
        const int8_t *p0 = rows[0], *p1 = rows[1], *p2 = rows[2];                                                \
        (void)n;                                                                                                 \
        __asm__ volatile("dls lr, %[count]\n"                                                                    \
                         "1:\n\t" ASM_OUTPUT(ASM_TAPS_3_HELD(C), 144, ASM_STORE_FULL) ASM_STEP_3 "le lr, 1b"     \
                         : [w] "+&r"(w), [dst] "+&r"(dst), [p0] "+&r"(p0), [p1] "+&r"(p1), [p2] "+&r"(p2)         \
                         : [st] "r"(st), [count] "r"(out_w), [col] "r"(out_col), [step] "r"(step),              \
                           [off] "r"(offset)                                                                    \
                         : "lr", "d0", "d1", "d2", "d3", "d4", "d5", "d6", "d7", "d8", "d9", "d10", "d11",       \
                           "d12", "d13", "d14", "d15", "memory", "cc");                                          \
    }
ASM_DIRECT_3X3(asm_direct_3x3_48, 48)
ASM_DIRECT_3X3(asm_direct_3x3_96, 96)
ASM_DIRECT_BODY(asm_direct_5x5_48, ASM_TAPS_5(48), 400)
ASM_DIRECT_BODY(asm_direct_5x5_96, ASM_TAPS_5(96), 400)
ASM_DIRECT_BODY(asm_direct_7x7_48, ASM_TAPS_7(48), 784)

/* The direct body of a K x K kernel on columns col bytes apart, or 0 (the offsets must stay within
 * VLDRW's 508 bytes, and each body is code: the whole-block column strides of the usual layers). */
static asm_row_fn *asm_direct_body(int32_t k, int32_t col)
{
    if (col == LANES) {
        return k == 3 ? asm_row_3x3 : k == 5 ? asm_row_5x5 : asm_row_7x7;
    }
    switch (k * 1000 + col) {
    case 3048: return asm_direct_3x3_48;
    case 3096: return asm_direct_3x3_96;
    case 5048: return asm_direct_5x5_48;
    case 5096: return asm_direct_5x5_96;
    case 7048: return asm_direct_7x7_48;
    default: return 0;
    }
}

static asm_row_fn *asm_row_body(int32_t k)
{
    switch (k) {
    case 3: return asm_row_3x3;
    case 5: return asm_row_5x5;
    default: return asm_row_7x7;
    }
}

/* Padded row r into its ring slot for the block at c0 (n channels): input row r - pad_top, or the
 * zero point outside the input.  The slot's padding columns keep the zero point of the call's
 * start. */
static void ring_copy_row(const ring_plane *g, int32_t slot, int32_t r, int32_t c0, int32_t n)
{
    const int32_t iy = r - g->pad_top, in_w = g->in_w, in_col = g->in_col;
    int8_t *dst = g->ring + (slot * g->row_w + g->pad_left) * LANES;
    const int8_t *src = g->in + iy * g->in_row + c0;
    int32_t x;
    if (iy < 0 || iy >= g->in_h) {
        const int8x16_t z = vdupq_n_s8(g->zero_point);
        for (x = 0; x < in_w; ++x, dst += LANES) {
            vstrbq_s8(dst, z);
        }
    } else if (n == LANES) {
        /* Whole blocks two pixels per step, unpredicated: 7 instructions (GCC 12 took 9). */
        const int8_t *odd = src + in_col;
        if (in_w >= 2) {
            __asm__ volatile("dls lr, %[pairs]\n"
                             "1:\n\t"
                             "vldrb.8 q0, [%[even]]\n\t"
                             "vldrb.8 q1, [%[odd]]\n\t"
                             "add %[even], %[even], %[step]\n\t"
                             "add %[odd], %[odd], %[step]\n\t"
                             "vstrb.8 q0, [%[dst]], #32\n\t"
                             "vstrb.8 q1, [%[dst], #-16]\n\t"
                             "le lr, 1b"
                             : [even] "+&r"(src), [odd] "+&r"(odd), [dst] "+&r"(dst)
                             : [pairs] "r"(in_w / 2), [step] "r"(2 * in_col)
                             : "lr", "d0", "d1", "d2", "d3", "memory");
        }
        if (in_w & 1) {
            vstrbq_s8(dst, vldrbq_s8(src));
        }
    } else {
        const mve_pred16_t lanes = vctp8q((uint32_t)n);
        for (x = 0; x < in_w; ++x, dst += LANES, src += in_col) {
            vstrbq_s8(dst, vldrbq_z_s8(src, lanes));
        }
    }
}

/* The padding columns of every ring slot at the zero point (ring_copy_row writes the others). */
static void ring_pad_columns(const ring_plane *g, int32_t k)
{
    const int8x16_t z = vdupq_n_s8(g->zero_point);
    int32_t r, x;
    for (r = 0; r < k; ++r) {
        int8_t *row = g->ring + r * g->row_w * LANES;
        for (x = 0; x < g->pad_left; ++x) {
            vstrbq_s8(row + x * LANES, z);
        }
        for (x = g->pad_left + g->in_w; x < g->row_w; ++x) {
            vstrbq_s8(row + x * LANES, z);
        }
    }
}

/*
 * The direct rows.  Most of these layers are row streamed (one output row per call), so the ring
 * copied K input rows per output row and block; an output row whose K tap rows all lie inside a
 * dense input instead reads the taps of its interior outputs (every tap inside the input's
 * columns) straight from the input, through a body whose tap offsets are the input's column stride
 * (asm_direct_body), and only the outputs at the left and right borders go through a window of
 * their few padded pixels, written into the ring's buffer.  Taken for layers the assembly bodies
 * take, with whole blocks (channels a multiple of sixteen), a 4-byte-aligned input whose column
 * stride has a direct body, and an output that does not overlap the input (the in-place layers
 * keep the ring, whose row order their single buffer needs).
 */

/* The border outputs [ox0, ox0 + count) of a direct row: their taps' K rows of `width` pixels, each
 * a ring row in buf, pixels [inside, outside) the input's (from input column ix0 + inside), the
 * others the zero point, written once (direct_windows_zero) while no ring row runs. */
typedef struct {
    int8_t *buf;
    int32_t ox0, count, width, ix0, inside, outside;
} edge_window;

/* The direct rows of a call: the interior outputs' body (0: every row through the ring), the
 * outputs [ox_begin, ox_end) whose taps all lie inside the input's columns, the windows of the
 * outputs left and right of them (count 0: none). */
typedef struct {
    asm_row_fn *body;
    int32_t ox_begin, ox_end;
    edge_window left, right;
} direct_plan;

static void edge_window_make(edge_window *e, const ring_plane *g, int8_t *buf, int32_t ox0, int32_t count, int32_t k,
                             int32_t sw)
{
    e->buf = buf;
    e->ox0 = ox0;
    e->count = count;
    e->width = count > 0 ? (count - 1) * sw + k : 0;
    e->ix0 = ox0 * sw - g->pad_left;
    e->inside = e->ix0 < 0 ? (-e->ix0 < e->width ? -e->ix0 : e->width) : 0;
    e->outside = g->in_w - e->ix0 < e->width ? g->in_w - e->ix0 : e->width;
    if (e->outside < e->inside) {
        e->outside = e->inside;
    }
}

static void direct_plan_make(direct_plan *d, const ring_plane *g, const edgec_view *in, const edgec_view *out,
                             const edgec_depthwise_params *p, int32_t channels)
{
    const int32_t k = p->kernel_h, sw = p->stride_w, pad = p->pad_left;
    const int32_t last = in->w - k + pad; /* the largest ox * sw whose taps end inside the input */
    const uintptr_t in_begin = (uintptr_t)in->data, out_begin = (uintptr_t)out->data;
    const uintptr_t in_end = in_begin + (uint32_t)((in->h - 1) * in->row_stride + (in->w - 1) * in->col_stride + channels);
    const uintptr_t out_end =
        out_begin + (uint32_t)((out->h - 1) * out->row_stride + (out->w - 1) * out->col_stride + channels);
    asm_row_fn *const body = asm_direct_body(k, in->col_stride);
    /* Input rows the ring copies per output row: all K on a row-streamed call (one output row). */
    const int32_t copied = out->h == 1 || p->stride_h > k ? k : p->stride_h;
    d->body = 0;
    if (!body || channels % LANES != 0) {
        return;
    }
    d->ox_begin = (pad + sw - 1) / sw;
    d->ox_end = last < 0 ? 0 : last / sw + 1;
    if (d->ox_end > out->w) {
        d->ox_end = out->w;
    }
    if (((in_begin | (uint32_t)in->row_stride | (uint32_t)in->col_stride) & 3) != 0 ||
        d->ox_begin >= d->ox_end || in->h <= 0 || !(in_end <= out_begin || out_end <= in_begin)) {
        return;
    }
    edge_window_make(&d->left, g, g->ring, 0, d->ox_begin, k, sw);
    edge_window_make(&d->right, g, g->ring + k * d->left.width * LANES, d->ox_end, out->w - d->ox_end, k, sw);
    /* Each border window costs about what the ring's copy of 36 input pixels does (measured on
     * qemu-cortex-m55: MobileNetV2's op 22, a whole 12x12 layer at stride 2, lost with its one). */
    if (k * (d->left.width + d->right.width) * LANES > RING_BYTES ||
        copied * in->w < 36 * ((d->left.count > 0) + (d->right.count > 0))) {
        return;
    }
    d->body = body;
}

/* The zero-point pixels of a window. */
static void edge_window_zero(const edge_window *e, int8x16_t z, int32_t k)
{
    int32_t ky, x;
    for (ky = 0; ky < k; ++ky) {
        int8_t *row = e->buf + ky * e->width * LANES;
        for (x = 0; x < e->inside; ++x) {
            vstrbq_s8(row + x * LANES, z);
        }
        for (x = e->outside; x < e->width; ++x) {
            vstrbq_s8(row + x * LANES, z);
        }
    }
}

/* A window's outputs of the output row at dst (tap row 0 on input row iy0) for the block at c0: its
 * input pixels copied, then the ring's body. */
static void direct_edge(const ring_plane *g, const edge_window *e, asm_row_fn *body, const asm_stage *st, int8_t *dst,
                        int32_t iy0, int32_t k, int32_t sw, int32_t c0, int32_t out_col, int32_t offset)
{
    const int32_t in_col = g->in_col, pixels = e->outside - e->inside;
    const int8_t *rows[MAX_K];
    int32_t ky, x;
    for (ky = 0; ky < k; ++ky) {
        const int8_t *src = g->in + (iy0 + ky) * g->in_row + (e->ix0 + e->inside) * in_col + c0;
        int8_t *row = e->buf + ky * e->width * LANES;
        int8_t *to = row + e->inside * LANES;
        rows[ky] = row;
        for (x = 0; x < pixels; ++x, src += in_col, to += LANES) {
            vstrbq_s8(to, vldrbq_s8(src));
        }
    }
    body(rows, st, dst + e->ox0 * out_col, e->count, out_col, sw * LANES, offset, LANES);
}

/* One output row at dst (tap row 0 on input row iy0, every tap row inside the input), block c0. */
static void direct_row(const ring_plane *g, const direct_plan *d, asm_row_fn *ring_body, const asm_stage *st,
                       int8_t *dst, int32_t iy0, int32_t k, int32_t sw, int32_t c0, int32_t out_col, int32_t offset)
{
    const int8_t *base = g->in + iy0 * g->in_row + (d->ox_begin * sw - g->pad_left) * g->in_col + c0;
    const int8_t *rows[MAX_K];
    int32_t ky;
    for (ky = 0; ky < k; ++ky) {
        rows[ky] = base + ky * g->in_row;
    }
    if (d->left.count > 0) {
        direct_edge(g, &d->left, ring_body, st, dst, iy0, k, sw, c0, out_col, offset);
    }
    d->body(rows, st, dst + d->ox_begin * out_col, d->ox_end - d->ox_begin, out_col, sw * g->in_col, offset, LANES);
    if (d->right.count > 0) {
        direct_edge(g, &d->right, ring_body, st, dst, iy0, k, sw, c0, out_col, offset);
    }
}

int edgec_depthwise_pairs_ring_mve(const edgec_view *in, edgec_view *out, const int8_t *weights, const int32_t *bias,
                                   const edgec_depthwise_params *p)
{
    const int32_t k = p->kernel_h, sw = p->stride_w, channels = out->c;
    const int32_t out_h = out->h, out_w = out->w, out_row = out->row_stride, out_col = out->col_stride;
    int8_t *const out_data = out->data;
    int32_t start[MAX_CHANNELS];
    int8_t ring[RING_BYTES] __attribute__((aligned(4)));
    asm_stage st;
    ring_row_fn *body = 0;
    asm_row_fn *asm_body = 0;
    call_stage s;
    ring_plane g;
    direct_plan direct;
    enum { HOLDS_NOTHING, HOLDS_RING, HOLDS_WINDOWS } ring_holds = HOLDS_NOTHING; /* the buffer's zero points */
    int32_t c0, oy, ky;

    /* Ring row: the padded input row, and every byte the taps of the last output read. */
    g.row_w = (out_w - 1) * sw + k;
    if (g.row_w < p->pad_left + in->w + p->pad_right) {
        g.row_w = p->pad_left + in->w + p->pad_right;
    }
    /* The geometry first: pairs_ok reads every weight. */
    if (in->c != channels || p->dilation_h != 1 || p->dilation_w != 1 || p->stride_h < 1 || p->stride_h > k ||
        sw < 1 || k * g.row_w * LANES > RING_BYTES || out_h <= 0 || out_w <= 0 || !pairs_ok(p, weights, channels)) {
        return 0;
    }
    g.in = in->data;
    g.in_h = in->h;
    g.in_w = in->w;
    g.in_row = in->row_stride;
    g.in_col = in->col_stride;
    g.stride_h = p->stride_h;
    g.pad_top = p->pad_top;
    g.pad_left = p->pad_left;
    g.ring = ring;
    g.zero_point = (int8_t)(-p->input_offset);
    if (shifts_negative(p->out_shift, channels)) {
        asm_body = asm_row_body(k);
    } else {
        body = ring_row_body(k);
    }
    call_constants(&s, asm_body ? 0 : start, weights, bias, p, channels);
    direct.body = 0;
    if (asm_body) {
        direct_plan_make(&direct, &g, in, out, p, channels);
    }

    for (c0 = 0; c0 < channels; c0 += LANES) {
        const int32_t n = channels - c0 < LANES ? channels - c0 : LANES;
        int32_t next_row = 0;
        if (asm_body) {
            asm_block_constants(&st, weights, &s, c0, n, k * k);
        }
        for (oy = 0; oy < out_h; ++oy) {
            const int32_t first = oy * g.stride_h; /* padded index of the row tap row 0 reads */
            const int8_t *rows[MAX_K];
            int32_t r;
            if (direct.body && first >= g.pad_top && first - g.pad_top + k <= g.in_h) {
                if (ring_holds != HOLDS_WINDOWS) {
                    edge_window_zero(&direct.left, vdupq_n_s8(g.zero_point), k);
                    edge_window_zero(&direct.right, vdupq_n_s8(g.zero_point), k);
                    ring_holds = HOLDS_WINDOWS;
                }
                direct_row(&g, &direct, asm_body, &st, out_data + oy * out_row + c0, first - g.pad_top, k, sw, c0,
                           out_col, s.output_offset);
                next_row = 0; /* the windows lie over the ring's slots */
                continue;
            }
            if (ring_holds != HOLDS_RING) {
                ring_pad_columns(&g, k);
                ring_holds = HOLDS_RING;
            }
            r = next_row > first ? next_row : first;
            for (; r < first + k; ++r) {
                ring_copy_row(&g, r % k, r, c0, n);
            }
            next_row = first + k;
            for (ky = 0; ky < k; ++ky) {
                rows[ky] = ring + ((first + ky) % k) * g.row_w * LANES;
            }
            if (asm_body) {
                asm_body(rows, &st, out_data + oy * out_row + c0, out_w, out_col, sw * LANES, s.output_offset, n);
            } else {
                body(rows, weights, out_data + oy * out_row, &s, c0, n, out_w, out_col, sw * LANES);
            }
        }
    }
    return 1;
}

#else

typedef int edgec_depthwise_pairs_mve_needs_mve; /* ISO C: a translation unit needs a declaration */

#endif
