/* Depthwise conv2d with the DSP extension (Cortex-M4/M7/M33): four channels
 * at a time, two kernel taps per SMLAD.  Same arithmetic as
 * edgec_depthwise_conv2d (reference_integer_ops::DepthwiseConvPerChannel),
 * depth_multiplier 1.
 *
 * Weights come pre-arranged at build time (edgec.codegen.depthwise_layout):
 * int16 [ceil(C / 4)][pairs][4][2], pairs = ceil(KH * KW / 2).  Entry
 * [q][j][i][t] is the weight of channel 4q + i at tap 2j + t, taps numbered
 * ky * KW + kx; the missing tap of an odd count and the channels past C are 0.
 *
 * Inner step, for channels c..c+3 and taps a = 2j, b = 2j + 1: load the four
 * input bytes at each tap (xa0..xa3, xb0..xb3), pack the halves
 * (xa0 xa1 xb0 xb1) and (xa2 xa3 xb2 xb3), widen each channel's pair of bytes
 * to int16 with SXTAB16, which also adds input_offset to both lanes, and
 * SMLAD it with the channel's pair of weights: 8 MACs in 2 loads, 2 packs,
 * 4 SXTAB16, 4 SMLAD and 4 weight words.  x + input_offset lies in
 * [-255, 255] and fits a lane.
 *
 * Padding: a tap outside the input reads a row of input zero points, so
 * x + input_offset = 0 and it adds nothing, exactly as the reference skips
 * it.  Every partial sum equals the reference's up to the order of int32
 * additions, which does not change the (wrapping) result. */
#include <string.h>

#include "arm_dsp.h"
#include "kernels_internal.h"
#include "requant_fast.h"

/* GCC's first scheduling pass hoists the weight loads of the unrolled tap
 * loop far ahead and spills them (a quarter more instructions per MAC on
 * Cortex-M4); without it the loop stays in registers. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("no-schedule-insns")
#endif

/* The specialised entry points need the body inlined with constant kernel sizes
 * (on Arm: host builds only check the arithmetic, and compile far faster without). */
#if defined(__GNUC__) && defined(__arm__)
#define DWD_INLINE static inline __attribute__((always_inline))
#else
#define DWD_INLINE static inline
#endif

/* Unrolled for Arm only: on a host build (the plain-C twins of the DSP
 * instructions, for tests) the unrolled bodies took GCC ten times longer to
 * compile, for code that only checks the arithmetic. */
#if defined(__GNUC__) && !defined(__clang__) && defined(__arm__)
#define DWD_PRAGMA(x) _Pragma(#x)
#define DWD_UNROLL DWD_PRAGMA(GCC unroll 25)
#else
#define DWD_UNROLL
#endif

/* Channels per pass (the zero-point row lives on the stack). */
#define DWD_CHUNK 128

static inline int32_t mini(int32_t a, int32_t b)
{
    return a < b ? a : b;
}

/* Two int16 weights from the 4-byte aligned layout (lets the compiler merge loads into LDRD). */
static inline int32_t read_pair(const int16_t *p)
{
    int32_t v;
#ifdef __GNUC__
    memcpy(&v, __builtin_assume_aligned(p, 4), sizeof v);
#else
    memcpy(&v, p, sizeof v);
#endif
    return v;
}

/* Accumulator -> int8: rq_fast where the build proved it exact (fast), else TFLite's
 * double-rounding MultiplyByQuantizedMultiplier. */
/* The requantization constants of a layer, copied out of the parameter struct so
 * that the int8 output stores (which may alias anything) do not force reloads. */
typedef struct {
    int32_t output_offset, act_min, act_max;
} dw_out_params;

/* Accumulator -> int8: rq_fast where the build proved it exact (fast), else TFLite's
 * double-rounding MultiplyByQuantizedMultiplier. */
DWD_INLINE int8_t requant_out(int32_t acc, int32_t mult, int32_t shift, dw_out_params o, int fast)
{
    if (fast) {
        return rq_fast_clamp(acc, mult, shift, o.output_offset, o.act_min, o.act_max);
    }
    return requantize_and_clamp(acc, mult, shift, o.output_offset, o.act_min, o.act_max);
}

