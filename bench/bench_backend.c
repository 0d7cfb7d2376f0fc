/* Backend micro-benchmarks: each op is repeated until it has run for at
 * least MIN_SECONDS, then reported as a rate. A benchmark, never a test. */
#include "bench/bench_backend.h"
#include "bench/bench_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "src/check.h"
#include "src/clock.h"

#define MIN_SECONDS 0.3

typedef struct {
    char name[64];
    char shape[64];
    double seconds_per_call;
    double rate;
    const char *unit;
} bench_row;

typedef enum { OP_GEMM, OP_GEMM_BATCHED, OP_SCALE_ADD, OP_SUM, OP_RNG_NORMAL, OP_SORT } bench_op;

typedef struct {
    bench_op op;
    int64_t m, n, k; /* gemm dims; element ops use m only */
} bench_case;

static void run_once(mz_backend *be, const bench_case *c, float *a, float *b, float *y, int32_t *v) {
    switch (c->op) {
    case OP_GEMM:
        be->gemm(be, false, false, (int)c->m, (int)c->n, (int)c->k, 1.0f, a, (int)c->m, b, (int)c->k, 0.0f, y,
                 (int)c->m);
        break;
    case OP_GEMM_BATCHED:
        be->gemm_strided_batched(be, false, false, (int)c->m, (int)c->n, (int)c->k, 1.0f, a, (int)c->m, 0, b,
                                 (int)c->k, c->k * c->n, 0.0f, y, (int)c->m, c->m * c->n, 64);
        break;
    case OP_SCALE_ADD: be->scale_add(be, c->m, 0.5f, a, 0.5f, y); break;
    case OP_SUM: (void)be->sum(be, c->m, a); break;
    case OP_RNG_NORMAL: be->rng_fill(be, c->m, y, MZ_RNG_NORMAL, 0.0f, 1, 2, 0); break;
    case OP_SORT:
        be->rng_fill(be, c->m, y, MZ_RNG_UNIFORM, 0.0f, 3, 4, 0);
        be->sort_by_key(be, c->m, y, v);
        break;
    }
}

static void measure(mz_backend *be, const bench_case *c, bench_row *row) {
    size_t fa, fb, fy;
    if (c->op == OP_GEMM || c->op == OP_GEMM_BATCHED) {
        int batch = c->op == OP_GEMM_BATCHED ? 64 : 1;
        fa = (size_t)(c->m * c->k);
        fb = (size_t)(c->k * c->n) * batch;
        fy = (size_t)(c->m * c->n) * batch;
    } else {
        fa = fb = fy = (size_t)c->m;
    }
    float *a = (float *)be->alloc(be, fa * sizeof(float));
    float *b = (float *)be->alloc(be, fb * sizeof(float));
    float *y = (float *)be->alloc(be, fy * sizeof(float));
    int32_t *v = (int32_t *)be->alloc(be, (size_t)c->m * sizeof(int32_t));
    be->rng_fill(be, (int64_t)fa, a, MZ_RNG_NORMAL, 0.0f, 7, 0, 0);
    be->rng_fill(be, (int64_t)fb, b, MZ_RNG_NORMAL, 0.0f, 7, 1, 0);
    be->zero(be, y, fy * sizeof(float));
    be->zero(be, v, (size_t)c->m * sizeof(int32_t));
    run_once(be, c, a, b, y, v); /* warm-up */
    be->sync(be);
    long calls = 0;
    double start = mz_clock_seconds(), elapsed = 0.0;
    do {
        run_once(be, c, a, b, y, v);
        calls++;
        if (calls % 4 == 0 || c->op == OP_GEMM) be->sync(be);
        elapsed = mz_clock_seconds() - start;
    } while (elapsed < MIN_SECONDS || calls < 3);
    be->sync(be);
    elapsed = mz_clock_seconds() - start;
    row->seconds_per_call = elapsed / (double)calls;
    double work;
    switch (c->op) {
    case OP_GEMM:
        snprintf(row->name, sizeof row->name, "gemm");
        snprintf(row->shape, sizeof row->shape, "%ldx%ldx%ld", (long)c->m, (long)c->n, (long)c->k);
        work = 2.0 * (double)c->m * (double)c->n * (double)c->k / 1e9;
        row->unit = "GFLOP/s";
        break;
    case OP_GEMM_BATCHED:
        snprintf(row->name, sizeof row->name, "gemm_strided_batched");
        snprintf(row->shape, sizeof row->shape, "64 x %ldx%ldx%ld", (long)c->m, (long)c->n, (long)c->k);
        work = 64 * 2.0 * (double)c->m * (double)c->n * (double)c->k / 1e9;
        row->unit = "GFLOP/s";
        break;
    case OP_SCALE_ADD:
        snprintf(row->name, sizeof row->name, "scale_add");
        snprintf(row->shape, sizeof row->shape, "n=%ld", (long)c->m);
        work = 3.0 * 4.0 * (double)c->m / 1e9; /* read x, y; write y */
        row->unit = "GB/s";
        break;
    case OP_SUM:
        snprintf(row->name, sizeof row->name, "sum");
        snprintf(row->shape, sizeof row->shape, "n=%ld", (long)c->m);
        work = 4.0 * (double)c->m / 1e9;
        row->unit = "GB/s";
        break;
    case OP_RNG_NORMAL:
        snprintf(row->name, sizeof row->name, "rng_fill normal");
        snprintf(row->shape, sizeof row->shape, "n=%ld", (long)c->m);
        work = (double)c->m / 1e6;
        row->unit = "M draws/s";
        break;
    default:
        snprintf(row->name, sizeof row->name, "rng_fill + sort_by_key");
        snprintf(row->shape, sizeof row->shape, "n=%ld", (long)c->m);
        work = (double)c->m / 1e6;
        row->unit = "M keys/s";
        break;
    }
    row->rate = work / row->seconds_per_call;
    be->free(be, a);
    be->free(be, b);
    be->free(be, y);
    be->free(be, v);
}

