/* Add (and sub) on the DSP extension: TFLite's three requantizations per
 * element (reference_integer_ops::Add) with rq_fast (requant_fast.h, one
 * SMMULR and a rounding shift each) instead of the 64-bit double-rounding
 * MultiplyByQuantizedMultiplier.  Broadcasting and in place as edgec_add.
 *
 * When rq_fast is exact (see requant_fast.h: |x| * 2^(L + 1) < 2^31, L the
 * left part of the shift):
 *   - inputs: x = (v + offset) << left_shift with |v + offset| <= 255, and
 *     a_shift, b_shift <= 0 (L = 0), so |x| * 2 <= 255 * 2^(left_shift + 1)
 *     < 2^31 for left_shift <= 22;
 *   - output: each rescaled input is at most |x| (multiplier < 1, shift
 *     <= 0) plus one for rounding, so |sum| <= 2 * (255 * 2^left_shift + 1)
 *     and |sum| * 2 < 2^31 for left_shift <= 20 and out_shift <= 0.
 * edgec_add_dsp checks exactly these conditions (left_shift <= 20, every
 * shift <= 0) and otherwise runs edgec_add.  rq_fast's proof holds for a
 * negative multiplier too (sub negates b_mult). */
#include "binary_walk.h"
#include "kernels_internal.h"
#include "requant_fast.h"

static void add_dsp_run(const int8_t *a, int32_t a_step, const int8_t *b, int32_t b_step, int8_t *out, int32_t n,
                        const void *params)
{
    const edgec_add_params *p = (const edgec_add_params *)params;
    /* In locals: the int8 stores may alias the parameter struct. */
    const int32_t a_offset = p->a_offset, a_mult = p->a_mult, a_shift = p->a_shift;
    const int32_t b_offset = p->b_offset, b_mult = p->b_mult, b_shift = p->b_shift;
    const int32_t left_shift = p->left_shift, output_offset = p->output_offset;
    const int32_t out_mult = p->out_mult, out_shift = p->out_shift, act_min = p->act_min, act_max = p->act_max;
    int32_t i;
    for (i = 0; i < n; ++i) {
        const int32_t a_val = (int32_t)((uint32_t)(a_offset + a[i * a_step]) << left_shift);
        const int32_t b_val = (int32_t)((uint32_t)(b_offset + b[i * b_step]) << left_shift);
        const int32_t sum = rq_fast(a_val, a_mult, a_shift) + rq_fast(b_val, b_mult, b_shift);
        out[i] = rq_fast_clamp(sum, out_mult, out_shift, output_offset, act_min, act_max);
    }
}

/* ---- Dense add with every shift negative: three-instruction rescales ----------------------------
 *
 * The common case (TFLite's int8 add: left_shift 20, multipliers positive, every shift < 0) on
 * dense operands of one shape.  Each input is rescaled by rq_fast with the rounding term added
 * inside SMMLAR and the sign correction taken from the (doubled) input x2 instead of SMMULR's
 * result v: with a positive multiplier they differ only when x2 < 0 and v == 0, and then
 * (2^(R-1) - 1) >> R and 2^(R-1) >> R are both 0.  The output is rq_fast_right_mla
 * (requant_fast.h), whose rounding term with the output offset add_fast_ok bounds. */
typedef struct {
    int32_t a_offset2, b_offset2; /* offsets << (left_shift + 1) */
    int32_t a_mult, a_right, a_half, b_mult, b_right, b_half;
    int32_t out_mult, out_right, out_round, act_min, act_max;
} add_fast_params;

/* rq_fast(x2 / 2, mult, -right) for x2 = 2 * x, mult > 0, right >= 1, half = 2^(right - 1). */
static inline int32_t add_rescale(int32_t x2, int32_t mult, int32_t right, int32_t half)
{
    return (rq_smmlar(x2, mult, half) + (x2 >> 31)) >> right;
}

/* The n outputs; ls: left_shift (a constant 20 in the common instance); b_unshifted: b's shift is
 * 0, where rq_fast is SMMULR alone. */
