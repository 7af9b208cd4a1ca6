/*
 * Host runner for an edgec build: reads raw int8 input from a file, runs the
 * model `repeat` times and writes the raw int8 output to a file.
 *
 *   edgec_model INPUT.bin OUTPUT.bin [repeat]
 *
 * With repeat > 1 it also prints the median wall time per inference in
 * microseconds (used by bench/host_speed.py).
 */
#define _POSIX_C_SOURCE 199309L
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "model.h"

static int8_t input[EDGEC_INPUT_SIZE];
static int8_t output[EDGEC_OUTPUT_SIZE];

static int read_exact(const char *path, int8_t *buf, size_t size)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        fprintf(stderr, "cannot open %s\n", path);
        return -1;
    }
    size_t got = fread(buf, 1, size, f);
    int extra = fgetc(f);
    fclose(f);
    if (got != size || extra != EOF) {
        fprintf(stderr, "%s: expected exactly %zu bytes\n", path, size);
        return -1;
    }
    return 0;
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
        fprintf(stderr, "usage: %s INPUT.bin OUTPUT.bin [repeat]\n", argv[0]);
        return 2;
    }
    int repeat = argc > 3 ? atoi(argv[3]) : 1;
    if (repeat < 1)
        repeat = 1;
    if (read_exact(argv[1], input, sizeof input) != 0)
        return 2;

    double *times = malloc(sizeof(double) * (size_t)repeat);
    if (times == NULL)
        return 1;
    for (int i = 0; i < repeat; i++) {
        double start = now_us();
        edgec_model_run(input, output);
        times[i] = now_us() - start;
    }
    if (repeat > 1) {
        qsort(times, (size_t)repeat, sizeof(double), compare_double);
        printf("median_us %.3f\n", times[repeat / 2]);
    }
    free(times);

    FILE *f = fopen(argv[2], "wb");
    if (f == NULL || fwrite(output, 1, sizeof output, f) != sizeof output) {
        fprintf(stderr, "cannot write %s\n", argv[2]);
        return 2;
    }
    fclose(f);
    return 0;
}
