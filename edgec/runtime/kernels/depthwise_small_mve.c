/*
 * Helium (MVE) depthwise conv2d for maps smaller than the kernel (MCUNet's
 * 7x7 layer on a 3x3 map), sixteen channels per vector
 * (depthwise_small_mve.h says what it handles).
 *
 * There most of the kernel's taps fall in the padding.  This kernel lists,
 * once per call, every output pixel's taps inside the input (input and
 * weight byte offsets); the reference skips the others
 * (edgec_depthwise_conv2d adds nothing for them), and so does this kernel.
 * It then walks the channels a block of sixteen at a time, the block's bias
 * and requantization constants gathered once, and computes every output
 * pixel of the map from its listed taps.
 *
 * Arithmetic (as in depthwise_pairs_mve.c): a tap of sixteen channels is two
 * loads and VMULLB/VMULLT.S8; two taps' int16 products are added before
 * they are widened into four int32x4 accumulators (channels {0,4,8,12},
 * {2,6,10,14}, {1,5,9,13} and {3,7,11,15} of the block), exact because no
 * weight is -128 (each product is at most 128 * 127 in magnitude).  The
 * input offset is folded: a pixel starts from bias + input_offset * (sum
 * of the weights of its listed taps), or, where fewer of its taps lie
 * outside the input, from the whole kernel's bias + input_offset * (sum of
 * every weight) less input_offset * (sum of those outside); the sums are
 * int16 (at most 49 * 127 in magnitude).  Its taps multiply the raw inputs.
 *
 * Every pixel's accumulators are kept (on the stack), then requantized per
 * lane (mve_requant.h) a pair of accumulators at a time, their constants in
 * registers, and narrowed with saturation (VQMOVN) to int16; the output
 * offset is added with saturation, narrowed to int8 and clamped: for a
 * requantized r, every step is the identity while r + output_offset lies in
 * [-128, 127] and all are monotonic, so outside it the result saturates to
 * the same end of the clamp as the reference's clamp(r + output_offset).
 * One 16-byte store per pixel and block; the channel tail is predicated.
 * The frames are about 6.7 KiB together (GCC 12 -O2: 4.6 KiB of tap tables,
 * 2 KiB of block accumulators).  Built only
 * for targets with integer MVE.
 */
#include "depthwise_small_mve.h"

#if defined(__ARM_FEATURE_MVE) && (__ARM_FEATURE_MVE & 1)

#include "kernels_internal.h"
#include "mve_requant.h"

#define SMALL_MAX_PIXELS EDGEC_DW_SMALL_MAX_PIXELS
#define SMALL_MAX_K 7
#define SMALL_MAX_TAPS 256 /* listed taps of all pixels (a 4x4 map of a 7x7 kernel over a 4x4 input); more: return 0 */
#define LANES 16

#define ALWAYS_INLINE static inline __attribute__((always_inline))

/* One output pixel: its taps inside the input, the weights of its start's sum, and where it goes.
 * Its start is bias + input_offset * (sum of the weights of its taps inside the input) or, where
 * fewer taps fall outside, the whole kernel's start - input_offset * (sum of those outside). */
typedef struct {
    int32_t first, count;         /* its taps: (input, weight) offset pairs in the call's table */
    int32_t sum_first, sum_count; /* the weight offsets of its start's sum in the call's table */
    int32_t from_whole;           /* 1: start from the whole kernel's start, subtracting the sum */
} small_pixel;

/* The constants of one call.  The table holds byte offsets of channel 0: two per tap (input pixel
 * from in->data, weights from weights), then one per summed weight (from weights). */
typedef struct {
    const int8_t *in, *weights;
    const int32_t *table;
    int32_t sums_at;              /* the first summed weight's word in the table */
    int8_t *const *dst;           /* per pixel: channel 0 of its output */
    const small_pixel *pixel;
    const int32_t *bias, *mult, *shift;
    int32_t pixels, kernel_taps /* 0: no pixel starts from the whole kernel */, channels, input_offset, output_offset;
    int8_t act_min, act_max;
} small_call;

/* Where the four accumulators' lanes come from: channel (first + 4 * lane) of the block. */
static const uint32_t accumulator_first[4] = {0, 2, 1, 3};

ALWAYS_INLINE int8x16_t load16(const int8_t *src, mve_pred16_t lanes, const int full)
{
    return full ? vldrbq_s8(src) : vldrbq_z_s8(src, lanes);
}

