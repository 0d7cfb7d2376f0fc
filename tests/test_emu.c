/* The emulation layer and device selection: the emulated runtime refuses what
 * a GPU refuses, backend ops refuse host pointers, and `device` strings open
 * the right backend or fail with a one-line reason. */
#include <string.h>

#include "src/backend.h"
#include "src/check.h"
#include "src/cuda_emu_runtime.h"
#include "tests/test_util.h"

int emu_probe_memcpy(void);
int emu_probe_capacity(void);
int emu_probe_launch(void);
int emu_probe_cublas(void);

static void test_probe_memcpy(void **state) { (void)state; assert_int_equal(emu_probe_memcpy(), 0); }
static void test_probe_capacity(void **state) { (void)state; assert_int_equal(emu_probe_capacity(), 0); }
static void test_probe_launch(void **state) { (void)state; assert_int_equal(emu_probe_launch(), 0); }
static void test_probe_cublas(void **state) { (void)state; assert_int_equal(emu_probe_cublas(), 0); }

static void test_registry_ranges(void **state) {
    (void)state;
    void *p = NULL;
    assert_int_equal(mz_emu_malloc(&p, 100), 0);
    assert_true(mz_emu_is_device(p, 100));
    assert_true(mz_emu_is_device((char *)p + 99, 1));
    assert_true(mz_emu_is_device((char *)p + 100, 0));
    assert_false(mz_emu_is_device((char *)p + 99, 2));
    assert_false(mz_emu_is_device((char *)p + 101, 0));
    int on_stack = 0;
    assert_false(mz_emu_is_device(&on_stack, sizeof on_stack));
    assert_int_equal(mz_emu_free(p), 0);
    assert_false(mz_emu_is_device(p, 1));
    assert_int_equal(mz_emu_free(p), -1);
}

/* A host pointer passed to a device op exits 1 naming the op. */
static void scale_add_on_host_memory(void *arg) {
    mz_backend *be = (mz_backend *)arg;
    float x[4] = {1, 2, 3, 4}, y[4] = {0};
    be->scale_add(be, 4, 1.0f, x, 1.0f, y);
}

static void test_host_pointer_refused(void **state) {
    (void)state;
    char text[1024];
    int rc = run_in_child(scale_add_on_host_memory, test_emu_backend(), text, sizeof text);
    assert_int_equal(rc, 1);
    if (!strstr(text, "cuda-emu: scale_add x:") || !strstr(text, "is not inside a device allocation"))
        fail_msg("unexpected message: %s", text);
}

static void gemm_on_host_memory(void *arg) {
    mz_backend *be = (mz_backend *)arg;
    float a[4] = {0};
    be->gemm(be, false, false, 2, 2, 2, 1.0f, a, 2, a, 2, 0.0f, a, 2);
}

static void test_cublas_failure_reported(void **state) {
    (void)state;
    char text[1024];
    int rc = run_in_child(gemm_on_host_memory, test_emu_backend(), text, sizeof text);
    assert_int_equal(rc, 1);
    if (!strstr(text, "cuBLAS: cublasSgemm") || !strstr(text, "the GPU program failed to execute"))
        fail_msg("unexpected message: %s", text);
}

static void expect_open(const char *device, int want_rc, const char *want_text) {
    mz_backend *be = NULL;
    char chosen[512] = "", err[512] = "";
    int rc = mz_backend_open(device, 0, &be, chosen, sizeof chosen, err, sizeof err);
    if (rc != want_rc || !strstr(rc ? err : chosen, want_text))
        fail_msg("device %s: want rc %d with '%s', got rc %d, chosen '%s', err '%s'", device, want_rc, want_text, rc,
                 chosen, err);
    if (be) be->destroy(be);
    assert_true(rc == 0 ? strchr(chosen, '\n') == NULL : strchr(err, '\n') == NULL); /* one line */
}

static void test_device_selection(void **state) {
    (void)state;
    expect_open("cpu", 0, "cpu (OpenMP");
    expect_open("auto", 0, "auto -> cuda-emu:0");
    expect_open("cuda", 0, "cuda-emu:0");
    expect_open("cuda:0", 0, "cuda-emu:0");
    expect_open("cuda:3", 2, "device cuda:3: cuda:3 requested but 1 CUDA device found (cuda:0..cuda:0)");
    expect_open("tpu", 2, "device: expected one of auto, cpu, cuda, cuda:N, got 'tpu'");
    expect_open("cuda:", 2, "expected one of auto");
    expect_open("cuda:-1", 2, "expected one of auto");
}

static int run_group(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_probe_memcpy),        cmocka_unit_test(test_probe_capacity),
        cmocka_unit_test(test_probe_launch),        cmocka_unit_test(test_probe_cublas),
        cmocka_unit_test(test_registry_ranges),     cmocka_unit_test(test_host_pointer_refused),
        cmocka_unit_test(test_cublas_failure_reported), cmocka_unit_test(test_device_selection),
    };
    return MZ_RUN_GROUP("emu", tests);
}

MZ_TEST_GROUP("emu", run_group)
