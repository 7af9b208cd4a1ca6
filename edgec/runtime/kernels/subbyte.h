/*
 * Packed sub-byte feature maps (int4, int2) for the mixed-precision patch stage.
 *
 * Storage (edgec/mixed/subbyte.py): NHWC, packed per pixel.  The C channels of
 * one pixel take pixel_bytes = ceil(C * bits / 8) bytes, two's complement, in
 * word groups of 32 / bits channels (8 at int4, 16 at int2): channel 4j + k of
 * a group sits in byte k of the group's 4 bytes at bit j * bits, so field j of
 * the four bytes is four consecutive channels (one shift and one mask unpack
 * them to a word of int8 values).  The last C % group channels of a pixel are
 * sequential: channel c of that tail at bit (c % (8 / bits)) * bits of its
 * byte c / (8 / bits); unused high bits of a pixel's last byte are 0.
 * Rows and pixels stay byte-addressed, so a window of a packed tensor is a
 * byte offset plus byte strides, like an int8 window.  bits == 8 is plain int8.
 *
 * Semantics: a sub-byte map holds int8 values in [-8, 7] or [-2, 1] with its
 * own scale and zero point.  Every op computes exactly what the int8 kernel
 * computes with the output clamp narrowed to the output's range (the build's
 * act_min/act_max already are, edgec.reference.qparams.activation_range), so
 * only the storage differs.
 *
 * How the packed ops run: a band of output rows at a time.  The input rows the
 * band taps are unpacked into a small int8 scratch (or read in place when the
 * input is int8), the fastest int8 kernel of the target (portable, DSP, MVE:
 * the same call and weight layout as in the int8 stage) computes the band
 * in int8 into the output's own buffer (`out_int8`: the output window laid
 * out as int8, which the buffer, sized for the int8 stage, holds), and the band
 * is packed forward in place (a packed pixel never lies above its int8 twin, so
 * rows not yet packed are never overwritten).  edgec_packed_output_rows gives
 * a scratch band instead where the output buffer cannot be used.  A windowed
 * op (conv, depthwise, pool) with bands of up to B rows, as generated:
 *
 *     const int32_t pad_top = params.pad_top;
 *     for (int32_t oy = 0; oy < out_p.h; oy += B) {
 *         const int32_t n = out_p.h - oy < B ? out_p.h - oy : B;
 *         edgec_view in;
 *         params.pad_top = edgec_packed_input_rows(&in_p, oy * params.stride_h - pad_top,
 *                                                  (n - 1) * params.stride_h + taps_h, scratch, &in);
 *         edgec_view out = edgec_view_rows(&out_int8, oy, n);
 *         edgec_conv2d(&in, &out, weights, bias, &params);
 *         edgec_packed_store_rows(&out_p, oy, &out);
 *     }
 *
 * The kernel's own padding rules stay in force (the band starts at its first
 * real input row and the returned pad_top places the first tap), so results are
 * the int8 kernel's, bit for bit.  Unpacking and packing are one pass over the
 * band's rows (word at a time for int4), never inside the multiply-accumulate
 * loops; input rows shared by two bands (the kernel's halo) are unpacked twice.
 * Where the output's buffer is sized for the packed map (a mixed stage on a grid
 * of its own, edgec/mixed/grid.py), edgec_packed_output_rows gives the band in
 * the scratch and edgec_packed_store_rows packs it into the buffer.
 */
#ifndef EDGEC_SUBBYTE_H
#define EDGEC_SUBBYTE_H

#include "edgec_kernels.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A window of a packed NHWC image: pixel (y, x) starts at byte
 * data[y * row_stride + x * pixel_stride]; bits 8, 4 or 2. */
typedef struct {
    uint8_t *data;
    int32_t h, w, c;
    int32_t row_stride;   /* bytes from one row to the next */
    int32_t pixel_stride; /* bytes from one pixel to the next: edgec_pixel_bytes(c, bits) when dense */
    int32_t bits;
} edgec_packed_view;