#if defined(__GNUC__)
__attribute__((always_inline))
#endif
static inline void add_fast_run(const int8_t *a, const int8_t *b, int8_t *out, int32_t n, const add_fast_params *q,
                                int32_t ls, int full, int b_unshifted)
{
    const add_fast_params k = *q;
    int32_t i;
    for (i = 0; i < n; ++i) {
        const int32_t a2 = (int32_t)((uint32_t)a[i] << (ls + 1)) + k.a_offset2;
        const int32_t b2 = (int32_t)((uint32_t)b[i] << (ls + 1)) + k.b_offset2;
        const int32_t sb = b_unshifted ? dsp_smmulr(b2, k.b_mult) : add_rescale(b2, k.b_mult, k.b_right, k.b_half);
        const int32_t sum = add_rescale(a2, k.a_mult, k.a_right, k.a_half) + sb;
        int32_t v = dsp_ssat8(rq_fast_right_mla(sum, k.out_mult, k.out_right, k.out_round));
        if (!full) {
            v = v < k.act_min ? k.act_min : v;
            v = v > k.act_max ? k.act_max : v;
        }
        out[i] = (int8_t)v;
    }
}

/* The add_fast_run preconditions beyond edgec_add_dsp's; fills q. */
static int add_fast_ok(const edgec_add_params *p, add_fast_params *q)
{
    int64_t round;
    if (p->a_mult <= 0 || p->b_mult <= 0 || p->out_mult <= 0 || p->a_shift >= 0 || p->b_shift > 0 ||
        p->out_shift >= 0 || p->a_shift < -31 || p->b_shift < -31 || p->out_shift < -30) {
        return 0;
    }
    /* rq_fast_right_mla: |v| + |round| < 2^31, with |v| <= |sum| < 2^30 (edgec_add_dsp's bound) */
    round = ((int64_t)1 << (-p->out_shift - 1)) + (int64_t)p->output_offset * ((int64_t)1 << -p->out_shift);
    if (round >= ((int64_t)1 << 30) || round <= -((int64_t)1 << 30)) {
        return 0;
    }
    q->a_offset2 = (int32_t)((uint32_t)p->a_offset << (p->left_shift + 1));
    q->b_offset2 = (int32_t)((uint32_t)p->b_offset << (p->left_shift + 1));
    q->a_mult = p->a_mult;
    q->a_right = -p->a_shift;
    q->a_half = (int32_t)((uint32_t)1 << (-p->a_shift - 1));
    q->b_mult = p->b_mult;
    q->b_right = -p->b_shift;
    q->b_half = p->b_shift < 0 ? (int32_t)((uint32_t)1 << (-p->b_shift - 1)) : 0;
    q->out_mult = p->out_mult;
    q->out_right = -p->out_shift;
    q->out_round = (int32_t)round;
    q->act_min = p->act_min;
    q->act_max = p->act_max;
    return 1;
}

/* add_fast_run on a, b with p's parameters if its preconditions hold; returns whether it ran. */
static int add_fast(const edgec_view *a, const edgec_view *b, edgec_view *out, const edgec_add_params *p)
{
    add_fast_params q;
    const int32_t n = out->h * out->w * out->c;
    const int full = p->act_min == -128 && p->act_max == 127;
    if (flat_step(a, out) != 1 || flat_step(b, out) != 1 || !view_is_dense(out) || !add_fast_ok(p, &q)) {
        return 0;
    }
    if (p->left_shift == 20 && full && q.b_right == 0) {
        add_fast_run(a->data, b->data, out->data, n, &q, 20, 1, 1);
    } else if (p->left_shift == 20 && full) {
        add_fast_run(a->data, b->data, out->data, n, &q, 20, 1, 0);
    } else {
        add_fast_run(a->data, b->data, out->data, n, &q, p->left_shift, 0, q.b_right == 0);
    }
    return 1;
}

