/* Backend parity: every op on the CPU backend and on the emulated CUDA
 * backend, on odd sizes, against a plain-C reference and against each
 * other, with guard words around every output (ggml test-backend-ops). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "src/check.h"
#include "tests/test_util.h"

static const int64_t SIZES[] = {1, 7, 1000, 4097};
#define N_SIZES ((int)(sizeof SIZES / sizeof SIZES[0]))

static mz_backend *backend_at(int b) { return b == 0 ? test_cpu_backend() : test_emu_backend(); }
#define N_BACKENDS 2

/* Uploads host data into a fresh guarded buffer. */
static guarded upload(mz_backend *be, const void *host, size_t bytes) {
    guarded g = guarded_new(be, bytes);
    be->copy_h2d(be, g.data, host, bytes);
    return g;
}

static void download_checked(const guarded *g, void *host, const char *what) {
    g->be->copy_d2h(g->be, host, g->data, g->bytes);
    if (!guarded_intact(g)) fail_msg("%s on %s wrote outside its output", what, g->be->name);
}

static void test_memory_ops(void **state) {
    (void)state;
    for (int b = 0; b < N_BACKENDS; b++) {
        mz_backend *be = backend_at(b);
        for (int s = 0; s < N_SIZES; s++) {
            int64_t n = SIZES[s];
            size_t bytes = (size_t)n * sizeof(float);
            float *x = (float *)mz_malloc(bytes), *y = (float *)mz_malloc(bytes);
            fill_normal(x, n, 1);
            guarded a = upload(be, x, bytes), c = guarded_new(be, bytes);
            be->copy_d2d(be, c.data, a.data, bytes);
            download_checked(&c, y, "copy_d2d");
            assert_memory_equal(x, y, bytes);
            be->zero(be, c.data, bytes);
            download_checked(&c, y, "zero");
            for (int64_t i = 0; i < n; i++) assert_true(y[i] == 0.0f);
            download_checked(&a, y, "copy_h2d");
            assert_memory_equal(x, y, bytes);
            guarded_free(&a);
            guarded_free(&c);
            free(x);
            free(y);
        }
    }
}

static void test_mem_info(void **state) {
    (void)state;
    for (int b = 0; b < N_BACKENDS; b++) {
        mz_backend *be = backend_at(b);
        size_t used0, total, used1, used2;
        be->mem_info(be, &used0, &total);
        void *p = be->alloc(be, 1 << 20);
        be->mem_info(be, &used1, NULL);
        be->free(be, p);
        be->mem_info(be, &used2, NULL);
        assert_true(total > 0);
        assert_true(used1 >= used0 + (1 << 20));
        assert_true(used2 == used0);
    }
}

static void test_scale_add(void **state) {
    (void)state;
    for (int s = 0; s < N_SIZES; s++) {
        int64_t n = SIZES[s];
        size_t bytes = (size_t)n * sizeof(float);
        float *x = (float *)mz_malloc(bytes), *y = (float *)mz_malloc(bytes);
        float *ref = (float *)mz_malloc(bytes), *got = (float *)mz_malloc(bytes);
        fill_normal(x, n, 2);
        fill_normal(y, n, 3);
        for (int64_t i = 0; i < n; i++) ref[i] = 1.5f * x[i] + -0.25f * y[i];
        for (int b = 0; b < N_BACKENDS; b++) {
            mz_backend *be = backend_at(b);
            guarded gx = upload(be, x, bytes), gy = upload(be, y, bytes);
            be->scale_add(be, n, 1.5f, (const float *)gx.data, -0.25f, (float *)gy.data);
            download_checked(&gy, got, "scale_add");
            assert_close(ref, got, n, 0.0, 1e-6, be->name);
            guarded_free(&gx);
            guarded_free(&gy);
        }
        free(x), free(y), free(ref), free(got);
    }
}

static void test_axpy_scal(void **state) {
    (void)state;
    for (int s = 0; s < N_SIZES; s++) {
        int64_t n = SIZES[s];
        size_t bytes = (size_t)n * sizeof(float);
        float *x = (float *)mz_malloc(bytes), *y = (float *)mz_malloc(bytes);
        float *ref = (float *)mz_malloc(bytes), *got = (float *)mz_malloc(bytes);
        fill_normal(x, n, 4);
        fill_normal(y, n, 5);
        for (int b = 0; b < N_BACKENDS; b++) {
            mz_backend *be = backend_at(b);
            guarded gx = upload(be, x, bytes), gy = upload(be, y, bytes);
            be->axpy(be, n, -3.0f, (const float *)gx.data, (float *)gy.data);
            for (int64_t i = 0; i < n; i++) ref[i] = y[i] + -3.0f * x[i];
            download_checked(&gy, got, "axpy");
            assert_close(ref, got, n, 1e-6, 1e-6, be->name);
            be->scal(be, n, 0.5f, (float *)gy.data);
            for (int64_t i = 0; i < n; i++) ref[i] *= 0.5f;
            download_checked(&gy, got, "scal");
            assert_close(ref, got, n, 1e-6, 1e-6, be->name);
            guarded_free(&gx);
            guarded_free(&gy);
        }
        free(x), free(y), free(ref), free(got);
    }
}

