/* CPU backend: host memory, OpenMP loops over the single-source bodies,
 * CBLAS (OpenBLAS) for matrix products. */
#include "src/backend.h"

#include <cblas.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "src/backend_ops.h"
#include "src/check.h"

typedef struct {
    size_t bytes_in_use;
} cpu_ctx;

/* Each allocation carries its size in a header so mem_info is exact. */
typedef struct {
    size_t bytes;
    size_t pad; /* keeps the payload 16-byte aligned */
} cpu_header;

static void *cpu_alloc(mz_backend *be, size_t bytes) {
    cpu_ctx *c = (cpu_ctx *)be->ctx;
    cpu_header *h = (cpu_header *)malloc(sizeof(cpu_header) + bytes);
    MZ_CHECK(h, "cpu backend: cannot allocate %zu bytes (%zu already in use)", bytes, c->bytes_in_use);
    h->bytes = bytes;
#pragma omp atomic
    c->bytes_in_use += bytes;
    return h + 1;
}

static void cpu_free(mz_backend *be, void *p) {
    if (!p) return;
    cpu_ctx *c = (cpu_ctx *)be->ctx;
    cpu_header *h = (cpu_header *)p - 1;
#pragma omp atomic
    c->bytes_in_use -= h->bytes;
    free(h);
}

static void cpu_zero(mz_backend *be, void *p, size_t bytes) {
    (void)be;
    if (bytes) memset(p, 0, bytes);
}

static void cpu_copy(mz_backend *be, void *dst, const void *src, size_t bytes) {
    (void)be;
    if (bytes) memmove(dst, src, bytes);
}

static void cpu_sync(mz_backend *be) { (void)be; }

static void cpu_mem_info(mz_backend *be, size_t *used, size_t *total) {
    cpu_ctx *c = (cpu_ctx *)be->ctx;
    long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGE_SIZE);
    if (used) *used = c->bytes_in_use;
    if (total) *total = (pages > 0 && page > 0) ? (size_t)pages * (size_t)page : 0;
}

