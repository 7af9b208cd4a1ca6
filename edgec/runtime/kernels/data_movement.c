/* Data movement without arithmetic: pad, copy, concat, nearest resize. */
#include <string.h>

#include "kernels_internal.h"

void edgec_copy(const edgec_view *in, edgec_view *out)
{
    int32_t y, x;
    if (view_is_dense(in) && view_is_dense(out)) {
        memcpy(out->data, in->data, (size_t)(out->h * out->w * out->c));
        return;
    }
    for (y = 0; y < out->h; ++y) {
        const int8_t *src = in->data + y * in->row_stride;
        int8_t *dst = out->data + y * out->row_stride;
        if (in->col_stride == in->c && out->col_stride == out->c) {
            memcpy(dst, src, (size_t)(out->w * out->c));
        } else {
            for (x = 0; x < out->w; ++x) {
                memcpy(dst + x * out->col_stride, src + x * in->col_stride, (size_t)out->c);
            }
        }
    }
}

void edgec_concat(const edgec_view *const *ins, int32_t count, int32_t axis, edgec_view *out)
{
    int32_t i;
    int32_t offset = 0; /* along `axis`, in rows, columns or channels */
    for (i = 0; i < count; ++i) {
        edgec_view slice = *ins[i];
        slice.row_stride = out->row_stride;
        slice.col_stride = out->col_stride;
        if (axis == 0) {
            slice.data = out->data + offset * out->row_stride;
            offset += slice.h;
        } else if (axis == 1) {
            slice.data = out->data + offset * out->col_stride;
            offset += slice.w;
        } else {
            slice.data = out->data + offset;
            offset += slice.c;
        }
        edgec_copy(ins[i], &slice);
    }
}

void edgec_pad(const edgec_view *in, edgec_view *out, const edgec_pad_params *p)
{
    edgec_view inner;
    int32_t y, x;
    const int full_rows = out->col_stride == out->c;

    /* Fill everything outside the copied window with the pad value. */
    for (y = 0; y < out->h; ++y) {
        int8_t *row = out->data + y * out->row_stride;
        const int is_pad_row = y < p->pad_top || y >= p->pad_top + in->h;
        if (is_pad_row && full_rows) {
            memset(row, p->value, (size_t)(out->w * out->c));
            continue;
        }
        for (x = 0; x < out->w; ++x) {
            int8_t *px = row + x * out->col_stride;
            if (is_pad_row || x < p->pad_left || x >= p->pad_left + in->w) {
                memset(px, p->value, (size_t)out->c);
            } else {
                memset(px, p->value, (size_t)p->pad_c_before);
                memset(px + p->pad_c_before + in->c, p->value, (size_t)p->pad_c_after);
            }
        }
    }
    inner = *out;
    inner.data = out->data + p->pad_top * out->row_stride + p->pad_left * out->col_stride + p->pad_c_before;
    inner.h = in->h;
    inner.w = in->w;
    inner.c = in->c;
    edgec_copy(in, &inner);
}

/* TFLite GetNearestNeighbor (asymmetric, floor), in float32 like TFLite. */
static inline int32_t nearest_source(int32_t dst, float scale, int32_t in_size)
{
    /* dst * scale >= 0, so truncation is floor. */
    const int32_t src = (int32_t)((float)dst * scale);
    return src < in_size - 1 ? src : in_size - 1;
}

void edgec_resize_nearest(const edgec_view *in, edgec_view *out)
{
    const float scale_h = (float)in->h / (float)out->h;
    const float scale_w = (float)in->w / (float)out->w;
    int32_t y, x;
    for (y = 0; y < out->h; ++y) {
        const int8_t *src_row = in->data + nearest_source(y, scale_h, in->h) * in->row_stride;
        int8_t *dst_row = out->data + y * out->row_stride;
        for (x = 0; x < out->w; ++x) {
            memcpy(dst_row + x * out->col_stride, src_row + nearest_source(x, scale_w, in->w) * in->col_stride,
                   (size_t)out->c);
        }
    }
}

void edgec_strided_slice(const edgec_view *in, edgec_view *out, const edgec_slice_params *p)
{
    int32_t y, x, ch;
    for (y = 0; y < out->h; ++y) {
        const int8_t *src_row = in->data + (p->begin_h + y * p->stride_h) * in->row_stride;
        int8_t *dst_row = out->data + y * out->row_stride;
        for (x = 0; x < out->w; ++x) {
            const int8_t *src = src_row + (p->begin_w + x * p->stride_w) * in->col_stride + p->begin_c;
            int8_t *dst = dst_row + x * out->col_stride;
            if (p->stride_c == 1) {
                memcpy(dst, src, (size_t)out->c);
            } else {
                for (ch = 0; ch < out->c; ++ch) {
                    dst[ch] = src[ch * p->stride_c];
                }
            }
        }
    }
}

void edgec_gather(const edgec_view *in, edgec_view *out, int32_t axis, const int32_t *indices)
{
    int32_t y, x, ch;
    for (y = 0; y < out->h; ++y) {
        const int8_t *src_row = in->data + (axis == 0 ? indices[y] : y) * in->row_stride;
        int8_t *dst_row = out->data + y * out->row_stride;
        for (x = 0; x < out->w; ++x) {
            const int8_t *src = src_row + (axis == 1 ? indices[x] : x) * in->col_stride;
            int8_t *dst = dst_row + x * out->col_stride;
            if (axis == 2) {
                for (ch = 0; ch < out->c; ++ch) {
                    dst[ch] = src[indices[ch]];
                }
            } else {
                memcpy(dst, src, (size_t)out->c);
            }
        }
    }
}

void edgec_depth_to_space(const edgec_view *in, edgec_view *out, int32_t block, int32_t crd)
{
    int32_t y, x, c;
    for (y = 0; y < out->h; ++y) {
        const int8_t *src_row = in->data + (y / block) * in->row_stride;
        int8_t *dst_row = out->data + y * out->row_stride;
        for (x = 0; x < out->w; ++x) {
            /* the channels of output pixel (y, x) come from input pixel (y / B, x / B) */
            const int32_t sub = (y % block) * block + x % block;
            const int8_t *src = src_row + (x / block) * in->col_stride;
            int8_t *dst = dst_row + x * out->col_stride;
            if (crd) {
                for (c = 0; c < out->c; ++c) {
                    dst[c] = src[c * block * block + sub];
                }
            } else {
                memcpy(dst, src + sub * out->c, (size_t)out->c);
            }
        }
    }
}

void edgec_space_to_depth(const edgec_view *in, edgec_view *out, int32_t block)
{
    int32_t y, x, dy, dx;
    for (y = 0; y < out->h; ++y) {
        for (x = 0; x < out->w; ++x) {
            int8_t *dst = out->data + y * out->row_stride + x * out->col_stride;
            for (dy = 0; dy < block; ++dy) {
                const int8_t *src_row = in->data + (y * block + dy) * in->row_stride;
                for (dx = 0; dx < block; ++dx) {
                    memcpy(dst + (dy * block + dx) * in->c, src_row + (x * block + dx) * in->col_stride,
                           (size_t)in->c);
                }
            }
        }
    }
}