/* acc0..acc3 += the 8 MACs of tap pair j for channels c..c+3 (weights of the quad at wq). */
#define DW_PAIR_MACS(j)                                                                                                \
    do {                                                                                                               \
        const int16_t *w_ = wq + 8 * (j);                                                                              \
        const int32_t xa_ = dsp_read_quad(tap[2 * (j)] + c);                                                           \
        const int32_t xb_ = dsp_read_quad(tap[2 * (j) + 1] + c);                                                       \
        const int32_t lo_ = dsp_pkhbt(xa_, xb_); /* xa0 xa1 xb0 xb1 */                                                 \
        const int32_t hi_ = dsp_pkhtb(xb_, xa_); /* xa2 xa3 xb2 xb3 */                                                 \
        acc0 = dsp_smlad(dsp_sxtab16(off2, lo_), read_pair(w_), acc0);                                                 \
        acc1 = dsp_smlad(dsp_sxtab16_ror8(off2, lo_), read_pair(w_ + 2), acc1);                                        \
        acc2 = dsp_smlad(dsp_sxtab16(off2, hi_), read_pair(w_ + 4), acc2);                                             \
        acc3 = dsp_smlad(dsp_sxtab16_ror8(off2, hi_), read_pair(w_ + 6), acc3);                                        \
    } while (0)

/* One output pixel, channels [0, nc) of a chunk, in two passes that keep
 * few values live each (the Cortex-M4 has 13 usable registers): the MACs
 * into acc[], then the requantization.  tap[t] points at channel 0 of the
 * chunk at tap t (the zero-point row for padding taps); tap[taps] is a dummy
 * with weight 0 when taps is odd.  listed NULL: every pair (an interior
 * pixel; the loop unrolls); else only the n_listed pairs it names (a border
 * pixel: pairs whose taps are both padding add nothing and are skipped).  Groups of four
 * channels are quad_stride int16 apart in the layout (8 * pairs, or more with headers).
 * doubled: the layout's weights are doubled (the fast epilogue's layout); the bias is then
 * doubled too and the exact (even) sums halved before the requantization. */
DWD_INLINE void dw_dsp_pixel(const int8_t *const *tap, int32_t pairs, const int32_t *listed, int32_t n_listed,
                             int32_t nc, const int16_t *wq, int32_t quad_stride, const int32_t *bias, const int32_t *mult,
                             const int32_t *shift, int32_t off2, int32_t input_offset, dw_out_params o, int8_t *po,
                             int32_t *acc, int fast, int doubled)
{
    int32_t c, j, i, k;

    for (c = 0; c + 4 <= nc; c += 4) {
        int32_t acc0 = 0, acc1 = 0, acc2 = 0, acc3 = 0;
        if (bias) {
            acc0 = (int32_t)((uint32_t)bias[c] << doubled);
            acc1 = (int32_t)((uint32_t)bias[c + 1] << doubled);
            acc2 = (int32_t)((uint32_t)bias[c + 2] << doubled);
            acc3 = (int32_t)((uint32_t)bias[c + 3] << doubled);
        }
        if (listed == NULL) {
            DWD_UNROLL
            for (j = 0; j < pairs; ++j) {
                DW_PAIR_MACS(j);
            }
        } else {
            for (k = 0; k < n_listed; ++k) {
                DW_PAIR_MACS(listed[k]);
            }
        }
        acc[c] = acc0;
        acc[c + 1] = acc1;
        acc[c + 2] = acc2;
        acc[c + 3] = acc3;
        wq += quad_stride;
    }
    /* The last 1..3 channels, one MAC at a time, from the same layout. */
    for (i = 0; c + i < nc; ++i) {
        int32_t a = bias ? (int32_t)((uint32_t)bias[c + i] << doubled) : 0;
        for (j = 0; j < pairs; ++j) {
            const int16_t *w = wq + 8 * j + 2 * i;
            a += (tap[2 * j][c + i] + input_offset) * w[0] + (tap[2 * j + 1][c + i] + input_offset) * w[1];
        }
        acc[c + i] = a;
    }
    for (c = 0; c < nc; ++c) {
        po[c] = requant_out(acc[c] >> doubled, mult[c], shift[c], o, fast);
    }
}

/* The whole layer; kh, kw and fast are constants in the specialised entry
 * points, so the compiler unrolls the tap loops and keeps one requantization. */
