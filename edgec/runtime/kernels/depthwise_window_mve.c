/*
 * Helium (MVE) depthwise conv2d, one channel at a time, each output's K x K
 * window as consecutive bytes (depthwise_window_mve.h says what it handles).
 *
 * A depthwise output is a dot product of K*K input bytes with the channel's
 * K*K weights, and VMLADAV.S8 sums sixteen int8 products into an int32 in
 * one instruction.  The window's bytes only need to lie next to each other:
 *
 *   - the channel's padded rows are interleaved in a small buffer: padded
 *     column x of padded row r lives at byte r + K*x.  The window of the
 *     output whose taps start at row `first` and column x0 is then the K*K
 *     bytes from first + K*x0 on, tap (ky, kx) at offset kx*K + ky, whatever
 *     `first` is, so one weight vector (the taps in that order, zero past
 *     K*K) serves every output of the channel;
 *   - row r + K lands on row r's bytes shifted by one column: it is written
 *     only once row r is no longer read (rows are copied at their first use,
 *     vertical stride <= K), so the buffer needs K bytes per padded column
 *     plus one per padded row, not a ring per row;
 *   - each output is one load and one VMLADAV per 16 taps (3x3: 2
 *     instructions for 9 MACs; 5x5: 4 for 25; 7x7: 8 for 49); four outputs
 *     go into one vector (lane moves), which adds bias + input_offset *
 *     sum(w) and is requantized with the steps of the shift's sign, as in
 *     depthwise_ring_mve.c, then scattered to the NHWC slots, C bytes apart.
 *
 * Bit-exact with edgec_depthwise_conv2d: the padding holds the zero point, so
 * the folded term cancels its products exactly as in depthwise_ring_mve.c;
 * the dot products are exact int32 sums of int8 products, and the weight
 * lanes past K*K are 0, so whatever the load reads there adds nothing.
 * Built only for targets with integer MVE.
 */
#include <string.h>

#include "depthwise_window_mve.h"
#include "depthwise_shapes_mve.h"

#if defined(__ARM_FEATURE_MVE) && (__ARM_FEATURE_MVE & 1)

#include <arm_mve.h>

#define WINDOW_BYTES 2048 /* the buffer lives on the stack; larger maps take the other kernels */
#define MAX_VECTORS 4     /* 16-byte weight vectors of a 7x7 window */

#define ALWAYS_INLINE static inline __attribute__((always_inline))

/* One channel's constants. */
typedef struct {
    int32_t start;          /* bias + input_offset * sum(w) */
    int32_t mult;           /* quantized multiplier */
    int32_t left;           /* max(shift, 0) */
    int32_t right_neg;      /* min(shift, 0) */
    int32_t output_offset;  /* output zero point */
    int32x4_t lo, hi;       /* act_min, act_max */
    uint32x4_t slots;       /* 0, C, 2C, 3C: four outputs' NHWC slots */
    uint32x4_t pair_slots;  /* the same through paired_lanes */
} channel_stage;

/* The geometry of one call. */
typedef struct {
    const int8_t *in;
    int8_t *out;
    int32_t in_h, in_w, in_row, in_col;
    int32_t out_h, out_w, out_row, out_col;
    int32_t k, stride_h, pad_top, pad_left, row_w;
    int8_t *buffer;
    int8_t zero_point;
    uint16x8_t gather;  /* 0, C, ..., 7C: eight pixels of a channel in an NHWC row */
    uint16x8_t scatter; /* 0, K, ..., 7K: eight columns of a row in the buffer */
} plane;

/* MultiplyByQuantizedMultiplier, offset, clamp: `negative` is the sign of the shift. */
ALWAYS_INLINE int32x4_t requantize(int32x4_t acc, const channel_stage *s, const int negative)
{
    if (negative) {
        acc = vqrdmulhq_n_s32(acc, s->mult);
        acc = vqaddq_s32(acc, vshrq_n_s32(acc, 31)); /* halves away from zero (mve_requant.h) */
        acc = vrshlq_n_s32(acc, s->right_neg);
    } else {
        acc = vqrdmulhq_n_s32(vshlq_r_s32(acc, s->left), s->mult);
    }
    acc = vaddq_n_s32(acc, s->output_offset);
    return vminq_s32(vmaxq_s32(acc, s->lo), s->hi);
}

