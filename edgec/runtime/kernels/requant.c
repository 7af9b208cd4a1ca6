/* Exported requantization primitives (the inline versions live in fixedpoint.h). */
#include "edgec_kernels.h"
#include "fixedpoint.h"

int32_t edgec_saturating_rounding_doubling_high_mul(int32_t a, int32_t b)
{
    return fp_srdhm(a, b);
}

int32_t edgec_rounding_divide_by_pot(int32_t x, int32_t exponent)
{
    return fp_rounding_divide_by_pot(x, exponent);
}

int32_t edgec_multiply_by_quantized_multiplier(int32_t x, int32_t mult, int32_t shift)
{
    return fp_mbqm(x, mult, shift);
}
