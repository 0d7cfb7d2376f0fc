#include "tests/test_util.h"

#include <cjson/cJSON.h>

#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "learner/device_replay.h"
#include "learner/replay.h"
#include "src/check.h"
#include "src/rng.h"

static int total_run, total_failed;

int mz_test_run_group(const char *name, const struct CMUnitTest *tests, size_t count) {
    int failed = _cmocka_run_group_tests(name, tests, count, NULL, NULL);
    total_run += (int)count;
    total_failed += failed;
    return failed;
}

static mz_backend *cpu_be, *emu_be;

mz_backend *test_cpu_backend(void) {
    if (!cpu_be) cpu_be = mz_backend_cpu_create(0);
    return cpu_be;
}

mz_backend *test_emu_backend(void) {
    if (!emu_be) {
        char reason[256];
        MZ_CHECK(mz_cuda_probe(0, reason, sizeof reason) == 0, "emulated CUDA probe failed: %s", reason);
        emu_be = mz_backend_cuda_create(0);
    }
    return emu_be;
}

void test_backends_destroy(void) {
    if (cpu_be) cpu_be->destroy(cpu_be);
    if (emu_be) emu_be->destroy(emu_be);
    cpu_be = emu_be = NULL;
}

guarded guarded_new(mz_backend *be, size_t bytes) {
    guarded g;
    size_t guard_bytes = MZ_GUARD_ELEMS * sizeof(uint32_t);
    size_t total = bytes + 2 * guard_bytes;
    g.be = be;
    g.bytes = bytes;
    g.base = be->alloc(be, total);
    g.data = (char *)g.base + guard_bytes;
    uint32_t *host = (uint32_t *)mz_malloc(total);
    for (size_t i = 0; i < total / sizeof(uint32_t); i++) host[i] = MZ_GUARD_WORD;
    memset((char *)host + guard_bytes, 0, bytes);
    be->copy_h2d(be, g.base, host, total);
    free(host);
    return g;
}

bool guarded_intact(const guarded *g) {
    size_t guard_bytes = MZ_GUARD_ELEMS * sizeof(uint32_t);
    uint32_t head[MZ_GUARD_ELEMS], tail[MZ_GUARD_ELEMS];
    g->be->copy_d2h(g->be, head, g->base, guard_bytes);
    g->be->copy_d2h(g->be, tail, (char *)g->data + g->bytes, guard_bytes);
    for (int i = 0; i < MZ_GUARD_ELEMS; i++)
        if (head[i] != MZ_GUARD_WORD || tail[i] != MZ_GUARD_WORD) return false;
    return true;
}

void guarded_free(guarded *g) {
    g->be->free(g->be, g->base);
    g->base = g->data = NULL;
}

void assert_close_(const float *ref, const float *got, int64_t n, double atol, double rtol, const char *what,
                   const char *file, int line) {
    for (int64_t i = 0; i < n; i++) {
        float r = ref[i], g = got[i];
        bool bad;
        if (isnan(r) || isnan(g)) bad = true;
        else if (isinf(r) || isinf(g)) bad = r != g;
        else bad = fabs((double)r - (double)g) > atol + rtol * fabs((double)r);
        if (bad) {
            fail_msg("%s:%d: %s: element %lld of %lld differs: expected %.9g, got %.9g (atol %g, rtol %g)", file,
                     line, what, (long long)i, (long long)n, r, g, atol, rtol);
        }
    }
}

void fill_normal(float *x, int64_t n, uint64_t seed) {
    for (int64_t i = 0; i < n; i++) {
        mz_rng r;
        mz_rng_init(&r, seed, 0xdada, (uint64_t)i);
        x[i] = mz_rng_normal(&r);
    }
}