/* Bytes one pixel of `channels` values takes at `bits`. */
static inline int32_t edgec_pixel_bytes(int32_t channels, int32_t bits)
{
    return (channels * bits + 7) / 8;
}

/* A dense packed H x W x C view of `data`. */
static inline edgec_packed_view edgec_packed_dense_view(uint8_t *data, int32_t h, int32_t w, int32_t c, int32_t bits)
{
    edgec_packed_view v;
    v.data = data;
    v.h = h;
    v.w = w;
    v.c = c;
    v.pixel_stride = edgec_pixel_bytes(c, bits);
    v.row_stride = w * v.pixel_stride;
    v.bits = bits;
    return v;
}

/* Unpack `w` pixels of `c` channels (pixel_stride bytes apart) into dense int8 dst[w * c]. */
void edgec_unpack_pixels(const uint8_t *src, int32_t w, int32_t c, int32_t pixel_stride, int32_t bits, int8_t *dst);

/* Pack dense int8 src[w * c] (values already in the range of `bits`) into `w` pixels pixel_stride bytes apart.
 * In place allowed: dst may be src or lie below it (every byte is read before a write reaches it). */
void edgec_pack_pixels(const int8_t *src, int32_t w, int32_t c, int32_t pixel_stride, int32_t bits, uint8_t *dst);

/* The input rows a band of output rows taps, as an int8 view: rows [y0, y0 + span) clipped to
 * the input (y0 may be negative: padding).  Unpacked into `scratch` (span * in->w * in->c bytes
 * at most) unless the input is int8, then a view of the input itself.  Returns the pad_top that
 * places tap 0 of the band's first output row at row y0 (0 when y0 >= 0).  When no row is
 * inside the input, the view has no rows and the kernel computes from padding alone. */
int32_t edgec_packed_input_rows(const edgec_packed_view *in, int32_t y0, int32_t span, int8_t *scratch,
                                edgec_view *rows);

/* Rows [y, y + n) of an element-wise operand as an int8 view (unpacked into `scratch`,
 * n * in->w * in->c bytes, unless int8). */
void edgec_packed_rows(const edgec_packed_view *in, int32_t y, int32_t n, int8_t *scratch, edgec_view *rows);

/* Where an op writes output rows [y, y + n): `scratch` (n * out->w * out->c bytes) when the
 * output is packed, the output rows themselves when it is int8. */
void edgec_packed_output_rows(const edgec_packed_view *out, int32_t y, int32_t n, int8_t *scratch, edgec_view *rows);

/* Rows [y, y + n) of an int8 view. */
static inline edgec_view edgec_view_rows(const edgec_view *v, int32_t y, int32_t n)
{
    edgec_view r = *v;
    r.data = v->data + y * v->row_stride;
    r.h = n;
    return r;
}

/* Pack the computed rows (rows->h of them) into the output from row y (nothing to do at 8 bits). */
void edgec_packed_store_rows(const edgec_packed_view *out, int32_t y, const edgec_view *rows);

/* As edgec_packed_store_rows, saturating every value to the range of out->bits first (for
 * requantize, whose int8 kernel clamps to int8 only, and for a conv whose clamp is the whole
 * sub-byte range, run with the int8 range so the DSP kernel takes its one-SSAT path). */
void edgec_packed_store_rows_saturated(const edgec_packed_view *out, int32_t y, const edgec_view *rows);

/* Max pool straight on packed maps (input and output of the same width, 4 or 2 bits; what
 * edgec_max_pool2d computes, without unpacking): padding taps are skipped, the result clamped to
 * [act_min, act_max].  Eight (int4) or sixteen (int2) channels a word. */
void edgec_max_pool2d_packed(const edgec_packed_view *in, const edgec_packed_view *out, const edgec_pool_params *p);

/* Value-driven patch classification: 1 when some value of the int8 window lies outside [lo, hi]. */
int edgec_has_outlier(const edgec_view *v, int8_t lo, int8_t hi);

#ifdef __cplusplus
}
#endif

#endif /* EDGEC_SUBBYTE_H */