void edgec_add_dsp(const edgec_view *a, const edgec_view *b, edgec_view *out, const edgec_add_params *p)
{
    if (p->left_shift < 0 || p->left_shift > 20 || p->a_shift > 0 || p->b_shift > 0 || p->out_shift > 0) {
        edgec_add(a, b, out, p);
        return;
    }
    if (p->a_shift == 0 && p->b_shift < 0) { /* a + b == b + a: the unshifted operand second */
        edgec_add_params swapped = *p;
        swapped.a_offset = p->b_offset;
        swapped.a_mult = p->b_mult;
        swapped.a_shift = p->b_shift;
        swapped.b_offset = p->a_offset;
        swapped.b_mult = p->a_mult;
        swapped.b_shift = p->a_shift;
        if (add_fast(b, a, out, &swapped)) {
            return;
        }
    } else if (add_fast(a, b, out, p)) {
        return;
    }
    binary_over_views(a, b, out, add_dsp_run, p);
}

/* ---- max_pool2d on int8, four channels per word -------------------------------------------------
 *
 * The same results as edgec_max_pool2d: per output pixel and group of four channels one LDR per
 * in-bounds tap and its lane-wise maximum with the running one (dsp_max4: SSUB8 + SEL), starting
 * from -128 in every lane (an empty window gives -128, like the portable kernel; a whole 2x2 window
 * unrolled: four LDR, three maxima), then clamped in all four lanes at once (dsp_clamp4) and stored
 * with one STR; the last 1..3 channels one at a time. */
void edgec_max_pool2d_dsp(const edgec_view *in, edgec_view *out, const edgec_pool_params *p)
{
    const int32_t channels = out->c, quads_end = channels & ~3;
    const int32_t lo4 = dsp_splat4(p->act_min);
    const int32_t hi4 = dsp_splat4(p->act_max);
    const int full = p->act_min == -128 && p->act_max == 127;
    const int32_t cs = in->col_stride;
    int32_t oy, ox, ky, kx, c;
    for (oy = 0; oy < out->h; ++oy) {
        const int32_t in_y0 = oy * p->stride_h - p->pad_top;
        int32_t ky0;
        const int32_t ky1 = valid_taps(in_y0, 1, p->kernel_h, in->h, &ky0);
        for (ox = 0; ox < out->w; ++ox) {
            const int32_t in_x0 = ox * p->stride_w - p->pad_left;
            int32_t kx0;
            const int32_t kx1 = valid_taps(in_x0, 1, p->kernel_w, in->w, &kx0);
            const int8_t *const first = in->data + (in_y0 + ky0) * in->row_stride + (in_x0 + kx0) * cs;
            int8_t *const po = out->data + oy * out->row_stride + ox * out->col_stride;
            if (ky1 - ky0 == 2 && kx1 - kx0 == 2) { /* a whole 2x2 window: three maxima per four channels */
                const int8_t *const second = first + in->row_stride;
                for (c = 0; c < quads_end; c += 4) {
                    int32_t m = dsp_max4(dsp_max4(dsp_read_quad(first + c), dsp_read_quad(first + cs + c)),
                                         dsp_max4(dsp_read_quad(second + c), dsp_read_quad(second + cs + c)));
                    if (!full) {
                        m = dsp_clamp4(m, lo4, hi4);
                    }
                    memcpy(po + c, &m, sizeof m);
                }
            }
            for (c = ky1 - ky0 == 2 && kx1 - kx0 == 2 ? quads_end : 0; c < quads_end; c += 4) {
                int32_t m = (int32_t)0x80808080u;
                const int8_t *row = first + c;
                for (ky = ky0; ky < ky1; ++ky, row += in->row_stride) {
                    const int8_t *px = row;
                    for (kx = kx0; kx < kx1; ++kx, px += cs) {
                        m = dsp_max4(m, dsp_read_quad(px));
                    }
                }
                if (!full) {
                    m = dsp_clamp4(m, lo4, hi4);
                }
                memcpy(po + c, &m, sizeof m);
            }
            for (; c < channels; ++c) {
                int32_t m = -128;
                const int8_t *row = first + c;
                for (ky = ky0; ky < ky1; ++ky, row += in->row_stride) {
                    const int8_t *px = row;
                    for (kx = kx0; kx < kx1; ++kx, px += cs) {
                        m = *px > m ? *px : m;
                    }
                }
                po[c] = (int8_t)clamp_i32(m, p->act_min, p->act_max);
            }
        }
    }
}

