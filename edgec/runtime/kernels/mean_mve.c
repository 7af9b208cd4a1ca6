/*
 * Helium (MVE) mean over H and W (TFLite MEAN with axes {1, 2}, keepdims)
 * for Cortex-M55: the same arguments and results, bit for bit, as the
 * portable edgec_mean, which it calls for the other reductions.
 *
 * Sixteen channels per step, eight per vector: VLDRB.S16 widens a pixel's
 * eight int8 channels to int16 lanes and VADD.I16 sums them, whole rows of
 * at most 255 pixels at a time (|sum| <= 255 * 128 < 2^15: no wrap; rows
 * wider than 255 go to edgec_mean); VMOVLB / VMOVLT then add the even and
 * the odd channels' partial sums to int32 lanes.  The int32 sums are
 * requantized as edgec_mean does (sum + input_offset * H * W, then
 * MultiplyByQuantizedMultiplier: mve_requant.h, exact for every shift in
 * [-31, 31]), offset and clamped to int8, and VMOVNT puts the odd channels
 * between the even ones for one VSTRB.16.  The last block of fewer than
 * sixteen channels is predicated.  Built only for targets with integer MVE.
 */
#include "edgec_kernels.h"

#if defined(__ARM_FEATURE_MVE) && (__ARM_FEATURE_MVE & 1)

#include "kernels_internal.h"
#include "mve_requant.h"

#define MEAN_INT16_PIXELS 255 /* pixels whose int8 sum fits int16 lanes */

typedef struct {
    const int8_t *data;
    int32_t h, w, rs, cs, chunk_rows;
    int32_t offset_sum, output_offset;
    mve_requant_q q;
} mean_stage;

/* Eight channels' sums (offset_sum included) -> their int8 means, stored at po (the first lanes only
 * where tail). */
__attribute__((always_inline)) static inline void mean_store(int8_t *po, int32x4_t even, int32x4_t odd,
                                                             const mean_stage *m, mve_pred16_t lanes, const int tail)
{
    const int32x4_t lo = vdupq_n_s32(-128), hi = vdupq_n_s32(127);
    /* even's int32 lanes hold channels 0, 2, 4, 6 in their low halves: the even int16 lanes */
    const int16x8_t v = vmovntq_s32(vreinterpretq_s16_s32(mve_requant_clamp(even, m->q, m->output_offset, lo, hi)),
                                    mve_requant_clamp(odd, m->q, m->output_offset, lo, hi));
    if (tail) {
        vstrbq_p_s16(po, v, lanes);
    } else {
        vstrbq_s16(po, v);
    }
}

/* The means of sixteen channels from channel c (of the first n only where tail: lanes0 and lanes1 are
 * their predicates for channels c.. c + 7 and c + 8.. c + 15). */
__attribute__((always_inline)) static inline void mean16(int8_t *po, int32_t c, const mean_stage *m,
                                                         mve_pred16_t lanes0, mve_pred16_t lanes1, const int tail)
{
    int32x4_t even0 = vdupq_n_s32(m->offset_sum), odd0 = even0, even1 = even0, odd1 = even0;
    int32_t y0, y, x;
    for (y0 = 0; y0 < m->h; y0 += m->chunk_rows) {
        const int32_t y_end = m->h - y0 < m->chunk_rows ? m->h : y0 + m->chunk_rows;
        int16x8_t sum0 = vdupq_n_s16(0), sum1 = sum0;
        for (y = y0; y < y_end; ++y) {
            const int8_t *px = m->data + y * m->rs + c;
            for (x = 0; x < m->w; ++x, px += m->cs) {
                sum0 = vaddq_s16(sum0, tail ? vldrbq_z_s16(px, lanes0) : vldrbq_s16(px));
                sum1 = vaddq_s16(sum1, tail ? vldrbq_z_s16(px + 8, lanes1) : vldrbq_s16(px + 8));
            }
        }
        even0 = vaddq_s32(even0, vmovlbq_s16(sum0));
        odd0 = vaddq_s32(odd0, vmovltq_s16(sum0));
        even1 = vaddq_s32(even1, vmovlbq_s16(sum1));
        odd1 = vaddq_s32(odd1, vmovltq_s16(sum1));
    }
    mean_store(po + c, even0, odd0, m, lanes0, tail);
    mean_store(po + c + 8, even1, odd1, m, lanes1, tail);
}

void edgec_mean_mve(const edgec_view *in, edgec_view *out, const edgec_mean_params *p)
{
    mean_stage m; /* in locals: the int8 stores may alias the views and the parameters */
    int8_t *const po = out->data;
    const int32_t channels = in->c;
    int32_t c;

    if (p->reduce_c || !p->reduce_h || !p->reduce_w || in->w < 1 || in->w > MEAN_INT16_PIXELS || p->shift < -31 ||
        p->shift > 31) {
        edgec_mean(in, out, p);
        return;
    }
    m.data = in->data;
    m.h = in->h, m.w = in->w, m.rs = in->row_stride, m.cs = in->col_stride;
    m.chunk_rows = MEAN_INT16_PIXELS / in->w;
    m.offset_sum = in->h * in->w * p->input_offset;
    m.output_offset = p->output_offset;
    m.q = mve_requant_make(vdupq_n_s32(p->mult), vdupq_n_s32(p->shift));
    for (c = 0; c + 16 <= channels; c += 16) {
        mean16(po, c, &m, 0, 0, 0);
    }
    if (c < channels) {
        const int32_t upper = channels - c > 8 ? channels - c - 8 : 0;
        mean16(po, c, &m, vctp16q((uint32_t)(channels - c)), vctp16q((uint32_t)upper), 1);
    }
}

#else

typedef int edgec_mean_mve_needs_mve; /* ISO C: a translation unit needs a declaration */

#endif
