/*
 * edgec int8 kernel library.
 *
 * Every kernel is the C twin of the numpy function of the same name in
 * edgec/reference/int8_kernels.py and is bit-exact with TFLite's reference
 * integer kernels.  Integer parameters are the ones TFLite derives in its
 * Prepare step (see edgec.reference.qparams); the code generator emits them
 * as `static const` parameter structs, so a generated call reads like
 *
 *     edgec_conv2d(&in, &out, w_conv1, b_conv1, &conv1_params);
 *
 * Conventions
 *   - Activations are int8 NHWC.  A kernel sees one image (batch 1) through an
 *     `edgec_view`: a window of H x W x C elements inside a possibly larger
 *     tensor.  Channels are always contiguous; rows and columns may be strided,
 *     so a kernel can read a spatial patch of a bigger tensor and write into a
 *     patch or a channel slice of another.  Batches are separate calls.
 *   - input_offset = -input zero point, output_offset = +output zero point
 *     (TFLite's sign convention).
 *   - A multiplier/shift pair means x * mult * 2^(shift - 31), mult in
 *     [2^30, 2^31) as TFLite's QuantizeMultiplier returns it; a positive shift
 *     is a left shift.  Shifts must lie in [-31, 30].
 *   - act_min/act_max are the int8 clamp bounds of a fused activation
 *     (-128/127 when there is none).
 *   - Padding is per call: pad_top/pad_left place the first tap; taps that
 *     fall outside the input window contribute nothing (TFLite semantics), so
 *     bottom/right padding is implied by the output size.
 *   - In place: the element-wise kernels (add, mul, requantize, relu, clamp,
 *     leaky_relu, lookup_table/logistic/tanh/rsqrt, hard_swish, prelu,
 *     squared_difference) allow `out` to be the very same window as an
 *     input (identical data pointer and strides).  Every other
 *     kernel needs output and input memory to be disjoint.
 *   - No dynamic allocation, no libc beyond <string.h>; kernels never fail,
 *     so the caller (generated code) is responsible for consistent shapes.
 */
#ifndef EDGEC_KERNELS_H
#define EDGEC_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* A window of an int8 NHWC image. Element (y, x, ch) lives at
 * data[y * row_stride + x * col_stride + ch]. */
typedef struct {
    int8_t *data;       /* element (0, 0, 0) of the window */
    int32_t h;          /* rows in the window */
    int32_t w;          /* columns in the window */
    int32_t c;          /* channels in the window */
    int32_t row_stride; /* elements from (y, x, ch) to (y + 1, x, ch); w * c when dense */
    int32_t col_stride; /* elements from (y, x, ch) to (y, x + 1, ch); c when dense */
} edgec_view;

/* A dense H x W x C view of `data` (helper for hand-written callers). */
static inline edgec_view edgec_dense_view(int8_t *data, int32_t h, int32_t w, int32_t c)
{
    edgec_view v;
    v.data = data;
    v.h = h;
    v.w = w;
    v.c = c;
    v.row_stride = w * c;
    v.col_stride = c;
    return v;
}

/* ---------------------------------------------------------------- requantization */

/* gemmlowp SaturatingRoundingDoublingHighMul: round(a * b / 2^31), saturating. */
int32_t edgec_saturating_rounding_doubling_high_mul(int32_t a, int32_t b);
/* gemmlowp RoundingDivideByPOT: x / 2^exponent rounded half away from zero, exponent in [0, 31]. */
int32_t edgec_rounding_divide_by_pot(int32_t x, int32_t exponent);
/* TFLite reference MultiplyByQuantizedMultiplier (double rounding). */
int32_t edgec_multiply_by_quantized_multiplier(int32_t x, int32_t mult, int32_t shift);

/* ---------------------------------------------------------------- convolutions */

/* conv2d: weights [Co][KH][KW][Ci / groups] int8, bias [Co] int32 or NULL.
 * Co = out->c, Ci = in->c.  Output size is out->h x out->w. */