DWD_INLINE void dw_dsp_layer(const edgec_view *in, edgec_view *out, const int16_t *weights, const int32_t *bias,
                             const edgec_depthwise_params *p, int32_t kh, int32_t kw, int fast)
{
    /* Everything the loops read, in locals: the int8 output stores may alias any memory. */
    const int32_t taps = kh * kw, pairs = (taps + 1) / 2;
    const int32_t sh = p->stride_h, sw = p->stride_w, dh = p->dilation_h, dw = p->dilation_w;
    const int32_t pad_top = p->pad_top, pad_left = p->pad_left, input_offset = p->input_offset;
    const int32_t in_h = in->h, in_w = in->w, in_rs = in->row_stride, in_cs = in->col_stride;
    const int32_t out_h = out->h, out_w = out->w, out_rs = out->row_stride, out_cs = out->col_stride;
    const int32_t cout = out->c;
    const int8_t *const in_data = in->data;
    int8_t *const out_data = out->data;
    const int32_t *const mult = p->out_mult, *const shift = p->out_shift;
    const int32_t off2 = (int32_t)(((uint32_t)input_offset & 0xffffu) * 0x10001u); /* input_offset in both halves */
    dw_out_params o;
    int8_t zero_points[DWD_CHUNK];
    int32_t acc[DWD_CHUNK];
    const int8_t *tap[EDGEC_DW_DSP_MAX_TAPS + 1];
    int32_t listed[(EDGEC_DW_DSP_MAX_TAPS + 1) / 2];
    int32_t oy, ox, ky, kx, c0;

    o.output_offset = p->output_offset;
    o.act_min = p->act_min;
    o.act_max = p->act_max;
    memset(zero_points, (int8_t)(-input_offset), sizeof zero_points);
    for (c0 = 0; c0 < cout; c0 += DWD_CHUNK) {
        const int32_t nc = mini(DWD_CHUNK, cout - c0);
        const int16_t *wq = weights + (c0 / 4) * 8 * pairs;
        for (oy = 0; oy < out_h; ++oy) {
            const int32_t iy0 = oy * sh - pad_top;
            for (ox = 0; ox < out_w; ++ox) {
                const int32_t ix0 = ox * sw - pad_left;
                const int8_t *base = in_data + c0;
                int8_t *po = out_data + oy * out_rs + ox * out_cs + c0;
                int32_t t = 0, padded = 0, n_listed = 0, j;
                for (ky = 0; ky < kh; ++ky) {
                    const int32_t iy = iy0 + ky * dh;
                    const int row_ok = iy >= 0 && iy < in_h;
                    for (kx = 0; kx < kw; ++kx, ++t) {
                        const int32_t ix = ix0 + kx * dw;
                        if (row_ok && ix >= 0 && ix < in_w) {
                            tap[t] = base + iy * in_rs + ix * in_cs;
                        } else {
                            tap[t] = zero_points;
                            ++padded;
                        }
                    }
                }
                tap[taps] = tap[0]; /* dummy partner of an odd last tap (weight 0) */
                if (padded > 0) {
                    for (j = 0; j < pairs; ++j) {
                        if (tap[2 * j] != zero_points || tap[2 * j + 1] != zero_points) {
                            listed[n_listed++] = j;
                        }
                    }
                }
                /* The unrolled loop over every pair wins unless a quarter of the pairs is padding. */
                if (4 * n_listed > 3 * pairs || padded == 0) {
                    dw_dsp_pixel(tap, pairs, NULL, pairs, nc, wq, 8 * pairs, bias ? bias + c0 : NULL, mult + c0, shift + c0,
                                 off2, input_offset, o, po, acc, fast, 0);
                } else {
                    dw_dsp_pixel(tap, pairs, listed, n_listed, nc, wq, 8 * pairs, bias ? bias + c0 : NULL, mult + c0,
                                 shift + c0, off2, input_offset, o, po, acc, fast, 0);
                }
            }
        }
    }
}

/* ---- The fast epilogue (p->fast_requant == 2) ------------------------------------------------
 *
 * The build sets fast_requant 2 when every shift is negative and rq_fast_right is exact
 * (edgec.codegen.dsp_emitters.requant_mode).  The layout then starts each group of four channels
 * with a header of 16 words (edgec.codegen.depthwise_layout.depthwise_dsp_header): the biases with
 * input_offset * sum(w) folded in, the multipliers, the rounding terms (with the output offset)
 * and the right shifts, four of each; the folded biases and the weights are doubled, so the
 * accumulators hold 2 * acc and the requantization drops rq_fast_right_mla's LSL
 * (rq_fast_right_x2_mla).  With the offset in the bias the inputs are widened with
 * SXTB16 (no offset register), which stays exact at padding taps: they read the input zero point,
 * whose w * x cancels the folded w * input_offset.  Each group of four outputs then costs the MACs,
 * four SMMLAR/ADD/ASR/SSAT requantizations (rq_fast_right_x2_mla), three BFI to pack the bytes,
 * a clamp of the four lanes at once (SSUB8 + SEL against act_min, then act_max) and one store.
 *
 * Interior pixels (every tap inside the input) address their taps from one pointer per kernel
 * row and the column stride; border pixels use a table of tap pointers with a row of input zero
 * points for the padding taps, or, when most tap pairs are padding, dw_dsp_pixel on the pairs
 * with an input tap (it reads the unfolded bias, doubled, and the multiplier/shift arrays, and
 * halves its exact sums).  An odd last
 * tap is one SXTB16 pair against the layout's (w, 0) words with SMLABB/SMLATB. */

