/* gemm and strided-batched gemm on both backends against a naive triple loop
 * in double: all transpose combinations, leading dimensions larger than the
 * matrix (the padding must stay untouched), beta != 0, guard words. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "src/check.h"
#include "tests/test_util.h"

static mz_backend *backend_at(int b) { return b == 0 ? test_cpu_backend() : test_emu_backend(); }

/* C = alpha op(A) op(B) + beta C, column-major, in double. */
static void gemm_reference(bool ta, bool tb, int M, int N, int K, float alpha, const float *A, int lda,
                           const float *B, int ldb, float beta, float *C, int ldc) {
    for (int j = 0; j < N; j++) {
        for (int i = 0; i < M; i++) {
            double acc = 0;
            for (int k = 0; k < K; k++) {
                double a = ta ? A[k + (size_t)i * lda] : A[i + (size_t)k * lda];
                double b = tb ? B[j + (size_t)k * ldb] : B[k + (size_t)j * ldb];
                acc += a * b;
            }
            C[i + (size_t)j * ldc] = (float)(alpha * acc + beta * C[i + (size_t)j * ldc]);
        }
    }
}

typedef struct {
    int M, N, K;
} shape;

static void check_gemm(mz_backend *be, bool ta, bool tb, shape s, int pad, int batch) {
    int a_rows = ta ? s.K : s.M, a_cols = ta ? s.M : s.K;
    int b_rows = tb ? s.N : s.K, b_cols = tb ? s.K : s.N;
    int lda = (a_rows > 0 ? a_rows : 1) + pad, ldb = (b_rows > 0 ? b_rows : 1) + pad, ldc = s.M + pad;
    int64_t sa = (int64_t)lda * a_cols + 5, sb = (int64_t)ldb * b_cols + 3, sc = (int64_t)ldc * s.N + 7;
    size_t na = (size_t)(sa * batch), nb = (size_t)(sb * batch), nc = (size_t)(sc * batch);
    float *A = (float *)mz_malloc(na * sizeof(float)), *B = (float *)mz_malloc(nb * sizeof(float));
    float *C = (float *)mz_malloc(nc * sizeof(float)), *ref = (float *)mz_malloc(nc * sizeof(float));
    float *got = (float *)mz_malloc(nc * sizeof(float));
    fill_normal(A, (int64_t)na, 10);
    fill_normal(B, (int64_t)nb, 11);
    fill_normal(C, (int64_t)nc, 12); /* the padding too: it must come back unchanged */
    memcpy(ref, C, nc * sizeof(float));
    const float alpha = 0.75f, beta = -0.5f;
    for (int b = 0; b < batch; b++)
        gemm_reference(ta, tb, s.M, s.N, s.K, alpha, A + b * sa, lda, B + b * sb, ldb, beta, ref + b * sc, ldc);
    guarded gA = guarded_new(be, na * sizeof(float)), gB = guarded_new(be, nb * sizeof(float));
    guarded gC = guarded_new(be, nc * sizeof(float));
    be->copy_h2d(be, gA.data, A, na * sizeof(float));
    be->copy_h2d(be, gB.data, B, nb * sizeof(float));
    be->copy_h2d(be, gC.data, C, nc * sizeof(float));
    if (batch == 1)
        be->gemm(be, ta, tb, s.M, s.N, s.K, alpha, (const float *)gA.data, lda, (const float *)gB.data, ldb, beta,
                 (float *)gC.data, ldc);
    else
        be->gemm_strided_batched(be, ta, tb, s.M, s.N, s.K, alpha, (const float *)gA.data, lda, sa,
                                 (const float *)gB.data, ldb, sb, beta, (float *)gC.data, ldc, sc, batch);
    be->copy_d2h(be, got, gC.data, nc * sizeof(float));
    if (!guarded_intact(&gC)) fail_msg("gemm on %s wrote outside C", be->name);
    char what[160];
    snprintf(what, sizeof what, "%s gemm%s ta=%d tb=%d M=%d N=%d K=%d pad=%d", be->name, batch > 1 ? "_batched" : "",
             ta, tb, s.M, s.N, s.K, pad);
    /* float accumulation over K terms of unit normals */
    assert_close(ref, got, (int64_t)nc, 1e-5 * sqrt((double)s.K + 1.0) * 4.0, 1e-5, what);
    guarded_free(&gA), guarded_free(&gB), guarded_free(&gC);
    free(A), free(B), free(C), free(ref), free(got);
}

static const shape SHAPES[] = {{1, 1, 1}, {7, 5, 3}, {33, 17, 65}, {64, 1, 100}, {1, 40, 9}, {5, 3, 0}};
#define N_SHAPES ((int)(sizeof SHAPES / sizeof SHAPES[0]))

static void test_gemm_all_transposes(void **state) {
    (void)state;
    for (int b = 0; b < 2; b++)
        for (int t = 0; t < 4; t++)
            for (int s = 0; s < N_SHAPES; s++)
                for (int pad = 0; pad <= 3; pad += 3) check_gemm(backend_at(b), t & 1, t >> 1, SHAPES[s], pad, 1);
}

static void test_gemm_strided_batched(void **state) {
    (void)state;
    for (int b = 0; b < 2; b++)
        for (int t = 0; t < 4; t++)
            for (int s = 0; s < N_SHAPES; s++) check_gemm(backend_at(b), t & 1, t >> 1, SHAPES[s], 2, 3);
}

/* The row-major recipe in src/backend.h: Y[R x C] = X[R x I] W[I x C]. */
static void test_gemm_row_major_recipe(void **state) {
    (void)state;
    enum { R = 5, I = 4, C = 3 };
    float X[R * I], W[I * C], Y[R * C], ref[R * C];
    fill_normal(X, R * I, 20);
    fill_normal(W, I * C, 21);
    for (int r = 0; r < R; r++)
        for (int c = 0; c < C; c++) {
            double acc = 0;
            for (int i = 0; i < I; i++) acc += (double)X[r * I + i] * W[i * C + c];
            ref[r * C + c] = (float)acc;
        }
    for (int b = 0; b < 2; b++) {
        mz_backend *be = backend_at(b);
        float *dX = (float *)be->alloc(be, sizeof X), *dW = (float *)be->alloc(be, sizeof W);
        float *dY = (float *)be->alloc(be, sizeof Y);
        be->copy_h2d(be, dX, X, sizeof X);
        be->copy_h2d(be, dW, W, sizeof W);
        be->gemm(be, false, false, C, R, I, 1.0f, dW, C, dX, I, 0.0f, dY, C);
        be->copy_d2h(be, Y, dY, sizeof Y);
        assert_close(ref, Y, R * C, 1e-5, 1e-5, be->name);
        be->free(be, dX), be->free(be, dW), be->free(be, dY);
    }
}

static int run_group(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gemm_all_transposes),
        cmocka_unit_test(test_gemm_strided_batched),
        cmocka_unit_test(test_gemm_row_major_recipe),
    };
    return MZ_RUN_GROUP("gemm", tests);
}

MZ_TEST_GROUP("gemm", run_group)
