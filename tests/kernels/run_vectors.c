/*
 * Host test runner for the int8 kernels: reads the vectors written by
 * tests/kernels/gen_vectors.py (format described there), runs each case
 * through the C kernel and compares every output element with the numpy
 * twin's result.  Output windows are placed inside larger buffers filled with
 * a known pattern, and bytes outside the window must be left untouched.
 *
 * Prints one line per case ("PASS <id> <op>" or "FAIL <id> <op>: <why>") and a
 * summary; exits 1 if any case fails.
 *
 * Usage: run_vectors VECTORS_FILE [-v]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "edgec_kernels.h"
#include "requant_fast.h"
#ifdef EDGEC_VECTORS_MVE
#include "vectors_mve.h" /* check the Helium variants instead of the portable kernels */
#endif

#define MAX_ITEMS 48
#define NAME_LEN 48

typedef struct {
    char name[NAME_LEN];
    int ndim;
    long dims[4];
    long size;
    long long *values; /* integer tensors ('t' records) */
    double *reals;     /* float tensors ('f' records) */
} tensor;

typedef struct {
    char name[NAME_LEN];
    long outer[3]; /* H, W, C of the enclosing buffer */
    long offset[3]; /* y, x, c of the window */
} embedding;

typedef struct {
    char id[128];
    char op[NAME_LEN];
    int n_ints, n_tensors, n_embeds;
    char int_names[MAX_ITEMS][NAME_LEN];
    long long ints[MAX_ITEMS];
    tensor tensors[MAX_ITEMS];
    embedding embeds[MAX_ITEMS];
} test_case;

/* A window plus the buffer that holds it, for checking and freeing. */
typedef struct {
    edgec_view view;
    int8_t *buffer;
    long buffer_size;
    long outer[3], offset[3];
} placed_view;

static char failure[512];

static void fail(const char *msg)
{
    if (!failure[0]) {
        snprintf(failure, sizeof failure, "%s", msg);
    }
}

/* ------------------------------------------------------------------ parsing */

static int read_case(FILE *f, test_case *tc)
{
    char tag[16];
    memset(tc, 0, sizeof *tc);
    if (fscanf(f, "%15s", tag) != 1) {
        return 0;
    }
    if (strcmp(tag, "case") != 0 || fscanf(f, "%127s %47s", tc->id, tc->op) != 2) {
        fprintf(stderr, "malformed vectors file (expected 'case', got '%s')\n", tag);
        exit(2);
    }
    for (;;) {
        if (fscanf(f, "%15s", tag) != 1) {
            fprintf(stderr, "%s: truncated case\n", tc->id);
            exit(2);
        }
        if (strcmp(tag, "end") == 0) {
            return 1;
        }
        if (tc->n_ints >= MAX_ITEMS || tc->n_tensors >= MAX_ITEMS || tc->n_embeds >= MAX_ITEMS) {
            fprintf(stderr, "%s: too many records\n", tc->id);
            exit(2);
        }
        if (strcmp(tag, "i") == 0) {
            if (fscanf(f, "%47s %lld", tc->int_names[tc->n_ints], &tc->ints[tc->n_ints]) != 2) {
                fprintf(stderr, "%s: bad int record\n", tc->id);
                exit(2);
            }
            tc->n_ints++;
        } else if (strcmp(tag, "t") == 0 || strcmp(tag, "f") == 0) {
            const int is_real = tag[0] == 'f';
            tensor *t = &tc->tensors[tc->n_tensors++];
            long i;
            if (fscanf(f, "%47s %d", t->name, &t->ndim) != 2 || t->ndim < 0 || t->ndim > 4) {
                fprintf(stderr, "%s: bad tensor record\n", tc->id);
                exit(2);
            }
            t->size = 1;
            for (i = 0; i < t->ndim; ++i) {
                if (fscanf(f, "%ld", &t->dims[i]) != 1) {
                    exit(2);
                }
                t->size *= t->dims[i];
            }
            t->values = calloc((size_t)(t->size > 0 ? t->size : 1), sizeof(long long));
            t->reals = calloc((size_t)(t->size > 0 ? t->size : 1), sizeof(double));
            for (i = 0; i < t->size; ++i) {
                const int ok = is_real ? fscanf(f, "%lf", &t->reals[i]) : fscanf(f, "%lld", &t->values[i]);
                if (ok != 1) {
                    fprintf(stderr, "%s: short tensor %s\n", tc->id, t->name);
                    exit(2);
                }
            }
        } else if (strcmp(tag, "e") == 0) {
            embedding *e = &tc->embeds[tc->n_embeds++];
            if (fscanf(f, "%47s %ld %ld %ld %ld %ld %ld", e->name, &e->outer[0], &e->outer[1], &e->outer[2],
                       &e->offset[0], &e->offset[1], &e->offset[2]) != 7) {
                fprintf(stderr, "%s: bad embedding record\n", tc->id);
                exit(2);
            }
        } else {
            fprintf(stderr, "%s: unknown record '%s'\n", tc->id, tag);
            exit(2);
        }
    }
}

static void free_case(test_case *tc)
{
    int i;
    for (i = 0; i < tc->n_tensors; ++i) {
        free(tc->tensors[i].values);
        free(tc->tensors[i].reals);
    }
}

static long long get_int(const test_case *tc, const char *name)
{
    int i;
    for (i = 0; i < tc->n_ints; ++i) {
        if (strcmp(tc->int_names[i], name) == 0) {
            return tc->ints[i];
        }
    }
    fprintf(stderr, "%s: missing int parameter '%s'\n", tc->id, name);
    exit(2);
}

static long long get_int_or(const test_case *tc, const char *name, long long fallback)
{
    int i;
    for (i = 0; i < tc->n_ints; ++i) {
        if (strcmp(tc->int_names[i], name) == 0) {
            return tc->ints[i];
        }
    }
    return fallback;
}

static const tensor *find_tensor(const test_case *tc, const char *name)
{
    int i;
    for (i = 0; i < tc->n_tensors; ++i) {
        if (strcmp(tc->tensors[i].name, name) == 0) {
            return &tc->tensors[i];
        }
    }
    return NULL;
}

static const tensor *get_tensor(const test_case *tc, const char *name)
{
    const tensor *t = find_tensor(tc, name);
    if (!t) {
        fprintf(stderr, "%s: missing tensor '%s'\n", tc->id, name);
        exit(2);
    }
    return t;
}

/* Tensor values as freshly allocated arrays of the kernel's types. */
static int8_t *as_int8(const tensor *t)
{
    int8_t *out = malloc((size_t)(t->size > 0 ? t->size : 1));
    long i;
    for (i = 0; i < t->size; ++i) {
        out[i] = (int8_t)t->values[i];
    }
    return out;
}

