/* Walking a broadcasting binary op's operands over its output window
 * (internal header, shared by elementwise.c and elementwise_dsp.c). */
#ifndef EDGEC_BINARY_WALK_H
#define EDGEC_BINARY_WALK_H

#include "kernels_internal.h"

/* Element-steps of one operand when walking out's window: 0 along a
 * broadcast (size 1) dimension. */
typedef struct {
    const int8_t *data;
    int32_t row_step, col_step, ch_step;
} operand_walk;

static inline operand_walk walk_of(const edgec_view *v, const edgec_view *out)
{
    operand_walk o;
    o.data = v->data;
    o.row_step = (v->h == 1 && out->h != 1) ? 0 : v->row_stride;
    o.col_step = (v->w == 1 && out->w != 1) ? 0 : v->col_stride;
    o.ch_step = (v->c == 1 && out->c != 1) ? 0 : 1;
    return o;
}

/* An operand that can be read as one run over out: a dense window of out's
 * shape (step 1) or a single element (step 0). Returns the step or -1. */
static inline int32_t flat_step(const edgec_view *v, const edgec_view *out)
{
    if (v->h == 1 && v->w == 1 && v->c == 1) {
        return 0;
    }
    if (v->h == out->h && v->w == out->w && v->c == out->c && view_is_dense(v)) {
        return 1;
    }
    return -1;
}

typedef void (*binary_run_fn)(const int8_t *a, int32_t a_step, const int8_t *b, int32_t b_step, int8_t *out,
                              int32_t n, const void *params);

static inline void binary_over_views(const edgec_view *a, const edgec_view *b, edgec_view *out, binary_run_fn run,
                              const void *params)
{
    const int32_t a_flat = flat_step(a, out);
    const int32_t b_flat = flat_step(b, out);
    operand_walk wa, wb;
    int32_t y, x;

    if (a_flat >= 0 && b_flat >= 0 && view_is_dense(out)) {
        run(a->data, a_flat, b->data, b_flat, out->data, out->h * out->w * out->c, params);
        return;
    }
    wa = walk_of(a, out);
    wb = walk_of(b, out);
    for (y = 0; y < out->h; ++y) {
        for (x = 0; x < out->w; ++x) {
            run(wa.data + y * wa.row_step + x * wa.col_step, wa.ch_step, wb.data + y * wb.row_step + x * wb.col_step,
                wb.ch_step, out->data + y * out->row_stride + x * out->col_stride, out->c, params);
        }
    }
}

#endif /* EDGEC_BINARY_WALK_H */