static void test_sum_max(void **state) {
    (void)state;
    for (int s = 0; s < N_SIZES; s++) {
        int64_t n = SIZES[s];
        size_t bytes = (size_t)n * sizeof(float);
        float *x = (float *)mz_malloc(bytes);
        fill_normal(x, n, 6);
        double ref_sum = 0, abs_sum = 0;
        float ref_max = x[0];
        for (int64_t i = 0; i < n; i++) {
            ref_sum += x[i];
            abs_sum += fabs(x[i]);
            if (x[i] > ref_max) ref_max = x[i];
        }
        for (int b = 0; b < N_BACKENDS; b++) {
            mz_backend *be = backend_at(b);
            guarded gx = upload(be, x, bytes);
            float got_sum = be->sum(be, n, (const float *)gx.data);
            float got_max = be->max(be, n, (const float *)gx.data);
            if (fabs(got_sum - ref_sum) > 1e-6 * abs_sum + 1e-6)
                fail_msg("sum on %s, n=%lld: %.9g vs %.9g", be->name, (long long)n, got_sum, ref_sum);
            assert_true(got_max == ref_max);
            assert_true(guarded_intact(&gx));
            guarded_free(&gx);
        }
        free(x);
    }
}

static void test_inclusive_scan(void **state) {
    (void)state;
    for (int s = 0; s < N_SIZES; s++) {
        int64_t n = SIZES[s];
        size_t bytes = (size_t)n * sizeof(float);
        float *x = (float *)mz_malloc(bytes), *ref = (float *)mz_malloc(bytes), *got = (float *)mz_malloc(bytes);
        fill_normal(x, n, 7);
        double acc = 0, abs_acc = 0;
        for (int64_t i = 0; i < n; i++) {
            acc += x[i];
            ref[i] = (float)acc;
            abs_acc += fabs(x[i]);
        }
        for (int b = 0; b < N_BACKENDS; b++) {
            mz_backend *be = backend_at(b);
            guarded gx = upload(be, x, bytes), gy = guarded_new(be, bytes);
            be->inclusive_scan(be, n, (const float *)gx.data, (float *)gy.data);
            download_checked(&gy, got, "inclusive_scan");
            assert_close(ref, got, n, 1e-6 * abs_acc, 0.0, be->name);
            be->inclusive_scan(be, n, (const float *)gx.data, (float *)gx.data); /* in place */
            download_checked(&gx, got, "inclusive_scan in place");
            assert_close(ref, got, n, 1e-6 * abs_acc, 0.0, be->name);
            guarded_free(&gx);
            guarded_free(&gy);
        }
        free(x), free(ref), free(got);
    }
}

static void test_sort_by_key(void **state) {
    (void)state;
    for (int s = 0; s < N_SIZES; s++) {
        int64_t n = SIZES[s];
        float *keys = (float *)mz_malloc((size_t)n * sizeof(float));
        int32_t *values = (int32_t *)mz_malloc((size_t)n * sizeof(int32_t));
        float *k_ref = (float *)mz_malloc((size_t)n * sizeof(float));
        int32_t *v_ref = (int32_t *)mz_malloc((size_t)n * sizeof(int32_t));
        float *k_got = (float *)mz_malloc((size_t)n * sizeof(float));
        int32_t *v_got = (int32_t *)mz_malloc((size_t)n * sizeof(int32_t));
        fill_normal(keys, n, 8);
        for (int64_t i = 0; i < n; i++) {
            keys[i] = roundf(keys[i] * 4.0f); /* many ties (and -0.0): stability matters */
            values[i] = (int32_t)i;
        }
        /* reference: stable insertion sort, -0.0 before +0.0 */
        memcpy(k_ref, keys, (size_t)n * sizeof(float));
        memcpy(v_ref, values, (size_t)n * sizeof(int32_t));
        for (int64_t i = 1; i < n; i++) {
            float k = k_ref[i];
            int32_t v = v_ref[i];
            int64_t j = i - 1;
            for (; j >= 0 && (k_ref[j] > k || (k_ref[j] == k && !signbit(k_ref[j]) && signbit(k))); j--) k_ref[j + 1] = k_ref[j], v_ref[j + 1] = v_ref[j];
            k_ref[j + 1] = k;
            v_ref[j + 1] = v;
        }
        for (int b = 0; b < N_BACKENDS; b++) {
            mz_backend *be = backend_at(b);
            guarded gk = upload(be, keys, (size_t)n * sizeof(float));
            guarded gv = upload(be, values, (size_t)n * sizeof(int32_t));
            be->sort_by_key(be, n, (float *)gk.data, (int32_t *)gv.data);
            download_checked(&gk, k_got, "sort_by_key keys");
            download_checked(&gv, v_got, "sort_by_key values");
            if (memcmp(k_ref, k_got, (size_t)n * sizeof(float))) fail_msg("sort_by_key keys differ on %s", be->name);
            assert_memory_equal(v_ref, v_got, (size_t)n * sizeof(int32_t));
            guarded_free(&gk);
            guarded_free(&gv);
        }
        free(keys), free(values), free(k_ref), free(v_ref), free(k_got), free(v_got);
    }
}