#define DWF_HEADER_WORDS 16

/* SMLABB / SMLATB: acc + lo(a) * lo(b), acc + hi(a) * lo(b). */
static inline int32_t dwf_smlabb(int32_t a, int32_t b, int32_t acc)
{
#if EDGEC_DSP_NATIVE
    return __smlabb(a, b, acc);
#else
    return (int32_t)((uint32_t)acc + (uint32_t)((int32_t)(int16_t)a * (int32_t)(int16_t)b));
#endif
}

static inline int32_t dwf_smlatb(int32_t a, int32_t b, int32_t acc)
{
#if EDGEC_DSP_NATIVE
    return __smlatb(a, b, acc);
#else
    return (int32_t)((uint32_t)acc + (uint32_t)((int32_t)(int16_t)((uint32_t)a >> 16) * (int32_t)(int16_t)b));
#endif
}

static inline void dwf_store_quad(int8_t *po, int32_t v)
{
    memcpy(po, &v, sizeof v);
}

/* Word k of the layout (int16 storage read as int32 words, without an aliasing int32 lvalue). */
static inline int32_t dwf_word(const int32_t *p, int32_t k)
{
    int32_t v;
    memcpy(&v, p + k, sizeof v);
    return v;
}

/* lo = p[k], hi = p[k + 1] with one LDRD (p 4-byte aligned, k a constant); plain reads elsewhere. */
#if EDGEC_DSP_NATIVE
#define DWF_LDRD(p, k, lo, hi)                                                                                         \
    __asm__("ldrd %0, %1, %2" : "=r"(lo), "=r"(hi) : "m"(*(const int32_t(*)[2])((p) + (k))))
#else
#define DWF_LDRD(p, k, lo, hi) ((lo) = dwf_word(p, k), (hi) = dwf_word(p, (k) + 1))
#endif

/* Hide a pointer's origin from the optimiser: the tap addresses are then computed from it in each
 * iteration instead of kept as one spilled induction variable per tap. */
#ifdef __GNUC__
#define DWF_OPAQUE(ptr) __asm__("" : "+r"(ptr))
#else
#define DWF_OPAQUE(ptr) ((void)0)
#endif

/* Taps a and b (quad words xa, xb) of four channels against weight words w[0..3]. */
#define DWF_PAIR(pa, pb, w_)                                                                                           \
    do {                                                                                                               \
        const int32_t xa_ = dsp_read_quad(pa);                                                                         \
        const int32_t xb_ = dsp_read_quad(pb);                                                                         \
        const int32_t lo_ = dsp_pkhbt(xa_, xb_); /* xa0 xa1 xb0 xb1 */                                                 \
        const int32_t hi_ = dsp_pkhtb(xb_, xa_); /* xa2 xa3 xb2 xb3 */                                                 \
        int32_t w0_, w1_, w2_, w3_;                                                                                    \
        DWF_LDRD(w_, 0, w0_, w1_);                                                                                     \
        acc0 = dsp_smlad(dsp_sxtb16(lo_), w0_, acc0);                                                                  \
        acc1 = dsp_smlad(dsp_sxtb16_ror8(lo_), w1_, acc1);                                                             \
        DWF_LDRD(w_, 2, w2_, w3_);                                                                                     \
        acc2 = dsp_smlad(dsp_sxtb16(hi_), w2_, acc2);                                                                  \
        acc3 = dsp_smlad(dsp_sxtb16_ror8(hi_), w3_, acc3);                                                             \
    } while (0)

