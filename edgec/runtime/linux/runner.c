/*
 * Runner for an edgec Linux build (TVM back end): runs the model on a batch
 * of raw int8 inputs and writes the raw int8 outputs.
 *
 *   edgec_model INPUTS.bin OUTPUTS.bin [repeat]
 *
 * INPUTS.bin holds one or more inputs of EDGEC_INPUT_SIZE bytes back to back;
 * OUTPUTS.bin receives as many outputs of EDGEC_OUTPUT_SIZE bytes.  Each input
 * runs `repeat` times; the runner prints the median wall time of one
 * inference over all runs ("median_us T").  With repeat > 1 the first input
 * runs once more, untimed, before the timed runs: the first inference of a
 * process touches the weights and the arena for the first time (page faults,
 * cold caches) and took about 1.5x a later one (mobilenet_v2_w1.0_r224:
 * 11 ms against 7 ms), which with 2 timed runs was the median.  Built with
 * -DEDGEC_PROFILE, the model's EDGEC_PROFILE_OP hooks time every op and the
 * runner also prints "op_ns K T": the median nanoseconds of op K.
 */
#define _POSIX_C_SOURCE 199309L
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "model.h"
#include "edgec_profile.h"

#ifdef EDGEC_PROFILE
uint32_t edgec_profile_counts[EDGEC_OP_COUNT];
uint32_t edgec_profile_mark;

/* The profiling counter: CLOCK_MONOTONIC in nanoseconds, modulo 2^32. */
uint32_t edgec_counter_read(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint32_t)((uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec);
}
#endif

static double now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static int compare_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *values, size_t count)
{
    qsort(values, count, sizeof(double), compare_double);
    return values[count / 2];
}

/* Reads the whole file; its size must be a positive multiple of `unit`. */
static int8_t *read_inputs(const char *path, size_t unit, size_t *count)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        fprintf(stderr, "cannot open %s\n", path);
        return NULL;
    }
    size_t capacity = unit, size = 0;
    int8_t *data = malloc(capacity);
    size_t got;
    while (data != NULL && (got = fread(data + size, 1, capacity - size, f)) > 0) {
        size += got;
        if (size == capacity) {
            capacity *= 2;
            int8_t *grown = realloc(data, capacity);
            if (grown == NULL)
                free(data);
            data = grown;
        }
    }
    fclose(f);
    if (data == NULL) {
        fprintf(stderr, "out of memory reading %s\n", path);
        return NULL;
    }
    if (size == 0 || size % unit != 0) {
        fprintf(stderr, "%s: expected a multiple of %zu bytes, got %zu\n", path, unit, size);
        free(data);
        return NULL;
    }
    *count = size / unit;
    return data;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s INPUTS.bin OUTPUTS.bin [repeat]\n", argv[0]);
        return 2;
    }
    int repeat = argc > 3 ? atoi(argv[3]) : 1;
    if (repeat < 1)
        repeat = 1;
    size_t count = 0;
    int8_t *inputs = read_inputs(argv[1], EDGEC_INPUT_SIZE, &count);
    if (inputs == NULL)
        return 2;
    size_t runs = count * (size_t)repeat;
    int8_t *outputs = malloc(count * EDGEC_OUTPUT_SIZE);
    double *times = malloc(sizeof(double) * runs);
#ifdef EDGEC_PROFILE
    double *op_times = malloc(sizeof(double) * runs * EDGEC_OP_COUNT);
    if (op_times == NULL)
        return 1;
#endif
    if (outputs == NULL || times == NULL)
        return 1;

    if (repeat > 1) /* warm-up: not timed, its output rewritten below */
        edgec_model_run(inputs, outputs);

    size_t run = 0;
    for (size_t i = 0; i < count; i++) {
        for (int r = 0; r < repeat; r++, run++) {
#ifdef EDGEC_PROFILE
            EDGEC_PROFILE_BEGIN();
#endif
            double start = now_us();
            edgec_model_run(inputs + i * EDGEC_INPUT_SIZE, outputs + i * EDGEC_OUTPUT_SIZE);
            times[run] = now_us() - start;
#ifdef EDGEC_PROFILE
            for (int k = 0; k < EDGEC_OP_COUNT; k++)
                op_times[(size_t)k * runs + run] = edgec_profile_counts[k];
#endif
        }
    }
    printf("median_us %.3f\n", median(times, runs));
#ifdef EDGEC_PROFILE
    for (int k = 0; k < EDGEC_OP_COUNT; k++)
        printf("op_ns %d %.0f\n", k, median(op_times + (size_t)k * runs, runs));
    free(op_times);
#endif

    FILE *f = fopen(argv[2], "wb");
    if (f == NULL || fwrite(outputs, EDGEC_OUTPUT_SIZE, count, f) != count) {
        fprintf(stderr, "cannot write %s\n", argv[2]);
        return 2;
    }
    fclose(f);
    free(outputs);
    free(times);
    free(inputs);
    return 0;
}