/* The four accumulators' lanes of a per-channel int32 array at the block's c0 (zero past n channels). */
ALWAYS_INLINE int32x4_t gather(const int32_t *values, int k, int32_t n, const int full)
{
    const uint32x4_t channel = vaddq_n_u32(vidupq_n_u32(0, 4), accumulator_first[k]);
    return full ? vldrwq_gather_shifted_offset_s32(values, channel)
                : vldrwq_gather_shifted_offset_z_s32(values, channel, vcmphiq_u32(vdupq_n_u32((uint32_t)n), channel));
}

/* Accumulator k's requantization (mve_requant.h), without the output offset.  `negative`: every
 * shift of the layer is below 0 (no left shift, every lane steps down before VRSHL). */
ALWAYS_INLINE int32x4_t requant(int32x4_t acc, const mve_requant_q *q, const int negative)
{
    if (negative) {
        const int32x4_t v = vqrdmulhq_s32(acc, q->mult);
        return vrshlq_s32(vqaddq_s32(v, vshrq_n_s32(v, 31)), q->right_neg);
    }
    return mve_requant(acc, q);
}

/* One block of n channels at c0 over every output pixel: the accumulators of every pixel, then
 * their requantization a pair of accumulators at a time (its constants in registers), then the
 * output offset, clamp and stores. */
ALWAYS_INLINE void block(const small_call *s, int32_t c0, int32_t n, const int full, const int negative)
{
    int32x4_t acc[SMALL_MAX_PIXELS][4], bias[4], whole[4];
    int16x8_t halves[2][SMALL_MAX_PIXELS];
    const mve_pred16_t lanes = vctp8q((uint32_t)n);
    const int32_t *table = s->table;
    const int8_t *x = s->in + c0, *w = s->weights + c0;
    const int32_t input_offset = s->input_offset;
    int16x8_t even = vdupq_n_s16(0), odd = vdupq_n_s16(0);
    int32_t i, k, pixel;

    /* The block's starts: bias, and bias + input_offset * (sum of every weight). */
    for (i = 0; i < s->kernel_taps; ++i) {
        const int8x16_t wv = load16(w + i * s->channels, lanes, full);
        even = vaddq_s16(even, vmovlbq_s8(wv));
        odd = vaddq_s16(odd, vmovltq_s8(wv));
    }
#pragma GCC unroll 4
    for (k = 0; k < 4; ++k) {
        const int16x8_t sums = k < 2 ? even : odd;
        bias[k] = s->bias ? gather(s->bias + c0, k, n, full) : vdupq_n_s32(0);
        whole[k] = vmlaq_n_s32(bias[k], k % 2 == 0 ? vmovlbq_s16(sums) : vmovltq_s16(sums), input_offset);
    }

    for (pixel = 0; pixel < s->pixels; ++pixel) {
        const small_pixel *px = &s->pixel[pixel];
        const int32_t *tap = table + 2 * px->first, *tap_end = tap + 2 * px->count;
        int32x4_t a0, a1, a2, a3;
        if (px->sum_count == 0) {
            a0 = whole[0];
            a1 = whole[1];
            a2 = whole[2];
            a3 = whole[3];
        } else {
            const int32_t *sw = table + s->sums_at + px->sum_first, *sw_end = sw + px->sum_count;
            const int32x4_t *base = px->from_whole ? whole : bias;
            const int32_t scale = px->from_whole ? -input_offset : input_offset;
            even = vdupq_n_s16(0);
            odd = vdupq_n_s16(0);
            for (; sw < sw_end; ++sw) {
                const int8x16_t wv = load16(w + *sw, lanes, full);
                even = vaddq_s16(even, vmovlbq_s8(wv));
                odd = vaddq_s16(odd, vmovltq_s8(wv));
            }
            a0 = vmlaq_n_s32(base[0], vmovlbq_s16(even), scale);
            a1 = vmlaq_n_s32(base[1], vmovltq_s16(even), scale);
            a2 = vmlaq_n_s32(base[2], vmovlbq_s16(odd), scale);
            a3 = vmlaq_n_s32(base[3], vmovltq_s16(odd), scale);
        }
        for (; tap + 2 < tap_end; tap += 4) {
            const int8x16_t xa = load16(x + tap[0], lanes, full), wa = load16(w + tap[1], lanes, full);
            const int8x16_t xb = load16(x + tap[2], lanes, full), wb = load16(w + tap[3], lanes, full);
            const int16x8_t pe = vaddq_s16(vmullbq_int_s8(xa, wa), vmullbq_int_s8(xb, wb));
            const int16x8_t po = vaddq_s16(vmulltq_int_s8(xa, wa), vmulltq_int_s8(xb, wb));
            a0 = vaddq_s32(a0, vmovlbq_s16(pe));
            a1 = vaddq_s32(a1, vmovltq_s16(pe));
            a2 = vaddq_s32(a2, vmovlbq_s16(po));
            a3 = vaddq_s32(a3, vmovltq_s16(po));
            /* The sums complete before the next pair's loads (eight Q registers). */
            __asm__ volatile("" : "+w"(a0), "+w"(a1), "+w"(a2), "+w"(a3)::"memory");
        }
        if (tap < tap_end) {
            const int8x16_t xa = load16(x + tap[0], lanes, full), wa = load16(w + tap[1], lanes, full);
            const int16x8_t pe = vmullbq_int_s8(xa, wa), po = vmulltq_int_s8(xa, wa);
            a0 = vaddq_s32(a0, vmovlbq_s16(pe));
            a1 = vaddq_s32(a1, vmovltq_s16(pe));
            a2 = vaddq_s32(a2, vmovlbq_s16(po));
            a3 = vaddq_s32(a3, vmovltq_s16(po));
        }
        acc[pixel][0] = a0;
        acc[pixel][1] = a1;
        acc[pixel][2] = a2;
        acc[pixel][3] = a3;
    }

    /* Accumulators 0, 1 (the even channels) and 2, 3 (the odd ones), narrowed with saturation into
     * int16 lanes in channel order. */
    for (k = 0; k < 4; k += 2) {
        const mve_requant_q q0 = mve_requant_make(gather(s->mult + c0, k, n, full), gather(s->shift + c0, k, n, full));
        const mve_requant_q q1 =
            mve_requant_make(gather(s->mult + c0, k + 1, n, full), gather(s->shift + c0, k + 1, n, full));
        for (pixel = 0; pixel < s->pixels; ++pixel) {
            halves[k / 2][pixel] = vqmovntq_s32(vqmovnbq_s32(vuninitializedq_s16(), requant(acc[pixel][k], &q0, negative)),
                                                requant(acc[pixel][k + 1], &q1, negative));
        }
    }
    {
        const int16_t output_offset = (int16_t)s->output_offset;
        const int8x16_t lo = vdupq_n_s8(s->act_min), hi = vdupq_n_s8(s->act_max);
        for (pixel = 0; pixel < s->pixels; ++pixel) {
            const int16x8_t e16 = vqaddq_n_s16(halves[0][pixel], output_offset);
            const int16x8_t o16 = vqaddq_n_s16(halves[1][pixel], output_offset);
            const int8x16_t bytes = vminq_s8(vmaxq_s8(vqmovntq_s16(vqmovnbq_s16(vuninitializedq_s8(), e16), o16), lo), hi);
            if (full) {
                vstrbq_s8(s->dst[pixel] + c0, bytes);
            } else {
                vstrbq_p_s8(s->dst[pixel] + c0, bytes, lanes);
            }
        }
    }
}

