/*
 * Included by run_vectors.c when the harness is built for a Helium target
 * (-DEDGEC_VECTORS_MVE, tests/qemu_vectors.py): the harness's calls of the
 * portable kernels go to their MVE variants instead, and the requantization
 * primitives to the vector requantization of mve_requant.h (lane 0 of
 * vectors_mve.c's wrappers), so the same vectors check the MVE code.
 */
#ifndef EDGEC_VECTORS_MVE_H
#define EDGEC_VECTORS_MVE_H

#include <stdint.h>

int32_t vectors_mve_mbqm(int32_t x, int32_t mult, int32_t shift);
int32_t vectors_mve_srdhm(int32_t a, int32_t b);
int32_t vectors_mve_rdbpot(int32_t x, int32_t exponent);

#define edgec_multiply_by_quantized_multiplier vectors_mve_mbqm
#define edgec_saturating_rounding_doubling_high_mul vectors_mve_srdhm
#define edgec_rounding_divide_by_pot vectors_mve_rdbpot
#define edgec_conv2d_1x1 edgec_conv2d_1x1_mve
#define edgec_conv2d edgec_conv2d_mve
#define edgec_depthwise_conv2d edgec_depthwise_conv2d_mve
#define edgec_add edgec_add_mve
#define edgec_mean edgec_mean_mve
#define edgec_fully_connected edgec_fully_connected_mve
#define edgec_depthwise_conv2d_inplace edgec_depthwise_conv2d_inplace_mve

#endif /* EDGEC_VECTORS_MVE_H */
