/* Bilinear resize of int8 data (reference_ops::ResizeBilinearInteger). */
#include "kernels_internal.h"

/* The 10-bit fixed-point scale from output to input coordinates. */
static int32_t bilinear_scale_10(int32_t in_size, int32_t out_size, int align_corners)
{
    if (align_corners && out_size > 1) {
        return ((1 << 10) * (in_size - 1) + (out_size - 1) / 2) / (out_size - 1);
    }
    return ((1 << 10) * in_size + out_size / 2) / out_size;
}

/* Output index -> 10-bit source coordinate and the two source indices around it. */
static void bilinear_source(int32_t dst, int32_t scale_10, int half_pixel_centers, int32_t in_size, int32_t *scaled,
                            int32_t *lo, int32_t *hi)
{
    const int32_t s = half_pixel_centers ? dst * scale_10 + scale_10 / 2 - (1 << 9) : dst * scale_10;
    const int32_t l = s / (1 << 10); /* C division truncates: 0 for the small negative half-pixel values */
    const int32_t h = (s + (1 << 10) - 1) / (1 << 10);
    *scaled = s;
    *lo = l > 0 ? l : 0;
    *hi = h < in_size - 1 ? h : in_size - 1;
}

void edgec_resize_bilinear(const edgec_view *in, edgec_view *out, const edgec_resize_bilinear_params *p)
{
    const int32_t scale_h = bilinear_scale_10(in->h, out->h, p->align_corners);
    const int32_t scale_w = bilinear_scale_10(in->w, out->w, p->align_corners);
    const int32_t one = 1 << 10;
    int32_t y, x, c;
    for (y = 0; y < out->h; ++y) {
        int32_t sy, y0, y1;
        int32_t fy;
        const int8_t *row0;
        const int8_t *row1;
        bilinear_source(y, scale_h, p->half_pixel_centers, in->h, &sy, &y0, &y1);
        fy = sy - one * y0;
        row0 = in->data + y0 * in->row_stride;
        row1 = in->data + y1 * in->row_stride;
        for (x = 0; x < out->w; ++x) {
            int32_t sx, x0, x1;
            int32_t fx;
            int8_t *po = out->data + y * out->row_stride + x * out->col_stride;
            const int8_t *p00, *p01, *p10, *p11;
            bilinear_source(x, scale_w, p->half_pixel_centers, in->w, &sx, &x0, &x1);
            fx = sx - one * x0;
            p00 = row0 + x0 * in->col_stride;
            p01 = row0 + x1 * in->col_stride;
            p10 = row1 + x0 * in->col_stride;
            p11 = row1 + x1 * in->col_stride;
            for (c = 0; c < out->c; ++c) {
                /* Weights are products of two 10-bit fractions: the sum has 20 fractional bits. */
                const int64_t total = (int64_t)p00[c] * (one - fy) * (one - fx) + (int64_t)p10[c] * fy * (one - fx) +
                                      (int64_t)p01[c] * (one - fy) * fx + (int64_t)p11[c] * fy * fx;
                const int64_t round = total > 0 ? ((int64_t)1 << 19) : -((int64_t)1 << 19);
                po[c] = (int8_t)((total + round) / ((int64_t)1 << 20));
            }
        }
    }
}