/* The last tap of an odd count: its weight words are (w, 0) per channel. */
#define DWF_SINGLE(pa, w_)                                                                                             \
    do {                                                                                                               \
        const int32_t x_ = dsp_read_quad(pa);                                                                          \
        const int32_t x02_ = dsp_sxtb16(x_), x13_ = dsp_sxtb16_ror8(x_);                                               \
        int32_t w0_, w1_, w2_, w3_;                                                                                    \
        DWF_LDRD(w_, 0, w0_, w1_);                                                                                     \
        acc0 = dwf_smlabb(x02_, w0_, acc0);                                                                            \
        acc1 = dwf_smlabb(x13_, w1_, acc1);                                                                            \
        DWF_LDRD(w_, 2, w2_, w3_);                                                                                     \
        acc2 = dwf_smlatb(x02_, w2_, acc2);                                                                            \
        acc3 = dwf_smlatb(x13_, w3_, acc3);                                                                            \
    } while (0)

/* Tap addressing.  Interior pixels of the specialised sizes (kh, kw <= DWF_MAX_K) walk the taps in
 * order with a row pointer (stepped by rs at each new kernel row) and, for rows wider than 3, a
 * column pointer stepped by 2 * cs every second column: tap (ky, kx) is [row, (kx) * cs] for
 * kx <= 2 (LDR with a shifted register offset) or [col, (kx % 2) * cs].  DWF_STEP(t) moves the
 * pointers to tap t (taps in increasing order); DWF_ADDR(t) is then its address.  Other interior
 * pixels use x and the strides; border pixels tap[]. */
#define DWF_MAX_K 7
#define DWF_WALK (interior && kh <= DWF_MAX_K && kw <= DWF_MAX_K)
#define DWF_STEP(t)                                                                                                    \
    do {                                                                                                               \
        if (DWF_WALK) {                                                                                                \
            if ((t) % kw == 0) {                                                                                       \
                rowp = (t) == 0 ? x + c : rowp + rs;                                                                   \
                DWF_OPAQUE(rowp);                                                                                      \
                colp = rowp;                                                                                           \
            } else if (kw > 3 && (t) % kw % 2 == 0) {                                                                  \
                colp = colp + 2 * cs;                                                                                  \
                DWF_OPAQUE(colp);                                                                                      \
            }                                                                                                          \
        }                                                                                                              \
    } while (0)
#define DWF_ADDR(t)                                                                                                    \
    (!interior  ? tap[t] + c                                                                                           \
     : !DWF_WALK ? x + c + ((t) / kw) * rs + ((t) % kw) * cs                                                           \
     : kw <= 3   ? rowp + ((t) % kw) * cs                                                                              \
                 : colp + ((t) % kw % 2) * cs)

/* The four requantized outputs of a group, clamped, as one quad word (h: the group's header). */
#define DWF_EPILOGUE(h, out_word)                                                                                      \
    do {                                                                                                               \
        int32_t m0_, m1_, o0_, o1_, s0_, s1_, r0_, r1_, r2_, r3_;                                                      \
        DWF_LDRD(h, 4, m0_, m1_);                                                                                      \
        DWF_LDRD(h, 8, o0_, o1_);                                                                                      \
        DWF_LDRD(h, 12, s0_, s1_);                                                                                     \
        r0_ = dsp_ssat8(rq_fast_right_x2_mla(acc0, m0_, s0_, o0_));                                                    \
        r1_ = dsp_ssat8(rq_fast_right_x2_mla(acc1, m1_, s1_, o1_));                                                    \
        DWF_LDRD(h, 6, m0_, m1_);                                                                                      \
        DWF_LDRD(h, 10, o0_, o1_);                                                                                     \
        DWF_LDRD(h, 14, s0_, s1_);                                                                                     \
        r2_ = dsp_ssat8(rq_fast_right_x2_mla(acc2, m0_, s0_, o0_));                                                    \
        r3_ = dsp_ssat8(rq_fast_right_x2_mla(acc3, m1_, s1_, o1_));                                                    \
        (out_word) = dsp_pack4(r0_, r1_, r2_, r3_);                                                                     \
    } while (0)

/* One output pixel, channels [0, nc) of a chunk (blk: the chunk's first group).  Interior: x is
 * channel 0 of the chunk at the first tap, rs / cs the (dilated) tap strides; else tap[t] as in
 * dw_dsp_pixel, with the zero-point row at padding taps. */
