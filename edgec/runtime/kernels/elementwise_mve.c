/*
 * Helium (MVE) add (and sub: add with b_mult negated) for Cortex-M55.  Same
 * arguments and results, bit for bit, as the portable edgec_add
 * (reference_integer_ops::Add): both inputs are offset, shifted left,
 * requantized to a common scale, summed and requantized to the output.
 *
 * Four elements per loop step in int32 lanes (VLDRB.S32 widens int8
 * loads), the run's tail predicated.  A run is as long as the views allow:
 * the whole tensor when every view is dense, else a row (every col_stride
 * equals c), else a pixel's channels.  An operand that is a single value is
 * scaled once.  Each input and the output has a kind (below), and each
 * combination its own loop function.  Other broadcasts, and what TFLite's
 * Add Prepare never produces (an input shift > 0 or below -31, an input
 * shift 0 with a multiplier other than +-2^30 or a shift that may wrap, an
 * output shift >= 0 or below -31), go to edgec_add.  Built only for targets
 * with integer MVE.
 *
 * Every step below is exact; the vectors in gen_vectors.py's mveadd block
 * make ties, wraps and each bound matter.
 *
 * (x + offset) << left_shift is one VMLAS: x * 2^left_shift +
 * (offset << left_shift), equal modulo 2^32 to the wrapping shift.
 *
 * IN_FULL, an input shift in [-31, -1] (R = -shift), a multiplier other
 * than INT32_MIN: SaturatingRoundingDoublingHighMul is VQRDMULH
 * (mve_requant.h), and RoundingDivideByPOT(v, R) rounds v - (v < 0) with
 * halves up (mve_requant.h's step down of negative values; it cannot wrap
 * here: VQRDMULH never returns INT32_MIN, its least result is -2^31 + 1).
 * That rounding is VRSHL by -R, or, added to another vector c in the same
 * instruction, VQRDMLAH c, v', 2^(31-R): c + ((2 v' 2^(31-R) + 2^31) >> 32)
 * = c + floor((v' + 2^(R-1)) / 2^R), saturated to int32, which never
 * happens: each scaled input is within [-2^30, 2^30 - 1] (|v'| <= 2^31 - 1,
 * halved at least once), so the sum is the int32 sum that edgec_add forms.
 *
 * IN_HALF, multiplier +-2^30 and shift 0 (TFLite's real multiplier 1/2: the
 * input with the larger scale; negated for sub's b), with |x + offset| <=
 * 256 and 1 <= left_shift <= 22: t = (x + offset) << left_shift is even and
 * within +-2^30 (no wrap), and SaturatingRoundingDoublingHighMul(t, 2^30) =
 * floor((2^31 t + 2^31) / 2^32) = floor((t + 1) / 2) = t / 2, that is
 * x * 2^(left_shift - 1) + offset * 2^(left_shift - 1): one VMLAS (by 2^30:
 * floor((1 - t) / 2) = -t / 2, the VMLAS's multiplier and constant negated).
 *
 * OUT_ANY, an output shift in [-31, -1]: as IN_FULL, the rounding and the
 * output offset in one VQRDMLASH v', 2^(31-R), offset: offset +
 * floor((v' + 2^(R-1)) / 2^R) (the scalar joins at the high half), for
 * offsets within +-2^16 (no saturation), then clamped with VMAX / VMIN.
 *
 * OUT_HALF, output multiplier 2^30 (the output scale is the larger input
 * scale) and R = -out_shift in [1, 30], both inputs as bounded as IN_HALF:
 * h = SaturatingRoundingDoublingHighMul(s, 2^30) = floor((s + 1) / 2), and
 * with u = s + 1 (h < 0 exactly where u < 0) and
 * floor((floor(a / 2) + k) / 2^R) = floor((a + 2k) / 2^(R + 1)),
 *   RoundingDivideByPOT(h, R) = floor((h + 2^(R-1) - [h < 0]) / 2^R)
 *                             = floor((u - 2 [u < 0] + 2^R) / 2^(R+1)):
 * VSHR and VMLA by 2 form u + 2 (u >> 31), and VQRDMLASH by 2^(30-R) adds
 * 2^R, shifts and adds the output offset.  The + 1 rides in b's VMLAS
 * constant (IN_HALF) or its scaled single value, so OUT_HALF needs b not
 * IN_FULL.  The bounds keep every scaled input within +-2^29 (|t| <= 2^30,
 * halved at least once), so u + 2 (u >> 31) cannot wrap.
 */
#include "edgec_kernels.h"

#if defined(__ARM_FEATURE_MVE) && (__ARM_FEATURE_MVE & 1)

#include "kernels_internal.h"
#include <arm_mve.h>

