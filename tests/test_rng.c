/* Philox known answers (Random123 kat_vectors), distribution moments on 1e6
 * draws, and reproducibility across streams and thread counts. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "src/check.h"
#include "src/rng.h"
#include "tests/test_util.h"

#define N_DRAWS 1000000
#define PI 3.14159265358979323846

static void test_philox_known_answers(void **state) {
    (void)state;
    static const uint32_t vectors[3][10] = {
        /* ctr[4], key[2], expected[4] */
        {0, 0, 0, 0, 0, 0, 0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8},
        {0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0x408f276d, 0x41c83b0e,
         0xa20bc7c6, 0x6d5451fd},
        {0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344, 0xa4093822, 0x299f31d0, 0xd16cfe09, 0x94fdcceb,
         0x5001e420, 0x24126ea1},
    };
    for (int v = 0; v < 3; v++) {
        uint32_t out[4];
        mz_philox4x32_10(out, vectors[v], vectors[v] + 4);
        for (int i = 0; i < 4; i++) assert_int_equal(out[i], vectors[v][6 + i]);
    }
}

/* The generator's counter layout: (seed, stream, offset) -> key and counter. */
static void test_rng_counter_layout(void **state) {
    (void)state;
    mz_rng r;
    mz_rng_init(&r, 0x299f31d0a4093822ull, 0x03707344u, 0x13198a2e85a308d3ull);
    r.ctr[0] = 0x243f6a88u; /* position, as if 0x243f6a88 blocks were drawn */
    assert_int_equal(mz_rng_u32(&r), 0xd16cfe09);
    assert_int_equal(mz_rng_u32(&r), 0x94fdcceb);
    assert_int_equal(mz_rng_u32(&r), 0x5001e420);
    assert_int_equal(mz_rng_u32(&r), 0x24126ea1);
    assert_int_equal(r.ctr[0], 0x243f6a89u); /* next block */
}

typedef struct {
    double mean, var, min, max;
} moments;

static moments moments_of(const float *x, int64_t n) {
    double s = 0, s2 = 0, lo = INFINITY, hi = -INFINITY;
    for (int64_t i = 0; i < n; i++) {
        s += x[i];
        lo = fmin(lo, x[i]);
        hi = fmax(hi, x[i]);
    }
    double mean = s / (double)n;
    for (int64_t i = 0; i < n; i++) s2 += (x[i] - mean) * (x[i] - mean);
    moments m = {mean, s2 / (double)(n - 1), lo, hi};
    return m;
}

static float *draw(mz_rng_dist dist, float param, uint32_t stream) {
    mz_backend *be = test_cpu_backend();
    float *x = (float *)mz_malloc(N_DRAWS * sizeof(float));
    be->rng_fill(be, N_DRAWS, x, dist, param, 12345, stream, 0);
    for (int64_t i = 0; i < N_DRAWS; i++)
        if (!isfinite(x[i])) fail_msg("draw %lld of distribution %d is not finite", (long long)i, (int)dist);
    return x;
}

/* |got - want| within k standard errors */
static void assert_within(double got, double want, double stderr_, const char *what) {
    if (fabs(got - want) > 5.0 * stderr_)
        fail_msg("%s: got %.6f, want %.6f +- %.6f (5 standard errors)", what, got, want, 5.0 * stderr_);
}

static void test_uniform_moments(void **state) {
    (void)state;
    float *x = draw(MZ_RNG_UNIFORM, 0, 1);
    moments m = moments_of(x, N_DRAWS);
    assert_true(m.min >= 0.0 && m.max < 1.0);
    assert_within(m.mean, 0.5, sqrt(1.0 / 12.0 / N_DRAWS), "uniform mean");
    assert_within(m.var, 1.0 / 12.0, sqrt(1.0 / 180.0 / N_DRAWS), "uniform variance");
    free(x);
}

/* mz_rng_uniform53: in [0, 1), mean 1/2, and finer than the 24-bit draw
 * (some value is not a multiple of 2^-24). */
static void test_uniform53(void **state) {
    (void)state;
    mz_rng r;
    mz_rng_init(&r, 7, 3, 0);
    double sum = 0.0;
    int fine = 0, n = 100000;
    for (int i = 0; i < n; i++) {
        double u = mz_rng_uniform53(&r);
        assert_true(u >= 0.0 && u < 1.0);
        sum += u;
        fine |= u * 16777216.0 != floor(u * 16777216.0);
    }
    assert_within(sum / n, 0.5, sqrt(1.0 / 12.0 / n), "uniform53 mean");
    assert_true(fine);
}

static void test_normal_moments(void **state) {
    (void)state;
    float *x = draw(MZ_RNG_NORMAL, 0, 2);
    moments m = moments_of(x, N_DRAWS);
    assert_within(m.mean, 0.0, sqrt(1.0 / N_DRAWS), "normal mean");
    assert_within(m.var, 1.0, sqrt(2.0 / N_DRAWS), "normal variance");
    int64_t beyond2 = 0;
    for (int64_t i = 0; i < N_DRAWS; i++) beyond2 += fabsf(x[i]) > 2.0f;
    double p = 0.0455003; /* P(|Z| > 2) */
    assert_within((double)beyond2 / N_DRAWS, p, sqrt(p * (1 - p) / N_DRAWS), "normal tail mass");
    free(x);
}

static void test_gumbel_moments(void **state) {
    (void)state;
    float *x = draw(MZ_RNG_GUMBEL, 0, 3);
    moments m = moments_of(x, N_DRAWS);
    double var = PI * PI / 6.0;
    assert_within(m.mean, 0.5772156649, sqrt(var / N_DRAWS), "gumbel mean");
    assert_within(m.var, var, sqrt(var * var * (2.0 + 2.4) / N_DRAWS), "gumbel variance"); /* excess kurtosis 2.4 */
    free(x);
}

