/*
 * The Helium depthwise kernel for tiny output maps (depthwise_small_mve.c),
 * an internal entry tried first by the out-of-place MVE depthwise kernel
 * (depthwise_mve.c).
 */
#ifndef EDGEC_DEPTHWISE_SMALL_MVE_H
#define EDGEC_DEPTHWISE_SMALL_MVE_H

#include "edgec_kernels.h"

/* Depthwise conv2d of `in` into `out` (depth multiplier 1): sixteen channels
 * per vector, one block of channels at a time over every output pixel,
 * visiting only the taps inside the input.  Handles maps of at most
 * SMALL_MAX_PIXELS output pixels, kernels up to 7x7, any stride and padding,
 * dilation 1 and weights without -128; returns 0 without touching `out` for
 * anything else.  `in` and `out` must not overlap. */
int edgec_depthwise_small_mve(const edgec_view *in, edgec_view *out, const int8_t *weights, const int32_t *bias,
                              const edgec_depthwise_params *p);

#endif /* EDGEC_DEPTHWISE_SMALL_MVE_H */