typedef struct {
    int16_t kernel_h, kernel_w;     /* KH, KW */
    int16_t stride_h, stride_w;     /* >= 1 */
    int16_t dilation_h, dilation_w; /* >= 1 */
    int16_t pad_top, pad_left;      /* implicit zero-point rows/columns before the input */
    int16_t pad_bottom, pad_right;  /* informational: implied by the output size */
    int16_t groups;                 /* 1 = dense conv; in->c and out->c divisible by it */
    int32_t input_offset;           /* -input zero point */
    int32_t output_offset;          /* +output zero point */
    const int32_t *out_mult;        /* [Co] per-channel multipliers */
    const int32_t *out_shift;       /* [Co] per-channel shifts */
    int8_t act_min, act_max;        /* output clamp */
    uint8_t fast_requant;           /* 1: the build proved rq_fast exact for every channel (requant_fast.h),
                                       2: and every shift is negative; optimised variants may use it,
                                       portable kernels ignore it */
} edgec_conv_params;

/* General convolution. Dispatches to edgec_conv2d_1x1 when the kernel is
 * 1x1, stride 1, unpadded and groups == 1. */
void edgec_conv2d(const edgec_view *in, edgec_view *out, const int8_t *weights, const int32_t *bias,
                  const edgec_conv_params *p);

/* Pointwise convolution as a matrix multiply (1x1 kernel, stride 1, no
 * padding, groups 1; out->h == in->h, out->w == in->w).  Geometry fields of
 * `p` are ignored. */
void edgec_conv2d_1x1(const edgec_view *in, edgec_view *out, const int8_t *weights, const int32_t *bias,
                      const edgec_conv_params *p);

/* depthwise conv2d: weights [1][KH][KW][Co], Co = Ci * depth_multiplier,
 * output channel oc = ic * depth_multiplier + m. bias [Co] int32 or NULL. */
typedef struct {
    int16_t kernel_h, kernel_w;
    int16_t stride_h, stride_w;
    int16_t dilation_h, dilation_w;
    int16_t pad_top, pad_left;
    int16_t pad_bottom, pad_right;  /* informational: implied by the output size */
    int16_t depth_multiplier;       /* out->c == in->c * depth_multiplier */
    int32_t input_offset;
    int32_t output_offset;
    const int32_t *out_mult;        /* [Co] */
    const int32_t *out_shift;       /* [Co] */
    int8_t act_min, act_max;
    uint8_t fast_requant;           /* as in edgec_conv_params */
} edgec_depthwise_params;

void edgec_depthwise_conv2d(const edgec_view *in, edgec_view *out, const int8_t *weights, const int32_t *bias,
                            const edgec_depthwise_params *p);

/* In-place depthwise conv2d (TinyEngine-style, for layer-by-layer arenas;
 * see edgec/schedule/arena.py, plan_arena(..., inplace_depthwise=True)).
 *
 * `buffer` holds the dense input [in_h][in_w][channels] on entry and the
 * dense output [out_h][out_w][channels] on return, from its first byte.
 * Output element (p, c), p = oy * out_w + ox, lands on input element (p, c),
 * so channel c only overwrites channel c.  For each channel the kernel walks
 * the output rows; the input rows an output row taps are copied into a ring
 * of R = (kernel_h - 1) * dilation_h + 1 zero-point-padded rows the first
 * time they are tapped, before that output row is written (proof in
 * depthwise_inplace.c).  Bytes buffer[out_h * out_w * channels ..
 * in_h * in_w * channels) are left as they were (the tail of the input).
 * Results are bit-exact with edgec_depthwise_conv2d on the same data.
 *
 * Requirements (the caller, i.e. the generated code, guarantees them):
 *   - p->depth_multiplier == 1 (weights [1][KH][KW][channels]);
 *   - out_h * out_w <= in_h * in_w;
 *   - no input row is overwritten before it is copied: for every input row
 *     iy in [0, in_h) that some output row taps, with oy0 the first output
 *     row tapping it (the smallest oy with iy + pad_top = oy * stride_h +
 *     k * dilation_h, 0 <= k < kernel_h),
 *       iy * in_w >= oy0 * out_w
 *     (edgec.schedule.arena._depthwise_inplace_ok checks this);
 *   - the explicit padding covers every tap:
 *       (out_h - 1) * stride_h + (kernel_h - 1) * dilation_h + 1 <= pad_top + in_h + pad_bottom,
 *     and likewise for the width (always true when out_h/out_w are the
 *     TFLite/edgec output sizes for these pads);
 *   - `scratch` holds edgec_depthwise_inplace_scratch_size(in_h, in_w, p)
 *       = ((kernel_h - 1) * dilation_h + 1) * (in_w + pad_left + pad_right)
 *     bytes (the ring of padded rows; no alignment needed) and does not
 *     overlap `buffer`.  The kernel writes exactly that many scratch bytes;
 *     their contents on return are unspecified.
 */