static void test_gamma_moments(void **state) {
    (void)state;
    const float alphas[] = {0.03f, 0.3f, 1.0f, 2.5f};
    for (int a = 0; a < 4; a++) {
        float alpha = alphas[a];
        float *x = draw(MZ_RNG_GAMMA, alpha, 4 + (uint32_t)a);
        moments m = moments_of(x, N_DRAWS);
        assert_true(m.min >= 0.0);
        /* Gamma(a): mean a, var a, kurtosis excess 6/a */
        assert_within(m.mean, alpha, sqrt(alpha / N_DRAWS), "gamma mean");
        assert_within(m.var, alpha, sqrt(alpha * alpha * (2.0 + 6.0 / alpha) / N_DRAWS), "gamma variance");
        free(x);
    }
}

static void test_dirichlet(void **state) {
    (void)state;
    enum { ROWS = 200000, K = 5 };
    const float alphas[] = {0.03f, 0.25f, 1.0f};
    mz_backend *be = test_cpu_backend();
    float *x = (float *)mz_malloc(ROWS * K * sizeof(float));
    for (int a = 0; a < 3; a++) {
        be->rng_dirichlet(be, ROWS, K, x, alphas[a], 99, 7, 0);
        double mean0 = 0;
        for (int r = 0; r < ROWS; r++) {
            double s = 0;
            for (int k = 0; k < K; k++) {
                float v = x[r * K + k];
                if (!(v >= 0.0f && v <= 1.0f)) fail_msg("dirichlet row %d has %g", r, v);
                s += v;
            }
            if (fabs(s - 1.0) > 1e-5) fail_msg("dirichlet row %d sums to %.8f", r, s);
            mean0 += x[r * K];
        }
        /* component 0 is Beta(a, (K-1)a): mean 1/K, var (K-1)/(K^2 (K a + 1)) */
        double var = (K - 1.0) / ((double)K * K * (K * alphas[a] + 1.0));
        assert_within(mean0 / ROWS, 1.0 / K, sqrt(var / ROWS), "dirichlet component mean");
    }
    free(x);
}

static void test_categorical(void **state) {
    (void)state;
    const float w[5] = {0.1f, 0.0f, 2.0f, 0.5f, 1.4f};
    const double total = 4.0;
    int counts[5] = {0};
    enum { DRAWS = 400000 };
    for (int i = 0; i < DRAWS; i++) {
        mz_rng r;
        mz_rng_init(&r, 5, 11, (uint64_t)i);
        counts[mz_rng_categorical(&r, w, 5)]++;
    }
    assert_int_equal(counts[1], 0); /* zero weight is never drawn */
    for (int k = 0; k < 5; k++) {
        double p = w[k] / total;
        assert_within((double)counts[k] / DRAWS, p, sqrt(p * (1 - p) / DRAWS) + 1e-12, "categorical frequency");
    }
}

static void test_reproducible_and_independent(void **state) {
    (void)state;
    enum { N = 4097 };
    mz_backend *be = test_cpu_backend();
    float *a = (float *)mz_malloc(N * sizeof(float)), *b = (float *)mz_malloc(N * sizeof(float));
    be->rng_fill(be, N, a, MZ_RNG_NORMAL, 0, 42, 1, 0);
    be->rng_fill(be, N, b, MZ_RNG_NORMAL, 0, 42, 1, 0);
    assert_memory_equal(a, b, N * sizeof(float));
    /* an offset window is the same numbers shifted */
    be->rng_fill(be, N - 100, b, MZ_RNG_NORMAL, 0, 42, 1, 100);
    assert_memory_equal(a + 100, b, (N - 100) * sizeof(float));
    /* another stream or seed gives other numbers */
    int same = 0;
    be->rng_fill(be, N, b, MZ_RNG_NORMAL, 0, 42, 2, 0);
    for (int i = 0; i < N; i++) same += a[i] == b[i];
    assert_true(same < 5);
    be->rng_fill(be, N, b, MZ_RNG_NORMAL, 0, 43, 1, 0);
    same = 0;
    for (int i = 0; i < N; i++) same += a[i] == b[i];
    assert_true(same < 5);
#ifdef _OPENMP
    /* thread count does not change the numbers */
    int threads = omp_get_max_threads();
    omp_set_num_threads(1);
    be->rng_fill(be, N, b, MZ_RNG_GAMMA, 0.3f, 42, 1, 0);
    omp_set_num_threads(3);
    float *c = (float *)mz_malloc(N * sizeof(float));
    be->rng_fill(be, N, c, MZ_RNG_GAMMA, 0.3f, 42, 1, 0);
    omp_set_num_threads(threads);
    assert_memory_equal(b, c, N * sizeof(float));
    free(c);
#endif
    free(a);
    free(b);
}

static int run_group(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_philox_known_answers),
        cmocka_unit_test(test_rng_counter_layout),
        cmocka_unit_test(test_uniform_moments),
        cmocka_unit_test(test_uniform53),
        cmocka_unit_test(test_normal_moments),
        cmocka_unit_test(test_gumbel_moments),
        cmocka_unit_test(test_gamma_moments),
        cmocka_unit_test(test_dirichlet),
        cmocka_unit_test(test_categorical),
        cmocka_unit_test(test_reproducible_and_independent),
    };
    return MZ_RUN_GROUP("rng", tests);
}

MZ_TEST_GROUP("rng", run_group)