/* Columns [x0, x1) of the buffer row at `row` set to the zero point. */
static void fill_columns(const plane *g, int8_t *row, int32_t x0, int32_t x1)
{
    const int16x8_t zero_point = vdupq_n_s16(g->zero_point);
    int32_t x;
    for (x = x0; x < x1; x += 8) {
        vstrbq_scatter_offset_p_s16(row + g->k * x, g->scatter, zero_point, vctp16q((uint32_t)(x1 - x)));
    }
}

/* Padded row r of channel c into the buffer: zero point in the padding, the input row elsewhere. */
static void copy_row(const plane *g, int32_t c, int32_t r)
{
    int8_t *const row = g->buffer + r;
    const int32_t iy = r - g->pad_top, k = g->k;
    const int32_t left = g->pad_left < g->row_w ? g->pad_left : g->row_w;
    int32_t n = g->row_w - left, x;
    if (iy < 0 || iy >= g->in_h) {
        fill_columns(g, row, 0, g->row_w);
        return;
    }
    n = n < g->in_w ? n : g->in_w;
    fill_columns(g, row, 0, left);
    {
        const int8_t *src = g->in + iy * g->in_row + c;
        int8_t *dst = row + k * left;
        for (x = 0; x < n; x += 8) {
            const mve_pred16_t lanes = vctp16q((uint32_t)(n - x));
            vstrbq_scatter_offset_p_s16(dst + k * x, g->scatter,
                                        vldrbq_gather_offset_z_s16(src + x * g->in_col, g->gather, lanes), lanes);
        }
    }
    fill_columns(g, row, left + n, g->row_w);
}

/* One output's dot product: its window at p against the channel's NV weight vectors. */
ALWAYS_INLINE int32_t window_dot(const int8_t *p, const int8x16_t *w, const int NV)
{
    int32_t acc = vmladavq_s8(vldrbq_s8(p), w[0]);
    int v;
#pragma GCC unroll 4
    for (v = 1; v < NV; ++v) {
        acc = vmladavaq_s8(acc, vldrbq_s8(p + 16 * v), w[v]);
    }
    return acc;
}

/* Four values in the lanes of one vector, two lanes per VMOV (GCC 12 moves them one at a time).
 * Which of a pair of lanes receives which register is not relied on: the output values and the
 * output slots they are stored to (channel_stage.pair_slots) go through this same function, so
 * lane i of both belongs to the same output either way. */
ALWAYS_INLINE int32x4_t paired_lanes(int32_t a, int32_t b, int32_t c, int32_t d)
{
    int32x4_t v;
    __asm__("vmov %q0[2], %q0[0], %3, %1\n\tvmov %q0[3], %q0[1], %4, %2" : "=&w"(v) : "r"(a), "r"(b), "r"(c), "r"(d));
    return v;
}

/* Four outputs' dot products from the windows at `window` + 0, step, 2 step, 3 step. */
#define FOUR_DOTS(lanes_of, window, w, step, NV)                                                                   \
    lanes_of(window_dot(window, w, NV), window_dot(window + (step), w, NV), window_dot(window + 2 * (step), w, NV), \
             window_dot(window + 3 * (step), w, NV))

/* The same in lane order (lane i: output i), for the predicated last step. */
ALWAYS_INLINE int32x4_t ordered_lanes(int32_t a, int32_t b, int32_t c, int32_t d)
{
    int32x4_t v = vdupq_n_s32(a);
    v = vsetq_lane_s32(b, v, 1);
    v = vsetq_lane_s32(c, v, 2);
    return vsetq_lane_s32(d, v, 3);
}

/* One output row of one channel: `window` is its first output's window, dst that output (outputs
 * `col` bytes apart).  Four outputs per step; the last step, if partial, computes four too (the
 * surplus lanes read the buffer's slack) and stores only the real ones. */