/* The same (seed, stream, offset) gives the same bits on every backend. */
static void test_rng_parity(void **state) {
    (void)state;
    const mz_rng_dist dists[] = {MZ_RNG_UNIFORM, MZ_RNG_NORMAL, MZ_RNG_GUMBEL, MZ_RNG_GAMMA};
    for (int s = 0; s < N_SIZES; s++) {
        int64_t n = SIZES[s];
        size_t bytes = (size_t)n * sizeof(float);
        float *cpu = (float *)mz_malloc(bytes), *emu = (float *)mz_malloc(bytes);
        for (int d = 0; d < 4; d++) {
            for (int b = 0; b < N_BACKENDS; b++) {
                mz_backend *be = backend_at(b);
                guarded g = guarded_new(be, bytes);
                be->rng_fill(be, n, (float *)g.data, dists[d], 0.3f, 77, (uint32_t)d, 1000);
                download_checked(&g, b == 0 ? cpu : emu, "rng_fill");
                guarded_free(&g);
            }
            assert_memory_equal(cpu, emu, bytes);
            for (int64_t i = 0; i < n; i++) assert_true(isfinite(cpu[i]));
        }
        /* Dirichlet: n rows of 3 */
        float *cpu3 = (float *)mz_malloc(3 * bytes), *emu3 = (float *)mz_malloc(3 * bytes);
        for (int b = 0; b < N_BACKENDS; b++) {
            mz_backend *be = backend_at(b);
            guarded g = guarded_new(be, 3 * bytes);
            be->rng_dirichlet(be, n, 3, (float *)g.data, 0.25f, 5, 9, 0);
            download_checked(&g, b == 0 ? cpu3 : emu3, "rng_dirichlet");
            guarded_free(&g);
        }
        assert_memory_equal(cpu3, emu3, 3 * bytes);
        free(cpu), free(emu), free(cpu3), free(emu3);
    }
}

/* Failures exit 1 with the library's message and file:line, never abort. */
static void alloc_too_much(void *arg) {
    mz_backend *be = (mz_backend *)arg;
    (void)be->alloc(be, (size_t)1 << 62);
}

static void test_alloc_failure_is_reported(void **state) {
    (void)state;
    char text[1024];
    int rc = run_in_child(alloc_too_much, test_emu_backend(), text, sizeof text);
    assert_int_equal(rc, 1);
    if (!strstr(text, "cudaMalloc(4611686018427387904 bytes) failed: out of memory") || !strstr(text, "backend_cuda.cu:"))
        fail_msg("unexpected message: %s", text);
    rc = run_in_child(alloc_too_much, test_cpu_backend(), text, sizeof text);
    assert_int_equal(rc, 1);
    if (!strstr(text, "cpu backend: cannot allocate 4611686018427387904 bytes") || !strstr(text, "backend_cpu.c:"))
        fail_msg("unexpected message: %s", text);
}

static int run_group(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_memory_ops),   cmocka_unit_test(test_mem_info),
        cmocka_unit_test(test_scale_add),    cmocka_unit_test(test_axpy_scal),
        cmocka_unit_test(test_sum_max),      cmocka_unit_test(test_inclusive_scan),
        cmocka_unit_test(test_sort_by_key),  cmocka_unit_test(test_rng_parity),
        cmocka_unit_test(test_alloc_failure_is_reported),
    };
    return MZ_RUN_GROUP("backend", tests);
}

MZ_TEST_GROUP("backend", run_group)
