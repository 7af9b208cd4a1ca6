/* In-place depthwise conv2d, one channel at a time through a ring of padded
 * rows (TinyEngine-style).  Same arithmetic as edgec_depthwise_conv2d
 * (reference_integer_ops::DepthwiseConvPerChannel): every accumulator starts
 * at the bias and adds w * (x + input_offset) over the taps in (ky, kx) order;
 * padding taps read the input zero point (-input_offset) and so add exactly
 * 0, leaving every partial sum equal to the out-of-place kernel's.
 *
 * Scratch: R = (KH - 1) * dilation_h + 1 rows of the zero-point-padded input
 * plane of one channel, pw = pad_left + W + pad_right bytes each.  Padded row
 * r (input row iy = r - pad_top; all zero point outside [0, H)) lives in ring
 * slot r mod R.  Output row oy taps padded rows oy * sh + k * dh, k < KH, all
 * inside the window [oy * sh, oy * sh + R): R consecutive rows, so distinct
 * slots.
 *
 * Ring correctness.  Each tapped row is copied into its slot at its first use
 * (the first output row that taps it), before that output row is computed.
 * Suppose row r, copied at output row oy1, is tapped again at oy > oy1, and
 * some row r' != r with r' = r (mod R) was copied in between, at oy2 with
 * oy1 <= oy2 <= oy.  Then r' lies in window(oy2); r lies in window(oy1) and
 * window(oy), and since the windows' ends grow with oy, also in window(oy2).
 * Two distinct rows of one window cannot share a slot: contradiction.  So the
 * ring holds every row an output row taps.
 *
 * First use.  Row r is tapped at oy by tap k iff r = oy * sh + k * dh; it was
 * tapped at an earlier row oy - d (d >= 1) by a tap k' > k iff
 * k * dh + d * sh = k' * dh <= (KH - 1) * dh.  The d with d * sh = 0 (mod dh)
 * are the multiples of period = dh / gcd(sh, dh), and both bounds grow with
 * d, so (oy, k) is the first use of its row iff
 *     oy < period  or  k * dh + period * sh > (KH - 1) * dh.
 *
 * No input row is overwritten before it is copied (the planner's condition,
 * edgec.schedule.arena._depthwise_inplace_ok).  Channel c writes only the
 * buffer's channel-c slots (output (p, c) at p * C + c), so channels > c are
 * intact when channel c starts; within channel c, element index p = oy * OW +
 * ox.  When output row oy0 starts, channel c has written outputs p < oy0 * OW
 * only.  A row iy first used at oy0 occupies p in [iy * W, iy * W + W), so it
 * is still intact when copied iff iy * W >= oy0 * OW.  The caller guarantees
 * this for every in-range input row at its first use.  It always holds with
 * dilation 1, pad_top <= KH - 1 and OW <= W, for any stride: then
 * oy0 = max(0, ceil((iy + pad_top - KH + 1) / sh)) <= iy. */
#include <string.h>

#include "kernels_internal.h"

void edgec_depthwise_conv2d_inplace(int8_t *buffer, int32_t in_h, int32_t in_w, int32_t channels, int32_t out_h,
                                    int32_t out_w, int8_t *scratch, const int8_t *weights, const int32_t *bias,
                                    const edgec_depthwise_params *p)
{
    const int32_t kh = p->kernel_h, kw = p->kernel_w;
    const int32_t sh = p->stride_h, sw = p->stride_w;
    const int32_t dh = p->dilation_h, dw = p->dilation_w;
    const int32_t pad_top = p->pad_top, pad_left = p->pad_left;
    const int32_t ring_rows = (kh - 1) * dh + 1;
    const int32_t row_w = in_w + pad_left + p->pad_right;
    const int32_t ring_size = edgec_depthwise_inplace_scratch_size(in_h, in_w, p);
    const int32_t input_offset = p->input_offset;
    const int8_t zero_point = (int8_t)(-input_offset);
    int32_t period = 1, c, x, oy, ox, ky, kx;

    if (ring_size <= 0 || out_h <= 0 || out_w <= 0) {
        return;
    }
    while ((period * sh) % dh != 0) {
        ++period;
    }
    /* Border columns hold the input zero point for every row and channel;
     * only the interior [pad_left, pad_left + in_w) of a slot is rewritten. */
    memset(scratch, zero_point, (size_t)ring_size);

    for (c = 0; c < channels; ++c) {
        const int8_t *wc = weights + c;
        const int32_t acc0 = bias ? bias[c] : 0;
        const int32_t mult = p->out_mult[c], shift = p->out_shift[c];
        int8_t *po = buffer + c;

        for (oy = 0; oy < out_h; ++oy) {
            const int32_t slot0 = (oy * sh) % ring_rows;

            /* Rows first tapped by this output row -> their ring slots, before
             * any output of this row overwrites them. */
            for (ky = 0; ky < kh; ++ky) {
                if (oy >= period && ky * dh + period * sh <= (kh - 1) * dh) {
                    continue; /* already in the ring */
                }
                {
                    const int32_t r = oy * sh + ky * dh, iy = r - pad_top;
                    int8_t *dst = scratch + (r % ring_rows) * row_w + pad_left;
                    if (iy < 0 || iy >= in_h) {
                        memset(dst, zero_point, (size_t)in_w);
                    } else {
                        const int8_t *src = buffer + iy * in_w * channels + c;
                        for (x = 0; x < in_w; ++x) {
                            dst[x] = src[x * channels];
                        }
                    }
                }
            }

            /* Output row oy of channel c, written in NHWC order over the
             * buffer's channel-c slots. */
            for (ox = 0; ox < out_w; ++ox) {
                int32_t acc = acc0, slot = slot0;
                for (ky = 0; ky < kh; ++ky) {
                    const int8_t *px = scratch + slot * row_w + ox * sw;
                    const int8_t *wk = wc + ky * kw * channels;
                    for (kx = 0; kx < kw; ++kx) {
                        acc += wk[kx * channels] * (px[kx * dw] + input_offset);
                    }
                    slot += dh;
                    if (slot >= ring_rows) {
                        slot -= ring_rows;
                    }
                }
                *po = requantize_and_clamp(acc, mult, shift, p->output_offset, p->act_min, p->act_max);
                po += channels;
            }
        }
    }
}