/* How an input is scaled (MultiplyByQuantizedMultiplier of (x + offset) << left_shift): IN_FULL for a
 * shift < 0, IN_HALF for mult +-2^30 with shift 0 and no wrap, IN_NONE for a single value (scaled once). */
enum { IN_NONE, IN_HALF, IN_FULL };
/* How the sum is requantized: OUT_HALF for out_mult 2^30 (the sum arrives plus one), else OUT_ANY. */
enum { OUT_ANY, OUT_HALF };

typedef struct {
    int32_t pow;        /* VMLAS's multiplier of x: 2^left_shift (IN_FULL) or +-2^(left_shift - 1) (IN_HALF) */
    int32_t base;       /* VMLAS's constant: the offset times pow (wrapping) */
    int32_t mult;       /* IN_FULL */
    int32_t right_neg;  /* IN_FULL: the shift (in [-31, -1]) */
    int32_t round_mult; /* IN_FULL: 2^(31 + shift), VQRDMLAH's multiplier for the rounding shift */
} add_scale;

typedef struct {
    add_scale a, b;
    int32_t out_mult;
    int32_t out_round; /* VQRDMLASH's multiplier: 2^(31 + out_shift), or 2^(30 + out_shift) for OUT_HALF */
    int32_t output_offset, act_min, act_max;
} add_stage;

/* The stage's vectors: a's and b's VMLAS multipliers, out_round, act_min, act_max. */
typedef struct {
    int32x4_t a_pow, b_pow, out_round, lo, hi;
} add_vectors;

/* v - (v < 0): VRSHL of it by -R is RoundingDivideByPOT(v, R) for R >= 1 (v > INT32_MIN: see the file
 * comment), and so is VQRDMLAH / VQRDMLASH of it by 2^(31 - R). */
static inline int32x4_t step_down(int32x4_t v)
{
    return vsubq_s32(v, vreinterpretq_s32_u32(vshrq_n_u32(vreinterpretq_u32_s32(v), 31)));
}

/* IN_HALF: the scaled input; IN_FULL: its step_down before the rounding shift. */
static inline int32x4_t prescaled(int32x4_t x, int32x4_t pow, const add_scale *q, const int kind)
{
    const int32x4_t t = vmlasq_n_s32(x, pow, q->base);
    return kind == IN_FULL ? step_down(vqrdmulhq_n_s32(t, q->mult)) : t;
}

/* The operands' scaled sum (plus one for OUT_HALF) -> the int8 results in int32 lanes. */
static inline int32x4_t output(int32x4_t sum, const add_stage *s, const add_vectors *k, const int kind)
{
    int32x4_t v;
    if (kind == OUT_HALF) {
        v = vmlaq_n_s32(sum, vshrq_n_s32(sum, 31), 2);
    } else {
        v = step_down(vqrdmulhq_n_s32(sum, s->out_mult));
    }
    return vminq_s32(vmaxq_s32(vqrdmlashq_n_s32(v, k->out_round, s->output_offset), k->lo), k->hi);
}

/* Four outputs: a[0..3] + b[0..3], or a[0..3] + b_single (b is not read) where b_kind is IN_NONE; on
 * the first n lanes only where tail. */
__attribute__((always_inline)) static inline void add4(const int8_t *a, const int8_t *b, int32_t b_single,
                                                       int8_t *out, int32_t n, const add_stage *s,
                                                       const add_vectors *k, const int a_kind, const int b_kind,
                                                       const int out_kind, const int tail)
{
    const mve_pred16_t lanes = tail ? vctp32q((uint32_t)n) : 0;
    const int32x4_t pa = prescaled(tail ? vldrbq_z_s32(a, lanes) : vldrbq_s32(a), k->a_pow, &s->a, a_kind);
    int32x4_t bs, sum;
    if (b_kind == IN_NONE) {
        bs = vdupq_n_s32(b_single);
    } else {
        bs = prescaled(tail ? vldrbq_z_s32(b, lanes) : vldrbq_s32(b), k->b_pow, &s->b, b_kind);
        bs = b_kind == IN_FULL ? vrshlq_n_s32(bs, s->b.right_neg) : bs;
    }
    /* a's rounding shift and the sum in one VQRDMLAH */
    sum = a_kind == IN_FULL ? vqrdmlahq_n_s32(bs, pa, s->a.round_mult) : vaddq_s32(pa, bs);
    if (tail) {
        vstrbq_p_s32(out, output(sum, s, k, out_kind), lanes);
    } else {
        vstrbq_s32(out, output(sum, s, k, out_kind));
    }
}

/* out[i] = a[i] + b[i] (b_kind IN_NONE: + b_single) for i < n; the kinds are constants at each call,
 * so that every combination is its own loop. */
