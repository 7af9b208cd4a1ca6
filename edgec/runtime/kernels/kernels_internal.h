/* Helpers shared by the kernel sources (internal header). */
#ifndef EDGEC_KERNELS_INTERNAL_H
#define EDGEC_KERNELS_INTERNAL_H

#include "edgec_kernels.h"
#include "fixedpoint.h"

static inline int32_t clamp_i32(int32_t v, int32_t lo, int32_t hi)
{
    if (v < lo) {
        return lo;
    }
    if (v > hi) {
        return hi;
    }
    return v;
}

/* Accumulator -> int8: requantize, add the output offset, clamp. */
static inline int8_t requantize_and_clamp(int32_t acc, int32_t mult, int32_t shift, int32_t output_offset,
                                          int32_t act_min, int32_t act_max)
{
    return (int8_t)clamp_i32(fp_mbqm(acc, mult, shift) + output_offset, act_min, act_max);
}

/* round(acc * scale), halves away from zero, saturated to int32 (C round()
 * without libm: the fraction of a double is exact, so compare it to 0.5). */
static inline int32_t fc_scale_and_round(int32_t acc, double scale)
{
    const double v = (double)acc * scale;
    int64_t t;
    double frac;
    if (v >= 2147483647.0) {
        return EDGEC_INT32_MAX;
    }
    if (v <= -2147483648.0) {
        return EDGEC_INT32_MIN;
    }
    t = (int64_t)v; /* truncates toward zero */
    frac = v - (double)t;
    if (frac >= 0.5) {
        ++t;
    } else if (frac <= -0.5) {
        --t;
    }
    return (int32_t)t; /* |v| < 2^31, so t stays in range */
}

/* Fully connected accumulator -> int8 (TFLite's reference double rescale). The rounded value may sit
 * at the int32 limits: bound it before adding the offset. */
static inline int8_t fc_requantize(int32_t acc, double scale, const edgec_fc_params *p)
{
    return (int8_t)clamp_i32(clamp_i32(fc_scale_and_round(acc, scale), -65536, 65536) + p->output_offset, p->act_min,
                             p->act_max);
}

/* Kernel taps k in [0, kernel) that land inside [0, size) at origin + k * dilation:
 * returns one past the last valid tap and stores the first in *first
 * (the range is empty when the result is <= *first). */
static inline int32_t valid_taps(int32_t origin, int32_t dilation, int32_t kernel, int32_t size, int32_t *first)
{
    int32_t k0 = 0;
    int32_t k1 = kernel;
    if (origin < 0) {
        k0 = (-origin + dilation - 1) / dilation;
    }
    if (origin + (kernel - 1) * dilation >= size) {
        k1 = size - 1 - origin < 0 ? 0 : (size - 1 - origin) / dilation + 1;
    }
    *first = k0;
    return k1 > k0 ? k1 : k0;
}

/* True when the window's elements are one contiguous run. */
static inline int view_is_dense(const edgec_view *v)
{
    return v->col_stride == v->c && (v->h == 1 || v->row_stride == v->w * v->c);
}


/* Cortex-M55 first convs (conv_first_mve.c): runs the conv and returns 1 when it takes the shape (a
 * field of at most 32 bytes, whole blocks of four output channels, right shifts), else returns 0. */
int edgec_conv_first_mve(const edgec_view *in, edgec_view *out, const int8_t *weights, const int32_t *bias,
                         const edgec_conv_params *p);

/* Element-wise unary kernels are written for one contiguous run of n
 * elements; unary_over_view walks a pair of windows in the longest runs
 * their strides allow. */
typedef void (*unary_run_fn)(const int8_t *in, int8_t *out, int32_t n, const void *params);

static inline void unary_over_view(const edgec_view *in, edgec_view *out, unary_run_fn run, const void *params)
{
    int32_t y, x;
    if (view_is_dense(in) && view_is_dense(out)) {
        run(in->data, out->data, out->h * out->w * out->c, params);
    } else if (in->col_stride == in->c && out->col_stride == out->c) {
        for (y = 0; y < out->h; ++y) {
            run(in->data + y * in->row_stride, out->data + y * out->row_stride, out->w * out->c, params);
        }
    } else {
        for (y = 0; y < out->h; ++y) {
            for (x = 0; x < out->w; ++x) {
                run(in->data + y * in->row_stride + x * in->col_stride,
                    out->data + y * out->row_stride + x * out->col_stride, out->c, params);
            }
        }
    }
}
#endif /* EDGEC_KERNELS_INTERNAL_H */