void edgec_depthwise_conv2d_inplace(int8_t *buffer, int32_t in_h, int32_t in_w, int32_t channels, int32_t out_h,
                                    int32_t out_w, int8_t *scratch, const int8_t *weights, const int32_t *bias,
                                    const edgec_depthwise_params *p);

/* The same in-place procedure on the DSP extension: rows of a 3- or 7-wide
 * kernel with stride and dilation 1 along the width compute two outputs per step
 * with SMLAD (depthwise_inplace.c); other geometries take the portable
 * rows.  Uses rq_fast when p->fast_requant.  Same requirements and results. */
void edgec_depthwise_conv2d_inplace_dsp(int8_t *buffer, int32_t in_h, int32_t in_w, int32_t channels, int32_t out_h,
                                        int32_t out_w, int8_t *scratch, const int8_t *weights, const int32_t *bias,
                                        const edgec_depthwise_params *p);

/* Scratch bytes edgec_depthwise_conv2d_inplace needs: the ring of padded
 * rows (the planner's edgec.schedule.arena.depthwise_scratch_bytes).
 * in_h does not enter the size; it is kept for the callers. */
static inline int32_t edgec_depthwise_inplace_scratch_size(int32_t in_h, int32_t in_w,
                                                           const edgec_depthwise_params *p)
{
    (void)in_h;
    return ((p->kernel_h - 1) * p->dilation_h + 1) * (in_w + p->pad_left + p->pad_right);
}

/* Depthwise conv2d on the DSP extension (depthwise_dsp.c): bit-exact with
 * edgec_depthwise_conv2d, for depth_multiplier 1 and kernel_h * kernel_w <=
 * EDGEC_DW_DSP_MAX_TAPS.  `weights` is the build-time layout of
 * edgec.codegen.depthwise_layout: int16 [ceil(C / 4)][ceil(KH * KW / 2)][4][2],
 * 4-byte aligned; entry [q][j][i][t] is the weight of channel 4q + i at tap
 * 2j + t (taps in ky * KW + kx order), 0 past the last tap or channel.  With
 * p->fast_requant == 2 (every shift negative, rq_fast_right exact) each group of
 * four channels is preceded by 16 int32 words: the biases with input_offset *
 * sum(w) folded in, the multipliers, the rounding terms (with the output
 * offset) and the right shifts, four of each
 * (edgec.codegen.depthwise_layout.depthwise_dsp_header); `bias`, out_mult and
 * out_shift must still be given (border pixels that are mostly padding use them).  The
 * _3x3/_5x5/_7x7 entry points are the same kernel with the kernel size a
 * constant (any stride, dilation and padding); without the DSP extension
 * they run a plain-C twin of every instruction. */
#define EDGEC_DW_DSP_MAX_TAPS 64

void edgec_depthwise_conv2d_dsp(const edgec_view *in, edgec_view *out, const int16_t *weights, const int32_t *bias,
                                const edgec_depthwise_params *p);
void edgec_depthwise_conv2d_3x3_dsp(const edgec_view *in, edgec_view *out, const int16_t *weights,
                                    const int32_t *bias, const edgec_depthwise_params *p);
void edgec_depthwise_conv2d_5x5_dsp(const edgec_view *in, edgec_view *out, const int16_t *weights,
                                    const int32_t *bias, const edgec_depthwise_params *p);