__attribute__((always_inline)) static inline void add_run(const int8_t *a, const int8_t *b, int32_t b_single,
                                                          int8_t *out, int32_t n, const add_stage *stage,
                                                          const int a_kind, const int b_kind, const int out_kind)
{
    const add_stage copy = *stage, *s = &copy; /* in registers: the int8 stores could alias *stage */
    add_vectors k;
    k.a_pow = vdupq_n_s32(s->a.pow);
    k.b_pow = vdupq_n_s32(s->b.pow);
    k.out_round = vdupq_n_s32(s->out_round);
    k.lo = vdupq_n_s32(s->act_min);
    k.hi = vdupq_n_s32(s->act_max);
    for (; n >= 4; n -= 4, a += 4, b += 4, out += 4) {
        add4(a, b, b_single, out, 0, s, &k, a_kind, b_kind, out_kind, 0);
    }
    if (n > 0) {
        add4(a, b, b_single, out, n, s, &k, a_kind, b_kind, out_kind, 1);
    }
}

/* add_run for each combination of kinds that edgec_add_mve uses (a_kind >= b_kind, OUT_HALF only where b
 * is not IN_FULL), each its own function so that the loop's constants get registers of their own. */
typedef void (*add_run_fn)(const int8_t *a, const int8_t *b, int32_t b_single, int8_t *out, int32_t n,
                           const add_stage *s);

/* One such function: NAME runs add_run with the kinds A, B and OUT as constants. */
#define ADD_RUN_OF_KINDS(NAME, A, B, OUT)                                                                          \
    static void NAME(const int8_t *a, const int8_t *b, int32_t b_single, int8_t *out, int32_t n, const add_stage *s) \
    {                                                                                                              \
        add_run(a, b, b_single, out, n, s, A, B, OUT);                                                             \
    }
ADD_RUN_OF_KINDS(run_full_full, IN_FULL, IN_FULL, OUT_ANY)
ADD_RUN_OF_KINDS(run_full_half, IN_FULL, IN_HALF, OUT_ANY)
ADD_RUN_OF_KINDS(run_full_half_out_half, IN_FULL, IN_HALF, OUT_HALF)
ADD_RUN_OF_KINDS(run_full_single, IN_FULL, IN_NONE, OUT_ANY)
ADD_RUN_OF_KINDS(run_full_single_out_half, IN_FULL, IN_NONE, OUT_HALF)
ADD_RUN_OF_KINDS(run_half_half, IN_HALF, IN_HALF, OUT_ANY)
ADD_RUN_OF_KINDS(run_half_half_out_half, IN_HALF, IN_HALF, OUT_HALF)
ADD_RUN_OF_KINDS(run_half_single, IN_HALF, IN_NONE, OUT_ANY)
ADD_RUN_OF_KINDS(run_half_single_out_half, IN_HALF, IN_NONE, OUT_HALF)
#undef ADD_RUN_OF_KINDS

static add_run_fn run_of_kinds(int a_kind, int b_kind, int out_kind)
{
    const int out_half = out_kind == OUT_HALF;
    if (a_kind == IN_FULL) {
        if (b_kind == IN_FULL) {
            return run_full_full;
        }
        if (b_kind == IN_HALF) {
            return out_half ? run_full_half_out_half : run_full_half;
        }
        return out_half ? run_full_single_out_half : run_full_single;
    }
    if (b_kind == IN_HALF) {
        return out_half ? run_half_half_out_half : run_half_half;
    }
    return out_half ? run_half_single_out_half : run_half_single;
}

static int is_single(const edgec_view *v)
{
    return v->h == 1 && v->w == 1 && v->c == 1;
}

static int same_shape(const edgec_view *v, const edgec_view *out)
{
    return v->h == out->h && v->w == out->w && v->c == out->c;
}

/* x + offset stays within +-256, so (x + offset) << left_shift within +-2^30: no wrap, and every sum of
 * two scaled inputs within +-(2^30 + 2) (OUT_HALF's bound). */
static int bounded(int32_t offset, int32_t left_shift)
{
    return offset >= -128 && offset <= 128 && left_shift >= 1 && left_shift <= 22;
}

/* The input kind of (offset, mult, shift), or -1 where edgec_add must run. */
static int input_kind(int32_t offset, int32_t mult, int32_t shift, int32_t left_shift)
{
    if (shift < 0) {
        return shift >= -31 && mult != INT32_MIN ? IN_FULL : -1;
    }
    return shift == 0 && (mult == (1 << 30) || mult == -(1 << 30)) && bounded(offset, left_shift) ? IN_HALF : -1;
}

