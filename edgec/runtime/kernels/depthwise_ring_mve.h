/*
 * The channel-plane depthwise kernel for Helium (depthwise_ring_mve.c), an
 * internal entry shared by the out-of-place and the in-place MVE depthwise
 * kernels (depthwise_mve.c, depthwise_inplace_mve.c).
 */
#ifndef EDGEC_DEPTHWISE_RING_MVE_H
#define EDGEC_DEPTHWISE_RING_MVE_H

#include "edgec_kernels.h"

/* Depthwise conv2d of `in` into `out` (depth multiplier 1), one channel at a
 * time through a ring of zero-point-padded rows (in `scratch`, scratch_bytes
 * long, or, for scratch NULL, on the stack), eight outputs of a row per step.  Handles square 3x3, 5x5 and 7x7 kernels, dilation 1,
 * horizontal stride 1 or 2, vertical stride up to the kernel size, and rows
 * that fit its ring; returns 0 without touching `out` for anything else.
 *
 * `in` and `out` may be the same buffer (the in-place schedule): each channel
 * copies an input row into the ring at its first use, and writes output row
 * oy only after copying every input row it reads, exactly as
 * depthwise_inplace.c does, so the in-place conditions proven there hold. */
int edgec_depthwise_ring_mve(const edgec_view *in, edgec_view *out, const int8_t *weights, const int32_t *bias,
                             const edgec_depthwise_params *p, int8_t *scratch, int32_t scratch_bytes);

#endif /* EDGEC_DEPTHWISE_RING_MVE_H */