void edgec_depthwise_conv2d_7x7_dsp(const edgec_view *in, edgec_view *out, const int16_t *weights,
                                    const int32_t *bias, const edgec_depthwise_params *p);

/* fully connected: in [batches][in_features] dense, weights [out_features][in_features],
 * bias [out_features] int32 or NULL, out [batches][out_features] dense.
 * Unlike conv, TFLite's reference int8 FULLY_CONNECTED rescales in double:
 * y = round(double(acc) * out_scale[c]) + output_offset, halves away from
 * zero, with out_scale[c] = double(s_in) * double(s_w[c]) / double(s_out)
 * (edgec.reference.qparams).  Emit the scales with 17 significant digits so
 * they round-trip exactly.  On an FPU-less core this is one soft-float
 * multiply per output, not per MAC. */
typedef struct {
    int32_t in_features;     /* K */
    int32_t out_features;    /* Co */
    int32_t input_offset;
    int32_t output_offset;
    const double *out_scale; /* [Co] (repeat the value for per-tensor weights) */
    int8_t act_min, act_max;
} edgec_fc_params;

void edgec_fully_connected(const int8_t *in, int8_t *out, int32_t batches, const int8_t *weights,
                           const int32_t *bias, const edgec_fc_params *p);
/* fully connected, two output channels per pass of VMLADAVA.S8 (Helium; fully_connected_mve.c): the
 * same arguments, weight layout and results as edgec_fully_connected. */
void edgec_fully_connected_mve(const int8_t *in, int8_t *out, int32_t batches, const int8_t *weights,
                               const int32_t *bias, const edgec_fc_params *p);

/* ---------------------------------------------------------------- DSP-extension variants */

/* conv2d with SMLAD on pre-widened weights (conv_dsp.c): same results as
 * edgec_conv2d for groups == 1, dilation_w == 1 and KH * KW * Ci <= 2304.
 * `blocks` holds the weights and per-channel constants in the oc4 layout
 * (described in conv_dsp.c; prepared by the code generator,
 * edgec/codegen/dsp_emitters.py); p->out_mult / out_shift are not read. */
void edgec_conv2d_dsp(const edgec_view *in, edgec_view *out, const int32_t *blocks, const edgec_conv_params *p);

/* fully connected with SMLAD (conv_dsp.c): same results as edgec_fully_connected;
 * `blocks` in the oc4 layout (one run of K per block, the folded bias as header). */
void edgec_fully_connected_dsp(const int8_t *in, int8_t *out, int32_t batches, const int32_t *blocks,
                               const edgec_fc_params *p);

/* The same on int8 weights (conv_dsp.c), for layers whose pre-widened layout does not fit the
 * flash: `blocks` in the oc4 int8 layout (described in conv_dsp.c), exactly the flash of the
 * portable kernel's constants; KW * Ci (conv) or K (fully connected) a multiple of 4. */
void edgec_conv2d_dsp_int8(const edgec_view *in, edgec_view *out, const int32_t *blocks, const edgec_conv_params *p);
void edgec_fully_connected_dsp_int8(const int8_t *in, int8_t *out, int32_t batches, const int32_t *blocks,
                                    const edgec_fc_params *p);

/* ---------------------------------------------------------------- element-wise binary */

/* Broadcasting: each of a/b has every dimension (h, w, c) either equal to
 * out's or 1; a dimension of 1 is repeated.  Covers same shape, scalar
 * (1x1x1), per-channel vector (1x1xC) and any other H/W/C broadcast.
 * In place: out may be the same window as a or b. */

/* add (reference_integer_ops::Add / BroadcastAdd4DSlow). Sub is add with
 * b_mult negated. */
typedef struct {
    int32_t a_offset, a_mult, a_shift;  /* -zero point of a, its multiplier and shift (<= 0) */
    int32_t b_offset, b_mult, b_shift;  /* same for b */
    int32_t left_shift;                 /* 20 for int8 */
    int32_t output_offset, out_mult, out_shift;
    int8_t act_min, act_max;
} edgec_add_params;

