/*
 * Helium (MVE) convolutions for Cortex-M55: 1x1, general (dense, groups 1)
 * and fully connected.  Same arguments, weight layout (OHWI) and results,
 * bit for bit, as the portable kernels in conv.c / fully_connected.c; other
 * shapes are handed to those.
 *
 * Dot products run along the input channels, which are contiguous in both
 * the input pixel and the weights: VMLADAVA.S8 multiplies 16 int8 pairs and
 * adds them to a 32-bit accumulator in one instruction; the channel tail
 * uses tail-predicated loads that read zeros past the end.  The input
 * offset enters as input_offset * sum(w) over the taps used, so the int8
 * inputs are never widened.  Four output channels (one weight row each)
 * share every input load (four accumulators: VMLADAVA writes even
 * registers only), and their accumulators are requantized together
 * (mve_requant.h).  Built only for targets with integer MVE.
 */
#include "edgec_kernels.h"

#if defined(__ARM_FEATURE_MVE) && (__ARM_FEATURE_MVE & 1)

#include "kernels_internal.h"
#include "mve_requant.h"

#define CO_BLOCK 4

/* Requantization constants and bias + offset term of channels oc..oc+n-1 (n <= 4), lanes past n zero. */
typedef struct {
    mve_requant_q q;
    int32x4_t base; /* bias + input_offset * sum(w), when every tap is used */
    mve_pred16_t lanes;
} co_block;

static co_block load_co_block(const int32_t *bias, const edgec_conv_params *p, int32_t oc, int32_t n,
                              const int32_t *wsum)
{
    co_block b;
    int32x4_t base;
    b.lanes = vctp32q((uint32_t)n);
    b.q = mve_requant_make(vldrwq_z_s32(p->out_mult + oc, b.lanes), vldrwq_z_s32(p->out_shift + oc, b.lanes));
    base = vmulq_n_s32(vldrwq_z_s32(wsum, b.lanes), p->input_offset);
    if (bias) {
        base = vaddq_s32(base, vldrwq_z_s32(bias + oc, b.lanes));
    }
    b.base = base;
    return b;
}

/* sum(w[i]) for i < n. */
static int32_t sum_s8(const int8_t *w, int32_t n)
{
    int32_t s = 0, i;
    for (i = 0; i < n; i += 16) {
        s = vaddvaq_s8(s, vldrbq_z_s8(w + i, vctp8q((uint32_t)(n - i))));
    }
    return s;
}

/* acc[k] += sum_i x[i] * w[k][off + i] for k < 4, i < n.  Four accumulators: VMLADAVA takes even
 * registers only, and r0-r12 hold seven. */
static inline void dot4(const int8_t *x, const int8_t *const w[CO_BLOCK], int32_t off, int32_t n,
                        int32_t acc[CO_BLOCK])
{
    const int8_t *w0 = w[0] + off, *w1 = w[1] + off, *w2 = w[2] + off, *w3 = w[3] + off;
    int32_t a0 = acc[0], a1 = acc[1], a2 = acc[2], a3 = acc[3], i;
    for (i = 0; i + 16 <= n; i += 16) {
        const int8x16_t xv = vldrbq_s8(x + i);
        a0 = vmladavaq_s8(a0, xv, vldrbq_s8(w0 + i));
        a1 = vmladavaq_s8(a1, xv, vldrbq_s8(w1 + i));
        a2 = vmladavaq_s8(a2, xv, vldrbq_s8(w2 + i));
        a3 = vmladavaq_s8(a3, xv, vldrbq_s8(w3 + i));
    }
    if (i < n) {
        const mve_pred16_t p = vctp8q((uint32_t)(n - i));
        const int8x16_t xv = vldrbq_z_s8(x + i, p);
        a0 = vmladavaq_s8(a0, xv, vldrbq_z_s8(w0 + i, p));
        a1 = vmladavaq_s8(a1, xv, vldrbq_z_s8(w1 + i, p));
        a2 = vmladavaq_s8(a2, xv, vldrbq_z_s8(w2 + i, p));
        a3 = vmladavaq_s8(a3, xv, vldrbq_z_s8(w3 + i, p));
    }
    acc[0] = a0;
    acc[1] = a1;
    acc[2] = a2;
    acc[3] = a3;
}

static inline int32x4_t as_vector(const int32_t acc[CO_BLOCK])
{
    int32x4_t v = vdupq_n_s32(acc[0]);
    v = vsetq_lane_s32(acc[1], v, 1);
    v = vsetq_lane_s32(acc[2], v, 2);
    return vsetq_lane_s32(acc[3], v, 3);
}

/* The output stage of a layer: offset and clamp. */
typedef struct {
    int32_t offset;
    int32x4_t lo, hi;
} out_stage;

static inline out_stage make_out_stage(const edgec_conv_params *p)
{
    out_stage o;
    o.offset = p->output_offset;
    o.lo = vdupq_n_s32(p->act_min);
    o.hi = vdupq_n_s32(p->act_max);
    return o;
}

/* acc + base, requantized, clamped and stored to the first `lanes` channels at dst. */
static inline void store_block(int8_t *dst, const int32_t acc[CO_BLOCK], int32x4_t base, mve_requant_q q,
                               mve_pred16_t lanes, out_stage o)
{
    const int32x4_t v = vaddq_s32(as_vector(acc), base);
    vstrbq_p_s32(dst, mve_requant_clamp(v, q, o.offset, o.lo, o.hi), lanes);
}

/* Weight rows (`row` bytes each) of channels oc..oc+3; past the last channel, copies of its row (those
 * results are computed but not stored).  Also their sums. */