static int32_t *as_int32(const tensor *t)
{
    int32_t *out;
    long i;
    if (!t) {
        return NULL;
    }
    out = malloc(sizeof(int32_t) * (size_t)(t->size > 0 ? t->size : 1));
    for (i = 0; i < t->size; ++i) {
        out[i] = (int32_t)t->values[i];
    }
    return out;
}

static int16_t *as_int16(const tensor *t)
{
    int16_t *out = malloc(sizeof(int16_t) * (size_t)(t->size > 0 ? t->size : 1));
    long i;
    for (i = 0; i < t->size; ++i) {
        out[i] = (int16_t)t->values[i];
    }
    return out;
}

/* ------------------------------------------------------------------ views */

static int8_t fill_pattern(long i)
{
    return (int8_t)((i * 37 + 11) & 0xff);
}

/* Place a [1,H,W,C] (or [H,W,C]) tensor shape as a window of a buffer:
 * inside its embedding when the case has one, else dense.  The window gets
 * the tensor's values when `values` is non-NULL; everything else holds the
 * fill pattern. */
static placed_view place(const test_case *tc, const char *name, const tensor *shape_of, const tensor *values)
{
    placed_view pv;
    long h, w, c, y, x, ch;
    int i;
    const long *d = shape_of->dims + (shape_of->ndim == 4 ? 1 : 0);
    h = d[0];
    w = d[1];
    c = d[2];
    pv.outer[0] = h;
    pv.outer[1] = w;
    pv.outer[2] = c;
    pv.offset[0] = pv.offset[1] = pv.offset[2] = 0;
    for (i = 0; i < tc->n_embeds; ++i) {
        if (strcmp(tc->embeds[i].name, name) == 0) {
            memcpy(pv.outer, tc->embeds[i].outer, sizeof pv.outer);
            memcpy(pv.offset, tc->embeds[i].offset, sizeof pv.offset);
        }
    }
    pv.buffer_size = pv.outer[0] * pv.outer[1] * pv.outer[2];
    pv.buffer = malloc((size_t)(pv.buffer_size > 0 ? pv.buffer_size : 1));
    for (i = 0; i < pv.buffer_size; ++i) {
        pv.buffer[i] = fill_pattern(i);
    }
    pv.view.data = pv.buffer + (pv.offset[0] * pv.outer[1] + pv.offset[1]) * pv.outer[2] + pv.offset[2];
    pv.view.h = (int32_t)h;
    pv.view.w = (int32_t)w;
    pv.view.c = (int32_t)c;
    pv.view.row_stride = (int32_t)(pv.outer[1] * pv.outer[2]);
    pv.view.col_stride = (int32_t)pv.outer[2];
    if (values) {
        for (y = 0; y < h; ++y) {
            for (x = 0; x < w; ++x) {
                for (ch = 0; ch < c; ++ch) {
                    pv.view.data[y * pv.view.row_stride + x * pv.view.col_stride + ch] =
                        (int8_t)values->values[(y * w + x) * c + ch];
                }
            }
        }
    }
    return pv;
}

static placed_view place_input(const test_case *tc, const char *name)
{
    const tensor *t = get_tensor(tc, name);
    return place(tc, name, t, t);
}

static placed_view place_output(const test_case *tc)
{
    return place(tc, "y", get_tensor(tc, "y"), NULL);
}

/* Window must equal `expected`; bytes outside it must still hold the fill pattern. */
static void check_view(const placed_view *pv, const tensor *expected)
{
    const edgec_view *v = &pv->view;
    long y, x, ch, i, mismatches = 0, first = -1;
    long long got_first = 0, want_first = 0;
    char *inside = calloc((size_t)(pv->buffer_size > 0 ? pv->buffer_size : 1), 1);
    for (y = 0; y < v->h; ++y) {
        for (x = 0; x < v->w; ++x) {
            for (ch = 0; ch < v->c; ++ch) {
                const long pos = (long)(v->data - pv->buffer) + y * v->row_stride + x * v->col_stride + ch;
                const long idx = (y * v->w + x) * v->c + ch;
                inside[pos] = 1;
                if (pv->buffer[pos] != (int8_t)expected->values[idx]) {
                    if (first < 0) {
                        first = idx;
                        got_first = pv->buffer[pos];
                        want_first = expected->values[idx];
                    }
                    ++mismatches;
                }
            }
        }
    }
    if (mismatches) {
        char msg[256];
        snprintf(msg, sizeof msg, "%ld of %ld elements differ; first at flat index %ld (y=%ld x=%ld c=%ld): got %lld, expected %lld",
                 mismatches, (long)(v->h * v->w * v->c), first, first / v->c / v->w, (first / v->c) % v->w,
                 first % v->c, got_first, want_first);
        fail(msg);
    }
    for (i = 0; i < pv->buffer_size; ++i) {
        if (!inside[i] && pv->buffer[i] != fill_pattern(i)) {
            char msg[128];
            snprintf(msg, sizeof msg, "wrote outside the output window (buffer byte %ld)", i);
            fail(msg);
            break;
        }
    }
    free(inside);
}

/* Compare a flat int8 output (fully connected) with the expected tensor. */
static void check_flat(const int8_t *got, const tensor *expected)
{
    long i;
    for (i = 0; i < expected->size; ++i) {
        if (got[i] != (int8_t)expected->values[i]) {
            char msg[160];
            snprintf(msg, sizeof msg, "element %ld of %ld: got %d, expected %lld", i, expected->size, got[i],
                     expected->values[i]);
            fail(msg);
            return;
        }
    }
}

/* ------------------------------------------------------------------ ops */

static void run_primitives(const test_case *tc)
{
    const tensor *x = get_tensor(tc, "x"), *mult = get_tensor(tc, "mult"), *shift = get_tensor(tc, "shift");
    const tensor *y = get_tensor(tc, "y"), *a = get_tensor(tc, "a"), *b = get_tensor(tc, "b");
    const tensor *srdhm = get_tensor(tc, "srdhm"), *e = get_tensor(tc, "e"), *rdbpot = get_tensor(tc, "rdbpot");
    long i;
    char msg[200];
    for (i = 0; i < x->size; ++i) {
        const int32_t got = edgec_multiply_by_quantized_multiplier((int32_t)x->values[i], (int32_t)mult->values[i],
                                                                   (int32_t)shift->values[i]);
        if (got != y->values[i]) {
            snprintf(msg, sizeof msg, "mbqm(%lld, %lld, %lld) = %ld, expected %lld", x->values[i], mult->values[i],
                     shift->values[i], (long)got, y->values[i]);
            fail(msg);
            return;
        }
    }
    for (i = 0; i < a->size; ++i) {
        const int32_t got = edgec_saturating_rounding_doubling_high_mul((int32_t)a->values[i], (int32_t)b->values[i]);
        if (got != srdhm->values[i]) {
            snprintf(msg, sizeof msg, "srdhm(%lld, %lld) = %ld, expected %lld", a->values[i], b->values[i], (long)got,
                     srdhm->values[i]);
            fail(msg);
            return;
        }
    }
    for (i = 0; i < a->size; ++i) {
        const int32_t got = edgec_rounding_divide_by_pot((int32_t)a->values[i], (int32_t)e->values[i]);
        if (got != rdbpot->values[i]) {
            snprintf(msg, sizeof msg, "rdbpot(%lld, %lld) = %ld, expected %lld", a->values[i], e->values[i],
                     (long)got, rdbpot->values[i]);
            fail(msg);
            return;
        }
    }
}

