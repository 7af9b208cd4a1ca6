/*
 * conv2d and fully connected, DSP-extension variants (Cortex-M4/M7/M33).
 *
 * Same results as edgec_conv2d / edgec_fully_connected, bit for bit; the
 * code generator (edgec/codegen/dsp_emitters.py) prepares the constants:
 *
 *   - weights in the "oc4" layout: output channels in blocks of four (the
 *     last block padded with zero weights).  A block holds, for each of its
 *     `rows` runs of `run` int8 weights (conv: one run per kernel row,
 *     run = KW * Ci; fully connected: one run of K), first the quads: for
 *     every four consecutive inputs x0..x3 of the run, eight words
 *         pair(w[oc][x0], w[oc][x2]), pair(w[oc][x1], w[oc][x3])   for oc = 0..3
 *     (a pair word holds two int16: the first in bits 0..15), matching
 *     SXTB16 / SXTB16 ROR #8 of the four input bytes; then for each of the
 *     run % 4 trailing inputs two words pair(w[0], w[1]), pair(w[2], w[3]).
 *   - the bias with the input offset folded in, per padded channel:
 *     bias[oc] + input_offset * sum(w[oc]).  The kernel then multiplies raw
 *     int8 inputs.  This is exact when every tap of the sum is computed:
 *     taps in the padding read the input zero point (x + input_offset == 0),
 *     so border pixels (and every pixel of an input whose columns are not
 *     dense) go through a small buffer padded with it.
 *
 * Inner loop: one input quad (LDR, SXTB16, SXTB16 ROR #8) against four
 * output channels (four LDRD of pre-widened weights, eight SMLAD): 16 MACs in
 * 15 instructions, two quads per iteration (arm-none-eabi-gcc 12 -O2).  The requantization epilogue is
 * fused per block; it uses rq_fast when the build proved it exact
 * (p->fast_requant, requant_fast.h).
 */
#include "arm_dsp.h"
#include "kernels_internal.h"
#include "requant_fast.h"

/* Largest receptive field (KH * KW * Ci bytes) a border pixel is gathered into (on the stack). */
#define EDGEC_CONV_DSP_MAX_FIELD 2304

/* Four accumulators of one block (four output channels). */
typedef struct {
    int32_t a0, a1, a2, a3;
} acc4;

/* acc += one input quad (x0..x3 at x) times the block's eight weight words at w. */
#define DOT4_QUAD(acc, x, w)                                                                                           \
    do {                                                                                                               \
        const int32_t q_ = dsp_read_quad(x);                                                                           \
        const int32_t even_ = dsp_sxtb16(q_);    /* x0, x2 */                                                          \
        const int32_t odd_ = dsp_sxtb16_ror8(q_); /* x1, x3 */                                                          \
        int32_t we_, wo_;                                                                                              \
        DSP_LDRD(w, 0, we_, wo_);                                                                                      \
        (acc).a0 = dsp_smlad(we_, even_, (acc).a0);                                                                    \
        (acc).a0 = dsp_smlad(wo_, odd_, (acc).a0);                                                                     \
        DSP_LDRD(w, 8, we_, wo_);                                                                                      \
        (acc).a1 = dsp_smlad(we_, even_, (acc).a1);                                                                    \
        (acc).a1 = dsp_smlad(wo_, odd_, (acc).a1);                                                                     \
        DSP_LDRD(w, 16, we_, wo_);                                                                                     \
        (acc).a2 = dsp_smlad(we_, even_, (acc).a2);                                                                    \
        (acc).a2 = dsp_smlad(wo_, odd_, (acc).a2);                                                                     \
        DSP_LDRD(w, 24, we_, wo_);                                                                                     \
        (acc).a3 = dsp_smlad(we_, even_, (acc).a3);                                                                    \
        (acc).a3 = dsp_smlad(wo_, odd_, (acc).a3);                                                                     \
    } while (0)

/* acc + the block's weights times one run of n inputs at x; advances *wp past the run's weights. */
static inline acc4 dot4_run(acc4 acc, const int8_t *x, const int32_t **wp, int32_t n)
{
    const int32_t *w = *wp;
    const int8_t *const pairs_end = x + (n & ~7);
    const int8_t *const end = x + n;
    /* Two quads per iteration (32 MACs). */
    while (x != pairs_end) {
        DOT4_QUAD(acc, x, w);
        DOT4_QUAD(acc, x + 4, w + 8);
        x += 8;
        w += 16;
    }
    if (n & 4) {
        DOT4_QUAD(acc, x, w);
        x += 4;
        w += 8;
    }
    while (x != end) {
        const int32_t v = *x;
        acc.a0 += (int32_t)(int16_t)(uint16_t)((uint32_t)w[0] & 0xffffu) * v;
        acc.a1 += (w[0] >> 16) * v;
        acc.a2 += (int32_t)(int16_t)(uint16_t)((uint32_t)w[1] & 0xffffu) * v;
        acc.a3 += (w[1] >> 16) * v;
        ++x;
        w += 2;
    }
    *wp = w;
    return acc;
}

/* The requantization constants of a call, copied out of the params (int8 stores may alias them). */
typedef struct {
    int32_t output_offset, act_min, act_max, fast;
} epilogue;

static inline epilogue epilogue_of(const edgec_conv_params *p)
{
    epilogue e;
    e.output_offset = p->output_offset;
    e.act_min = p->act_min;
    e.act_max = p->act_max;
    e.fast = p->fast_requant;
    return e;
}