int run_in_child_capturing(void (*fn)(void *), void *arg, int fd, char *text, size_t len) {
    int fds[2];
    MZ_CHECK(fd == 1 || fd == 2, "run_in_child_capturing: fd %d is neither stdout nor stderr", fd);
    MZ_CHECK(pipe(fds) == 0, "pipe failed");
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    MZ_CHECK(pid >= 0, "fork failed");
    if (pid == 0) {
        close(fds[0]);
        dup2(fds[1], fd);
        if (fd == 1) { /* capturing stdout: keep the child's stderr off the test log */
            int devnull = open("/dev/null", O_WRONLY);
            if (devnull >= 0) dup2(devnull, 2);
        }
        fn(arg);
        fflush(stdout);
        _exit(0);
    }
    close(fds[1]);
    size_t used = 0;
    ssize_t got;
    char sink[256];
    while ((got = read(fds[0], used + 1 < len ? text + used : sink,
                       used + 1 < len ? len - used - 1 : sizeof sink)) > 0)
        if (used + 1 < len) used += (size_t)got;
    close(fds[0]);
    if (len) text[used] = '\0';
    int status = 0;
    MZ_CHECK(waitpid(pid, &status, 0) == pid, "waitpid failed");
    if (WIFEXITED(status)) return WEXITSTATUS(status);
    return 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
}

int run_in_child(void (*fn)(void *), void *arg, char *stderr_text, size_t len) {
    return run_in_child_capturing(fn, arg, 2, stderr_text, len);
}

void mz_test_totals(int *run, int *failed) {
    *run = total_run;
    *failed = total_failed;
}

char *read_text_file(const char *path) {
    FILE *f = mz_fopen(path, "rb");
    MZ_CHECK(fseek(f, 0, SEEK_END) == 0, "seek %s", path);
    long n = ftell(f);
    MZ_CHECK(n >= 0 && fseek(f, 0, SEEK_SET) == 0, "seek %s", path);
    char *text = (char *)mz_malloc((size_t)n + 1);
    MZ_CHECK(fread(text, 1, (size_t)n, f) == (size_t)n, "read %s", path);
    text[n] = '\0';
    fclose(f);
    return text;
}

int json_floats(const void *arr, float *out, int max) {
    int n = 0;
    const cJSON *v;
    cJSON_ArrayForEach(v, (const cJSON *)arr) {
        MZ_CHECK(n < max, "fixture array longer than %d", max);
        out[n++] = (float)v->valuedouble;
    }
    return n;
}

int json_ints(const void *arr, int32_t *out, int max) {
    int n = 0;
    const cJSON *v;
    cJSON_ArrayForEach(v, (const cJSON *)arr) {
        MZ_CHECK(n < max, "fixture array longer than %d", max);
        out[n++] = (int32_t)v->valuedouble;
    }
    return n;
}

void test_replay_add(test_replay *r, const float *obs, const int32_t *actions, const float *rewards,
                     const uint8_t *terminated, const uint8_t *truncated, const float *policy, const float *root_value,
                     const float *final_value) {
    if (r->host) {
        replay_add(r->host, obs, actions, rewards, terminated, truncated, policy, root_value, final_value);
        return;
    }
    mz_backend *be = r->be;
    size_t E = (size_t)r->E, NO = E * r->N * r->O, NA = E * r->N * r->A, f = sizeof(float);
    float *d_obs = be->alloc(be, NO * f), *d_rew = be->alloc(be, E * f), *d_pol = be->alloc(be, NA * f);
    float *d_val = be->alloc(be, E * f), *d_fv = be->alloc(be, E * f);
    int32_t *d_act = be->alloc(be, E * r->N * sizeof(int32_t));
    uint8_t *d_term = be->alloc(be, E), *d_trunc = be->alloc(be, E);
    uint8_t *d_avail = r->avail ? be->alloc(be, NA) : NULL;
    if (d_avail) be->copy_h2d(be, d_avail, r->avail, NA);
    be->copy_h2d(be, d_obs, obs, NO * f);
    be->copy_h2d(be, d_act, actions, E * r->N * sizeof(int32_t));
    be->copy_h2d(be, d_rew, rewards, E * f);
    be->copy_h2d(be, d_term, terminated, E);
    be->copy_h2d(be, d_trunc, truncated, E);
    be->copy_h2d(be, d_pol, policy, NA * f);
    be->copy_h2d(be, d_val, root_value, E * f);
    if (final_value) be->copy_h2d(be, d_fv, final_value, E * f);
    else be->zero(be, d_fv, E * f);
    device_replay_add(r->dev, d_obs, d_avail, d_act, d_rew, d_term, d_trunc, d_pol, d_val, d_fv);
    void *all[] = {d_obs, d_rew, d_pol, d_val, d_fv, d_act, d_term, d_trunc, d_avail};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) be->free(be, all[i]);
}