static void run_conv(const test_case *tc, int depthwise, int direct_1x1)
{
    const tensor *wt = get_tensor(tc, "w");
    placed_view in = place_input(tc, "x");
    placed_view out = place_output(tc);
    int8_t *w = as_int8(wt);
    int32_t *bias = as_int32(find_tensor(tc, "bias"));
    int32_t *mult = as_int32(get_tensor(tc, "out_mult"));
    int32_t *shift = as_int32(get_tensor(tc, "out_shift"));

    if (depthwise) {
        edgec_depthwise_params p;
        memset(&p, 0, sizeof p);
        p.kernel_h = (int16_t)wt->dims[1];
        p.kernel_w = (int16_t)wt->dims[2];
        p.stride_h = (int16_t)get_int(tc, "stride_h");
        p.stride_w = (int16_t)get_int(tc, "stride_w");
        p.dilation_h = (int16_t)get_int(tc, "dilation_h");
        p.dilation_w = (int16_t)get_int(tc, "dilation_w");
        p.pad_top = (int16_t)get_int(tc, "pad_top");
        p.pad_left = (int16_t)get_int(tc, "pad_left");
        p.pad_bottom = (int16_t)get_int(tc, "pad_bottom");
        p.pad_right = (int16_t)get_int(tc, "pad_right");
        p.depth_multiplier = (int16_t)get_int(tc, "depth_multiplier");
        p.input_offset = (int32_t)get_int(tc, "input_offset");
        p.output_offset = (int32_t)get_int(tc, "output_offset");
        p.out_mult = mult;
        p.out_shift = shift;
        p.act_min = (int8_t)get_int(tc, "act_min");
        p.act_max = (int8_t)get_int(tc, "act_max");
        p.fast_requant = (uint8_t)get_int_or(tc, "fast_requant", 0);
        if (depthwise == 2) {
            /* DSP variant on the build-time layout (malloc'd, so 4-byte aligned) */
            int16_t *wl = as_int16(get_tensor(tc, "wl"));
            switch (get_int(tc, "entry")) {
            case 3:
                edgec_depthwise_conv2d_3x3_dsp(&in.view, &out.view, wl, bias, &p);
                break;
            case 5:
                edgec_depthwise_conv2d_5x5_dsp(&in.view, &out.view, wl, bias, &p);
                break;
            case 7:
                edgec_depthwise_conv2d_7x7_dsp(&in.view, &out.view, wl, bias, &p);
                break;
            default:
                edgec_depthwise_conv2d_dsp(&in.view, &out.view, wl, bias, &p);
                break;
            }
            free(wl);
        } else {
            edgec_depthwise_conv2d(&in.view, &out.view, w, bias, &p);
        }
    } else {
        edgec_conv_params p;
        memset(&p, 0, sizeof p);
        p.kernel_h = (int16_t)wt->dims[1];
        p.kernel_w = (int16_t)wt->dims[2];
        p.stride_h = (int16_t)get_int(tc, "stride_h");
        p.stride_w = (int16_t)get_int(tc, "stride_w");
        p.dilation_h = (int16_t)get_int(tc, "dilation_h");
        p.dilation_w = (int16_t)get_int(tc, "dilation_w");
        p.pad_top = (int16_t)get_int(tc, "pad_top");
        p.pad_left = (int16_t)get_int(tc, "pad_left");
        p.pad_bottom = (int16_t)get_int(tc, "pad_bottom");
        p.pad_right = (int16_t)get_int(tc, "pad_right");
        p.groups = (int16_t)get_int(tc, "groups");
        p.input_offset = (int32_t)get_int(tc, "input_offset");
        p.output_offset = (int32_t)get_int(tc, "output_offset");
        p.out_mult = mult;
        p.out_shift = shift;
        p.act_min = (int8_t)get_int(tc, "act_min");
        p.act_max = (int8_t)get_int(tc, "act_max");
        if (direct_1x1) {
            edgec_conv2d_1x1(&in.view, &out.view, w, bias, &p);
        } else {
            edgec_conv2d(&in.view, &out.view, w, bias, &p);
        }
    }
    check_view(&out, get_tensor(tc, "y"));
    free(in.buffer);
    free(out.buffer);
    free(w);
    free(bias);
    free(mult);
    free(shift);
}

/* In-place depthwise: one buffer holds the dense input and receives the dense
 * output; guard bytes surround it and the scratch ring.  The output must
 * equal the numpy twin's, buffer[OH*OW*C .. H*W*C) must still hold the input,
 * and no guard byte may change.  The kernel runs twice, over scratch filled
 * with two different patterns: what it leaves in a scratch byte it writes
 * does not depend on the fill, so a byte holding its fill after both runs
 * was never written -- the planner's scratch size must be exactly the bytes
 * the kernel writes. */
#define INPLACE_GUARD 64

/* First byte of block[from .. to) that no longer holds the fill pattern (xor salt), or -1. */
static long first_changed(const int8_t *block, long from, long to, int salt)
{
    long i;
    for (i = from; i < to; ++i) {
        if (block[i] != (int8_t)(fill_pattern(i) ^ salt)) {
            return i;
        }
    }
    return -1;
}

/* Whether an in-place run left every byte of the planner's scratch as it was in both runs: the MVE
 * kernel's sixteen-channel blocks keep their ring on the stack (depthwise_pairs_mve.c).  Only the
 * MVE build allows it; a kernel that uses the scratch must use all of it. */
static int ring_on_stack(const int8_t *first_scratch, const int8_t *scratch_block, long scratch_size,
                         const int *salts)
{
#ifdef EDGEC_VECTORS_MVE
    long i;
    for (i = INPLACE_GUARD; i < INPLACE_GUARD + scratch_size; ++i) {
        if (first_scratch[i] != (int8_t)(fill_pattern(i) ^ salts[0]) ||
            scratch_block[i] != (int8_t)(fill_pattern(i) ^ salts[1])) {
            return 0;
        }
    }
    return 1;
#else
    (void)first_scratch;
    (void)scratch_block;
    (void)scratch_size;
    (void)salts;
    return 0;
#endif
}

