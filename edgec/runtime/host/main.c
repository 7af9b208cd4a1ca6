/*
 * Host runner for an edgec build: reads raw int8 inputs from a file, runs the
 * model on each and writes the raw int8 outputs, in the same order, to a file.
 *
 *   edgec_model INPUTS.bin OUTPUTS.bin [repeat]
 *
 * INPUTS.bin holds N >= 1 inputs back to back (N * EDGEC_INPUT_SIZE bytes);
 * OUTPUTS.bin gets N outputs back to back. `edgec run` passes one input,
 * `edgec validate` a whole data set, so it runs in one process.
 *
 * Each input runs `repeat` times; with repeat > 1 the runner also prints the
 * median wall time per inference in microseconds over all runs (used by
 * bench/host_speed.py), after one untimed warm-up run of the first input: a
 * process's first inference touches the weights and the arena for the first
 * time, and with 2 timed runs that cold run was the median (as in the TVM
 * runner, edgec/runtime/linux/runner.c).
 */
#define _POSIX_C_SOURCE 199309L
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "model.h"

/* The whole file, or NULL; *count gets the number of inputs in it. */
static int8_t *read_inputs(const char *path, size_t *count)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        fprintf(stderr, "cannot open %s\n", path);
        return NULL;
    }
    long size = -1;
    if (fseek(f, 0, SEEK_END) == 0)
        size = ftell(f);
    if (size <= 0 || size % EDGEC_INPUT_SIZE != 0 || fseek(f, 0, SEEK_SET) != 0) {
        fprintf(stderr, "%s: expected a whole number (>= 1) of %d-byte inputs\n", path, EDGEC_INPUT_SIZE);
        fclose(f);
        return NULL;
    }
    int8_t *data = malloc((size_t)size);
    if (data == NULL || fread(data, 1, (size_t)size, f) != (size_t)size) {
        fprintf(stderr, "%s: read failed\n", path);
        free(data);
        fclose(f);
        return NULL;
    }
    fclose(f);
    *count = (size_t)size / EDGEC_INPUT_SIZE;
    return data;
}

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
    int8_t *inputs = read_inputs(argv[1], &count);
    if (inputs == NULL)
        return 2;
    int8_t *outputs = malloc(count * EDGEC_OUTPUT_SIZE);
    double *times = malloc(sizeof(double) * count * (size_t)repeat);
    if (outputs == NULL || times == NULL)
        return 1;

    if (repeat > 1) /* warm-up: not timed, its output rewritten below */
        edgec_model_run(inputs, outputs);

    size_t runs = 0;
    for (size_t n = 0; n < count; n++) {
        for (int i = 0; i < repeat; i++) {
            double start = now_us();
            edgec_model_run(inputs + n * EDGEC_INPUT_SIZE, outputs + n * EDGEC_OUTPUT_SIZE);
            times[runs++] = now_us() - start;
        }
    }
    if (repeat > 1) {
        qsort(times, runs, sizeof(double), compare_double);
        printf("median_us %.3f\n", times[runs / 2]);
    }

    FILE *f = fopen(argv[2], "wb");
    size_t bytes = count * EDGEC_OUTPUT_SIZE;
    if (f == NULL || fwrite(outputs, 1, bytes, f) != bytes) {
        fprintf(stderr, "cannot write %s\n", argv[2]);
        return 2;
    }
    fclose(f);
    free(times);
    free(outputs);
    free(inputs);
    return 0;
}