static void cpu_gemm(mz_backend *be, bool trans_a, bool trans_b, int M, int N, int K, float alpha,
                     const float *A, int lda, const float *B, int ldb, float beta, float *C, int ldc) {
    (void)be;
    if (M == 0 || N == 0) return;
    cblas_sgemm(CblasColMajor, trans_a ? CblasTrans : CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans,
                M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

static void cpu_gemm_strided_batched(mz_backend *be, bool trans_a, bool trans_b, int M, int N, int K,
                                     float alpha, const float *A, int lda, int64_t stride_a,
                                     const float *B, int ldb, int64_t stride_b, float beta, float *C,
                                     int ldc, int64_t stride_c, int batch) {
    /* Sequential over the batch: OpenBLAS threads each product itself and
     * must not be called from inside an OpenMP region. */
    for (int b = 0; b < batch; b++)
        cpu_gemm(be, trans_a, trans_b, M, N, K, alpha, A + b * stride_a, lda, B + b * stride_b, ldb,
                 beta, C + b * stride_c, ldc);
}

static void cpu_axpy(mz_backend *be, int64_t n, float alpha, const float *x, float *y) {
    (void)be;
    for (int64_t done = 0; done < n; done += INT_MAX) {
        int chunk = (int)((n - done) < INT_MAX ? (n - done) : INT_MAX);
        cblas_saxpy(chunk, alpha, x + done, 1, y + done, 1);
    }
}

static void cpu_scal(mz_backend *be, int64_t n, float alpha, float *x) {
    (void)be;
    for (int64_t done = 0; done < n; done += INT_MAX) {
        int chunk = (int)((n - done) < INT_MAX ? (n - done) : INT_MAX);
        cblas_sscal(chunk, alpha, x + done, 1);
    }
}

static void cpu_scale_add(mz_backend *be, int64_t n, float a, const float *x, float b, float *y) {
    (void)be;
#pragma omp parallel for schedule(static) if (n >= MZ_CPU_PARALLEL_MIN)
    for (int64_t i = 0; i < n; i++) scale_add_body(i, a, x, b, y);
}

static float cpu_sum(mz_backend *be, int64_t n, const float *x) {
    (void)be;
    double s = 0.0;
#pragma omp parallel for schedule(static) reduction(+ : s) if (n >= MZ_CPU_PARALLEL_MIN)
    for (int64_t i = 0; i < n; i++) s += x[i];
    return (float)s;
}

static float cpu_max(mz_backend *be, int64_t n, const float *x) {
    (void)be;
    MZ_CHECK(n >= 1, "cpu backend: max of an empty array");
    float m = x[0];
#pragma omp parallel for schedule(static) reduction(max : m) if (n >= MZ_CPU_PARALLEL_MIN)
    for (int64_t i = 1; i < n; i++)
        if (x[i] > m) m = x[i];
    return m;
}

static void cpu_inclusive_scan(mz_backend *be, int64_t n, const float *x, float *out) {
    (void)be;
    float acc = 0.0f; /* float, left to right: the order a sequential scan defines */
    for (int64_t i = 0; i < n; i++) {
        acc += x[i];
        out[i] = acc;
    }
}

typedef struct {
    float key;
    int32_t value;
    int64_t index;
} sort_item;

static int sort_item_cmp(const void *pa, const void *pb) {
    const sort_item *a = (const sort_item *)pa, *b = (const sort_item *)pb;
    if (a->key < b->key) return -1;
    if (a->key > b->key) return 1;
    /* -0.0 before +0.0, as the radix sort Thrust uses on the device orders them */
    if (signbit(a->key) != signbit(b->key)) return signbit(a->key) ? -1 : 1;
    return (a->index > b->index) - (a->index < b->index); /* stable */
}

static void cpu_sort_by_key(mz_backend *be, int64_t n, float *keys, int32_t *values) {
    (void)be;
    if (n <= 1) return;
    sort_item *items = (sort_item *)mz_malloc((size_t)n * sizeof(sort_item));
    for (int64_t i = 0; i < n; i++) {
        items[i].key = keys[i];
        items[i].value = values[i];
        items[i].index = i;
    }
    qsort(items, (size_t)n, sizeof(sort_item), sort_item_cmp);
    for (int64_t i = 0; i < n; i++) {
        keys[i] = items[i].key;
        values[i] = items[i].value;
    }
    free(items);
}

static void cpu_rng_fill(mz_backend *be, int64_t n, float *out, mz_rng_dist dist, float param,
                         uint64_t seed, uint32_t stream, uint64_t offset_base) {
    (void)be;
#pragma omp parallel for schedule(static) if (n >= MZ_CPU_PARALLEL_MIN)
    for (int64_t i = 0; i < n; i++) rng_fill_body(i, out, (int)dist, param, seed, stream, offset_base);
}

static void cpu_rng_dirichlet(mz_backend *be, int64_t rows, int K, float *out, float alpha,
                              uint64_t seed, uint32_t stream, uint64_t offset_base) {
    (void)be;
#pragma omp parallel for schedule(static) if (rows >= MZ_CPU_PARALLEL_MIN)
    for (int64_t r = 0; r < rows; r++) rng_dirichlet_body(r, out, K, alpha, seed, stream, offset_base);
}

static void cpu_destroy(mz_backend *be) {
    if (!be) return;
    free(be->ctx);
    free(be);
}

mz_backend *mz_backend_cpu_create(int threads) {
#ifdef _OPENMP
    if (threads > 0) omp_set_num_threads(threads);
#endif
    if (threads > 0) openblas_set_num_threads(threads);
    mz_backend *be = (mz_backend *)mz_calloc(1, sizeof(mz_backend));
    be->name = "cpu";
    be->kind = MZ_BACKEND_CPU;
    be->device_index = 0;
    be->ctx = mz_calloc(1, sizeof(cpu_ctx));
    be->alloc = cpu_alloc;
    be->free = cpu_free;
    be->zero = cpu_zero;
    be->copy_h2d = cpu_copy;
    be->copy_d2h = cpu_copy;
    be->copy_d2d = cpu_copy;
    be->sync = cpu_sync;
    be->mem_info = cpu_mem_info;
    be->gemm = cpu_gemm;
    be->gemm_strided_batched = cpu_gemm_strided_batched;
    be->axpy = cpu_axpy;
    be->scal = cpu_scal;
    be->scale_add = cpu_scale_add;
    be->sum = cpu_sum;
    be->max = cpu_max;
    be->inclusive_scan = cpu_inclusive_scan;
    be->sort_by_key = cpu_sort_by_key;
    be->rng_fill = cpu_rng_fill;
    be->rng_dirichlet = cpu_rng_dirichlet;
    be->destroy = cpu_destroy;
    return be;
}