ALWAYS_INLINE void output_row(const int8_t *window, const int8x16_t *w, int32_t out_w, int8_t *dst, int32_t col,
                              const channel_stage *s, const int K, const int S, const int NV, const int negative)
{
    const int step = K * S;
    int32_t ox;
    for (ox = 0; ox + 4 <= out_w; ox += 4) {
        const int32x4_t acc = vaddq_n_s32(FOUR_DOTS(paired_lanes, window, w, step, NV), s->start);
        vstrbq_scatter_offset_s32(dst, s->pair_slots, requantize(acc, s, negative));
        window += 4 * step;
        dst += 4 * col;
    }
    if (ox < out_w) {
        const int32x4_t acc = vaddq_n_s32(FOUR_DOTS(ordered_lanes, window, w, step, NV), s->start);
        vstrbq_scatter_offset_p_s32(dst, s->slots, requantize(acc, s, negative), vctp32q((uint32_t)(out_w - ox)));
    }
}

/* Channel c, every output row, each input row copied into the buffer at its first use. */
ALWAYS_INLINE void channel_plane(const plane *g, int32_t c, const int8x16_t *weights, const channel_stage *stage,
                                 const int K, const int S, const int NV, const int negative)
{
    /* The constants as locals: the stores could alias anything behind a pointer, as far as the
     * compiler knows, and would make it reload them every step. */
    const channel_stage s = *stage;
    int8x16_t w[MAX_VECTORS];
    int32_t oy, r, next_row = 0;
    int v;
#pragma GCC unroll 4
    for (v = 0; v < NV; ++v) {
        w[v] = weights[v];
    }
    for (oy = 0; oy < g->out_h; ++oy) {
        const int32_t first = oy * g->stride_h; /* padded index of the row tap row 0 reads */
        for (r = next_row > first ? next_row : first; r < first + K; ++r) {
            copy_row(g, c, r);
        }
        next_row = first + K;
        output_row(g->buffer + first, w, g->out_w, g->out + oy * g->out_row + c, g->out_col, &s, K, S, NV, negative);
    }
}

typedef void channel_fn(const plane *g, int32_t c, const int8x16_t *weights, const channel_stage *s, int negative);

/* The specialised bodies: kernel K x K, horizontal stride S, each sign of the shift. */
#define CHANNEL_BODY(K, S)                                                                                         \
    static void channel_##K##x##K##_s##S(const plane *g, int32_t c, const int8x16_t *weights,                     \
                                         const channel_stage *s, int negative)                                    \
    {                                                                                                             \
        if (negative) {                                                                                           \
            channel_plane(g, c, weights, s, K, S, (K * K + 15) / 16, 1);                                          \
        } else {                                                                                                  \
            channel_plane(g, c, weights, s, K, S, (K * K + 15) / 16, 0);                                          \
        }                                                                                                         \
    }
CHANNEL_BODY(3, 1)
CHANNEL_BODY(3, 2)
CHANNEL_BODY(5, 1)
CHANNEL_BODY(5, 2)
CHANNEL_BODY(7, 1)
CHANNEL_BODY(7, 2)

static channel_fn *channel_body(int32_t k, int32_t s)
{
    static channel_fn *const bodies[EDGEC_MVE_DW_SHAPES] = {channel_3x3_s1, channel_3x3_s2, channel_5x5_s1,
                                                            channel_5x5_s2, channel_7x7_s1, channel_7x7_s2};
    const int shape = edgec_mve_dw_shape(k, s);
    return shape < 0 ? 0 : bodies[shape];
}

/* Where each weight-vector lane reads its tap: lane j of the window (j = kx*K + ky) holds the
 * weight at tap ky*K + kx, C bytes per tap in the [1, K, K, C] layout.  Even and odd lanes
 * separately (two gathers of eight, narrowed into one vector of sixteen); `lanes` counts those
 * below K*K. */
static void weight_offsets(int32_t k, int32_t channels, uint16x8_t *offsets, mve_pred16_t *lanes, int32_t vectors)
{
    uint16_t o[8];
    int32_t half, i;
    for (half = 0; half < 2 * vectors; ++half) {
        int32_t count = 0;
        for (i = 0; i < 8; ++i) {
            const int32_t j = 16 * (half / 2) + 2 * i + half % 2;
            o[i] = j < k * k ? (uint16_t)(((j % k) * k + j / k) * channels) : 0;
            count += j < k * k;
        }
        offsets[half] = vld1q_u16(o);
        lanes[half] = vctp16q((uint32_t)count);
    }
}