/* Every block of channels. */
ALWAYS_INLINE void all_blocks(const small_call *s, const int negative)
{
    int32_t c0;
    for (c0 = 0; c0 + LANES <= s->channels; c0 += LANES) {
        block(s, c0, LANES, 1, negative);
    }
    if (c0 < s->channels) {
        block(s, c0, s->channels - c0, 0, negative);
    }
}

static __attribute__((noinline)) void all_blocks_general(const small_call *s)
{
    all_blocks(s, 0);
}

static __attribute__((noinline)) void all_blocks_negative(const small_call *s)
{
    all_blocks(s, 1);
}

/* Whether every weight is above -128 (then two taps' products add exactly in int16). */
static int weights_above_min(const int8_t *w, int32_t n)
{
    int8_t least = 0;
    int32_t i;
    for (i = 0; i < n; i += LANES) {
        least = vminvq_p_s8(least, vldrbq_z_s8(w + i, vctp8q((uint32_t)(n - i))), vctp8q((uint32_t)(n - i)));
    }
    return least > -128;
}

/* Whether every channel's shift is below 0 (a right shift only). */
static int shifts_negative(const int32_t *shift, int32_t n)
{
    int32_t i;
    for (i = 0; i < n; ++i) {
        if (shift[i] >= 0) {
            return 0;
        }
    }
    return 1;
}