void edgec_add(const edgec_view *a, const edgec_view *b, edgec_view *out, const edgec_add_params *p);

/* add with rq_fast requantization (elementwise_dsp.c): the same results as
 * edgec_add; runs edgec_add unless left_shift <= 20 and every shift <= 0
 * (where rq_fast is proven exact). */
void edgec_add_dsp(const edgec_view *a, const edgec_view *b, edgec_view *out, const edgec_add_params *p);

/* mul (reference_integer_ops::Mul / BroadcastMul4DSlow). */
typedef struct {
    int32_t a_offset, b_offset;  /* -zero points of a and b */
    int32_t output_offset, out_mult, out_shift;
    int8_t act_min, act_max;
} edgec_mul_params;

void edgec_mul(const edgec_view *a, const edgec_view *b, edgec_view *out, const edgec_mul_params *p);

/* maximum / minimum of the raw int8 values (TFLite MAXIMUM / MINIMUM with
 * reference_ops::MaximumMinimumBroadcastSlow): a, b and out share one
 * quantization, so no rescaling.  In place: out may be the same window as a or b. */
void edgec_maximum(const edgec_view *a, const edgec_view *b, edgec_view *out);
void edgec_minimum(const edgec_view *a, const edgec_view *b, edgec_view *out);

/* ---------------------------------------------------------------- pooling */

typedef struct {
    int16_t kernel_h, kernel_w;
    int16_t stride_h, stride_w;
    int16_t pad_top, pad_left;
    int16_t pad_bottom, pad_right;  /* informational */
    int8_t act_min, act_max;
} edgec_pool_params;

/* Max over the in-bounds part of each window, then clamped. */
void edgec_max_pool2d(const edgec_view *in, edgec_view *out, const edgec_pool_params *p);
/* Average over the in-bounds part of each window (padding not counted),
 * rounded half away from zero, then clamped.  Kernel area <= 2^24/255. */
void edgec_avg_pool2d(const edgec_view *in, edgec_view *out, const edgec_pool_params *p);
/* max_pool2d, four channels per word (SSUB8 + SEL; elementwise_dsp.c): the same results as
 * edgec_max_pool2d. */
void edgec_max_pool2d_dsp(const edgec_view *in, edgec_view *out, const edgec_pool_params *p);

/* mean over any of H, W, C with keepdims (reference_ops::QuantizedMeanOrSum):
 * out has size 1 along every reduced dimension and in's size elsewhere.
 * y = MBQM(sum(x) + input_offset * n, mult, shift) + output_offset, where
 * mult/shift already fold in 1/n (edgec.reference.qparams). */
typedef struct {
    int8_t reduce_h, reduce_w, reduce_c; /* 1 = reduce that dimension */
    int32_t input_offset;
    int32_t output_offset;
    int32_t mult, shift;
} edgec_mean_params;

void edgec_mean(const edgec_view *in, edgec_view *out, const edgec_mean_params *p);
/* mean over H and W, four channels per word (SXTAB16; elementwise_dsp.c): the same results as
 * edgec_mean, which it calls for the other reductions. */
void edgec_mean_dsp(const edgec_view *in, edgec_view *out, const edgec_mean_params *p);
/* mean over H and W, sixteen channels per block (Helium; mean_mve.c): the same results as edgec_mean,
 * which it calls for the other reductions. */
void edgec_mean_mve(const edgec_view *in, edgec_view *out, const edgec_mean_params *p);

/* max over any of H, W, C with keepdims, of the raw int8 values (TFLite
 * REDUCE_MAX: input and output share quantization). */
typedef struct {
    int8_t reduce_h, reduce_w, reduce_c; /* 1 = reduce that dimension */
} edgec_reduce_max_params;

void edgec_reduce_max(const edgec_view *in, edgec_view *out, const edgec_reduce_max_params *p);

/* ---------------------------------------------------------------- element-wise unary (in place allowed) */

