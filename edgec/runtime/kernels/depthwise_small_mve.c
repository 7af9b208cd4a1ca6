/*
 * Helium (MVE) depthwise conv2d for tiny output maps (the last layers of
 * MobileNetV2 and MCUNet: 3x3, 2x2 and 1x1 maps), sixteen channels per
 * vector (depthwise_small_mve.h says what it handles).
 *
 * On such maps most taps of a 3x3..7x7 kernel fall in the padding, and the
 * per-pixel kernels spend more on each pixel's setup than on its few real
 * taps.  This kernel lists, once per call, every output pixel's taps inside
 * the input (input and weight byte offsets); the reference skips the others
 * (edgec_depthwise_conv2d adds nothing for them), and so does this kernel.
 * It then walks the channels a block of sixteen at a time: the block's
 * bias, requantization constants and folded starts are gathered once, then
 * every output pixel of the map is computed from its listed taps.
 *
 * Arithmetic (as in depthwise_pairs_mve.c): a tap of sixteen channels is two
 * loads and VMULLB/VMULLT.S8; two taps' int16 products are added before
 * they are widened into four int32x4 accumulators (channels {0,4,8,12},
 * {2,6,10,14}, {1,5,9,13} and {3,7,11,15} of the block), exact because no
 * weight is -128 (each product is at most 128 * 127 in magnitude).  The
 * input offset is folded: a pixel starts from bias + input_offset * (sum
 * of the weights of its listed taps) and its taps multiply the raw inputs.
 * A pixel whose taps all lie inside the input starts from the block's
 * whole-kernel start; the others add up their own taps' weights first
 * (int16, at most 49 * 127 in magnitude).
 *
 * The accumulators are requantized per lane (mve_requant.h) and narrowed
 * with saturation (VQMOVN) to int16, the output offset added with
 * saturation, narrowed to int8 and clamped: for a requantized r, every
 * step is the identity while r + output_offset lies in [-128, 127] and all
 * are monotonic, so outside it the result saturates to the same end of the
 * clamp as the reference's clamp(r + output_offset).  One 16-byte store per
 * pixel and block; the channel tail is predicated.  Built only for targets
 * with integer MVE.
 */
#include "depthwise_small_mve.h"

#if defined(__ARM_FEATURE_MVE) && (__ARM_FEATURE_MVE & 1)

#include "kernels_internal.h"
#include "mve_requant.h"

#define SMALL_MAX_PIXELS 16 /* larger maps amortise per-pixel setup over enough taps in the other kernels */
#define SMALL_MAX_K 7
#define SMALL_MAX_TAPS 256 /* listed taps of all pixels (a 4x4 map of a 7x7 kernel over a 4x4 input) */
#define LANES 16

#define ALWAYS_INLINE static inline __attribute__((always_inline))

/* A tap inside the input: byte offsets of its input pixel (from in->data) and of its weights
 * (from weights), channel 0. */
typedef struct {
    int32_t x, w;
} small_tap;

