/* Pooling: max_pool2d, avg_pool2d (reference_integer_ops::MaxPool /
 * AveragePool) and mean (reference_ops::QuantizedMeanOrSum). */
#include "kernels_internal.h"

void edgec_max_pool2d(const edgec_view *in, edgec_view *out, const edgec_pool_params *p)
{
    int32_t oy, ox, ky, kx, c;
    for (oy = 0; oy < out->h; ++oy) {
        const int32_t in_y0 = oy * p->stride_h - p->pad_top;
        int32_t ky0;
        const int32_t ky1 = valid_taps(in_y0, 1, p->kernel_h, in->h, &ky0);
        for (ox = 0; ox < out->w; ++ox) {
            const int32_t in_x0 = ox * p->stride_w - p->pad_left;
            int32_t kx0;
            const int32_t kx1 = valid_taps(in_x0, 1, p->kernel_w, in->w, &kx0);
            int8_t *po = out->data + oy * out->row_stride + ox * out->col_stride;
            for (c = 0; c < out->c; ++c) {
                po[c] = -128;
            }
            for (ky = ky0; ky < ky1; ++ky) {
                const int8_t *in_row = in->data + (in_y0 + ky) * in->row_stride;
                for (kx = kx0; kx < kx1; ++kx) {
                    const int8_t *px = in_row + (in_x0 + kx) * in->col_stride;
                    for (c = 0; c < out->c; ++c) {
                        if (px[c] > po[c]) {
                            po[c] = px[c];
                        }
                    }
                }
            }
            for (c = 0; c < out->c; ++c) {
                po[c] = (int8_t)clamp_i32(po[c], p->act_min, p->act_max);
            }
        }
    }
}

/* Channels accumulated at once by the averaging kernels (stack buffer). */
#define POOL_CHANNEL_BLOCK 64

/* acc / count rounded half away from zero (TFLite's integer average). */
static inline int32_t rounded_average(int32_t acc, int32_t count)
{
    return acc > 0 ? (acc + count / 2) / count : (acc - count / 2) / count;
}

void edgec_avg_pool2d(const edgec_view *in, edgec_view *out, const edgec_pool_params *p)
{
    int32_t acc[POOL_CHANNEL_BLOCK];
    int32_t oy, ox, ky, kx, c, c0;
    for (oy = 0; oy < out->h; ++oy) {
        const int32_t in_y0 = oy * p->stride_h - p->pad_top;
        int32_t ky0;
        const int32_t ky1 = valid_taps(in_y0, 1, p->kernel_h, in->h, &ky0);
        for (ox = 0; ox < out->w; ++ox) {
            const int32_t in_x0 = ox * p->stride_w - p->pad_left;
            int32_t kx0;
            const int32_t kx1 = valid_taps(in_x0, 1, p->kernel_w, in->w, &kx0);
            const int32_t count = (ky1 - ky0) * (kx1 - kx0);
            int8_t *po = out->data + oy * out->row_stride + ox * out->col_stride;
            for (c0 = 0; c0 < out->c; c0 += POOL_CHANNEL_BLOCK) {
                const int32_t nc = out->c - c0 < POOL_CHANNEL_BLOCK ? out->c - c0 : POOL_CHANNEL_BLOCK;
                for (c = 0; c < nc; ++c) {
                    acc[c] = 0;
                }
                for (ky = ky0; ky < ky1; ++ky) {
                    const int8_t *in_row = in->data + (in_y0 + ky) * in->row_stride + c0;
                    for (kx = kx0; kx < kx1; ++kx) {
                        const int8_t *px = in_row + (in_x0 + kx) * in->col_stride;
                        for (c = 0; c < nc; ++c) {
                            acc[c] += px[c];
                        }
                    }
                }
                for (c = 0; c < nc; ++c) {
                    /* An empty window (only possible with oversized padding) yields 0. */
                    const int32_t avg = count > 0 ? rounded_average(acc[c], count) : 0;
                    po[c0 + c] = (int8_t)clamp_i32(avg, p->act_min, p->act_max);
                }
            }
        }
    }
}

void edgec_mean(const edgec_view *in, edgec_view *out, const edgec_mean_params *p)
{
    /* Extent of the reduction window of one output element. */
    const int32_t rh = p->reduce_h ? in->h : 1;
    const int32_t rw = p->reduce_w ? in->w : 1;
    const int32_t rc = p->reduce_c ? in->c : 1;
    const int32_t offset_sum = rh * rw * rc * p->input_offset;
    int32_t acc[POOL_CHANNEL_BLOCK];
    int32_t oy, ox, c, c0, y, x;

    for (oy = 0; oy < out->h; ++oy) {
        for (ox = 0; ox < out->w; ++ox) {
            const int8_t *window = in->data + oy * in->row_stride + ox * in->col_stride;
            int8_t *po = out->data + oy * out->row_stride + ox * out->col_stride;
            if (p->reduce_c) {
                int32_t sum = 0;
                for (y = 0; y < rh; ++y) {
                    for (x = 0; x < rw; ++x) {
                        const int8_t *px = window + y * in->row_stride + x * in->col_stride;
                        for (c = 0; c < rc; ++c) {
                            sum += px[c];
                        }
                    }
                }
                po[0] = requantize_and_clamp(sum + offset_sum, p->mult, p->shift, p->output_offset, -128, 127);
                continue;
            }
            /* Channels kept: accumulate a block of them at a time, channels innermost. */
            for (c0 = 0; c0 < out->c; c0 += POOL_CHANNEL_BLOCK) {
                const int32_t nc = out->c - c0 < POOL_CHANNEL_BLOCK ? out->c - c0 : POOL_CHANNEL_BLOCK;
                for (c = 0; c < nc; ++c) {
                    acc[c] = 0;
                }
                for (y = 0; y < rh; ++y) {
                    for (x = 0; x < rw; ++x) {
                        const int8_t *px = window + y * in->row_stride + x * in->col_stride + c0;
                        for (c = 0; c < nc; ++c) {
                            acc[c] += px[c];
                        }
                    }
                }
                for (c = 0; c < nc; ++c) {
                    po[c0 + c] = requantize_and_clamp(acc[c] + offset_sum, p->mult, p->shift, p->output_offset,
                                                      -128, 127);
                }
            }
        }
    }
}

void edgec_reduce_max(const edgec_view *in, edgec_view *out, const edgec_reduce_max_params *p)
{
    /* Extent of the reduction window of one output element. */
    const int32_t rh = p->reduce_h ? in->h : 1;
    const int32_t rw = p->reduce_w ? in->w : 1;
    const int32_t rc = p->reduce_c ? in->c : 1;
    int32_t oy, ox, oc, y, x, c;

    for (oy = 0; oy < out->h; ++oy) {
        for (ox = 0; ox < out->w; ++ox) {
            const int8_t *window = in->data + oy * in->row_stride + ox * in->col_stride;
            int8_t *po = out->data + oy * out->row_stride + ox * out->col_stride;
            for (oc = 0; oc < out->c; ++oc) {
                int8_t best = -128;
                for (y = 0; y < rh; ++y) {
                    for (x = 0; x < rw; ++x) {
                        const int8_t *px = window + y * in->row_stride + x * in->col_stride + oc;
                        for (c = 0; c < rc; ++c) {
                            best = px[c] > best ? px[c] : best;
                        }
                    }
                }
                po[oc] = best;
            }
        }
    }
}
