/*
 * Helium (MVE) mean over H and W for Cortex-M55 (a global average pool): the same results, bit
 * for bit, as the portable edgec_mean, which it calls for the other reductions.
 *
 * Sixteen channels per block: per pixel two VLDRB.S16 (channels 0..7 and 8..15 widened to int16)
 * and two VADD.I16.  An int16 lane holds the sum of 256 int8 values (256 * -128 = -32768,
 * 256 * 127 = 32512), so every 256 pixels the lanes move into four int32x4 sums (VMOVLB/VMOVLT:
 * even and odd channels of each half).  The sums plus input_offset * H * W are requantized with
 * mve_requant.h (TFLite's MultiplyByQuantizedMultiplier; a mean's multiplier and shift are one
 * per tensor, so the lanes' channel order does not matter), offset and clamped to int8, and
 * narrowed back in order (VMOVNB/VMOVNT undo VMOVLB/VMOVLT) for two byte stores per block.
 * The last block's lanes past the channels are predicated off.  Built only for targets with
 * integer MVE.
 */
#include "edgec_kernels.h"

#if defined(__ARM_FEATURE_MVE) && (__ARM_FEATURE_MVE & 1)

#include "kernels_internal.h"
#include "mve_requant.h"

#define MEAN_INT16_RUN 256 /* pixels whose int8 sum fits an int16 lane */

/* Eight channels' int32 sums, as even (0, 2, 4, 6) and odd (1, 3, 5, 7) lanes. */
typedef struct {
    int32x4_t even, odd;
} half_sums;

static inline half_sums add_half(half_sums s, int16x8_t run)
{
    s.even = vaddq_s32(s.even, vmovlbq_s16(run));
    s.odd = vaddq_s32(s.odd, vmovltq_s16(run));
    return s;
}

/* Eight channels' sums as int8 values in int16 lanes, in channel order. */
static inline int16x8_t half_out(half_sums s, int32_t offset_sum, mve_requant_q q, int32_t output_offset,
                                 int32x4_t lo, int32x4_t hi)
{
    const int32x4_t even = mve_requant_clamp(vaddq_n_s32(s.even, offset_sum), q, output_offset, lo, hi);
    const int32x4_t odd = mve_requant_clamp(vaddq_n_s32(s.odd, offset_sum), q, output_offset, lo, hi);
    return vmovntq_s32(vmovnbq_s32(vdupq_n_s16(0), even), odd);
}

void edgec_mean_mve(const edgec_view *in, edgec_view *out, const edgec_mean_params *p)
{
    /* In locals: the int8 stores may alias the views and the parameters. */
    const int8_t *const data = in->data;
    int8_t *const po = out->data;
    const int32_t h = in->h, w = in->w, rs = in->row_stride, cs = in->col_stride, channels = in->c;
    const int32_t offset_sum = h * w * p->input_offset, output_offset = p->output_offset;
    const mve_requant_q q = mve_requant_make(vdupq_n_s32(p->mult), vdupq_n_s32(p->shift));
    const int32x4_t lo = vdupq_n_s32(-128), hi = vdupq_n_s32(127);
    int32_t c, y, x;
    if (p->reduce_c || !p->reduce_h || !p->reduce_w) {
        edgec_mean(in, out, p);
        return;
    }
    for (c = 0; c < channels; c += 16) {
        const mve_pred16_t first = vctp16q((uint32_t)(channels - c));
        const mve_pred16_t second = vctp16q((uint32_t)(channels - c > 8 ? channels - c - 8 : 0));
        const half_sums zero = {vdupq_n_s32(0), vdupq_n_s32(0)};
        half_sums a = zero, b = zero;
        int16x8_t run_a = vdupq_n_s16(0), run_b = vdupq_n_s16(0);
        int32_t run = MEAN_INT16_RUN;
        for (y = 0; y < h; ++y) {
            const int8_t *px = data + y * rs + c;
            for (x = 0; x < w; ++x, px += cs) {
                run_a = vaddq_s16(run_a, vldrbq_z_s16(px, first));
                run_b = vaddq_s16(run_b, vldrbq_z_s16(px + 8, second));
                if (--run == 0) {
                    a = add_half(a, run_a);
                    b = add_half(b, run_b);
                    run_a = run_b = vdupq_n_s16(0);
                    run = MEAN_INT16_RUN;
                }
            }
        }
        a = add_half(a, run_a);
        b = add_half(b, run_b);
        vstrbq_p_s16(po + c, half_out(a, offset_sum, q, output_offset, lo, hi), first);
        vstrbq_p_s16(po + c + 8, half_out(b, offset_sum, q, output_offset, lo, hi), second);
    }
}

#else

typedef int edgec_mean_mve_needs_mve; /* ISO C: a translation unit needs a declaration */

#endif