static void run_depthwise_inplace(const test_case *tc, int dsp)
{
    static const int salts[2] = {0x5a, 0x33};
    const tensor *x = get_tensor(tc, "x"), *y = get_tensor(tc, "y"), *wt = get_tensor(tc, "w");
    const long h = x->dims[1], w = x->dims[2], c = x->dims[3];
    const long oh = y->dims[1], ow = y->dims[2];
    const long in_size = h * w * c, out_size = oh * ow * c;
    const long scratch_size = (long)get_int(tc, "scratch_size");
    const long total = in_size + 2 * INPLACE_GUARD, stotal = scratch_size + 2 * INPLACE_GUARD;
    int8_t *weights = as_int8(wt);
    int32_t *bias = as_int32(find_tensor(tc, "bias"));
    int32_t *mult = as_int32(get_tensor(tc, "out_mult"));
    int32_t *shift = as_int32(get_tensor(tc, "out_shift"));
    int8_t *block = malloc((size_t)total);
    int8_t *scratch_block = malloc((size_t)stotal);
    int8_t *first_scratch = malloc((size_t)stotal);
    int8_t *buffer = block + INPLACE_GUARD;
    int8_t *scratch = scratch_block + INPLACE_GUARD;
    edgec_depthwise_params p;
    char msg[200];
    long i;
    int run;

    memset(&p, 0, sizeof p);
    p.kernel_h = (int16_t)wt->dims[1];
    p.kernel_w = (int16_t)wt->dims[2];
    p.stride_h = (int16_t)get_int(tc, "stride_h");
    p.stride_w = (int16_t)get_int(tc, "stride_w");
    p.dilation_h = (int16_t)get_int(tc, "dilation_h");
    p.dilation_w = (int16_t)get_int(tc, "dilation_w");
    p.pad_top = (int16_t)get_int(tc, "pad_top");
    p.pad_left = (int16_t)get_int(tc, "pad_left");
    p.pad_bottom = (int16_t)get_int(tc, "pad_bottom");
    p.pad_right = (int16_t)get_int(tc, "pad_right");
    p.depth_multiplier = (int16_t)get_int(tc, "depth_multiplier");
    p.input_offset = (int32_t)get_int(tc, "input_offset");
    p.output_offset = (int32_t)get_int(tc, "output_offset");
    p.out_mult = mult;
    p.out_shift = shift;
    p.act_min = (int8_t)get_int(tc, "act_min");
    p.act_max = (int8_t)get_int(tc, "act_max");
    p.fast_requant = (uint8_t)get_int_or(tc, "fast_requant", 0);

    if (edgec_depthwise_inplace_scratch_size((int32_t)h, (int32_t)w, &p) != scratch_size) {
        snprintf(msg, sizeof msg, "edgec_depthwise_inplace_scratch_size = %ld, the planner's size is %ld",
                 (long)edgec_depthwise_inplace_scratch_size((int32_t)h, (int32_t)w, &p), scratch_size);
        fail(msg);
    }
    for (run = 0; run < 2; ++run) {
        const int salt = salts[run];
        for (i = 0; i < total; ++i) {
            block[i] = fill_pattern(i);
        }
        for (i = 0; i < stotal; ++i) {
            scratch_block[i] = (int8_t)(fill_pattern(i) ^ salt);
        }
        for (i = 0; i < in_size; ++i) {
            buffer[i] = (int8_t)x->values[i];
        }

        if (dsp) {
            edgec_depthwise_conv2d_inplace_dsp(buffer, (int32_t)h, (int32_t)w, (int32_t)c, (int32_t)oh, (int32_t)ow,
                                               scratch, weights, bias, &p);
        } else {
            edgec_depthwise_conv2d_inplace(buffer, (int32_t)h, (int32_t)w, (int32_t)c, (int32_t)oh, (int32_t)ow,
                                           scratch, weights, bias, &p);
        }

        for (i = 0; i < out_size; ++i) {
            if (buffer[i] != (int8_t)y->values[i]) {
                long mismatches = 0, j;
                for (j = i; j < out_size; ++j) {
                    mismatches += buffer[j] != (int8_t)y->values[j];
                }
                snprintf(msg, sizeof msg,
                         "%ld of %ld elements differ; first at flat index %ld (y=%ld x=%ld c=%ld): got %d, "
                         "expected %lld",
                         mismatches, out_size, i, i / c / ow, (i / c) % ow, i % c, buffer[i], y->values[i]);
                fail(msg);
                break;
            }
        }
        for (i = out_size; i < in_size; ++i) {
            if (buffer[i] != (int8_t)x->values[i]) {
                snprintf(msg, sizeof msg, "overwrote buffer byte %ld past the output (%ld bytes) of a %ld-byte input",
                         i, out_size, in_size);
                fail(msg);
                break;
            }
        }
        {
            long bad = first_changed(block, 0, INPLACE_GUARD, 0);
            if (bad < 0) {
                bad = first_changed(block, INPLACE_GUARD + in_size, total, 0);
            }
            if (bad >= 0) {
                snprintf(msg, sizeof msg, "wrote outside the buffer (byte %ld relative to its start)",
                         bad - INPLACE_GUARD);
                fail(msg);
            }
            bad = first_changed(scratch_block, 0, INPLACE_GUARD, salt);
            if (bad < 0) {
                bad = first_changed(scratch_block, INPLACE_GUARD + scratch_size, stotal, salt);
            }
            if (bad >= 0) {
                snprintf(msg, sizeof msg, "wrote outside the %ld-byte scratch ring (byte %ld relative to its start)",
                         scratch_size, bad - INPLACE_GUARD);
                fail(msg);
            }
        }
        if (run == 0) {
            memcpy(first_scratch, scratch_block, (size_t)stotal);
        }
    }
    for (i = INPLACE_GUARD; i < INPLACE_GUARD + scratch_size; ++i) {
        if (i == INPLACE_GUARD && ring_on_stack(first_scratch, scratch_block, scratch_size, salts)) {
            break;
        }
        if (first_scratch[i] == (int8_t)(fill_pattern(i) ^ salts[0]) &&
            scratch_block[i] == (int8_t)(fill_pattern(i) ^ salts[1])) {
            snprintf(msg, sizeof msg, "never wrote scratch byte %ld of %ld: the scratch size is larger than needed",
                     i - INPLACE_GUARD, scratch_size);
            fail(msg);
            break;
        }
    }
    free(block);
    free(scratch_block);
    free(first_scratch);
    free(weights);
    free(bias);
    free(mult);
    free(shift);
}

static void run_fully_connected(const test_case *tc)
{
    const tensor *x = get_tensor(tc, "x"), *wt = get_tensor(tc, "w"), *y = get_tensor(tc, "y");
    int8_t *in = as_int8(x), *w = as_int8(wt);
    int8_t *out = malloc((size_t)y->size);
    int32_t *bias = as_int32(find_tensor(tc, "bias"));
    edgec_fc_params p;
    p.in_features = (int32_t)wt->dims[1];
    p.out_features = (int32_t)wt->dims[0];
    p.input_offset = (int32_t)get_int(tc, "input_offset");
    p.output_offset = (int32_t)get_int(tc, "output_offset");
    p.out_scale = get_tensor(tc, "out_scale")->reals;
    p.act_min = (int8_t)get_int(tc, "act_min");
    p.act_max = (int8_t)get_int(tc, "act_max");
    edgec_fully_connected(in, out, (int32_t)x->dims[0], w, bias, &p);
    check_flat(out, y);
    free(in);
    free(w);
    free(out);
    free(bias);
}

