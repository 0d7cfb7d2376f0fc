/* src/nn's GRU against flax: tests/fixtures/gen_gru_reference.py runs
 * flax.linen.GRUCell under JaxMARL's ScannedRNN (carry zeroed on reset) for
 * T=5 steps of B=3 rows with resets at step 0 and mid-sequence; we rebuild
 * it from the fixture's weights and inputs on the CPU backend and on
 * emulated CUDA and compare the states of every step and every gradient of
 * L = sum(w * hs).
 *
 * Tolerance: 1e-5 relative to the larger of |reference| and the tensor's
 * largest |reference| (float sums in a different order, XLA's expf/tanhf). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "src/check.h"
#include "src/nn/nn.h"
#include "src/safetensors.h"
#include "tests/test_util.h"

#define FIXTURE "tests/fixtures/gru_reference.safetensors"
#define RTOL 1e-5

enum { T = 5, B = 3, C = 6, H = 8 };

static const mz_st_tensor *need(const mz_st_file *f, const char *name, int64_t numel) {
    const mz_st_tensor *t = mz_st_find(f, name);
    if (!t) fail_msg("%s: tensor '%s' missing", FIXTURE, name);
    if (strcmp(t->dtype, "F32") != 0 || t->bytes != (size_t)numel * sizeof(float))
        fail_msg("%s: tensor '%s' is %s of %zu bytes, expected F32 x %lld", FIXTURE, name, t->dtype, t->bytes,
                 (long long)numel);
    return t;
}

/* a guarded device copy of a fixture tensor (zeros when name is NULL) */
static guarded load(mz_backend *be, const mz_st_file *f, const char *name, int64_t numel) {
    guarded g = guarded_new(be, (size_t)numel * sizeof(float));
    if (name) be->copy_h2d(be, g.data, need(f, name, numel)->data, (size_t)numel * sizeof(float));
    else be->zero(be, g.data, (size_t)numel * sizeof(float));
    return g;
}

static void compare(const mz_st_file *f, const guarded *g, const char *name, int64_t numel) {
    const mz_st_tensor *t = need(f, name, numel);
    float *ref = (float *)mz_malloc(t->bytes), *got = (float *)mz_malloc(t->bytes);
    memcpy(ref, t->data, t->bytes);
    g->be->copy_d2h(g->be, got, g->data, t->bytes);
    if (!guarded_intact(g)) fail_msg("gru on %s wrote outside %s", g->be->name, name);
    double peak = 0;
    for (int64_t i = 0; i < numel; i++) peak = fmax(peak, fabs(ref[i]));
    char what[128];
    snprintf(what, sizeof what, "gru %s on %s vs flax", name, g->be->name);
    assert_close(ref, got, numel, RTOL * peak, RTOL, what);
    free(ref), free(got);
}

static void run_reference(mz_backend *be) {
    mz_st_file f;
    char err[256];
    if (mz_st_read(FIXTURE, &f, err, sizeof err) != 0) fail_msg("%s", err);
    enum { X, H0, KEEP, W, WIH, BIH, WHH, BHN, N_IN };
    static const char *names[N_IN] = {"x", "h0", "keep", "w", "w_ih", "b_ih", "w_hh", "b_hn"};
    const int64_t sizes[N_IN] = {T * B * C, B * H, T * B, T * B * H, 3 * H * C, 3 * H, 3 * H * H, H};
    guarded in[N_IN], d[N_IN];
    for (int i = 0; i < N_IN; i++) {
        in[i] = load(be, &f, names[i], sizes[i]);
        d[i] = load(be, &f, NULL, sizes[i]);
    }
    guarded hs = load(be, &f, NULL, T * B * H), gates = load(be, &f, NULL, T * B * 4 * H);
    guarded hprev = load(be, &f, NULL, T * B * H), gh = load(be, &f, NULL, B * 3 * H);
    guarded dgates = load(be, &f, NULL, T * B * 4 * H), dhp = load(be, &f, NULL, 2 * B * H);
    guarded ones = load(be, &f, NULL, T * B);
    mz_fill(be, (float *)ones.data, T * B, 1.0f);
#define P(k) ((float *)in[k].data)
#define D(k) ((float *)d[k].data)
    mz_gru_forward(be, (float *)hs.data, (float *)gates.data, (float *)hprev.data, (float *)gh.data, P(X), P(H0),
                   P(KEEP), P(WIH), P(BIH), P(WHH), P(BHN), T, B, C, H);
    compare(&f, &hs, "hs", T * B * H);
    /* d L / d hs = w */
    mz_gru_backward(be, D(X), D(H0), D(WIH), D(BIH), D(WHH), D(BHN), (float *)dgates.data, (float *)dhp.data, P(W),
                    (float *)gates.data, (float *)hprev.data, P(X), P(KEEP), P(WIH), P(WHH), (float *)ones.data, T, B,
                    C, H);
#undef P
#undef D
    const int grads[] = {X, H0, WIH, BIH, WHH, BHN};
    for (size_t k = 0; k < sizeof grads / sizeof grads[0]; k++) {
        char name[32];
        snprintf(name, sizeof name, "d_%s", names[grads[k]]);
        compare(&f, &d[grads[k]], name, sizes[grads[k]]);
    }
    for (int i = 0; i < N_IN; i++) guarded_free(&in[i]), guarded_free(&d[i]);
    guarded_free(&hs), guarded_free(&gates), guarded_free(&hprev), guarded_free(&gh);
    guarded_free(&dgates), guarded_free(&dhp), guarded_free(&ones);
    mz_st_free(&f);
}

static void test_gru_flax_cpu(void **state) {
    (void)state;
    run_reference(test_cpu_backend());
}

static void test_gru_flax_emu(void **state) {
    (void)state;
    run_reference(test_emu_backend());
}

static int run_group(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gru_flax_cpu),
        cmocka_unit_test(test_gru_flax_emu),
    };
    return MZ_RUN_GROUP("nn_gru", tests);
}

MZ_TEST_GROUP("nn_gru", run_group)