static inline int8_t requant_one(int32_t acc, int32_t mult, int32_t shift, const epilogue *e)
{
    if (e->fast) {
        return rq_fast_clamp(acc, mult, shift, e->output_offset, e->act_min, e->act_max);
    }
    return requantize_and_clamp(acc, mult, shift, e->output_offset, e->act_min, e->act_max);
}

/* Requantize the block's first `count` (1..4) accumulators into out[0..count). */
static inline void store_block(int8_t *out, acc4 acc, int32_t count, const int32_t *mult, const int32_t *shift,
                               const epilogue *e)
{
    out[0] = requant_one(acc.a0, mult[0], shift[0], e);
    if (count > 1) {
        out[1] = requant_one(acc.a1, mult[1], shift[1], e);
    }
    if (count > 2) {
        out[2] = requant_one(acc.a2, mult[2], shift[2], e);
    }
    if (count > 3) {
        out[3] = requant_one(acc.a3, mult[3], shift[3], e);
    }
}

/* Copy the receptive field of the output pixel whose first tap is (y0, x0) into `field`
 * ([KH][KW][Ci], dense), with the input zero point at taps outside the input. */
static void gather_field(const edgec_view *in, int32_t y0, int32_t x0, const edgec_conv_params *p, int8_t *field)
{
    const int32_t cin = in->c;
    const int8_t zero_point = (int8_t)(-p->input_offset);
    int32_t ky, kx;
    for (ky = 0; ky < p->kernel_h; ++ky) {
        const int32_t y = y0 + ky * p->dilation_h;
        for (kx = 0; kx < p->kernel_w; ++kx) {
            const int32_t x = x0 + kx;
            int8_t *dst = field + (ky * p->kernel_w + kx) * cin;
            if (y >= 0 && y < in->h && x >= 0 && x < in->w) {
                memcpy(dst, in->data + y * in->row_stride + x * in->col_stride, (size_t)cin);
            } else {
                memset(dst, zero_point, (size_t)cin);
            }
        }
    }
}

void edgec_conv2d_dsp(const edgec_view *in, edgec_view *out, const int32_t *weights, const int32_t *bias,
                      const edgec_conv_params *p)
{
    const int32_t kh = p->kernel_h, kw = p->kernel_w;
    const int32_t run = kw * in->c; /* one kernel row: KW pixels of Ci contiguous bytes (col_stride == c) */
    const int32_t cout = out->c;
    const int32_t *const mult = p->out_mult;
    const int32_t *const shift = p->out_shift;
    const epilogue e = epilogue_of(p);
    int8_t field[EDGEC_CONV_DSP_MAX_FIELD];
    int32_t oy, ox, oc, ky;

    /* A kernel row reads KW * Ci contiguous bytes only when the input's columns are dense. */
    const int dense_columns = in->col_stride == in->c;

    for (oy = 0; oy < out->h; ++oy) {
        const int32_t y0 = oy * p->stride_h - p->pad_top;
        const int inside_y = dense_columns && y0 >= 0 && y0 + (kh - 1) * p->dilation_h < in->h;
        for (ox = 0; ox < out->w; ++ox) {
            const int32_t x0 = ox * p->stride_w - p->pad_left;
            int8_t *po = out->data + oy * out->row_stride + ox * out->col_stride;
            const int8_t *base;
            int32_t row_step;
            const int32_t *w = weights;
            if (inside_y && x0 >= 0 && x0 + kw <= in->w) {
                base = in->data + y0 * in->row_stride + x0 * in->col_stride;
                row_step = p->dilation_h * in->row_stride;
            } else {
                gather_field(in, y0, x0, p, field);
                base = field;
                row_step = run;
            }
            for (oc = 0; oc < cout; oc += 4) {
                acc4 acc;
                acc.a0 = bias[oc];
                acc.a1 = bias[oc + 1];
                acc.a2 = bias[oc + 2];
                acc.a3 = bias[oc + 3];
                for (ky = 0; ky < kh; ++ky) {
                    acc = dot4_run(acc, base + ky * row_step, &w, run);
                }
                store_block(po + oc, acc, cout - oc < 4 ? cout - oc : 4, mult + oc, shift + oc, &e);
            }
        }
    }
}

void edgec_fully_connected_dsp(const int8_t *in, int8_t *out, int32_t batches, const int32_t *weights,
                               const int32_t *bias, const edgec_fc_params *p)
{
    const int32_t k = p->in_features;
    const int32_t cout = p->out_features;
    int32_t b, oc;

    for (b = 0; b < batches; ++b) {
        const int8_t *x = in + b * k;
        int8_t *y = out + b * cout;
        const int32_t *w = weights;
        for (oc = 0; oc < cout; oc += 4) {
            const int32_t count = cout - oc < 4 ? cout - oc : 4;
            acc4 acc;
            acc.a0 = bias[oc];
            acc.a1 = bias[oc + 1];
            acc.a2 = bias[oc + 2];
            acc.a3 = bias[oc + 3];
            acc = dot4_run(acc, x, &w, k);
            y[oc] = fc_requantize(acc.a0, p->out_scale[oc], p);
            if (count > 1) {
                y[oc + 1] = fc_requantize(acc.a1, p->out_scale[oc + 1], p);
            }
            if (count > 2) {
                y[oc + 2] = fc_requantize(acc.a2, p->out_scale[oc + 2], p);
            }
            if (count > 3) {
                y[oc + 3] = fc_requantize(acc.a3, p->out_scale[oc + 3], p);
            }
        }
    }
}