static add_scale make_scale(int32_t offset, int32_t mult, int32_t shift, int32_t left_shift, int kind)
{
    add_scale q;
    const uint32_t pow_shift = (uint32_t)(kind == IN_HALF ? left_shift - 1 : left_shift);
    const int32_t sign = kind == IN_HALF && mult < 0 ? -1 : 1; /* IN_HALF: x * pow + base is t / 2 or -t / 2 */
    q.pow = sign * (int32_t)(1u << pow_shift);
    q.base = sign * (int32_t)((uint32_t)offset << pow_shift);
    q.mult = mult;
    q.right_neg = shift;
    q.round_mult = kind == IN_FULL ? (int32_t)(1u << (31 + shift)) : 0;
    return q;
}

void edgec_add_mve(const edgec_view *a, const edgec_view *b, edgec_view *out, const edgec_add_params *p)
{
    const int ls = p->left_shift;
    int a_kind = ls >= 0 && ls <= 31 ? input_kind(p->a_offset, p->a_mult, p->a_shift, ls) : -1;
    int b_kind = ls >= 0 && ls <= 31 ? input_kind(p->b_offset, p->b_mult, p->b_shift, ls) : -1;
    /* v1 is read element by element, v2 too unless it is a single value (then v2 is that one); of two
     * read operands v1 has the larger kind */
    const int single = is_single(a) || is_single(b);
    const int swap = single ? !is_single(b) : a_kind < b_kind;
    const edgec_view *v1 = swap ? b : a, *v2 = swap ? a : b;
    const int out_half = p->out_mult == (1 << 30) && p->out_shift <= -1 && p->out_shift >= -30 &&
                         bounded(p->a_offset, ls) && bounded(p->b_offset, ls);
    add_stage s;
    add_run_fn run;
    int out_kind, kind;
    int32_t rows, cols, n, y, x, b_single = 0;

    if (a_kind < 0 || b_kind < 0 || p->out_shift >= 0 || p->out_shift < -31 || p->output_offset < -65536 ||
        p->output_offset > 65536 || !same_shape(v1, out) || (!single && !same_shape(v2, out))) {
        edgec_add(a, b, out, p);
        return;
    }
    s.a = make_scale(p->a_offset, p->a_mult, p->a_shift, ls, a_kind);
    s.b = make_scale(p->b_offset, p->b_mult, p->b_shift, ls, b_kind);
    if (swap) {
        const add_scale t = s.a;
        s.a = s.b, s.b = t;
        kind = a_kind, a_kind = b_kind, b_kind = kind;
    }
    if (single) {
        const int32x4_t value = vdupq_n_s32(v2->data[0]), pow = vdupq_n_s32(s.b.pow);
        if (b_kind == IN_FULL) {
            b_single = vgetq_lane_s32(vrshlq_n_s32(prescaled(value, pow, &s.b, IN_FULL), s.b.right_neg), 0);
        } else {
            b_single = vgetq_lane_s32(prescaled(value, pow, &s.b, IN_HALF), 0);
        }
        b_kind = IN_NONE;
    }
    out_kind = out_half && b_kind != IN_FULL ? OUT_HALF : OUT_ANY;
    s.out_mult = p->out_mult;
    s.out_round = (int32_t)(1u << ((out_kind == OUT_HALF ? 30 : 31) + p->out_shift));
    if (out_kind == OUT_HALF) { /* the sum plus one, from the constant of b's VMLAS or b's single value */
        s.b.base += 1;
        b_single += 1;
    }
    s.output_offset = p->output_offset;
    s.act_min = p->act_min;
    s.act_max = p->act_max;
    run = run_of_kinds(a_kind, b_kind, out_kind);
    if (view_is_dense(v1) && view_is_dense(out) && (single || view_is_dense(v2))) {
        rows = 1, cols = 1, n = out->h * out->w * out->c; /* one run */
    } else if (v1->col_stride == v1->c && out->col_stride == out->c && (single || v2->col_stride == v2->c)) {
        rows = out->h, cols = 1, n = out->w * out->c; /* a run per row */
    } else {
        rows = out->h, cols = out->w, n = out->c; /* a run per pixel */
    }
    for (y = 0; y < rows; ++y) {
        for (x = 0; x < cols; ++x) {
            const int8_t *r1 = v1->data + y * v1->row_stride + x * v1->col_stride;
            const int8_t *r2 = single ? r1 : v2->data + y * v2->row_stride + x * v2->col_stride;
            run(r1, r2, b_single, out->data + y * out->row_stride + x * out->col_stride, n, &s);
        }
    }
}

#else

typedef int edgec_elementwise_mve_needs_mve; /* ISO C: a translation unit needs a declaration */

#endif