static void run_binary(const test_case *tc)
{
    placed_view a = place_input(tc, "a");
    placed_view b = place_input(tc, "b");
    const int inplace = (int)get_int_or(tc, "inplace", 0);
    placed_view out = inplace ? a : place_output(tc);
    if (strcmp(tc->op, "add") == 0 || strcmp(tc->op, "add_dsp") == 0) {
        edgec_add_params p;
        p.a_offset = (int32_t)get_int(tc, "a_offset");
        p.a_mult = (int32_t)get_int(tc, "a_mult");
        p.a_shift = (int32_t)get_int(tc, "a_shift");
        p.b_offset = (int32_t)get_int(tc, "b_offset");
        p.b_mult = (int32_t)get_int(tc, "b_mult");
        p.b_shift = (int32_t)get_int(tc, "b_shift");
        p.left_shift = (int32_t)get_int(tc, "left_shift");
        p.output_offset = (int32_t)get_int(tc, "output_offset");
        p.out_mult = (int32_t)get_int(tc, "out_mult");
        p.out_shift = (int32_t)get_int(tc, "out_shift");
        p.act_min = (int8_t)get_int(tc, "act_min");
        p.act_max = (int8_t)get_int(tc, "act_max");
        if (strcmp(tc->op, "add_dsp") == 0) {
            edgec_add_dsp(&a.view, &b.view, &out.view, &p);
        } else {
            edgec_add(&a.view, &b.view, &out.view, &p);
        }
    } else {
        edgec_mul_params p;
        p.a_offset = (int32_t)get_int(tc, "a_offset");
        p.b_offset = (int32_t)get_int(tc, "b_offset");
        p.output_offset = (int32_t)get_int(tc, "output_offset");
        p.out_mult = (int32_t)get_int(tc, "out_mult");
        p.out_shift = (int32_t)get_int(tc, "out_shift");
        p.act_min = (int8_t)get_int(tc, "act_min");
        p.act_max = (int8_t)get_int(tc, "act_max");
        edgec_mul(&a.view, &b.view, &out.view, &p);
    }
    check_view(&out, get_tensor(tc, "y"));
    if (!inplace) {
        free(out.buffer);
    }
    free(a.buffer);
    free(b.buffer);
}

static void run_pool(const test_case *tc)
{
    placed_view in = place_input(tc, "x");
    placed_view out = place_output(tc);
    edgec_pool_params p;
    p.kernel_h = (int16_t)get_int(tc, "kernel_h");
    p.kernel_w = (int16_t)get_int(tc, "kernel_w");
    p.stride_h = (int16_t)get_int(tc, "stride_h");
    p.stride_w = (int16_t)get_int(tc, "stride_w");
    p.pad_top = (int16_t)get_int(tc, "pad_top");
    p.pad_left = (int16_t)get_int(tc, "pad_left");
    p.pad_bottom = (int16_t)get_int(tc, "pad_bottom");
    p.pad_right = (int16_t)get_int(tc, "pad_right");
    p.act_min = (int8_t)get_int(tc, "act_min");
    p.act_max = (int8_t)get_int(tc, "act_max");
    if (strcmp(tc->op, "max_pool2d") == 0) {
        edgec_max_pool2d(&in.view, &out.view, &p);
    } else {
        edgec_avg_pool2d(&in.view, &out.view, &p);
    }
    check_view(&out, get_tensor(tc, "y"));
    if (strcmp(tc->op, "max_pool2d") == 0) { /* its DSP variant, on a fresh output */
        free(out.buffer);
        out = place_output(tc);
        edgec_max_pool2d_dsp(&in.view, &out.view, &p);
        check_view(&out, get_tensor(tc, "y"));
    }
    free(in.buffer);
    free(out.buffer);
}

/* edgec_move_rows on a copy of x: bytes [src, src + bytes) moved down to dst, then all of it checked. */
static void run_move_rows(const test_case *tc)
{
    int8_t *buffer = as_int8(get_tensor(tc, "x"));
    edgec_move_rows(buffer + get_int(tc, "dst"), buffer + get_int(tc, "src"), (int32_t)get_int(tc, "bytes"));
    check_flat(buffer, get_tensor(tc, "y"));
    free(buffer);
}

static void run_mean(const test_case *tc)
{
    placed_view in = place_input(tc, "x");
    placed_view out = place_output(tc);
    edgec_mean_params p;
    p.reduce_h = (int8_t)get_int(tc, "reduce_h");
    p.reduce_w = (int8_t)get_int(tc, "reduce_w");
    p.reduce_c = (int8_t)get_int(tc, "reduce_c");
    p.input_offset = (int32_t)get_int(tc, "input_offset");
    p.output_offset = (int32_t)get_int(tc, "output_offset");
    p.mult = (int32_t)get_int(tc, "mult");
    p.shift = (int32_t)get_int(tc, "shift");
    edgec_mean(&in.view, &out.view, &p);
    check_view(&out, get_tensor(tc, "y"));
    free(out.buffer); /* its DSP variant, on a fresh output */
    out = place_output(tc);
    edgec_mean_dsp(&in.view, &out.view, &p);
    check_view(&out, get_tensor(tc, "y"));
    free(in.buffer);
    free(out.buffer);
}

