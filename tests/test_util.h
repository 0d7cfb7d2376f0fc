/* Shared by the test groups: cmocka, group bookkeeping, guarded device
 * buffers, float comparison with NaN/Inf handling, exit-code capture. */
#ifndef MZ_TEST_UTIL_H
#define MZ_TEST_UTIL_H

#include <setjmp.h> /* cmocka needs these before its header */
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "src/backend.h"

/* Runs a cmocka group and adds its counts to the totals main() prints. */
int mz_test_run_group(const char *name, const struct CMUnitTest *tests, size_t count);
#define MZ_RUN_GROUP(name, tests) mz_test_run_group((name), (tests), sizeof(tests) / sizeof((tests)[0]))

/* Totals over every group run so far. */
void mz_test_totals(int *run, int *failed);

/* A group of tests: a function that runs its cmocka tests through
 * MZ_RUN_GROUP and returns the number that failed. MZ_TEST_GROUP registers it
 * at start-up, so a new test file needs no edit anywhere else:
 *   static int run_rng(void) { ...; return MZ_RUN_GROUP("rng", tests); }
 *   MZ_TEST_GROUP("rng", run_rng)                                          */
void mz_test_register(const char *name, int (*run)(void));
#define MZ_TEST_GROUP(name, fn)                                                                    \
    __attribute__((constructor)) static void mz_register_##fn(void) { mz_test_register((name), (fn)); }

/* The backends under test: the CPU and the emulated CUDA backend. */
mz_backend *test_cpu_backend(void);
mz_backend *test_emu_backend(void);
/* Frees both (end of main: nothing left for the leak checker). */
void test_backends_destroy(void);

/* A device buffer with GUARD_ELEMS guard words on each side. */
#define MZ_GUARD_ELEMS 64
#define MZ_GUARD_WORD 0x7fc0dea1u /* a NaN payload no op produces */
typedef struct {
    mz_backend *be;
    void *base;    /* allocation start */
    void *data;    /* first payload byte */
    size_t bytes;  /* payload bytes */
} guarded;

guarded guarded_new(mz_backend *be, size_t bytes);
/* true if both guard regions are intact */
bool guarded_intact(const guarded *g);
void guarded_free(guarded *g);

/* Fails the test at the first element with |ref - got| > atol + rtol |ref|,
 * where NaN anywhere fails and an Inf must be matched exactly. */
void assert_close_(const float *ref, const float *got, int64_t n, double atol, double rtol, const char *what,
                   const char *file, int line);
#define assert_close(ref, got, n, atol, rtol, what) assert_close_((ref), (got), (n), (atol), (rtol), (what), __FILE__, __LINE__)

/* Fills host memory with reproducible normals (test data, not the RNG under test). */
void fill_normal(float *x, int64_t n, uint64_t seed);

/* A whole file as NUL-terminated text (exits 1 naming it on failure);
 * caller frees. */
char *read_text_file(const char *path);
/* A JSON array's numbers into out[0..max); returns the count (more than max
 * exits 1). `arr` is a const cJSON *. */
int json_floats(const void *arr, float *out, int max);
int json_ints(const void *arr, int32_t *out, int max);

/* Runs fn(arg) in a child process; returns its exit status (or 128+signal)
 * and up to `len` bytes of what it wrote to stderr. */
int run_in_child(void (*fn)(void *), void *arg, char *stderr_text, size_t len);
/* The same capturing fd 1 (stdout; the child's stderr then goes to
 * /dev/null) or fd 2 (stderr). */
int run_in_child_capturing(void (*fn)(void *), void *arg, int fd, char *text, size_t len);

/* A test's replay: the host replay or the device replay, fed host arrays
 * (replay_add's arguments; final_value may be NULL when nothing is
 * truncated), which the device one uploads first. */
struct replay;
struct device_replay;
typedef struct {
    struct replay *host;
    struct device_replay *dev;
    mz_backend *be;
    int E, N, O, A;
    const uint8_t *avail; /* [E][N][A] legal actions of the next step (host), or NULL */
} test_replay;
void test_replay_add(test_replay *r, const float *obs, const int32_t *actions, const float *rewards,
                     const uint8_t *terminated, const uint8_t *truncated, const float *policy, const float *root_value,
                     const float *final_value);

#endif