/* requantize int8 -> int8 (TFLite QUANTIZE / reference_ops::Requantize). */
typedef struct {
    int32_t input_offset;
    int32_t output_offset;
    int32_t mult, shift;
} edgec_requantize_params;

void edgec_requantize(const edgec_view *in, edgec_view *out, const edgec_requantize_params *p);

/* relu / relu6 / clip (TFLite QuantizedReluX): rescale to the output
 * quantization, then clamp to [act_min, act_max]. */
typedef struct {
    int32_t input_offset;
    int32_t output_offset;
    int32_t out_mult, out_shift;
    int8_t act_min, act_max;
} edgec_relu_params;

void edgec_relu(const edgec_view *in, edgec_view *out, const edgec_relu_params *p);

/* clamp to [lo, hi]: relu / relu6 / clip when input and output share quantization. */
void edgec_clamp(const edgec_view *in, edgec_view *out, int8_t lo, int8_t hi);

/* leaky relu (reference_ops::QuantizeLeakyRelu). */
typedef struct {
    int32_t input_offset;              /* -input zero point */
    int32_t output_offset;             /* +output zero point */
    int32_t identity_mult, identity_shift; /* in_scale / out_scale, for x >= 0 */
    int32_t alpha_mult, alpha_shift;       /* alpha * in_scale / out_scale, for x < 0 */
} edgec_leaky_relu_params;

void edgec_leaky_relu(const edgec_view *in, edgec_view *out, const edgec_leaky_relu_params *p);

/* int8 -> int8 through a 256-entry table indexed by x + 128.  logistic and
 * tanh are tables (TFLite BUILTIN_REF fills them in float with LUTPopulate;
 * edgec.reference.qparams computes them at build time). */
void edgec_lookup_table(const edgec_view *in, edgec_view *out, const int8_t table[256]);
static inline void edgec_logistic(const edgec_view *in, edgec_view *out, const int8_t table[256])
{
    edgec_lookup_table(in, out, table);
}
static inline void edgec_tanh(const edgec_view *in, edgec_view *out, const int8_t table[256])
{
    edgec_lookup_table(in, out, table);
}

/* hard swish (reference_ops::HardSwish with TFLite's HardSwishParams). */
typedef struct {
    int16_t input_zero_point;
    int16_t output_zero_point;
    int16_t reluish_multiplier_fixedpoint_int16;
    int16_t reluish_multiplier_exponent;
    int16_t output_multiplier_fixedpoint_int16;
    int16_t output_multiplier_exponent;  /* <= 0 */
} edgec_hard_swish_params;

void edgec_hard_swish(const edgec_view *in, edgec_view *out, const edgec_hard_swish_params *p);

/* softmax over channels of every pixel, output scale 1/256 and zero point
 * -128 (reference_ops::Softmax, fixed-point).  Not in place. */
typedef struct {
    int32_t input_beta_multiplier;
    int32_t input_beta_left_shift;
    int32_t diff_min;
} edgec_softmax_params;

void edgec_softmax(const edgec_view *in, edgec_view *out, const edgec_softmax_params *p);

/* ---------------------------------------------------------------- data movement (no arithmetic) */

/* Constant pad: out->h = pad_top + in->h + pad_bottom, likewise w and c. */
typedef struct {
    int16_t pad_top, pad_left, pad_bottom, pad_right;
    int16_t pad_c_before, pad_c_after;
    int8_t value; /* quantized pad value (the zero point for zero padding) */
} edgec_pad_params;

void edgec_pad(const edgec_view *in, edgec_view *out, const edgec_pad_params *p);

/* Copy a window into a window of the same h/w/c (used for concatenation
 * into a slice and for moving patches). */
void edgec_copy(const edgec_view *in, edgec_view *out);

/* Move `bytes` bytes from src down to dst (dst < src, the ranges may overlap): a row-streamed
 * segment's line buffer keeping its newest rows (move_rows.c). */
void edgec_move_rows(int8_t *dst, const int8_t *src, int32_t bytes);

/* Concatenate `count` windows along axis 0 (H), 1 (W) or 2 (C) into out. */
void edgec_concat(const edgec_view *const *ins, int32_t count, int32_t axis, edgec_view *out);