DWD_INLINE void dwf_pixel(const int8_t *x, int32_t rs, int32_t cs, const int8_t *const *tap, int interior,
                          int32_t kh, int32_t kw, int32_t nc, const int32_t *blk, int32_t lo4, int32_t hi4,
                          int32_t act_min, int32_t act_max, int full, int8_t *po)
{
    const int32_t taps = kh * kw, pairs = (taps + 1) / 2, group_words = DWF_HEADER_WORDS + 4 * pairs;
    int32_t c, j, i;

    for (c = 0; c + 4 <= nc; c += 4, blk += group_words) {
        const int32_t *const wq = blk + DWF_HEADER_WORDS;
        const int8_t *rowp = NULL, *colp = NULL, *pa, *pb;
        int32_t acc0, acc1, acc2, acc3, out4;
        DWF_LDRD(blk, 0, acc0, acc1);
        DWF_LDRD(blk, 2, acc2, acc3);
        DWD_UNROLL
        for (j = 0; j < taps / 2; ++j) {
            DWF_STEP(2 * j);
            pa = DWF_ADDR(2 * j);
            DWF_STEP(2 * j + 1);
            pb = DWF_ADDR(2 * j + 1);
            DWF_PAIR(pa, pb, wq + 4 * j);
        }
        if (taps & 1) {
            DWF_STEP(taps - 1);
            pa = DWF_ADDR(taps - 1);
            DWF_SINGLE(pa, wq + 4 * (pairs - 1));
        }
        DWF_EPILOGUE(blk, out4);
        dwf_store_quad(po + c, full ? out4 : dsp_clamp4(out4, lo4, hi4));
    }
    /* The last 1..3 channels, one MAC at a time, from the same layout. */
    for (i = 0; c + i < nc; ++i) {
        const int16_t *const wq = (const int16_t *)(blk + DWF_HEADER_WORDS);
        int32_t a = dwf_word(blk, i), t;
        for (t = 0; t < taps; ++t) {
            const int8_t *const pt = interior ? x + c + (t / kw) * rs + (t % kw) * cs : tap[t] + c;
            a += pt[i] * wq[8 * (t >> 1) + 2 * i + (t & 1)];
        }
        a = rq_fast_right_x2_mla(a, dwf_word(blk, 4 + i), dwf_word(blk, 12 + i), dwf_word(blk, 8 + i));
        a = a < act_min ? act_min : a;
        po[c + i] = (int8_t)(a > act_max ? act_max : a);
    }
}

/* First output index whose taps all start at or after 0: ceil(pad / stride). */
static inline int32_t dwf_first_inside(int32_t pad, int32_t stride)
{
    return (pad + stride - 1) / stride;
}

/* One past the last output index (at most out_n) whose taps, span long, all end inside [0, n). */
static inline int32_t dwf_end_inside(int32_t n, int32_t pad, int32_t stride, int32_t span, int32_t out_n)
{
    const int32_t room = n - span + pad; /* o * stride <= room */
    const int32_t end = room < 0 ? 0 : room / stride + 1;
    return end < out_n ? end : out_n;
}

/* What a border pixel of dwf_layer needs: the layer's constants for one pass of channels. */
typedef struct {
    const int8_t *base; /* channel c0 of the input */
    const int8_t *zero_points;
    const int32_t *blk, *bias, *mult, *shift; /* the pass's first group; bias (or NULL), mult, shift at c0 */
    int32_t in_h, in_w, in_rs, in_cs, dh, dw, nc;
    int32_t off2, input_offset, lo4, hi4, act_min, act_max;
    dw_out_params o;
} dwf_border_ctx;

/* One output pixel whose taps reach into the padding (first tap at iy0, ix0): a table of tap
 * pointers with the zero-point row at padding taps.  Out of line (dwf_border3 ... below), so that
 * the interior loop of dwf_layer keeps its registers. */
DWD_INLINE void dwf_border_body(const dwf_border_ctx *b, int32_t iy0, int32_t ix0, int8_t *po, int32_t kh,
                                int32_t kw)
{
    const int32_t taps = kh * kw, pairs = (taps + 1) / 2, group_words = DWF_HEADER_WORDS + 4 * pairs;
    const int8_t *tap[EDGEC_DW_DSP_MAX_TAPS + 1];
    int32_t listed[(EDGEC_DW_DSP_MAX_TAPS + 1) / 2];
    int32_t acc[DWD_CHUNK];
    int32_t t = 0, n_listed = 0, j, ky, kx;
    for (ky = 0; ky < kh; ++ky) {
        const int32_t iy = iy0 + ky * b->dh;
        const int row_ok = iy >= 0 && iy < b->in_h;
        for (kx = 0; kx < kw; ++kx, ++t) {
            const int32_t ix = ix0 + kx * b->dw;
            tap[t] = row_ok && ix >= 0 && ix < b->in_w ? b->base + iy * b->in_rs + ix * b->in_cs : b->zero_points;
        }
    }
    tap[taps] = tap[0]; /* dummy partner of an odd last tap (weight 0) */
    for (j = 0; j < pairs; ++j) {
        if (tap[2 * j] != b->zero_points || tap[2 * j + 1] != b->zero_points) {
            listed[n_listed++] = j;
        }
    }
    if (30 * n_listed + 80 < 17 * pairs) {
        /* mostly padding: the pairs with an input tap (fast_requant 2 implies 1's precondition).
         * Per group of four channels that path costs about 30 instructions per listed pair plus 125
         * (the general requantization of each output), the tap-table group loop about 17 per pair
         * plus 45 (qemu-cortex-m4), so a 3x3 pixel never takes it. */
        dw_dsp_pixel(tap, pairs, listed, n_listed, b->nc, (const int16_t *)(b->blk + DWF_HEADER_WORDS),
                     2 * group_words, b->bias, b->mult, b->shift, b->off2, b->input_offset, b->o, po, acc, 1, 1);
    } else {
        dwf_pixel(NULL, 0, 0, tap, 0, kh, kw, b->nc, b->blk, b->lo4, b->hi4, b->act_min, b->act_max, 0, po);
    }
}