static void run_unary(const test_case *tc)
{
    placed_view in = place_input(tc, "x");
    const int inplace = (int)get_int_or(tc, "inplace", 0);
    placed_view out = inplace ? in : place_output(tc);
    const char *op = tc->op;
    if (strcmp(op, "requantize") == 0) {
        edgec_requantize_params p;
        p.input_offset = (int32_t)get_int(tc, "input_offset");
        p.output_offset = (int32_t)get_int(tc, "output_offset");
        p.mult = (int32_t)get_int(tc, "mult");
        p.shift = (int32_t)get_int(tc, "shift");
        edgec_requantize(&in.view, &out.view, &p);
    } else if (strcmp(op, "relu") == 0) {
        edgec_relu_params p;
        p.input_offset = (int32_t)get_int(tc, "input_offset");
        p.output_offset = (int32_t)get_int(tc, "output_offset");
        p.out_mult = (int32_t)get_int(tc, "out_mult");
        p.out_shift = (int32_t)get_int(tc, "out_shift");
        p.act_min = (int8_t)get_int(tc, "act_min");
        p.act_max = (int8_t)get_int(tc, "act_max");
        edgec_relu(&in.view, &out.view, &p);
    } else if (strcmp(op, "clamp") == 0) {
        edgec_clamp(&in.view, &out.view, (int8_t)get_int(tc, "lo"), (int8_t)get_int(tc, "hi"));
    } else if (strcmp(op, "leaky_relu") == 0) {
        edgec_leaky_relu_params p;
        p.input_offset = (int32_t)get_int(tc, "input_offset");
        p.output_offset = (int32_t)get_int(tc, "output_offset");
        p.identity_mult = (int32_t)get_int(tc, "identity_mult");
        p.identity_shift = (int32_t)get_int(tc, "identity_shift");
        p.alpha_mult = (int32_t)get_int(tc, "alpha_mult");
        p.alpha_shift = (int32_t)get_int(tc, "alpha_shift");
        edgec_leaky_relu(&in.view, &out.view, &p);
    } else if (strcmp(op, "lookup_table") == 0) {
        int8_t *table = as_int8(get_tensor(tc, "table"));
        edgec_lookup_table(&in.view, &out.view, table);
        free(table);
    } else if (strcmp(op, "hard_swish") == 0) {
        edgec_hard_swish_params p;
        p.input_zero_point = (int16_t)get_int(tc, "input_zero_point");
        p.output_zero_point = (int16_t)get_int(tc, "output_zero_point");
        p.reluish_multiplier_fixedpoint_int16 = (int16_t)get_int(tc, "reluish_multiplier_fixedpoint_int16");
        p.reluish_multiplier_exponent = (int16_t)get_int(tc, "reluish_multiplier_exponent");
        p.output_multiplier_fixedpoint_int16 = (int16_t)get_int(tc, "output_multiplier_fixedpoint_int16");
        p.output_multiplier_exponent = (int16_t)get_int(tc, "output_multiplier_exponent");
        edgec_hard_swish(&in.view, &out.view, &p);
    } else if (strcmp(op, "softmax") == 0) {
        edgec_softmax_params p;
        p.input_beta_multiplier = (int32_t)get_int(tc, "input_beta_multiplier");
        p.input_beta_left_shift = (int32_t)get_int(tc, "input_beta_left_shift");
        p.diff_min = (int32_t)get_int(tc, "diff_min");
        edgec_softmax(&in.view, &out.view, &p);
    }
    check_view(&out, get_tensor(tc, "y"));
    if (!inplace) {
        free(out.buffer);
    }
    free(in.buffer);
}

static void run_pad(const test_case *tc)
{
    placed_view in = place_input(tc, "x");
    placed_view out = place_output(tc);
    edgec_pad_params p;
    p.pad_top = (int16_t)get_int(tc, "pad_top");
    p.pad_left = (int16_t)get_int(tc, "pad_left");
    p.pad_bottom = (int16_t)get_int(tc, "pad_bottom");
    p.pad_right = (int16_t)get_int(tc, "pad_right");
    p.pad_c_before = (int16_t)get_int(tc, "pad_c_before");
    p.pad_c_after = (int16_t)get_int(tc, "pad_c_after");
    p.value = (int8_t)get_int(tc, "value");
    edgec_pad(&in.view, &out.view, &p);
    check_view(&out, get_tensor(tc, "y"));
    free(in.buffer);
    free(out.buffer);
}

static void run_concat(const test_case *tc)
{
    const int count = (int)get_int(tc, "count");
    placed_view ins[8];
    const edgec_view *views[8];
    placed_view out = place_output(tc);
    int i;
    if (count > 8) {
        fail("too many concat inputs for the runner");
        free(out.buffer);
        return;
    }
    for (i = 0; i < count; ++i) {
        char name[16];
        snprintf(name, sizeof name, "x%d", i);
        ins[i] = place_input(tc, name);
        views[i] = &ins[i].view;
    }
    edgec_concat(views, count, (int32_t)get_int(tc, "axis"), &out.view);
    check_view(&out, get_tensor(tc, "y"));
    for (i = 0; i < count; ++i) {
        free(ins[i].buffer);
    }
    free(out.buffer);
}

static void run_resize(const test_case *tc)
{
    placed_view in = place_input(tc, "x");
    placed_view out = place_output(tc);
    edgec_resize_nearest(&in.view, &out.view);
    check_view(&out, get_tensor(tc, "y"));
    free(in.buffer);
    free(out.buffer);
}

static void run_strided_slice(const test_case *tc)
{
    placed_view in = place_input(tc, "x");
    placed_view out = place_output(tc);
    edgec_slice_params p;
    p.begin_h = (int32_t)get_int(tc, "begin_h");
    p.begin_w = (int32_t)get_int(tc, "begin_w");
    p.begin_c = (int32_t)get_int(tc, "begin_c");
    p.stride_h = (int32_t)get_int(tc, "stride_h");
    p.stride_w = (int32_t)get_int(tc, "stride_w");
    p.stride_c = (int32_t)get_int(tc, "stride_c");
    edgec_strided_slice(&in.view, &out.view, &p);
    check_view(&out, get_tensor(tc, "y"));
    free(in.buffer);
    free(out.buffer);
}

static void run_gather(const test_case *tc)
{
    placed_view in = place_input(tc, "x");
    placed_view out = place_output(tc);
    const tensor *idx = get_tensor(tc, "indices");
    int32_t *indices = malloc(sizeof(int32_t) * (size_t)idx->size);
    long i;
    for (i = 0; i < idx->size; ++i) {
        indices[i] = (int32_t)idx->values[i];
    }
    edgec_gather(&in.view, &out.view, (int32_t)get_int(tc, "axis"), indices);
    check_view(&out, get_tensor(tc, "y"));
    free(indices);
    free(in.buffer);
    free(out.buffer);
}

static void run_reduce_max(const test_case *tc)
{
    placed_view in = place_input(tc, "x");
    placed_view out = place_output(tc);
    edgec_reduce_max_params p;
    p.reduce_h = (int8_t)get_int(tc, "reduce_h");
    p.reduce_w = (int8_t)get_int(tc, "reduce_w");
    p.reduce_c = (int8_t)get_int(tc, "reduce_c");
    edgec_reduce_max(&in.view, &out.view, &p);
    check_view(&out, get_tensor(tc, "y"));
    free(in.buffer);
    free(out.buffer);
}

static void run_maximum_minimum(const test_case *tc)
{
    placed_view a = place_input(tc, "a");
    placed_view b = place_input(tc, "b");
    const int inplace = (int)get_int_or(tc, "inplace", 0);
    placed_view out = inplace ? a : place_output(tc);
    if (strcmp(tc->op, "maximum") == 0) {
        edgec_maximum(&a.view, &b.view, &out.view);
    } else {
        edgec_minimum(&a.view, &b.view, &out.view);
    }
    check_view(&out, get_tensor(tc, "y"));
    if (!inplace) {
        free(out.buffer);
    }
    free(a.buffer);
    free(b.buffer);
}