/* Nearest-neighbour resize, asymmetric coordinates, floor (TFLite's
 * GetNearestNeighbor without align_corners/half_pixel_centers): source row
 * min(floor(y * (float)in->h / out->h), in->h - 1), in float32 as TFLite. */
void edgec_resize_nearest(const edgec_view *in, edgec_view *out);

/* Strided slice (TFLite SLICE / STRIDED_SLICE / SPLIT / SPLIT_V, ONNX Slice /
 * Split): out(y, x, ch) = in(begin_h + y * stride_h, begin_w + x * stride_w,
 * begin_c + ch * stride_c); out's h/w/c give the sizes.  Values are copied
 * unchanged (input and output share quantization).  Strides may be negative
 * (reversal; begin is then the last element read); not in place. */
typedef struct {
    int32_t begin_h, begin_w, begin_c;
    int32_t stride_h, stride_w, stride_c;
} edgec_slice_params;

void edgec_strided_slice(const edgec_view *in, edgec_view *out, const edgec_slice_params *p);

/* Gather along axis 0 (H), 1 (W) or 2 (C) with constant indices (TFLite
 * GATHER / ONNX Gather on an activation): out's extent along `axis` is the
 * number of indices, each in [0, in's extent); values are copied unchanged.
 * Not in place. */
void edgec_gather(const edgec_view *in, edgec_view *out, int32_t axis, const int32_t *indices);

/* ---------------------------------------------------------------- transposed convolution, prelu, bilinear resize */

/* transposed conv2d (reference_integer_ops::TransposeConv): weights [Co][KH][KW][Ci] int8,
 * bias [Co] int32 or NULL.  Input pixel (iy, ix) reaches output pixel
 * (iy * stride_h + ky * dilation_h - pad_top, ix * stride_w + kx * dilation_w - pad_left)
 * through tap (ky, kx); products landing outside out are dropped, and output pixels no tap
 * reaches get the bias alone.  The kernel gathers, per output pixel, the taps reaching it (no
 * int32 scratch tensor), then requantizes per channel like conv2d. */
typedef struct {
    int16_t kernel_h, kernel_w;
    int16_t stride_h, stride_w;
    int16_t dilation_h, dilation_w;
    int16_t pad_top, pad_left;      /* output rows/columns cropped before the first one kept */
    int32_t input_offset;
    int32_t output_offset;
    const int32_t *out_mult;        /* [Co] */
    const int32_t *out_shift;       /* [Co] */
    int8_t act_min, act_max;
} edgec_transpose_conv_params;

void edgec_transpose_conv2d(const edgec_view *in, edgec_view *out, const int8_t *weights, const int32_t *bias,
                            const edgec_transpose_conv_params *p);

/* prelu (reference_ops::BroadcastPrelu4DSlow): alpha broadcasts to in like a binary operand
 * (each dimension equal to out's or 1).  v = x + input_offset; v >= 0: MBQM(v, identity);
 * else MBQM(v * (alpha + alpha_offset), alpha); plus output_offset, clamped to int8.
 * In place: out may be the same window as in. */
typedef struct {
    int32_t input_offset;                  /* -input zero point */
    int32_t alpha_offset;                  /* -alpha zero point */
    int32_t output_offset;                 /* +output zero point */
    int32_t identity_mult, identity_shift; /* in_scale / out_scale */
    int32_t alpha_mult, alpha_shift;       /* in_scale * alpha_scale / out_scale */
} edgec_prelu_params;

void edgec_prelu(const edgec_view *in, const edgec_view *alpha, edgec_view *out, const edgec_prelu_params *p);

/* Bilinear resize to out->h x out->w (reference_ops::ResizeBilinearInteger): source
 * coordinates in 10-bit fixed point (TFLite's align_corners / half_pixel_centers flags),
 * interpolation weights in 20 bits, rounded half away from zero.  Input and output share
 * their quantization. */
typedef struct {
    int8_t align_corners;
    int8_t half_pixel_centers;
} edgec_resize_bilinear_params;

