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
#define SMALL_MAX_INPUT 64 /* input pixels of a block staged on the stack (16 bytes each) */
#define SMALL_MAX_TAPS 256 /* listed taps of all pixels (a 4x4 map of a 7x7 kernel over a 4x4 input) */
#define LANES 16

#define ALWAYS_INLINE static inline __attribute__((always_inline))

/* A tap inside the input: its staged input pixel and staged weights (sixteen bytes each). */
typedef struct {
    const int8_t *x, *w;
} small_tap;

/* One output pixel: its taps inside the input, the taps whose weights make its folded start, and
 * where it goes.  The start is bias + input_offset * (sum of the weights of its taps inside the
 * input), or, where fewer taps fall outside, the whole kernel's start - input_offset * (sum of the
 * weights of the taps outside). */
typedef struct {
    int32_t first, count;   /* its taps in the call's taps[] */
    int32_t sum_first, sum_count; /* the weights of its start's sum in the call's sum_w[] */
    int32_t from_whole;     /* 1: start from the whole kernel's start, subtracting the sum */
    int32_t dst;            /* byte offset in out->data, channel 0 */
} small_pixel;

/* The constants of one call. */
typedef struct {
    const int8_t *in, *weights;
    int8_t *out;
    int8_t *x_stage, *w_stage;  /* the block's input pixels and weights, sixteen bytes each */
    const int32_t *in_offset;   /* per staged input pixel: byte offset in in->data, channel 0 */
    const small_tap *taps;
    const int8_t *const *sum_w;
    const small_pixel *pixel;
    const int32_t *bias, *mult, *shift;
    int32_t pixels, in_pixels, kernel_taps, channels, input_offset, output_offset;
    int8_t act_min, act_max;
} small_call;

/* The block's constants, four int32 lanes per accumulator, in one array addressed from one register. */
enum { K_BIAS = 0, K_WHOLE = 4, K_MULT = 8, K_SHIFT = 12, K_LEFT = 16, K_RIGHT = 20, K_SHIFTING = 24, K_COUNT = 28 };

/* Where the four accumulators' lanes come from: channel (first + 4 * lane) of the block. */
static const uint32_t accumulator_first[4] = {0, 2, 1, 3};

/* The four accumulators' lanes of a per-channel int32 array at the block's c0 (zero past n channels). */
ALWAYS_INLINE int32x4_t gather(const int32_t *values, int k, int32_t n, const int full)
{
    const uint32x4_t channel = vaddq_n_u32(vidupq_n_u32(0, 4), accumulator_first[k]);
    return full ? vldrwq_gather_shifted_offset_s32(values, channel)
                : vldrwq_gather_shifted_offset_z_s32(values, channel, vcmphiq_u32(vdupq_n_u32((uint32_t)n), channel));
}

/* The block's constants into konst (K_COUNT vectors) and its input pixels and weights onto the stage
 * (zero past n channels, so that every later load is a whole vector). */
ALWAYS_INLINE void block_setup(const small_call *s, int32_t c0, int32_t n, const int full, const int negative,
                               int32x4_t *konst)
{
    const mve_pred16_t lanes = vctp8q((uint32_t)n);
    const int8_t *in = s->in + c0, *w = s->weights + c0;
    int16x8_t even = vdupq_n_s16(0), odd = vdupq_n_s16(0);
    int32_t i, k;
    for (i = 0; i < s->in_pixels; ++i) {
        vstrbq_s8(s->x_stage + i * LANES, full ? vldrbq_s8(in + s->in_offset[i]) : vldrbq_z_s8(in + s->in_offset[i], lanes));
    }
    for (i = 0; i < s->kernel_taps; ++i) {
        const int8x16_t wv = full ? vldrbq_s8(w + i * s->channels) : vldrbq_z_s8(w + i * s->channels, lanes);
        vstrbq_s8(s->w_stage + i * LANES, wv);
        even = vaddq_s16(even, vmovlbq_s8(wv));
        odd = vaddq_s16(odd, vmovltq_s8(wv));
    }
#pragma GCC unroll 4
    for (k = 0; k < 4; ++k) {
        const int32x4_t bias = s->bias ? gather(s->bias + c0, k, n, full) : vdupq_n_s32(0);
        const int32x4_t mult = gather(s->mult + c0, k, n, full), shift = gather(s->shift + c0, k, n, full);
        const int16x8_t sums = k < 2 ? even : odd;
        const int32x4_t wide = k % 2 == 0 ? vmovlbq_s16(sums) : vmovltq_s16(sums);
        konst[K_BIAS + k] = bias;
        konst[K_WHOLE + k] = vmlaq_n_s32(bias, wide, s->input_offset);
        konst[K_MULT + k] = mult;
        konst[K_SHIFT + k] = shift;
        if (!negative) {
            const mve_requant_q q = mve_requant_make(mult, shift);
            konst[K_LEFT + k] = q.left;
            konst[K_RIGHT + k] = q.right_neg;
            konst[K_SHIFTING + k] = q.shifting;
        }
    }
}