/* ---- mean over H and W (global average) on int8, four channels per word ---------------------------
 *
 * The same results as edgec_mean: per group of four channels, every pixel's quad is added into two
 * int16-pair sums with SXTAB16 and SXTAB16 ROR #8 (channels 0 and 2, 1 and 3: one LDR and two
 * additions per four channels and pixel), which are moved into int32 sums every 256 pixels (256
 * int8 values fit an int16 lane: |sum| <= 32768); then each sum requantized, with rq_fast when its
 * precondition holds for every possible sum (|sum| <= 128 * H * W: checked once per call), else
 * TFLite's requantization as in edgec_mean.  Other reductions (over C, or over H or W alone) go to
 * edgec_mean. */
#define MEAN_PAIR_RUN 256

/* The int16 in bits 0..15 / 16..31 of a pair word. */
#define MEAN_LO16(v) ((int32_t)(int16_t)(uint16_t)((uint32_t)(v)&0xffffu))
#define MEAN_HI16(v) ((v) >> 16)

void edgec_mean_dsp(const edgec_view *in, edgec_view *out, const edgec_mean_params *p)
{
    /* In locals: the int8 stores may alias the views and the parameters. */
    const int8_t *const data = in->data;
    int8_t *const po = out->data;
    const int32_t h = in->h, w = in->w, rs = in->row_stride, cs = in->col_stride;
    const int32_t channels = in->c, quads_end = channels & ~3;
    const int32_t mult = p->mult, shift = p->shift, output_offset = p->output_offset;
    const int32_t offset_sum = h * w * p->input_offset;
    /* rq_fast is exact when |sum + offset_sum| * 2^(max(shift, 0) + 1) < 2^31 (requant_fast.h; its
     * proof uses only 0 < mult < 2^31: a mean's multiplier, with 1 / (H * W) folded in, may be below 2^30) */
    const int32_t left = shift > 0 ? shift : 0;
    const uint32_t bound = (uint32_t)(h * w) * 128u + (uint32_t)(offset_sum < 0 ? -offset_sum : offset_sum);
    const int fast = mult > 0 && shift >= -31 && left <= 29 && bound < (1u << (30 - left));
    int32_t c, y, x;
    if (p->reduce_c || !p->reduce_h || !p->reduce_w) {
        edgec_mean(in, out, p);
        return;
    }
/* A channel's sum requantized (rq_fast where proven exact, else TFLite's requantization) to int8. */
#define MEAN_OUT(sum)                                                                                                  \
    (fast ? rq_fast_clamp((sum) + offset_sum, mult, shift, output_offset, -128, 127)                                   \
          : requantize_and_clamp((sum) + offset_sum, mult, shift, output_offset, -128, 127))
    for (c = 0; c < quads_end; c += 4) {
        int32_t s0 = 0, s1 = 0, s2 = 0, s3 = 0, even = 0, odd = 0, run = MEAN_PAIR_RUN;
        for (y = 0; y < h; ++y) {
            const int8_t *px = data + y * rs + c;
            for (x = 0; x < w; ++x, px += cs) {
                const int32_t q = dsp_read_quad(px);
                even = dsp_sxtab16(even, q);
                odd = dsp_sxtab16_ror8(odd, q);
                if (--run == 0) {
                    s0 += MEAN_LO16(even);
                    s2 += MEAN_HI16(even);
                    s1 += MEAN_LO16(odd);
                    s3 += MEAN_HI16(odd);
                    even = odd = 0;
                    run = MEAN_PAIR_RUN;
                }
            }
        }
        s0 += MEAN_LO16(even);
        s2 += MEAN_HI16(even);
        s1 += MEAN_LO16(odd);
        s3 += MEAN_HI16(odd);
        po[c] = MEAN_OUT(s0);
        po[c + 1] = MEAN_OUT(s1);
        po[c + 2] = MEAN_OUT(s2);
        po[c + 3] = MEAN_OUT(s3);
    }
    for (; c < channels; ++c) {
        int32_t sum = 0;
        for (y = 0; y < h; ++y) {
            const int8_t *px = data + y * rs + c;
            for (x = 0; x < w; ++x, px += cs) {
                sum += *px;
            }
        }
        po[c] = MEAN_OUT(sum);
    }
#undef MEAN_OUT
}