/* The constants of one call. */
typedef struct {
    const int8_t *in, *weights;
    int8_t *out;
    const small_tap *taps;   /* every pixel's listed taps, pixel after pixel */
    const int32_t *first;    /* per pixel: its first tap in taps[] */
    const int32_t *count;    /* per pixel: its tap count */
    const int32_t *dst;      /* per pixel: its byte offset in out->data */
    const int32_t *bias, *mult, *shift;
    int32_t pixels, kernel_taps, channels, input_offset, output_offset;
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

/* start[k] = base[k] + input_offset * (the weight sums even/odd, widened into accumulator k's lanes). */
ALWAYS_INLINE void fold(int32x4_t start[4], const int32x4_t base[4], int16x8_t even, int16x8_t odd,
                        int32_t input_offset)
{
    start[0] = vmlaq_n_s32(base[0], vmovlbq_s16(even), input_offset);
    start[1] = vmlaq_n_s32(base[1], vmovltq_s16(even), input_offset);
    start[2] = vmlaq_n_s32(base[2], vmovlbq_s16(odd), input_offset);
    start[3] = vmlaq_n_s32(base[3], vmovltq_s16(odd), input_offset);
}

/* One block of n channels at c0 over every output pixel.  `negative`: every shift of the layer is
 * below 0 (no left shift, every lane steps down before VRSHL: mve_requant.h with its constants known). */
ALWAYS_INLINE void block(const small_call *s, int32_t c0, int32_t n, const int full, const int negative)
{
    const mve_pred16_t lanes = vctp8q((uint32_t)n);
    const int8_t *x0 = s->in + c0, *w0 = s->weights + c0;
    const int32_t channels = s->channels, input_offset = s->input_offset;
    const int8x16_t lo = vdupq_n_s8(s->act_min), hi = vdupq_n_s8(s->act_max);
    int32x4_t bias[4], whole[4], mult[4], shift[4];
    mve_requant_q q[4];
    int16x8_t even = vdupq_n_s16(0), odd = vdupq_n_s16(0);
    int32_t k, t, pixel;

#pragma GCC unroll 4
    for (k = 0; k < 4; ++k) {
        bias[k] = s->bias ? gather(s->bias + c0, k, n, full) : vdupq_n_s32(0);
        mult[k] = gather(s->mult + c0, k, n, full);
        shift[k] = gather(s->shift + c0, k, n, full);
        if (!negative) {
            q[k] = mve_requant_make(mult[k], shift[k]);
        }
    }
    for (t = 0; t < s->kernel_taps; ++t) {
        const int8x16_t w = load16(w0 + t * channels, lanes, full);
        even = vaddq_s16(even, vmovlbq_s8(w));
        odd = vaddq_s16(odd, vmovltq_s8(w));
    }
    fold(whole, bias, even, odd, input_offset);

    for (pixel = 0; pixel < s->pixels; ++pixel) {
        const small_tap *tap = s->taps + s->first[pixel];
        const int32_t taps = s->count[pixel];
        int32x4_t acc[4], a0, a1, a2, a3;
        int16x8_t e16, o16;
        int8x16_t bytes;
        if (taps == s->kernel_taps) {
            a0 = whole[0];
            a1 = whole[1];
            a2 = whole[2];
            a3 = whole[3];
        } else {
            even = vdupq_n_s16(0);
            odd = vdupq_n_s16(0);
            for (t = 0; t < taps; ++t) {
                const int8x16_t w = load16(w0 + tap[t].w, lanes, full);
                even = vaddq_s16(even, vmovlbq_s8(w));
                odd = vaddq_s16(odd, vmovltq_s8(w));
            }
            fold(acc, bias, even, odd, input_offset);
            a0 = acc[0];
            a1 = acc[1];
            a2 = acc[2];
            a3 = acc[3];
        }
        for (t = 0; t + 1 < taps; t += 2) {
            const int8x16_t xa = load16(x0 + tap[t].x, lanes, full), wa = load16(w0 + tap[t].w, lanes, full);
            const int8x16_t xb = load16(x0 + tap[t + 1].x, lanes, full), wb = load16(w0 + tap[t + 1].w, lanes, full);
            const int16x8_t pe = vaddq_s16(vmullbq_int_s8(xa, wa), vmullbq_int_s8(xb, wb));
            const int16x8_t po = vaddq_s16(vmulltq_int_s8(xa, wa), vmulltq_int_s8(xb, wb));
            a0 = vaddq_s32(a0, vmovlbq_s16(pe));
            a1 = vaddq_s32(a1, vmovltq_s16(pe));
            a2 = vaddq_s32(a2, vmovlbq_s16(po));
            a3 = vaddq_s32(a3, vmovltq_s16(po));
            /* The sums complete before the next pair's loads (eight Q registers: no spills). */
            __asm__ volatile("" : "+w"(a0), "+w"(a1), "+w"(a2), "+w"(a3)::"memory");
        }
        if (t < taps) {
            const int8x16_t xa = load16(x0 + tap[t].x, lanes, full), wa = load16(w0 + tap[t].w, lanes, full);
            const int16x8_t pe = vmullbq_int_s8(xa, wa), po = vmulltq_int_s8(xa, wa);
            a0 = vaddq_s32(a0, vmovlbq_s16(pe));
            a1 = vaddq_s32(a1, vmovltq_s16(pe));
            a2 = vaddq_s32(a2, vmovlbq_s16(po));
            a3 = vaddq_s32(a3, vmovltq_s16(po));
        }
        acc[0] = a0;
        acc[1] = a1;
        acc[2] = a2;
        acc[3] = a3;
#pragma GCC unroll 4
        for (k = 0; k < 4; ++k) {
            if (negative) {
                const int32x4_t v = vqrdmulhq_s32(acc[k], mult[k]);
                acc[k] = vrshlq_s32(vqaddq_s32(v, vshrq_n_s32(v, 31)), shift[k]);
            } else {
                acc[k] = mve_requant(acc[k], &q[k]);
            }
        }
        /* Back to channel order: int16 lanes of the even channels, then the odd ones, saturating. */
        e16 = vqmovntq_s32(vqmovnbq_s32(vuninitializedq_s16(), acc[0]), acc[1]);
        o16 = vqmovntq_s32(vqmovnbq_s32(vuninitializedq_s16(), acc[2]), acc[3]);
        e16 = vqaddq_n_s16(e16, (int16_t)s->output_offset);
        o16 = vqaddq_n_s16(o16, (int16_t)s->output_offset);
        bytes = vqmovntq_s16(vqmovnbq_s16(vuninitializedq_s8(), e16), o16);
        bytes = vminq_s8(vmaxq_s8(bytes, lo), hi);
        if (full) {
            vstrbq_s8(s->out + s->dst[pixel] + c0, bytes);
        } else {
            vstrbq_p_s8(s->out + s->dst[pixel] + c0, bytes, lanes);
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

int edgec_depthwise_small_mve(const edgec_view *in, edgec_view *out, const int8_t *weights, const int32_t *bias,
                              const edgec_depthwise_params *p)
{
    const int32_t kh = p->kernel_h, kw = p->kernel_w, channels = out->c;
    const int32_t pixels = out->h * out->w;
    small_tap taps[SMALL_MAX_TAPS];
    int32_t first[SMALL_MAX_PIXELS], count[SMALL_MAX_PIXELS], dst[SMALL_MAX_PIXELS];
    small_call s;
    int32_t oy, ox, ky, kx, n = 0, pixel = 0;

    if (pixels < 1 || pixels > SMALL_MAX_PIXELS || kh < 1 || kw < 1 || kh > SMALL_MAX_K || kw > SMALL_MAX_K ||
        p->depth_multiplier > 1 || in->c != channels || channels < 1 || p->dilation_h != 1 || p->dilation_w != 1) {
        return 0;
    }
    for (oy = 0; oy < out->h; ++oy) {
        const int32_t iy0 = oy * p->stride_h - p->pad_top;
        int32_t ky0;
        const int32_t ky1 = valid_taps(iy0, 1, kh, in->h, &ky0);
        for (ox = 0; ox < out->w; ++ox, ++pixel) {
            const int32_t ix0 = ox * p->stride_w - p->pad_left;
            int32_t kx0;
            const int32_t kx1 = valid_taps(ix0, 1, kw, in->w, &kx0);
            if (n + (ky1 - ky0) * (kx1 - kx0) > SMALL_MAX_TAPS) {
                return 0;
            }
            first[pixel] = n;
            for (ky = ky0; ky < ky1; ++ky) {
                for (kx = kx0; kx < kx1; ++kx, ++n) {
                    taps[n].x = (iy0 + ky) * in->row_stride + (ix0 + kx) * in->col_stride;
                    taps[n].w = (ky * kw + kx) * channels;
                }
            }
            count[pixel] = n - first[pixel];
            dst[pixel] = oy * out->row_stride + ox * out->col_stride;
        }
    }
    if (!weights_above_min(weights, kh * kw * channels)) {
        return 0;
    }
    s.in = in->data;
    s.weights = weights;
    s.out = out->data;
    s.taps = taps;
    s.first = first;
    s.count = count;
    s.dst = dst;
    s.bias = bias;
    s.mult = p->out_mult;
    s.shift = p->out_shift;
    s.pixels = pixels;
    s.kernel_taps = kh * kw;
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
