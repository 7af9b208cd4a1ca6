/*
 * The kernel shapes the channel-plane MVE depthwise kernels specialise their
 * bodies for (depthwise_ring_mve.c, depthwise_window_mve.c): square 3x3, 5x5
 * and 7x7 kernels, horizontal stride 1 or 2.  Each kernel keeps its own six
 * bodies in a table in this order; this header says where a shape sits in it.
 */
#ifndef EDGEC_DEPTHWISE_SHAPES_MVE_H
#define EDGEC_DEPTHWISE_SHAPES_MVE_H

#include <stdint.h>

#define EDGEC_MVE_DW_SHAPES 6 /* 3x3 s1, 3x3 s2, 5x5 s1, 5x5 s2, 7x7 s1, 7x7 s2 */

/* The table index of kernel k x k with horizontal stride s, or -1 for a shape without a body. */
static inline int edgec_mve_dw_shape(int32_t k, int32_t s)
{
    if ((k != 3 && k != 5 && k != 7) || (s != 1 && s != 2)) {
        return -1;
    }
    return (int)((k / 2 - 1) * 2 + (s - 1));
}

#endif /* EDGEC_DEPTHWISE_SHAPES_MVE_H */
