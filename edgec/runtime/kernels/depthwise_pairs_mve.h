/*
 * The sixteen-channel NHWC depthwise kernel for Helium
 * (depthwise_pairs_mve.c), an internal entry tried first by the out-of-place
 * MVE depthwise kernel (depthwise_mve.c).
 */
#ifndef EDGEC_DEPTHWISE_PAIRS_MVE_H
#define EDGEC_DEPTHWISE_PAIRS_MVE_H

#include "edgec_kernels.h"

/* Depthwise conv2d of `in` into `out` (depth multiplier 1): sixteen channels
 * per vector, the int16 products of two taps added before they are widened.
 * Handles square 3x3, 5x5 and 7x7 kernels (any stride, dilation and
 * padding), at most 512 channels, and weights without -128; returns 0
 * without touching `out` for anything else.  `in` and `out` must not
 * overlap. */
int edgec_depthwise_pairs_mve(const edgec_view *in, edgec_view *out, const int8_t *weights, const int32_t *bias,
                              const edgec_depthwise_params *p);

#endif /* EDGEC_DEPTHWISE_PAIRS_MVE_H */