#if defined(__GNUC__)
#define DWD_NOINLINE __attribute__((noinline))
#else
#define DWD_NOINLINE
#endif
static DWD_NOINLINE void dwf_border3(const dwf_border_ctx *b, int32_t iy0, int32_t ix0, int8_t *po)
{
    dwf_border_body(b, iy0, ix0, po, 3, 3);
}

static DWD_NOINLINE void dwf_border5(const dwf_border_ctx *b, int32_t iy0, int32_t ix0, int8_t *po)
{
    dwf_border_body(b, iy0, ix0, po, 5, 5);
}

static DWD_NOINLINE void dwf_border7(const dwf_border_ctx *b, int32_t iy0, int32_t ix0, int8_t *po)
{
    dwf_border_body(b, iy0, ix0, po, 7, 7);
}

static DWD_NOINLINE void dwf_border_any(const dwf_border_ctx *b, int32_t iy0, int32_t ix0, int8_t *po, int32_t kh,
                                        int32_t kw)
{
    dwf_border_body(b, iy0, ix0, po, kh, kw);
}

DWD_INLINE void dwf_layer(const edgec_view *in, edgec_view *out, const int16_t *weights, const int32_t *bias,
                          const edgec_depthwise_params *p, int32_t kh, int32_t kw)
{
    const int32_t taps = kh * kw, pairs = (taps + 1) / 2, group_words = DWF_HEADER_WORDS + 4 * pairs;
    const int32_t sh = p->stride_h, sw = p->stride_w, dh = p->dilation_h, dw = p->dilation_w;
    const int32_t pad_top = p->pad_top, pad_left = p->pad_left, input_offset = p->input_offset;
    const int32_t in_h = in->h, in_w = in->w, in_rs = in->row_stride, in_cs = in->col_stride;
    const int32_t out_h = out->h, out_w = out->w, out_rs = out->row_stride, out_cs = out->col_stride;
    const int32_t cout = out->c;
    const int8_t *const in_data = in->data;
    int8_t *const out_data = out->data;
    const int32_t off2 = (int32_t)(((uint32_t)input_offset & 0xffffu) * 0x10001u);
    const int32_t act_min = p->act_min, act_max = p->act_max;
    const int32_t lo4 = dsp_splat4(act_min);
    const int32_t hi4 = dsp_splat4(act_max);
    const int full = act_min == -128 && act_max == 127;
    const int32_t rs = dh * in_rs, cs = dw * in_cs;
    const int32_t oy_lo = dwf_first_inside(pad_top, sh), ox_lo = dwf_first_inside(pad_left, sw);
    const int32_t oy_hi = dwf_end_inside(in_h, pad_top, sh, (kh - 1) * dh + 1, out_h);
    const int32_t ox_hi = dwf_end_inside(in_w, pad_left, sw, (kw - 1) * dw + 1, out_w);
    const int32_t *const groups = (const int32_t *)(const void *)weights;
    int8_t zero_points[DWD_CHUNK];
    dwf_border_ctx b;
    int32_t oy, ox, c0;

    b.zero_points = zero_points;
    b.in_h = in_h;
    b.in_w = in_w;
    b.in_rs = in_rs;
    b.in_cs = in_cs;
    b.dh = dh;
    b.dw = dw;
    b.off2 = off2;
    b.input_offset = input_offset;
    b.lo4 = lo4;
    b.hi4 = hi4;
    b.act_min = act_min;
    b.act_max = act_max;
    b.o.output_offset = p->output_offset;
    b.o.act_min = act_min;
    b.o.act_max = act_max;
    memset(zero_points, (int8_t)(-input_offset), sizeof zero_points);
    for (c0 = 0; c0 < cout; c0 += DWD_CHUNK) {
        const int32_t nc = mini(DWD_CHUNK, cout - c0);
        const int32_t *const blk = groups + (c0 / 4) * group_words;
        b.base = in_data + c0;
        b.blk = blk;
        b.bias = bias ? bias + c0 : NULL;
        b.mult = p->out_mult + c0;
        b.shift = p->out_shift + c0;
        b.nc = nc;
        for (oy = 0; oy < out_h; ++oy) {
            const int32_t iy0 = oy * sh - pad_top;
            const int row_inside = oy >= oy_lo && oy < oy_hi;
            int8_t *po = out_data + oy * out_rs + c0;
            for (ox = 0; ox < out_w; ++ox, po += out_cs) {
                const int32_t ix0 = ox * sw - pad_left;
                if (row_inside && ox >= ox_lo && ox < ox_hi) {
                    const int8_t *x = in_data + iy0 * in_rs + ix0 * in_cs + c0;
                    if (full) { /* SSAT already clamped: no lane clamp (a second copy of the interior loop) */
                        dwf_pixel(x, rs, cs, NULL, 1, kh, kw, nc, blk, lo4, hi4, act_min, act_max, 1, po);
                    } else {
                        dwf_pixel(x, rs, cs, NULL, 1, kh, kw, nc, blk, lo4, hi4, act_min, act_max, 0, po);
                    }
                } else if (kh == 3 && kw == 3) {
                    dwf_border3(&b, iy0, ix0, po);
                } else if (kh == 5 && kw == 5) {
                    dwf_border5(&b, iy0, ix0, po);
                } else if (kh == 7 && kw == 7) {
                    dwf_border7(&b, iy0, ix0, po);
                } else {
                    dwf_border_any(&b, iy0, ix0, po, kh, kw);
                }
            }
        }
    }
}