void edgec_resize_bilinear(const edgec_view *in, edgec_view *out, const edgec_resize_bilinear_params *p);

/* Depth to space with block B: channel (dy * B + dx) * out->c + c of input pixel (y, x) goes to
 * channel c of output pixel (y * B + dy, x * B + dx) (TFLite DEPTH_TO_SPACE, ONNX DCR); with
 * crd != 0 the input channel is c * B * B + dy * B + dx instead (ONNX CRD, PyTorch PixelShuffle).
 * out->h = in->h * B, out->w = in->w * B, in->c = out->c * B * B.  Not in place. */
void edgec_depth_to_space(const edgec_view *in, edgec_view *out, int32_t block, int32_t crd);

/* Space to depth with block B, the inverse of DCR depth to space (TFLite SPACE_TO_DEPTH, ONNX
 * SpaceToDepth).  Not in place. */
void edgec_space_to_depth(const edgec_view *in, edgec_view *out, int32_t block);

/* ---------------------------------------------------------------- squared difference, rsqrt, l2 normalization */

/* squared difference (TFLite SQUARED_DIFFERENCE, int8): a and b rescaled to a common scale with
 * left_shift (7) bits of headroom, the difference squared in int32, requantized, clamped.
 * Broadcasting and in place as edgec_add. */
typedef struct {
    int32_t a_offset, a_mult, a_shift;  /* -zero point of a, its multiplier and shift (<= 0) */
    int32_t b_offset, b_mult, b_shift;
    int32_t left_shift;                 /* 7 for int8 */
    int32_t output_offset, out_mult, out_shift;
} edgec_squared_difference_params;

void edgec_squared_difference(const edgec_view *a, const edgec_view *b, edgec_view *out,
                              const edgec_squared_difference_params *p);

/* rsqrt (TFLite RSQRT, int8) depends on the input byte alone: a 256-entry table built at
 * compile time from TFLite's integer routine (edgec.reference.int8_kernels.rsqrt_table). */
static inline void edgec_rsqrt(const edgec_view *in, edgec_view *out, const int8_t table[256])
{
    edgec_lookup_table(in, out, table);
}

/* L2 normalization over the channels of every pixel (reference_integer_ops::L2Normalization):
 * y = x' / sqrt(sum x'^2) with x' = x - input_zero_point, in TFLite's fixed point; the output
 * has scale 1/128 and zero point 0.  Not in place. */
void edgec_l2_normalization(const edgec_view *in, edgec_view *out, int32_t input_zero_point);

/* ---------------------------------------------------------------- Helium (MVE) variants */

/* Cortex-M55 variants (conv_mve.c, depthwise_mve.c, depthwise_inplace_mve.c,
 * elementwise_mve.c), compiled only where the compiler targets integer MVE
 * (__ARM_FEATURE_MVE): same arguments, weight layouts and results, bit for bit,
 * as the portable kernels above; shapes they do not cover (grouped conv, depth
 * multiplier > 1, broadcasting add) are passed on to the portable kernels. */
void edgec_conv2d_1x1_mve(const edgec_view *in, edgec_view *out, const int8_t *weights, const int32_t *bias,
                          const edgec_conv_params *p);
void edgec_conv2d_mve(const edgec_view *in, edgec_view *out, const int8_t *weights, const int32_t *bias,
                      const edgec_conv_params *p);
void edgec_depthwise_conv2d_mve(const edgec_view *in, edgec_view *out, const int8_t *weights, const int32_t *bias,
                                const edgec_depthwise_params *p);
void edgec_add_mve(const edgec_view *a, const edgec_view *b, edgec_view *out, const edgec_add_params *p);
void edgec_depthwise_conv2d_inplace_mve(int8_t *buffer, int32_t in_h, int32_t in_w, int32_t channels,
                                        int32_t out_h, int32_t out_w, int8_t *scratch, const int8_t *weights,
                                        const int32_t *bias, const edgec_depthwise_params *p);

#ifdef __cplusplus
}
#endif

#endif /* EDGEC_KERNELS_H */