static int32_t weight_rows(const int8_t *weights, int32_t oc, int32_t cout, int32_t row, const int8_t *rows[CO_BLOCK],
                           int32_t wsum[CO_BLOCK])
{
    const int32_t n = cout - oc < CO_BLOCK ? cout - oc : CO_BLOCK;
    int32_t k;
    for (k = 0; k < CO_BLOCK; ++k) {
        rows[k] = weights + (oc + (k < n ? k : n - 1)) * row;
        wsum[k] = sum_s8(rows[k], row);
    }
    return n;
}

static inline int8_t *pixel(const edgec_view *v, int32_t y, int32_t x)
{
    return v->data + y * v->row_stride + x * v->col_stride;
}

void edgec_conv2d_1x1_mve(const edgec_view *in, edgec_view *out, const int8_t *weights, const int32_t *bias,
                          const edgec_conv_params *p)
{
    const int32_t cin = in->c, cout = out->c;
    const int32_t height = out->h, width = out->w;
    const int32_t in_row = in->row_stride, in_col = in->col_stride;
    const int32_t out_row = out->row_stride, out_col = out->col_stride;
    const out_stage o = make_out_stage(p);
    const int8_t *rows[CO_BLOCK];
    int32_t wsum[CO_BLOCK];
    int32_t oc, y, x;

    for (oc = 0; oc < cout; oc += CO_BLOCK) {
        const int32_t n = weight_rows(weights, oc, cout, cin, rows, wsum);
        const co_block b = load_co_block(bias, p, oc, n, wsum);
        const mve_requant_q q = b.q;
        const int32x4_t base = b.base;
        const mve_pred16_t lanes = b.lanes;
        for (y = 0; y < height; ++y) {
            const int8_t *src = in->data + y * in_row;
            int8_t *dst = out->data + y * out_row + oc;
            for (x = 0; x < width; ++x, src += in_col, dst += out_col) {
                int32_t acc[CO_BLOCK] = {0, 0, 0, 0};
                dot4(src, rows, 0, cin, acc);
                store_block(dst, acc, base, q, lanes, o);
            }
        }
    }
}

void edgec_conv2d_mve(const edgec_view *in, edgec_view *out, const int8_t *weights, const int32_t *bias,
                      const edgec_conv_params *p)
{
    const int32_t cin = in->c, cout = out->c;
    const int32_t kh = p->kernel_h, kw = p->kernel_w, dh = p->dilation_h, dw = p->dilation_w;
    const int32_t filter_size = kh * kw * cin;
    /* A kernel row's taps are one contiguous run of the input when columns are dense and undilated. */
    const int runs = dw == 1 && in->col_stride == cin;
    const out_stage o = make_out_stage(p);
    const int8_t *rows[CO_BLOCK];
    int32_t wsum[CO_BLOCK];
    int32_t oc, oy, ox, ky, kx, k;

    if (p->groups > 1) {
        edgec_conv2d(in, out, weights, bias, p);
        return;
    }
    if (kh == 1 && kw == 1 && p->stride_h == 1 && p->stride_w == 1 && p->pad_top == 0 && p->pad_left == 0 &&
        out->h == in->h && out->w == in->w) {
        edgec_conv2d_1x1_mve(in, out, weights, bias, p);
        return;
    }
    for (oc = 0; oc < cout; oc += CO_BLOCK) {
        const int32_t n = weight_rows(weights, oc, cout, filter_size, rows, wsum);
        const co_block b = load_co_block(bias, p, oc, n, wsum);
        const int32x4_t plain_bias = bias ? vldrwq_z_s32(bias + oc, b.lanes) : vdupq_n_s32(0);
        for (oy = 0; oy < out->h; ++oy) {
            const int32_t in_y0 = oy * p->stride_h - p->pad_top;
            int32_t ky0;
            const int32_t ky1 = valid_taps(in_y0, dh, kh, in->h, &ky0);
            for (ox = 0; ox < out->w; ++ox) {
                const int32_t in_x0 = ox * p->stride_w - p->pad_left;
                int32_t kx0;
                const int32_t kx1 = valid_taps(in_x0, dw, kw, in->w, &kx0);
                const int whole = ky1 - ky0 == kh && kx1 - kx0 == kw;
                int32_t acc[CO_BLOCK] = {0, 0, 0, 0};
                int32x4_t base = b.base;
                for (ky = ky0; ky < ky1; ++ky) {
                    const int32_t iy = in_y0 + ky * dh;
                    const int32_t off = (ky * kw + kx0) * cin;
                    if (runs) {
                        dot4(pixel(in, iy, in_x0 + kx0), rows, off, (kx1 - kx0) * cin, acc);
                    } else {
                        for (kx = kx0; kx < kx1; ++kx) {
                            dot4(pixel(in, iy, in_x0 + kx * dw), rows, (ky * kw + kx) * cin, cin, acc);
                        }
                    }
                }
                if (!whole) {
                    /* Border: the offset term covers only the taps inside the input. */
                    int32_t used[CO_BLOCK] = {0, 0, 0, 0};
                    for (k = 0; k < CO_BLOCK; ++k) {
                        for (ky = ky0; ky < ky1; ++ky) {
                            if (kx1 > kx0) {
                                used[k] += sum_s8(rows[k] + (ky * kw + kx0) * cin, (kx1 - kx0) * cin);
                            }
                        }
                    }
                    base = vaddq_s32(plain_bias, vmulq_n_s32(as_vector(used), p->input_offset));
                }
                store_block(pixel(out, oy, ox) + oc, acc, base, b.q, b.lanes, o);
            }
        }
    }
}

#else

typedef int edgec_conv_mve_needs_mve; /* ISO C: a translation unit needs a declaration */

#endif
