/* AWPO policy targets (learner/awpo.h; device launchers learner/awpo_cuda.cu,
 * run by the emulated backend here) on a hand-computed root, and the
 * gradient of the AWPO policy loss written over joint actions,
 *   L(logits) = -sum_slots eta(slot) sum_i log softmax(logits_i)[a_i(slot)],
 * against central finite differences and against the world model's
 * cross-entropy gradient to the AWPO targets (softmax - target).
 *
 * The root: 2 agents, 2 actions, slots (0,0), (0,1), (1,1) with visit
 * fractions 0.5, 0.3, 0.2 and advantages 1, 0, -1 (a 4th slot unvisited):
 * normalised (population std sqrt(2/3)) to 1.2247, 0, -1.2247; with alpha 2
 * the weights are e^0.6124 = 1.8450, 1, e^-0.6124 = 0.5420; eta is
 * (0.92248, 0.3, 0.10840) / 1.33088 = (0.69313, 0.22541, 0.08145); so
 * agent 0's target is (0.91855, 0.08145) and agent 1's (0.69313, 0.30687).
 * With alpha 0.25 the first weight e^4.899 = 134 is clipped to 3. */
#include <math.h>
#include <string.h>

#include "learner/awpo.h"
#include "src/nn/nn.h"
#include "tests/test_util.h"

enum { K = 4, N = 2, A = 2 };
static const int32_t JOINT[K * N] = {0, 0, 0, 1, 1, 1, -1, -1};
static const float WEIGHTS[K] = {0.5f, 0.3f, 0.2f, 0.0f};
static const float ADV[K] = {1.0f, 0.0f, -1.0f, 7.0f};

static void test_hand_root(void **state) {
    (void)state;
    float pol[N * A];
    awpo_stats st;
    awpo_policy_targets(pol, JOINT, WEIGHTS, ADV, 1, K, N, A, 2.0f, 3.0f, &st);
    const float want[N * A] = {0.91855f, 0.08145f, 0.69313f, 0.30687f};
    for (int k = 0; k < N * A; k++) assert_true(fabsf(pol[k] - want[k]) < 1e-4f);
    assert_true(fabsf(st.adv_std - 0.81650f) < 1e-4f);
    assert_true(fabsf(st.weight_max - 1.8450f) < 1e-3f);
    /* clipped: weights (3, 1, e^-4.899 = 0.00745) */
    awpo_policy_targets(pol, JOINT, WEIGHTS, ADV, 1, K, N, A, 0.25f, 3.0f, &st);
    double e0 = 0.5 * 3.0, e1 = 0.3, e2 = 0.2 * exp(-1.0 / 0.81650 / 0.25), t = e0 + e1 + e2;
    assert_true(fabs(pol[0] - (e0 + e1) / t) < 1e-5 && fabs(pol[3] - (e1 + e2) / t) < 1e-5);
    assert_true(st.weight_max == 3.0f);
    /* a root with no visits: uniform */
    const float none[K] = {0, 0, 0, 0};
    awpo_policy_targets(pol, JOINT, none, ADV, 1, K, N, A, 2.0f, 3.0f, NULL);
    for (int k = 0; k < N * A; k++) assert_true(pol[k] == 0.5f);
}

static double slot_loss(const double *logits, const float *eta) {
    double l = 0.0;
    for (int s = 0; s < K; s++) {
        if (!(WEIGHTS[s] > 0.0f)) continue;
        for (int i = 0; i < N; i++) {
            const double *x = logits + i * A;
            double lse = log(exp(x[0]) + exp(x[1]));
            l -= eta[s] * (x[JOINT[s * N + i]] - lse);
        }
    }
    return l;
}

static void test_gradient(void **state) {
    (void)state;
    float pol[N * A];
    awpo_policy_targets(pol, JOINT, WEIGHTS, ADV, 1, K, N, A, 2.0f, 3.0f, NULL);
    /* eta from the hand values above */
    const float eta[K] = {0.69313f, 0.22541f, 0.08145f, 0.0f};
    double logits[N * A] = {0.3, -0.7, 1.1, 0.2};
    float logits_f[N * A], dlogits[N * A] = {0}, dloss[N] = {1.0f, 1.0f};
    for (int k = 0; k < N * A; k++) logits_f[k] = (float)logits[k];
    mz_backend *be = test_cpu_backend();
    mz_cross_entropy_backward(be, dlogits, dloss, logits_f, pol, N, A);
    for (int k = 0; k < N * A; k++) {
        double h = 1e-5, keep = logits[k];
        logits[k] = keep + h;
        double up = slot_loss(logits, eta);
        logits[k] = keep - h;
        double down = slot_loss(logits, eta);
        logits[k] = keep;
        double fd = (up - down) / (2 * h);
        int i = k / A;
        double sm = exp(logits[k]) / (exp(logits[i * A]) + exp(logits[i * A + 1]));
        assert_true(fabs(fd - (sm - pol[k])) < 1e-4);
        assert_true(fabs(fd - dlogits[k]) < 1e-4);
    }
}