/* Any kernel size, exact requantization: the fallback of every entry point. */
static void dw_dsp_exact(const edgec_view *in, edgec_view *out, const int16_t *weights, const int32_t *bias,
                         const edgec_depthwise_params *p)
{
    dw_dsp_layer(in, out, weights, bias, p, p->kernel_h, p->kernel_w, 0);
}

void edgec_depthwise_conv2d_dsp(const edgec_view *in, edgec_view *out, const int16_t *weights, const int32_t *bias,
                                const edgec_depthwise_params *p)
{
    if (p->fast_requant == 2) {
        dwf_layer(in, out, weights, bias, p, p->kernel_h, p->kernel_w);
    } else if (p->fast_requant) {
        dw_dsp_layer(in, out, weights, bias, p, p->kernel_h, p->kernel_w, 1);
    } else {
        dw_dsp_exact(in, out, weights, bias, p);
    }
}

void edgec_depthwise_conv2d_3x3_dsp(const edgec_view *in, edgec_view *out, const int16_t *weights,
                                    const int32_t *bias, const edgec_depthwise_params *p)
{
    if (p->fast_requant == 2) {
        dwf_layer(in, out, weights, bias, p, 3, 3);
    } else if (p->fast_requant) {
        dw_dsp_layer(in, out, weights, bias, p, 3, 3, 1);
    } else {
        dw_dsp_exact(in, out, weights, bias, p);
    }
}

void edgec_depthwise_conv2d_5x5_dsp(const edgec_view *in, edgec_view *out, const int16_t *weights,
                                    const int32_t *bias, const edgec_depthwise_params *p)
{
    if (p->fast_requant == 2) {
        dwf_layer(in, out, weights, bias, p, 5, 5);
    } else if (p->fast_requant) {
        dw_dsp_layer(in, out, weights, bias, p, 5, 5, 1);
    } else {
        dw_dsp_exact(in, out, weights, bias, p);
    }
}

void edgec_depthwise_conv2d_7x7_dsp(const edgec_view *in, edgec_view *out, const int16_t *weights,
                                    const int32_t *bias, const edgec_depthwise_params *p)
{
    if (p->fast_requant == 2) {
        dwf_layer(in, out, weights, bias, p, 7, 7);
    } else if (p->fast_requant) {
        dw_dsp_layer(in, out, weights, bias, p, 7, 7, 1);
    } else {
        dw_dsp_exact(in, out, weights, bias, p);
    }
}