int edgec_depthwise_window_mve(const edgec_view *in, edgec_view *out, const int8_t *weights, const int32_t *bias,
                               const edgec_depthwise_params *p)
{
    const int32_t k = p->kernel_h, sw = p->stride_w, channels = out->c, vectors = (k * k + 15) / 16;
    channel_fn *const body = channel_body(k, sw);
    int8_t buffer[WINDOW_BYTES] __attribute__((aligned(4)));
    uint16x8_t offsets[2 * MAX_VECTORS];
    mve_pred16_t lanes[2 * MAX_VECTORS];
    int8x16_t w[MAX_VECTORS];
    int32_t c, v, written, read, bytes;
    channel_stage s;
    plane g;

    g.in = in->data;
    g.out = out->data;
    g.in_h = in->h;
    g.in_w = in->w;
    g.in_row = in->row_stride;
    g.in_col = in->col_stride;
    g.out_h = out->h;
    g.out_w = out->w;
    g.out_row = out->row_stride;
    g.out_col = out->col_stride;
    g.k = k;
    g.stride_h = p->stride_h;
    g.pad_top = p->pad_top;
    g.pad_left = p->pad_left;
    g.row_w = (g.out_w - 1) * sw + k; /* every padded column a tap reads */
    g.buffer = buffer;
    g.zero_point = (int8_t)(-p->input_offset);
    if (body == 0 || p->kernel_w != k || p->dilation_h != 1 || p->dilation_w != 1 || p->depth_multiplier != 1 ||
        g.stride_h < 1 || g.stride_h > k || in->c != channels || 7 * g.in_col >= 65536 ||
        (k * k - 1) * channels >= 65536 || g.out_h <= 0 || g.out_w <= 0) {
        return 0;
    }
    /* Bytes written (the last padded row's last column) and read (the last row's last step of four
     * outputs, a whole vector per 16 taps). */
    written = (g.out_h - 1) * g.stride_h + k - 1 + k * (g.row_w - 1) + 1;
    read = (g.out_h - 1) * g.stride_h + k * sw * (((g.out_w + 3) & ~3) - 1) + 16 * vectors;
    bytes = written > read ? written : read;
    if (bytes > WINDOW_BYTES) {
        return 0;
    }
    memset(buffer, g.zero_point, (size_t)bytes);
    g.gather = vmulq_n_u16(vidupq_n_u16(0, 1), (uint16_t)g.in_col);
    g.scatter = vmulq_n_u16(vidupq_n_u16(0, 1), (uint16_t)k);
    weight_offsets(k, channels, offsets, lanes, vectors);
    s.output_offset = p->output_offset;
    s.lo = vdupq_n_s32(p->act_min);
    s.hi = vdupq_n_s32(p->act_max);
    s.slots = vmulq_n_u32(vidupq_n_u32(0, 1), (uint32_t)g.out_col);
    s.pair_slots = vreinterpretq_u32_s32(paired_lanes(0, g.out_col, 2 * g.out_col, 3 * g.out_col));

    for (c = 0; c < channels; ++c) {
        const int32_t shift = p->out_shift[c];
        int32_t wsum = 0;
        for (v = 0; v < vectors; ++v) {
            const int16x8_t even = vldrbq_gather_offset_z_s16(weights + c, offsets[2 * v], lanes[2 * v]);
            const int16x8_t odd = vldrbq_gather_offset_z_s16(weights + c, offsets[2 * v + 1], lanes[2 * v + 1]);
            w[v] = vmovntq_s16(vmovnbq_s16(vdupq_n_s8(0), even), odd);
            wsum = vaddvaq_s8(wsum, w[v]);
        }
        s.start = (bias ? bias[c] : 0) + p->input_offset * wsum;
        s.mult = p->out_mult[c];
        s.left = shift > 0 ? shift : 0;
        s.right_neg = shift < 0 ? shift : 0;
        body(&g, c, w, &s, shift < 0);
    }
    return 1;
}

#else

typedef int edgec_depthwise_window_mve_needs_mve; /* ISO C: a translation unit needs a declaration */

#endif