/* Accumulator k requantized (without the output offset). */
ALWAYS_INLINE int32x4_t requant(int32x4_t acc, const int32x4_t *konst, int k, const int negative)
{
    if (negative) {
        const int32x4_t v = vqrdmulhq_s32(acc, konst[K_MULT + k]);
        return vrshlq_s32(vqaddq_s32(v, vshrq_n_s32(v, 31)), konst[K_SHIFT + k]);
    } else {
        mve_requant_q q;
        q.mult = konst[K_MULT + k];
        q.left = konst[K_LEFT + k];
        q.right_neg = konst[K_RIGHT + k];
        q.shifting = konst[K_SHIFTING + k];
        return mve_requant(acc, &q);
    }
}

/* One block of n channels at c0 over every output pixel.  `negative`: every shift of the layer is
 * below 0 (no left shift, every lane steps down before VRSHL: mve_requant.h with its constants known). */
ALWAYS_INLINE void block(const small_call *s, int32_t c0, int32_t n, const int full, const int negative)
{
    int32x4_t konst_store[K_COUNT];
    int32x4_t *konst = konst_store;
    const mve_pred16_t lanes = vctp8q((uint32_t)n);
    int8_t *out = s->out + c0;
    const int16_t output_offset = (int16_t)s->output_offset;
    const int8_t act_min = s->act_min, act_max = s->act_max;
    const small_pixel *px = s->pixel, *end = s->pixel + s->pixels;

    /* One base register for the constants: GCC otherwise rebuilds each stack address. */
    __asm__("" : "+r"(konst));
    block_setup(s, c0, n, full, negative, konst);
    for (; px < end; ++px) {
        const small_tap *tap = s->taps + px->first, *tap_end = tap + px->count;
        int32x4_t a0, a1, a2, a3;
        int16x8_t e16, o16;
        int8x16_t bytes;
        if (px->sum_count == 0) {
            a0 = konst[K_WHOLE + 0];
            a1 = konst[K_WHOLE + 1];
            a2 = konst[K_WHOLE + 2];
            a3 = konst[K_WHOLE + 3];
        } else {
            const int8_t *const *sw = s->sum_w + px->sum_first, *const *sw_end = sw + px->sum_count;
            const int32x4_t *base = konst + (px->from_whole ? K_WHOLE : K_BIAS);
            const int32_t scale = px->from_whole ? -s->input_offset : s->input_offset;
            int16x8_t even = vdupq_n_s16(0), odd = vdupq_n_s16(0);
            for (; sw < sw_end; ++sw) {
                const int8x16_t wv = vldrbq_s8(*sw);
                even = vaddq_s16(even, vmovlbq_s8(wv));
                odd = vaddq_s16(odd, vmovltq_s8(wv));
            }
            a0 = vmlaq_n_s32(base[0], vmovlbq_s16(even), scale);
            a1 = vmlaq_n_s32(base[1], vmovltq_s16(even), scale);
            a2 = vmlaq_n_s32(base[2], vmovlbq_s16(odd), scale);
            a3 = vmlaq_n_s32(base[3], vmovltq_s16(odd), scale);
        }
        for (; tap + 1 < tap_end; tap += 2) {
            const int8x16_t xa = vldrbq_s8(tap[0].x), wa = vldrbq_s8(tap[0].w);
            const int8x16_t xb = vldrbq_s8(tap[1].x), wb = vldrbq_s8(tap[1].w);
            const int16x8_t pe = vaddq_s16(vmullbq_int_s8(xa, wa), vmullbq_int_s8(xb, wb));
            const int16x8_t po = vaddq_s16(vmulltq_int_s8(xa, wa), vmulltq_int_s8(xb, wb));
            a0 = vaddq_s32(a0, vmovlbq_s16(pe));
            a1 = vaddq_s32(a1, vmovltq_s16(pe));
            a2 = vaddq_s32(a2, vmovlbq_s16(po));
            a3 = vaddq_s32(a3, vmovltq_s16(po));
            /* The sums complete before the next pair's loads (eight Q registers: no spills). */
            __asm__ volatile("" : "+w"(a0), "+w"(a1), "+w"(a2), "+w"(a3)::"memory");
        }
        if (tap < tap_end) {
            const int8x16_t xa = vldrbq_s8(tap[0].x), wa = vldrbq_s8(tap[0].w);
            const int16x8_t pe = vmullbq_int_s8(xa, wa), po = vmulltq_int_s8(xa, wa);
            a0 = vaddq_s32(a0, vmovlbq_s16(pe));
            a1 = vaddq_s32(a1, vmovltq_s16(pe));
            a2 = vaddq_s32(a2, vmovlbq_s16(po));
            a3 = vaddq_s32(a3, vmovltq_s16(po));
        }
        /* Back to channel order: int16 lanes of the even channels, then the odd ones, saturating. */
        e16 = vqmovntq_s32(vqmovnbq_s32(vuninitializedq_s16(), requant(a0, konst, 0, negative)),
                           requant(a1, konst, 1, negative));
        o16 = vqmovntq_s32(vqmovnbq_s32(vuninitializedq_s16(), requant(a2, konst, 2, negative)),
                           requant(a3, konst, 3, negative));
        e16 = vqaddq_n_s16(e16, output_offset);
        o16 = vqaddq_n_s16(o16, output_offset);
        bytes = vqmovntq_s16(vqmovnbq_s16(vuninitializedq_s8(), e16), o16);
        bytes = vminq_s8(vmaxq_s8(bytes, vdupq_n_s8(act_min)), vdupq_n_s8(act_max));
        if (full) {
            vstrbq_s8(out + px->dst, bytes);
        } else {
            vstrbq_p_s8(out + px->dst, bytes, lanes);
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
    const int32_t pixels = out->h * out->w, in_pixels = in->h * in->w;
    int8_t x_stage[SMALL_MAX_INPUT * LANES] __attribute__((aligned(16)));
    int8_t w_stage[SMALL_MAX_K * SMALL_MAX_K * LANES] __attribute__((aligned(16)));
    int32_t in_offset[SMALL_MAX_INPUT];
    small_tap taps[SMALL_MAX_TAPS];
    const int8_t *sum_w[SMALL_MAX_TAPS];
    small_pixel pixel[SMALL_MAX_PIXELS];
    small_call s;
    int32_t oy, ox, ky, kx, n = 0, sums = 0, i = 0;

    if (pixels < 1 || pixels > SMALL_MAX_PIXELS || in_pixels < 1 || in_pixels > SMALL_MAX_INPUT || kh < 1 ||
        kw < 1 || kh > SMALL_MAX_K || kw > SMALL_MAX_K || p->depth_multiplier > 1 || in->c != channels ||
        channels < 1 || p->dilation_h != 1 || p->dilation_w != 1) {
        return 0;
    }
    for (oy = 0; oy < in->h; ++oy) {
        for (ox = 0; ox < in->w; ++ox) {
            in_offset[oy * in->w + ox] = oy * in->row_stride + ox * in->col_stride;
        }
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
            if (n + inside > SMALL_MAX_TAPS || sums + (inside < outside ? inside : outside) > SMALL_MAX_TAPS) {
                return 0;
            }
            px->first = n;
            px->count = inside;
            px->sum_first = sums;
            px->sum_count = inside < outside ? inside : outside;
            px->from_whole = inside >= outside;
            px->dst = oy * out->row_stride + ox * out->col_stride;
            for (ky = 0; ky < kh; ++ky) {
                for (kx = 0; kx < kw; ++kx) {
                    const int in_taps = ky >= ky0 && ky < ky1 && kx >= kx0 && kx < kx1;
                    const int8_t *w = w_stage + (ky * kw + kx) * LANES;
                    if (in_taps) {
                        taps[n].x = x_stage + ((iy0 + ky) * in->w + ix0 + kx) * LANES;
                        taps[n++].w = w;
                    }
                    if (in_taps != px->from_whole) {
                        sum_w[sums++] = w;
                    }
                }
            }
        }
    }
    if (!weights_above_min(weights, kh * kw * channels)) {
        return 0;
    }
    s.in = in->data;
    s.weights = weights;
    s.out = out->data;
    s.x_stage = x_stage;
    s.w_stage = w_stage;
    s.in_offset = in_offset;
    s.taps = taps;
    s.sum_w = sum_w;
    s.pixel = pixel;
    s.bias = bias;
    s.mult = p->out_mult;
    s.shift = p->out_shift;
    s.pixels = pixels;
    s.in_pixels = in_pixels;
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
