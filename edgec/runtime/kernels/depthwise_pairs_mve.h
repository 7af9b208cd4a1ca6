/*
 * The sixteen-channel NHWC depthwise kernel for Helium
 * (depthwise_pairs_mve.c), internal entries tried first by the out-of-place
 * and the in-place MVE depthwise kernels (depthwise_mve.c,
 * depthwise_inplace_mve.c).
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

/* The same arithmetic a block of sixteen channels at a time through a ring
 * of K zero-point-padded rows of sixteen-byte pixels, on the stack
 * (RING_BYTES), each input row copied at its first use and each output row
 * written after every row it taps is in the ring: the row order of
 * depthwise_inplace.c, so `in` and `out` may also be the same dense buffer
 * under edgec_depthwise_conv2d_inplace's requirements.  Where `in` is dense
 * (whole blocks, column stride 16, 48 or 96 bytes, 4-byte aligned) and does
 * not overlap `out`, output rows whose taps all lie inside it read the
 * input in place instead of the ring.  Handles the kernels
 * above with dilation 1, vertical stride up to the kernel size and rings that
 * fit; returns 0 without touching `out` for anything else. */
int edgec_depthwise_pairs_ring_mve(const edgec_view *in, edgec_view *out, const int8_t *weights, const int32_t *bias,
                                   const edgec_depthwise_params *p);

#endif /* EDGEC_DEPTHWISE_PAIRS_MVE_H */