static void run_transpose_conv(const test_case *tc)
{
    const tensor *wt = get_tensor(tc, "w");
    placed_view in = place_input(tc, "x");
    placed_view out = place_output(tc);
    int8_t *w = as_int8(wt);
    int32_t *bias = as_int32(find_tensor(tc, "bias"));
    int32_t *mult = as_int32(get_tensor(tc, "out_mult"));
    int32_t *shift = as_int32(get_tensor(tc, "out_shift"));
    edgec_transpose_conv_params p;
    memset(&p, 0, sizeof p);
    p.kernel_h = (int16_t)wt->dims[1];
    p.kernel_w = (int16_t)wt->dims[2];
    p.stride_h = (int16_t)get_int(tc, "stride_h");
    p.stride_w = (int16_t)get_int(tc, "stride_w");
    p.dilation_h = (int16_t)get_int(tc, "dilation_h");
    p.dilation_w = (int16_t)get_int(tc, "dilation_w");
    p.pad_top = (int16_t)get_int(tc, "pad_top");
    p.pad_left = (int16_t)get_int(tc, "pad_left");
    p.input_offset = (int32_t)get_int(tc, "input_offset");
    p.output_offset = (int32_t)get_int(tc, "output_offset");
    p.out_mult = mult;
    p.out_shift = shift;
    p.act_min = (int8_t)get_int(tc, "act_min");
    p.act_max = (int8_t)get_int(tc, "act_max");
    edgec_transpose_conv2d(&in.view, &out.view, w, bias, &p);
    check_view(&out, get_tensor(tc, "y"));
    free(in.buffer);
    free(out.buffer);
    free(w);
    free(bias);
    free(mult);
    free(shift);
}

static void run_prelu(const test_case *tc)
{
    placed_view in = place_input(tc, "x");
    placed_view alpha = place_input(tc, "alpha");
    const int inplace = (int)get_int_or(tc, "inplace", 0);
    placed_view out = inplace ? in : place_output(tc);
    edgec_prelu_params p;
    p.input_offset = (int32_t)get_int(tc, "input_offset");
    p.alpha_offset = (int32_t)get_int(tc, "alpha_offset");
    p.output_offset = (int32_t)get_int(tc, "output_offset");
    p.identity_mult = (int32_t)get_int(tc, "identity_mult");
    p.identity_shift = (int32_t)get_int(tc, "identity_shift");
    p.alpha_mult = (int32_t)get_int(tc, "alpha_mult");
    p.alpha_shift = (int32_t)get_int(tc, "alpha_shift");
    edgec_prelu(&in.view, &alpha.view, &out.view, &p);
    check_view(&out, get_tensor(tc, "y"));
    if (!inplace) {
        free(out.buffer);
    }
    free(in.buffer);
    free(alpha.buffer);
}

static void run_resize_bilinear(const test_case *tc)
{
    placed_view in = place_input(tc, "x");
    placed_view out = place_output(tc);
    edgec_resize_bilinear_params p;
    p.align_corners = (int8_t)get_int(tc, "align_corners");
    p.half_pixel_centers = (int8_t)get_int(tc, "half_pixel_centers");
    edgec_resize_bilinear(&in.view, &out.view, &p);
    check_view(&out, get_tensor(tc, "y"));
    free(in.buffer);
    free(out.buffer);
}

static void run_space_depth(const test_case *tc)
{
    placed_view in = place_input(tc, "x");
    placed_view out = place_output(tc);
    const int32_t block = (int32_t)get_int(tc, "block_size");
    if (strcmp(tc->op, "depth_to_space") == 0) {
        edgec_depth_to_space(&in.view, &out.view, block, (int32_t)get_int(tc, "crd"));
    } else {
        edgec_space_to_depth(&in.view, &out.view, block);
    }
    check_view(&out, get_tensor(tc, "y"));
    free(in.buffer);
    free(out.buffer);
}

static void run_squared_difference(const test_case *tc)
{
    placed_view a = place_input(tc, "a");
    placed_view b = place_input(tc, "b");
    const int inplace = (int)get_int_or(tc, "inplace", 0);
    placed_view out = inplace ? a : place_output(tc);
    edgec_squared_difference_params p;
    p.a_offset = (int32_t)get_int(tc, "a_offset");
    p.a_mult = (int32_t)get_int(tc, "a_mult");
    p.a_shift = (int32_t)get_int(tc, "a_shift");
    p.b_offset = (int32_t)get_int(tc, "b_offset");
    p.b_mult = (int32_t)get_int(tc, "b_mult");
    p.b_shift = (int32_t)get_int(tc, "b_shift");
    p.left_shift = (int32_t)get_int(tc, "left_shift");
    p.output_offset = (int32_t)get_int(tc, "output_offset");
    p.out_mult = (int32_t)get_int(tc, "out_mult");
    p.out_shift = (int32_t)get_int(tc, "out_shift");
    edgec_squared_difference(&a.view, &b.view, &out.view, &p);
    check_view(&out, get_tensor(tc, "y"));
    if (!inplace) {
        free(out.buffer);
    }
    free(a.buffer);
    free(b.buffer);
}

static void run_l2_normalization(const test_case *tc)
{
    placed_view in = place_input(tc, "x");
    placed_view out = place_output(tc);
    edgec_l2_normalization(&in.view, &out.view, (int32_t)get_int(tc, "input_zero_point"));
    check_view(&out, get_tensor(tc, "y"));
    free(in.buffer);
    free(out.buffer);
}

/* rq_fast against TFLite's MultiplyByQuantizedMultiplier (expected values from the numpy twin). */
static void run_requant_fast(const test_case *tc)
{
    const tensor *acc = get_tensor(tc, "acc"), *mult = get_tensor(tc, "mult"), *shift = get_tensor(tc, "shift");
    const tensor *y = get_tensor(tc, "y");
    long i;
    char msg[200];
    for (i = 0; i < acc->size; ++i) {
        const int32_t got = rq_fast((int32_t)acc->values[i], (int32_t)mult->values[i], (int32_t)shift->values[i]);
        if (got != y->values[i]) {
            snprintf(msg, sizeof msg, "rq_fast(%lld, %lld, %lld) = %ld, expected %lld", acc->values[i],
                     mult->values[i], shift->values[i], (long)got, y->values[i]);
            fail(msg);
            return;
        }
    }
}

/* conv2d, DSP variant: the oc4 blocks (weights and per-channel constants) come with the case;
 * int8_layout: the compact variant and its oc4 int8 blocks. */