int mz_bench_backend(mz_backend *be, const char *device_desc, const char *json_path) {
    static const bench_case cases[] = {
        {OP_GEMM, 256, 256, 256},     {OP_GEMM, 1024, 1024, 1024}, {OP_GEMM, 128, 4096, 128},
        {OP_GEMM_BATCHED, 64, 64, 64}, {OP_SCALE_ADD, 1 << 24, 0, 0}, {OP_SUM, 1 << 24, 0, 0},
        {OP_RNG_NORMAL, 1 << 22, 0, 0}, {OP_SORT, 1 << 20, 0, 0},
    };
    enum { N_CASES = sizeof cases / sizeof cases[0] };
    bench_row rows[N_CASES];
    printf("backend benchmark on %s\n", device_desc);
    printf("%-24s %-20s %14s %14s\n", "op", "shape", "ms/call", "rate");
    for (int i = 0; i < N_CASES; i++) {
        measure(be, &cases[i], &rows[i]);
        printf("%-24s %-20s %14.4f %9.2f %s\n", rows[i].name, rows[i].shape, 1e3 * rows[i].seconds_per_call,
               rows[i].rate, rows[i].unit);
        fflush(stdout);
    }
    if (!json_path) return 0;
    cJSON *out = cJSON_CreateObject(), *list = cJSON_AddArrayToObject(out, "rows");
    MZ_CHECK(out && list, "cJSON: out of memory");
    cJSON_AddStringToObject(out, "device", device_desc);
    for (int i = 0; i < N_CASES; i++) {
        cJSON *row = cJSON_CreateObject();
        MZ_CHECK(row, "cJSON: out of memory");
        cJSON_AddStringToObject(row, "op", rows[i].name);
        cJSON_AddStringToObject(row, "shape", rows[i].shape);
        cJSON_AddNumberToObject(row, "seconds_per_call", rows[i].seconds_per_call);
        cJSON_AddNumberToObject(row, "rate", rows[i].rate);
        cJSON_AddStringToObject(row, "unit", rows[i].unit);
        cJSON_AddItemToArray(list, row);
    }
    int rc = mz_bench_write_json(out, json_path, "backend");
    cJSON_Delete(out);
    return rc;
}
