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

/* The specialised entry points need the body inlined with constant kernel sizes. */
#ifdef __GNUC__
#define DWD_INLINE static inline __attribute__((always_inline))
#else
#define DWD_INLINE static inline
#endif

#if defined(__GNUC__) && !defined(__clang__)
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
 * pixel: pairs whose taps are both padding add nothing and are skipped). */
DWD_INLINE void dw_dsp_pixel(const int8_t *const *tap, int32_t pairs, const int32_t *listed, int32_t n_listed,
                             int32_t nc, const int16_t *wq, const int32_t *bias, const int32_t *mult,
                             const int32_t *shift, int32_t off2, int32_t input_offset, dw_out_params o, int8_t *po,
                             int32_t *acc, int fast)
{
    int32_t c, j, i, k;

    for (c = 0; c + 4 <= nc; c += 4) {
        int32_t acc0 = 0, acc1 = 0, acc2 = 0, acc3 = 0;
        if (bias) {
            acc0 = bias[c];
            acc1 = bias[c + 1];
            acc2 = bias[c + 2];
            acc3 = bias[c + 3];
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
        wq += 8 * pairs;
    }
    /* The last 1..3 channels, one MAC at a time, from the same layout. */
    for (i = 0; c + i < nc; ++i) {
        int32_t a = bias ? bias[c + i] : 0;
        for (j = 0; j < pairs; ++j) {
            const int16_t *w = wq + 8 * j + 2 * i;
            a += (tap[2 * j][c + i] + input_offset) * w[0] + (tap[2 * j + 1][c + i] + input_offset) * w[1];
        }
        acc[c + i] = a;
    }
    for (c = 0; c < nc; ++c) {
        po[c] = requant_out(acc[c], mult[c], shift[c], o, fast);
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
                    dw_dsp_pixel(tap, pairs, NULL, pairs, nc, wq, bias ? bias + c0 : NULL, mult + c0, shift + c0,
                                 off2, input_offset, o, po, acc, fast);
                } else {
                    dw_dsp_pixel(tap, pairs, listed, n_listed, nc, wq, bias ? bias + c0 : NULL, mult + c0,
                                 shift + c0, off2, input_offset, o, po, acc, fast);
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
    if (p->fast_requant) {
        dw_dsp_layer(in, out, weights, bias, p, p->kernel_h, p->kernel_w, 1);
    } else {
        dw_dsp_exact(in, out, weights, bias, p);
    }
}

void edgec_depthwise_conv2d_3x3_dsp(const edgec_view *in, edgec_view *out, const int16_t *weights,
                                    const int32_t *bias, const edgec_depthwise_params *p)
{
    if (p->fast_requant) {
        dw_dsp_layer(in, out, weights, bias, p, 3, 3, 1);
    } else {
        dw_dsp_exact(in, out, weights, bias, p);
    }
}

void edgec_depthwise_conv2d_5x5_dsp(const edgec_view *in, edgec_view *out, const int16_t *weights,
                                    const int32_t *bias, const edgec_depthwise_params *p)
{
    if (p->fast_requant) {
        dw_dsp_layer(in, out, weights, bias, p, 5, 5, 1);
    } else {
        dw_dsp_exact(in, out, weights, bias, p);
    }
}

void edgec_depthwise_conv2d_7x7_dsp(const edgec_view *in, edgec_view *out, const int16_t *weights,
                                    const int32_t *bias, const edgec_depthwise_params *p)
{
    if (p->fast_requant) {
        dw_dsp_layer(in, out, weights, bias, p, 7, 7, 1);
    } else {
        dw_dsp_exact(in, out, weights, bias, p);
    }
}