int edgec_depthwise_small_mve_run(const edgec_view *in, edgec_view *out, const int8_t *weights, const int32_t *bias,
                                  const edgec_depthwise_params *p)
{
    const int32_t kh = p->kernel_h, kw = p->kernel_w, channels = out->c;
    const int32_t pixels = out->h * out->w;
    int32_t table[3 * SMALL_MAX_TAPS]; /* tap pairs, then summed weights */
    int32_t sum_words[SMALL_MAX_TAPS];
    int8_t *dst[SMALL_MAX_PIXELS];
    small_pixel pixel[SMALL_MAX_PIXELS];
    small_call s;
    int32_t oy, ox, ky, kx, n = 0, sums = 0, i = 0, rows = 0, cols = 0, whole = 0;

    if (pixels < 1 || pixels > SMALL_MAX_PIXELS || kh < 1 || kw < 1 ||
        kh > SMALL_MAX_K || kw > SMALL_MAX_K || p->depth_multiplier > 1 || in->c != channels || channels < 1 ||
        p->dilation_h != 1 || p->dilation_w != 1 || in->h >= kh || in->w >= kw) {
        return 0;
    }
    /* Taken only where at most half the taps (as the other kernels count them) lie inside the input:
     * with more, the sixteen-channel kernels that multiply the padding too do better (measured on
     * qemu-cortex-m55, docs/kernels.md). */
    for (oy = 0; oy < out->h; ++oy) {
        int32_t k0;
        rows += valid_taps(oy * p->stride_h - p->pad_top, 1, kh, in->h, &k0) - k0;
    }
    for (ox = 0; ox < out->w; ++ox) {
        int32_t k0;
        cols += valid_taps(ox * p->stride_w - p->pad_left, 1, kw, in->w, &k0) - k0;
    }
    if (2 * rows * cols > pixels * kh * kw) {
        return 0;
    }
    for (oy = 0; oy < out->h; ++oy) {
        const int32_t iy0 = oy * p->stride_h - p->pad_top;
        int32_t ky0;
        const int32_t ky1 = valid_taps(iy0, 1, kh, in->h, &ky0);
        for (ox = 0; ox < out->w; ++ox, ++i) {
            const int32_t ix0 = ox * p->stride_w - p->pad_left;
            int32_t kx0;
            const int32_t kx1 = valid_taps(ix0, 1, kw, in->w, &kx0);
            const int32_t inside = (ky1 - ky0) * (kx1 - kx0), outside = kh * kw - inside;
            small_pixel *px = &pixel[i];
            px->first = n;
            px->count = inside;
            px->sum_first = sums;
            px->sum_count = inside < outside ? inside : outside;
            px->from_whole = inside >= outside;
            whole |= px->from_whole;
            if (n + inside > SMALL_MAX_TAPS || sums + px->sum_count > SMALL_MAX_TAPS) {
                return 0;
            }
            dst[i] = out->data + oy * out->row_stride + ox * out->col_stride;
            for (ky = 0; ky < kh; ++ky) {
                for (kx = 0; kx < kw; ++kx) {
                    const int in_taps = ky >= ky0 && ky < ky1 && kx >= kx0 && kx < kx1;
                    const int32_t w = (ky * kw + kx) * channels;
                    if (in_taps) {
                        table[2 * n] = (iy0 + ky) * in->row_stride + (ix0 + kx) * in->col_stride;
                        table[2 * n++ + 1] = w;
                    }
                    if (in_taps != px->from_whole) {
                        sum_words[sums++] = w;
                    }
                }
            }
        }
    }
    if (!weights_above_min(weights, kh * kw * channels)) {
        return 0;
    }
    for (i = 0; i < sums; ++i) {
        table[2 * n + i] = sum_words[i];
    }
    s.in = in->data;
    s.weights = weights;
    s.table = table;
    s.sums_at = 2 * n;
    s.dst = dst;
    s.pixel = pixel;
    s.bias = bias;
    s.mult = p->out_mult;
    s.shift = p->out_shift;
    s.pixels = pixels;
    s.kernel_taps = whole ? kh * kw : 0; /* the whole kernel's start only where a pixel uses it */
    s.channels = channels;
    s.input_offset = p->input_offset;
    s.output_offset = p->output_offset;
    s.act_min = p->act_min;
    s.act_max = p->act_max;
    if (shifts_negative(p->out_shift, channels)) {
        all_blocks_negative(&s);
    } else {
        all_blocks_general(&s);
    }
    return 1;
}

#else

typedef int edgec_depthwise_small_mve_needs_mve; /* ISO C: a translation unit needs a declaration */

#endif
