/*
 * The window depthwise kernel for Helium (depthwise_window_mve.c), an
 * internal entry of the out-of-place MVE depthwise kernel (depthwise_mve.c),
 * which gives it wide rows of a few channels.
 */
#ifndef EDGEC_DEPTHWISE_WINDOW_MVE_H
#define EDGEC_DEPTHWISE_WINDOW_MVE_H

#include "edgec_kernels.h"

/* Depthwise conv2d of `in` into `out` (depth multiplier 1), one channel at a
 * time: the channel's rows are interleaved in a small stack buffer so that
 * every output's K x K window is K*K consecutive bytes, one VMLADAV.S8 per 16
 * taps.  Handles square 3x3, 5x5 and 7x7 kernels, dilation 1, horizontal
 * stride 1 or 2, vertical stride up to the kernel size, and maps whose buffer
 * fits; returns 0 without touching `out` for anything else.  Each channel
 * copies an input row into the buffer at its first use and writes output row
 * oy only after copying every input row it reads, as depthwise_inplace.c
 * does; the in-place kernel does not use it (its scratch, the planner's K
 * padded rows, is smaller than this layout's buffer: one more byte per padded
 * row and a vector of slack). */
int edgec_depthwise_window_mve(const edgec_view *in, edgec_view *out, const int8_t *weights, const int32_t *bias,
                               const edgec_depthwise_params *p);

#endif /* EDGEC_DEPTHWISE_WINDOW_MVE_H */