/* The device version on random roots (E = 5 roots of 6 slots, 3 agents,
 * 4 actions, some slots unvisited, one root without visits) gives the host
 * function's targets and statistics, bitwise, on the CPU and the emulated
 * CUDA backend, guard words around the output. */
static void test_device_matches_host(void **state) {
    (void)state;
    enum { E = 5, KS = 6, NA = 3, AA = 4 };
    int32_t joint[E * KS * NA];
    float weights[E * KS], adv[E * KS], want[E * NA * AA], got[E * NA * AA];
    fill_normal(adv, E * KS, 3);
    for (int s = 0; s < E * KS; s++) {
        weights[s] = s % 4 == 3 || s / KS == 2 ? 0.0f : 0.1f + 0.05f * (float)(s % 5);
        for (int i = 0; i < NA; i++) joint[s * NA + i] = (s * 7 + i * 3) % AA;
    }
    awpo_stats hs, ds;
    awpo_policy_targets(want, joint, weights, adv, E, KS, NA, AA, 2.0f, 3.0f, &hs);
    mz_backend *bes[2] = {test_cpu_backend(), test_emu_backend()};
    for (int b = 0; b < 2; b++) {
        mz_backend *be = bes[b];
        guarded pol = guarded_new(be, sizeof got);
        int32_t *d_joint = be->alloc(be, sizeof joint);
        float *d_w = be->alloc(be, sizeof weights), *d_adv = be->alloc(be, sizeof adv);
        be->copy_h2d(be, d_joint, joint, sizeof joint);
        be->copy_h2d(be, d_w, weights, sizeof weights);
        be->copy_h2d(be, d_adv, adv, sizeof adv);
        awpo_device *a = awpo_device_create(be, E, KS);
        awpo_policy_targets_device(a, pol.data, d_joint, d_w, d_adv, NA, AA, 2.0f, 3.0f, &ds);
        be->copy_d2h(be, got, pol.data, sizeof got);
        assert_memory_equal(want, got, sizeof got);
        assert_memory_equal(&hs, &ds, sizeof hs);
        assert_true(guarded_intact(&pol));
        for (int k = 0; k < NA * AA; k++) assert_true(got[2 * NA * AA + k] == 0.25f); /* the root without visits */
        awpo_device_destroy(a);
        guarded_free(&pol);
        be->free(be, d_joint), be->free(be, d_w), be->free(be, d_adv);
    }
}

/* Under emulation awpo_policy_targets_device runs learner/awpo_cuda.cu's
 * launchers, which refuse a host pointer as the output as a GPU would. */
static void targets_into_host_memory(void *arg) {
    mz_backend *be = arg;
    int32_t *d_joint = be->alloc(be, sizeof JOINT);
    float *d_w = be->alloc(be, sizeof WEIGHTS), *d_adv = be->alloc(be, sizeof ADV);
    be->copy_h2d(be, d_joint, JOINT, sizeof JOINT);
    be->copy_h2d(be, d_w, WEIGHTS, sizeof WEIGHTS);
    be->copy_h2d(be, d_adv, ADV, sizeof ADV);
    static float host_pol[N * A];
    awpo_device *a = awpo_device_create(be, 1, K);
    awpo_policy_targets_device(a, host_pol, d_joint, d_w, d_adv, N, A, 2.0f, 3.0f, NULL);
}

static void test_emu_runs_cuda_launchers(void **state) {
    (void)state;
    char text[512];
    assert_int_equal(run_in_child(targets_into_host_memory, test_emu_backend(), text, sizeof text), 1);
    assert_non_null(strstr(text, "awpo_root output"));
    assert_int_equal(run_in_child(targets_into_host_memory, test_cpu_backend(), text, sizeof text), 0);
}

static int run_group(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hand_root),
        cmocka_unit_test(test_gradient),
        cmocka_unit_test(test_device_matches_host),
        cmocka_unit_test(test_emu_runs_cuda_launchers),
    };
    return MZ_RUN_GROUP("awpo", tests);
}
MZ_TEST_GROUP("awpo", run_group)
