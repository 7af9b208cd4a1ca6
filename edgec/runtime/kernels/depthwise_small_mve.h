/*
 * The Helium depthwise kernel for tiny output maps (depthwise_small_mve.c),
 * an internal entry tried first by the out-of-place MVE depthwise kernel
 * (depthwise_mve.c).
 */
#ifndef EDGEC_DEPTHWISE_SMALL_MVE_H
#define EDGEC_DEPTHWISE_SMALL_MVE_H

#include "edgec_kernels.h"

#define EDGEC_DW_SMALL_MAX_PIXELS 16 /* larger maps amortise per-pixel setup in the other kernels */

/* Depthwise conv2d of `in` into `out` (depth multiplier 1): sixteen channels
 * per vector, one block of channels at a time over every output pixel,
 * visiting only the taps inside the input.  Handles maps of at most
 * EDGEC_DW_SMALL_MAX_PIXELS output pixels whose kernel (up to 7x7, any
 * stride and padding, dilation 1, no weight of -128) is larger than the
 * input in both directions and has at most half its taps inside the input;
 * returns 0 without touching `out` for anything else.  `in` and `out` must
 * not overlap. */
int edgec_depthwise_small_mve_run(const edgec_view *in, edgec_view *out, const int8_t *weights, const int32_t *bias,
                                  const edgec_depthwise_params *p);

/* The same, its two quick tests inline (most calls are rows of larger maps). */
static inline int edgec_depthwise_small_mve(const edgec_view *in, edgec_view *out, const int8_t *weights,
                                            const int32_t *bias, const edgec_depthwise_params *p)
{
    if (out->h * out->w > EDGEC_DW_SMALL_MAX_PIXELS || in->h >= p->kernel_h || in->w >= p->kernel_w) {
        return 0;
    }
    return edgec_depthwise_small_mve_run(in, out, weights, bias, p);
}

#endif /* EDGEC_DEPTHWISE_SMALL_MVE_H */