static void run_conv_dsp(const test_case *tc, int int8_layout)
{
    const tensor *wt = get_tensor(tc, "w");
    placed_view in = place_input(tc, "x");
    placed_view out = place_output(tc);
    int32_t *blocks = as_int32(get_tensor(tc, "blocks"));
    edgec_conv_params p;
    memset(&p, 0, sizeof p);
    p.kernel_h = (int16_t)wt->dims[1];
    p.kernel_w = (int16_t)wt->dims[2];
    p.stride_h = (int16_t)get_int(tc, "stride_h");
    p.stride_w = (int16_t)get_int(tc, "stride_w");
    p.dilation_h = (int16_t)get_int(tc, "dilation_h");
    p.dilation_w = (int16_t)get_int(tc, "dilation_w");
    p.pad_top = (int16_t)get_int(tc, "pad_top");
    p.pad_left = (int16_t)get_int(tc, "pad_left");
    p.pad_bottom = (int16_t)get_int(tc, "pad_bottom");
    p.pad_right = (int16_t)get_int(tc, "pad_right");
    p.groups = 1;
    p.input_offset = (int32_t)get_int(tc, "input_offset");
    p.output_offset = (int32_t)get_int(tc, "output_offset");
    p.act_min = (int8_t)get_int(tc, "act_min");
    p.act_max = (int8_t)get_int(tc, "act_max");
    p.fast_requant = (uint8_t)get_int(tc, "fast_requant");
    if (int8_layout) {
        edgec_conv2d_dsp_int8(&in.view, &out.view, blocks, &p);
    } else {
        edgec_conv2d_dsp(&in.view, &out.view, blocks, &p);
    }
    check_view(&out, get_tensor(tc, "y"));
    free(in.buffer);
    free(out.buffer);
    free(blocks);
}

static void run_fully_connected_dsp(const test_case *tc, int int8_layout)
{
    const tensor *x = get_tensor(tc, "x"), *wt = get_tensor(tc, "w"), *y = get_tensor(tc, "y");
    int8_t *in = as_int8(x);
    int8_t *out = malloc((size_t)y->size);
    int32_t *blocks = as_int32(get_tensor(tc, "blocks"));
    edgec_fc_params p;
    p.in_features = (int32_t)wt->dims[1];
    p.out_features = (int32_t)wt->dims[0];
    p.input_offset = (int32_t)get_int(tc, "input_offset");
    p.output_offset = (int32_t)get_int(tc, "output_offset");
    p.out_scale = get_tensor(tc, "out_scale")->reals;
    p.act_min = (int8_t)get_int(tc, "act_min");
    p.act_max = (int8_t)get_int(tc, "act_max");
    if (int8_layout) {
        edgec_fully_connected_dsp_int8(in, out, (int32_t)x->dims[0], blocks, &p);
    } else {
        edgec_fully_connected_dsp(in, out, (int32_t)x->dims[0], blocks, &p);
    }
    check_flat(out, y);
    free(in);
    free(blocks);
    free(out);
}

static int run_case(const test_case *tc)
{
    const char *op = tc->op;
    failure[0] = '\0';
    if (strcmp(op, "primitives") == 0) {
        run_primitives(tc);
    } else if (strcmp(op, "conv2d") == 0) {
        run_conv(tc, 0, 0);
    } else if (strcmp(op, "conv2d_1x1") == 0) {
        run_conv(tc, 0, 1);
    } else if (strcmp(op, "depthwise_conv2d") == 0) {
        run_conv(tc, 1, 0);
    } else if (strcmp(op, "depthwise_conv2d_dsp") == 0) {
        run_conv(tc, 2, 0);
    } else if (strcmp(op, "depthwise_conv2d_inplace") == 0) {
        run_depthwise_inplace(tc, 0);
    } else if (strcmp(op, "depthwise_conv2d_inplace_dsp") == 0) {
        run_depthwise_inplace(tc, 1);
    } else if (strcmp(op, "requant_fast") == 0) {
        run_requant_fast(tc);
    } else if (strcmp(op, "conv2d_dsp") == 0 || strcmp(op, "conv2d_dsp_int8") == 0) {
        run_conv_dsp(tc, strcmp(op, "conv2d_dsp_int8") == 0);
    } else if (strcmp(op, "fully_connected_dsp") == 0 || strcmp(op, "fully_connected_dsp_int8") == 0) {
        run_fully_connected_dsp(tc, strcmp(op, "fully_connected_dsp_int8") == 0);
    } else if (strcmp(op, "fully_connected") == 0) {
        run_fully_connected(tc);
    } else if (strcmp(op, "add") == 0 || strcmp(op, "add_dsp") == 0 || strcmp(op, "mul") == 0) {
        run_binary(tc);
    } else if (strcmp(op, "max_pool2d") == 0 || strcmp(op, "avg_pool2d") == 0) {
        run_pool(tc);
    } else if (strcmp(op, "mean") == 0) {
        run_mean(tc);
    } else if (strcmp(op, "requantize") == 0 || strcmp(op, "relu") == 0 || strcmp(op, "clamp") == 0 ||
               strcmp(op, "leaky_relu") == 0 || strcmp(op, "lookup_table") == 0 || strcmp(op, "hard_swish") == 0 ||
               strcmp(op, "softmax") == 0) {
        run_unary(tc);
    } else if (strcmp(op, "pad") == 0) {
        run_pad(tc);
    } else if (strcmp(op, "concat") == 0) {
        run_concat(tc);
    } else if (strcmp(op, "resize_nearest") == 0) {
        run_resize(tc);
    } else if (strcmp(op, "gather") == 0) {
        run_gather(tc);
    } else if (strcmp(op, "reduce_max") == 0) {
        run_reduce_max(tc);
    } else if (strcmp(op, "strided_slice") == 0) {
        run_strided_slice(tc);
    } else if (strcmp(op, "maximum") == 0 || strcmp(op, "minimum") == 0) {
        run_maximum_minimum(tc);
    } else if (strcmp(op, "transpose_conv2d") == 0) {
        run_transpose_conv(tc);
    } else if (strcmp(op, "prelu") == 0) {
        run_prelu(tc);
    } else if (strcmp(op, "resize_bilinear") == 0) {
        run_resize_bilinear(tc);
    } else if (strcmp(op, "depth_to_space") == 0 || strcmp(op, "space_to_depth") == 0) {
        run_space_depth(tc);
    } else if (strcmp(op, "squared_difference") == 0) {
        run_squared_difference(tc);
    } else if (strcmp(op, "l2_normalization") == 0) {
        run_l2_normalization(tc);
    } else if (strcmp(op, "move_rows") == 0) {
        run_move_rows(tc);
    } else {
        fail("unknown op");
    }
    return failure[0] == '\0';
}

int main(int argc, char **argv)
{
    FILE *f;
    test_case *tc;
    int passed = 0, failed = 0;
    if (argc < 2) {
        fprintf(stderr, "usage: %s VECTORS_FILE\n", argv[0]);
        return 2;
    }
    f = fopen(argv[1], "r");
    if (!f) {
        perror(argv[1]);
        return 2;
    }
    tc = malloc(sizeof *tc);
    while (read_case(f, tc)) {
        if (run_case(tc)) {
            printf("PASS %s %s\n", tc->id, tc->op);
            ++passed;
        } else {
            printf("FAIL %s %s: %s\n", tc->id, tc->op, failure);
            ++failed;
        }
        free_case(tc);
    }
    fclose(f);
    free(tc);
    printf("%d passed, %d failed\n", passed, failed);
    return failed == 0 && passed > 0 ? 0 : 1;
}
