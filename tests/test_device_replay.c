/* The device replay against the host replay it must equal: readiness and
 * priorities after every step, and every ready window with its targets and
 * bootstrap split, bitwise, across terminations, truncations, a reward
 * shift and the ring's wrap-around, on the CPU and the emulated CUDA
 * backend with guard words around every output; priority updates
 * (duplicates, eviction, the maximum) as the host applies them;
 * prioritised sampling frequencies and importance weights; CPU and
 * emulated CUDA drawing the same batches; and one training step from a
 * device batch equal to one from the host's uploaded batch; reanalyse's
 * picks (stored steps with their masks, uniform) and write-backs (the host
 * replay's windows after replay_set_search). On the emulated
 * backend every kernel runs through learner/device_replay_cuda.cu's
 * launchers (test_emu_runs_cuda_launchers shows it). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "learner/device_replay.h"
#include "learner/replay.h"
#include "tests/test_util.h"

enum { E = 3, N = 2, O = 2, A = 3, T = 24, K = 3, NS = 4, B = 8, STEPS = 70, KB = (K + 1) * B };

static replay_config config(void) {
    replay_config c = {E, N, O, A, T, K, NS, 0.9f, 0.6f, 0.4f, 50, B, 11, 0.5f};
    return c;
}

typedef struct {
    float obs[E * N * O], rew[E], pol[E * N * A], val[E], fv[E];
    int32_t act[E * N];
    uint8_t term[E], trunc[E];
} step_data;

/* Step i of every env: observations encode (env, step, feature); episodes
 * terminate every 7+e steps and are truncated every 11+2e (both at once
 * sometimes: termination wins). */
static void step_arrays(int i, step_data *s) {
    for (int e = 0; e < E; e++) {
        for (int n = 0; n < N; n++) {
            for (int j = 0; j < O; j++) s->obs[(e * N + n) * O + j] = 1000.0f * (float)e + (float)i + 0.1f * (float)(n * O + j);
            s->act[e * N + n] = (i + e + n) % A;
            float sum = 0.0f;
            for (int a = 0; a < A; a++) sum += (float)(1 + (i + e + n + a) % 3);
            for (int a = 0; a < A; a++) s->pol[(e * N + n) * A + a] = (float)(1 + (i + e + n + a) % 3) / sum;
        }
        s->rew[e] = 0.25f * (float)(i % 5) - (float)e;
        s->val[e] = 2.0f + 0.5f * (float)((i * 7 + e) % 11);
        s->fv[e] = -1.0f - 0.25f * (float)((i + e) % 4);
        s->term[e] = (i + 1) % (7 + e) == 0;
        s->trunc[e] = (i + 1) % (11 + 2 * e) == 0;
    }
}

static void add_both(replay *h, test_replay *d, int i) {
    step_data s;
    step_arrays(i, &s);
    if (h) replay_add(h, s.obs, s.act, s.rew, s.term, s.trunc, s.pol, s.val, s.fv);
    if (d) test_replay_add(d, s.obs, s.act, s.rew, s.term, s.trunc, s.pol, s.val, s.fv);
}

/* a device batch whose every array has guard words around it */
typedef struct {
    guarded g[7];
    wm_device_batch d;
} gbatch;

static gbatch gbatch_new(mz_backend *be) {
    gbatch b;
    size_t f = sizeof(float);
    size_t bytes[7] = {KB * N * O * f, K * B * N * sizeof(int32_t), KB * N * A * f, KB * f, K * B * f, KB * f, B * f};
    for (int i = 0; i < 7; i++) b.g[i] = guarded_new(be, bytes[i]);
    b.d.obs = b.g[0].data, b.d.actions = b.g[1].data, b.d.policy = b.g[2].data, b.d.value = b.g[3].data;
    b.d.reward = b.g[4].data, b.d.obs_mask = b.g[5].data, b.d.weight = b.g[6].data;
    return b;
}

static void gbatch_free(gbatch *b) {
    for (int i = 0; i < 7; i++) {
        assert_true(guarded_intact(&b->g[i]));
        guarded_free(&b->g[i]);
    }
}

/* host copy of a batch of nb windows ([k][b] layouts for nb) */
typedef struct {
    float obs[KB * N * O], pol[KB * N * A], val[KB], rew[K * B], mask[KB], w[B];
    int32_t act[K * B * N];
    float boot_obs[KB * N * O], boot_coef[KB], boot_partial[KB];
} hbatch;

static void download(mz_backend *be, const wm_device_batch *d, int nb, hbatch *h) {
    size_t f = sizeof(float), K1 = K + 1;
    memset(h, 0, sizeof *h);
    be->copy_d2h(be, h->obs, d->obs, K1 * nb * N * O * f);
    be->copy_d2h(be, h->act, d->actions, (size_t)K * nb * N * sizeof(int32_t));
    be->copy_d2h(be, h->pol, d->policy, K1 * nb * N * A * f);
    be->copy_d2h(be, h->val, d->value, K1 * nb * f);
    be->copy_d2h(be, h->rew, d->reward, (size_t)K * nb * f);
    be->copy_d2h(be, h->mask, d->obs_mask, K1 * nb * f);
    be->copy_d2h(be, h->w, d->weight, nb * f);
}

static void download_bootstrap(mz_backend *be, device_replay *r, int nb, hbatch *h) {
    device_replay_bootstrap bt = device_replay_last_bootstrap(r);
    size_t f = sizeof(float), K1 = K + 1;
    be->copy_d2h(be, h->boot_obs, bt.obs, K1 * nb * N * O * f);
    be->copy_d2h(be, h->boot_coef, bt.coef, K1 * nb * f);
    be->copy_d2h(be, h->boot_partial, bt.partial, K1 * nb * f);
}

/* the host replay's windows of (env, step)[0..nb) in the same layout */
static void host_windows(replay *h, int nb, const int *env, const int64_t *step, hbatch *out) {
    const wm_batch *w = NULL;
    replay_bootstrap bt;
    size_t f = sizeof(float), K1 = K + 1;
    memset(out, 0, sizeof *out);
    /* one window at a time: the bootstrap arrays are those of the last call, so keep each sample's rows */
    for (int b = 0; b < nb; b++) {
        w = replay_window(h, env[b], step[b], b, nb);
        bt = replay_last_bootstrap(h);
        for (size_t k = 0; k < K1; k++) {
            size_t kb = k * nb + b;
            memcpy(out->boot_obs + kb * N * O, bt.obs + kb * N * O, N * O * f);
            out->boot_coef[kb] = bt.coef[kb], out->boot_partial[kb] = bt.partial[kb];
        }
    }
    memcpy(out->obs, w->obs, K1 * nb * N * O * f);
    memcpy(out->act, w->actions, (size_t)K * nb * N * sizeof(int32_t));
    memcpy(out->pol, w->policy, K1 * nb * N * A * f);
    memcpy(out->val, w->value, K1 * nb * f);
    memcpy(out->rew, w->reward, (size_t)K * nb * f);
    memcpy(out->mask, w->obs_mask, K1 * nb * f);
    memcpy(out->w, w->weight, nb * f);
}

/* the same nb windows from both replays: want from the host's, got downloaded from the device's */
static void both_windows(replay *h, device_replay *d, mz_backend *be, gbatch *g, int nb, const int *env,
                         const int64_t *step, hbatch *want, hbatch *got) {
    host_windows(h, nb, env, step, want);
    device_replay_windows(d, nb, env, step, &g->d);
    download(be, &g->d, nb, got);
}

/* every stored, ready step: (env, step) lists; returns the count */
static int ready_steps(const float *prio, const int64_t *count, int *env, int64_t *step, int max) {
    int n = 0;
    for (int e = 0; e < E; e++)
        for (int64_t t = count[e] - T > 0 ? count[e] - T : 0; t < count[e]; t++)
            if (prio[e * T + t % T] > 0.0f) {
                assert_true(n < max);
                env[n] = e, step[n] = t, n++;
            }
    return n;
}

/* the same after the STEPS steps of every env */
static int ready_after_stream(const float *prio, int *env, int64_t *step) {
    int64_t count[E] = {STEPS, STEPS, STEPS};
    return ready_steps(prio, count, env, step, E * T);
}

static void matches_host(mz_backend *be) {
    replay_config c = config();
    replay *h = replay_create(&c);
    device_replay *d = device_replay_create(be, &c);
    replay_keep_bootstrap(h);
    device_replay_keep_bootstrap(d);
    test_replay tr = {NULL, d, be, E, N, O, A, NULL};
    gbatch g = gbatch_new(be);
    float hp[E * T], dp[E * T];
    int windows = 0, absorbed = 0, bootstraps = 0;
    for (int i = 0; i < STEPS; i++) {
        add_both(h, &tr, i);
        replay_priorities(h, hp);
        device_replay_priorities(d, dp);
        assert_memory_equal(hp, dp, sizeof hp);
        assert_int_equal(replay_ready(h), device_replay_ready(d));
        if (i % 5 != 4 && i != STEPS - 1) continue;
        int env[E * T];
        int64_t step[E * T], count[E];
        for (int e = 0; e < E; e++) count[e] = replay_steps(h, e), assert_true(count[e] == device_replay_steps(d, e));
        int n = ready_steps(hp, count, env, step, E * T);
        for (int first = 0; first < n; first += B) {
            int nb = n - first < B ? n - first : B;
            static hbatch want, got;
            both_windows(h, d, be, &g, nb, env + first, step + first, &want, &got);
            download_bootstrap(be, d, nb, &got);
            assert_memory_equal(&want, &got, sizeof want);
            for (int kb = 0; kb < (K + 1) * nb; kb++) absorbed += want.mask[kb] == 0.0f, bootstraps += want.boot_coef[kb] > 0.0f;
            windows += nb;
        }
    }
    print_message("%s: %d windows equal to the host's (%d absorbing rows, %d bootstrapping targets)\n", be->name,
                  windows, absorbed, bootstraps);
    assert_true(windows > 300 && absorbed > 50 && bootstraps > 300);
    gbatch_free(&g);
    device_replay_destroy(d);
    replay_destroy(h);
}

static void test_matches_host_cpu(void **state) {
    (void)state;
    matches_host(test_cpu_backend());
}
static void test_matches_host_emu(void **state) {
    (void)state;
    matches_host(test_emu_backend());
}

/* Priority updates from the same (env, step, priority) lists: a duplicate
 * in one batch (the last wins), samples evicted before their update
 * (skipped, and not raising the maximum), new steps at the maximum. */
static void test_priority_updates(void **state) {
    (void)state;
    mz_backend *be = test_emu_backend();
    replay_config c = config();
    replay *h = replay_create(&c);
    device_replay *d = device_replay_create(be, &c);
    test_replay tr = {NULL, d, be, E, N, O, A, NULL};
    gbatch g = gbatch_new(be);
    int i = 0;
    for (; i < 40; i++) add_both(h, &tr, i);
    float hp[E * T], dp[E * T];
    int env[B] = {0, 1, 2, 0, 1, 2, 0, 1};
    int64_t step[B];
    float prio[B] = {2.0f, 3.0f, 0.5f, 7.0f, 1.5f, 2.5f, 4.0f, 0.25f};
    replay_priorities(h, hp);
    int64_t count[E] = {40, 40, 40};
    int ready_env[E * T];
    int64_t ready_step[E * T];
    int n = ready_steps(hp, count, ready_env, ready_step, E * T);
    assert_true(n >= 2 * B);
    for (int b = 0; b < B; b++) { /* ready steps of the asked envs, the oldest first */
        int k = 0;
        for (int j = 0; j < n; j++)
            if (ready_env[j] == env[b] && k++ == b / E) step[b] = ready_step[j];
    }
    step[6] = step[0]; /* duplicate of sample 0: its 4.0 wins over 2.0 */
    device_replay_windows(d, B, env, step, &g.d);
    replay_update_priorities(h, B, env, step, prio);
    device_replay_update_priorities(d, B, prio);
    replay_priorities(h, hp);
    device_replay_priorities(d, dp);
    assert_memory_equal(hp, dp, sizeof hp);
    assert_float_equal(hp[env[0] * T + step[0] % T], 4.0f, 0.0f);
    assert_float_equal(device_replay_max_priority(d), 7.0f, 0.0f);
    assert_float_equal(replay_max_priority(h), 7.0f, 0.0f);
    /* drawn, then evicted by T more steps before the update */
    device_replay_windows(d, B, env, step, &g.d);
    for (; i < 40 + T; i++) add_both(h, &tr, i);
    float late[B] = {50, 50, 50, 50, 50, 50, 50, 50};
    replay_update_priorities(h, B, env, step, late);
    device_replay_update_priorities(d, B, late);
    replay_priorities(h, hp);
    device_replay_priorities(d, dp);
    assert_memory_equal(hp, dp, sizeof hp);
    assert_float_equal(device_replay_max_priority(d), 7.0f, 0.0f);
    /* the steps that became ready since got the maximum 7 */
    int sevens = 0;
    for (int s = 0; s < E * T; s++) sevens += dp[s] == 7.0f;
    assert_true(sevens > 20);
    gbatch_free(&g);
    device_replay_destroy(d);
    replay_destroy(h);
}

/* Priorities 1..4 by (env + step) % 4 over every ready step, then 600
 * batches: each class is drawn in proportion to q^alpha (within 4 standard
 * errors), never a step that is not ready, with weights (M P)^-beta / max
 * and beta annealed over beta_steps calls. */
static void sampling(mz_backend *be, int batches, int32_t *envs_out, int64_t *steps_out, float *weights_out) {
    replay_config c = config();
    device_replay *d = device_replay_create(be, &c);
    test_replay tr = {NULL, d, be, E, N, O, A, NULL};
    gbatch g = gbatch_new(be);
    for (int i = 0; i < STEPS; i++) add_both(NULL, &tr, i);
    float dp[E * T];
    device_replay_priorities(d, dp);
    int env[E * T];
    int64_t step[E * T];
    int n = ready_after_stream(dp, env, step);
    for (int first = 0; first < n; first += B) {
        int nb = n - first < B ? n - first : B;
        float q[B];
        for (int b = 0; b < nb; b++) q[b] = (float)(1 + (env[first + b] + step[first + b]) % 4);
        device_replay_windows(d, nb, env + first, step + first, &g.d);
        device_replay_update_priorities(d, nb, q);
    }
    device_replay_priorities(d, dp);
    double total = 0.0, class_mass[5] = {0};
    int M = 0;
    for (int s = 0; s < E * T; s++)
        if (dp[s] > 0.0f) total += pow(dp[s], c.alpha), class_mass[(int)dp[s]] += pow(dp[s], c.alpha), M++;
    assert_int_equal(M, device_replay_ready(d));
    int hits[5] = {0};
    double worst_w = 0.0;
    for (int it = 0; it < batches; it++) {
        device_replay_sample(d, B, &g.d);
        int se[B];
        int64_t ss[B];
        float w[B];
        device_replay_last_windows(d, B, se, ss);
        be->copy_d2h(be, w, g.d.weight, sizeof w);
        double beta = c.beta0 + (1.0 - c.beta0) * fmin(1.0, (double)it / (double)c.beta_steps);
        double want[B], wmax = 0.0;
        for (int b = 0; b < B; b++) {
            assert_true(se[b] >= 0 && se[b] < E && ss[b] >= STEPS - T && ss[b] < STEPS);
            float p = dp[se[b] * T + ss[b] % T];
            assert_true(p > 0.0f); /* ready */
            hits[(int)p]++;
            want[b] = pow((double)M * pow(p, c.alpha) / total, -beta);
            if (want[b] > wmax) wmax = want[b];
        }
        for (int b = 0; b < B; b++) worst_w = fmax(worst_w, fabs(w[b] - want[b] / wmax));
        if (envs_out) {
            for (int b = 0; b < B; b++) envs_out[it * B + b] = se[b], steps_out[it * B + b] = ss[b];
            memcpy(weights_out + it * B, w, sizeof w);
        }
    }
    double draws = (double)batches * B;
    for (int q = 1; q <= 4; q++) {
        double p = class_mass[q] / total, f = hits[q] / draws, se = sqrt(p * (1.0 - p) / draws);
        print_message("%s: priority %d drawn %.4f, expected %.4f (se %.4f)\n", be->name, q, f, p, se);
        assert_true(fabs(f - p) < 4.0 * se);
    }
    print_message("%s: largest weight error %.2e\n", be->name, worst_w);
    assert_true(worst_w < 1e-5);
    gbatch_free(&g);
    device_replay_destroy(d);
}

static void test_sampling(void **state) {
    (void)state;
    sampling(test_cpu_backend(), 600, NULL, NULL, NULL);
}

/* The emulated CUDA backend draws the CPU's batches, bit for bit. */
static void test_cpu_emu_same_draws(void **state) {
    (void)state;
    enum { BATCHES = 40 };
    static int32_t env[2][BATCHES * B];
    static int64_t step[2][BATCHES * B];
    static float w[2][BATCHES * B];
    sampling(test_cpu_backend(), BATCHES, env[0], step[0], w[0]);
    sampling(test_emu_backend(), BATCHES, env[1], step[1], w[1]);
    assert_memory_equal(env[0], env[1], sizeof env[0]);
    assert_memory_equal(step[0], step[1], sizeof step[0]);
    assert_memory_equal(w[0], w[1], sizeof w[0]);
}

/* One training step on windows gathered on the device gives the losses,
 * priorities and gradients of the same windows uploaded from the host
 * replay, bitwise. */
static void test_device_batch_step(void **state) {
    (void)state;
    mz_backend *be = test_emu_backend();
    wm_config mc;
    memset(&mc, 0, sizeof mc);
    mc.N = N, mc.O = O, mc.A = A, mc.H = 8, mc.F = 16, mc.head_F = 8, mc.P = 8, mc.S = 5;
    mc.K = K, mc.max_batch = B, mc.max_trees = 1, mc.max_nodes = 1, mc.max_envs = 1, mc.discount = 0.9f;
    mc.coef_reward = 1.0f, mc.coef_value = 0.25f, mc.coef_policy = 1.0f, mc.coef_consistency = 2.0f;
    mc.hidden_grad_scale = 0.5f, mc.seed = 5;
    char err[256];
    wm_model *mh = wm_create(be, &mc, err, sizeof err), *md = wm_create(be, &mc, err, sizeof err);
    assert_non_null(mh);
    assert_non_null(md);
    replay_config c = config();
    replay *h = replay_create(&c);
    device_replay *d = device_replay_create(be, &c);
    test_replay tr = {NULL, d, be, E, N, O, A, NULL};
    for (int i = 0; i < STEPS; i++) add_both(h, &tr, i);
    float hp[E * T];
    replay_priorities(h, hp);
    int env[E * T];
    int64_t step[E * T];
    int n = ready_after_stream(hp, env, step);
    assert_true(n >= 3 * B);
    for (int b = 0; b < B; b++) env[b] = env[3 * b], step[b] = step[3 * b]; /* spread over the ready steps */
    const wm_batch *hb = NULL;
    for (int b = 0; b < B; b++) hb = replay_window(h, env[b], step[b], b, B);
    wm_upload(mh, hb);
    wm_device_batch db = wm_device_batch_buffers(md);
    device_replay_windows(d, B, env, step, &db);
    wm_device_batch_ready(md, B);
    wm_losses lh, ld;
    mz_params *ph = wm_params(mh), *pd = wm_params(md);
    mz_params_zero_grads(ph), mz_params_zero_grads(pd);
    wm_forward_loss(mh, &lh), wm_forward_loss(md, &ld);
    wm_backward(mh), wm_backward(md);
    print_message("losses: host batch %.7f, device batch %.7f\n", lh.total, ld.total);
    assert_memory_equal(&lh, &ld, sizeof lh);
    assert_memory_equal(wm_priorities(mh), wm_priorities(md), B * sizeof(float));
    size_t bytes = (size_t)ph->total * sizeof(float);
    float *gh = malloc(bytes), *gd = malloc(bytes);
    be->copy_d2h(be, gh, ph->grads, bytes);
    be->copy_d2h(be, gd, pd->grads, bytes);
    assert_memory_equal(gh, gd, bytes);
    free(gh), free(gd);
    wm_destroy(mh), wm_destroy(md);
    device_replay_destroy(d);
    replay_destroy(h);
}

/* Reanalyse: masks of step i of every env (some actions illegal). */
static void step_avail(int i, uint8_t *avail) {
    for (int e = 0; e < E; e++)
        for (int n = 0; n < N; n++)
            for (int a = 0; a < A; a++) avail[(e * N + n) * A + a] = (uint8_t)((i + e + n + a) % 3 != 0);
}

enum { PICKS = 16, ROUNDS = 200 };

/* Picks land on stored steps with their observation and masks, uniformly
 * over envs and steps; refreshed policies and root values give the windows
 * (policy and value targets) that replay_set_search gives the host replay,
 * duplicates included (the last write wins). The slots of the first round
 * go to slots_out, for the CPU/emulation comparison. */
static void reanalyse(mz_backend *be, int32_t *slots_out) {
    replay_config c = config();
    replay *h = replay_create(&c);
    device_replay *d = device_replay_create(be, &c);
    device_replay_keep_reanalyse(d, PICKS);
    replay_keep_bootstrap(h); /* host_windows reads its split */
    device_replay_keep_bootstrap(d);
    uint8_t avail[E * N * A];
    test_replay tr = {NULL, d, be, E, N, O, A, avail};
    for (int i = 0; i < STEPS; i++) {
        step_avail(i, avail);
        add_both(h, &tr, i);
    }
    size_t NO = N * O, NA = N * A;
    float *d_obs = be->alloc(be, PICKS * NO * sizeof(float)), *d_pol = be->alloc(be, PICKS * NA * sizeof(float));
    float *d_val = be->alloc(be, PICKS * sizeof(float));
    uint8_t *d_avail = be->alloc(be, PICKS * NA);
    static int hits[E * T];
    memset(hits, 0, sizeof hits);
    int dups = 0;
    for (int round = 0; round < ROUNDS; round++) {
        float obs[PICKS * N * O], pol[PICKS * N * A], val[PICKS];
        uint8_t got_avail[PICKS * N * A], want_avail[E * N * A];
        int32_t slot[PICKS];
        device_replay_pick(d, PICKS, (uint64_t)round, d_obs, d_avail);
        device_replay_last_picks(d, PICKS, slot);
        be->copy_d2h(be, obs, d_obs, sizeof obs);
        be->copy_d2h(be, got_avail, d_avail, sizeof got_avail);
        if (round == 0) memcpy(slots_out, slot, sizeof slot);
        for (int p = 0; p < PICKS; p++) {
            assert_true(slot[p] >= 0 && slot[p] < E * T);
            int e = slot[p] / T;
            int64_t i = (int64_t)(STEPS - 1) - ((STEPS - 1) - slot[p] % T) % T; /* the step the slot holds */
            assert_int_equal((int)obs[p * NO] / 1000, e); /* observations encode (env, step) */
            assert_int_equal((int64_t)(obs[p * NO] - 1000.0f * (float)e), i);
            step_avail((int)i, want_avail);
            assert_memory_equal(got_avail + p * NA, want_avail + e * NA, NA);
            hits[slot[p]]++;
            for (int q = 0; q < p; q++) dups += slot[q] == slot[p];
            for (size_t j = 0; j < NA; j++) pol[p * NA + j] = 0.01f * (float)(round * PICKS + p) + 0.001f * (float)j;
            val[p] = -3.0f - 0.1f * (float)(round * PICKS + p);
        }
        if (round % 50 == 0 || round == ROUNDS - 1) { /* write back; the host replay gets the same, in order */
            be->copy_h2d(be, d_pol, pol, sizeof pol);
            be->copy_h2d(be, d_val, val, sizeof val);
            device_replay_refresh(d, PICKS, d_pol, d_val);
            for (int p = 0; p < PICKS; p++) {
                int e = slot[p] / T;
                int64_t i = (int64_t)(STEPS - 1) - ((STEPS - 1) - slot[p] % T) % T;
                replay_set_search(h, e, i, pol + p * NA, val[p]);
            }
        }
    }
    double draws = (double)ROUNDS * PICKS, p_slot = 1.0 / (E * T);
    int least = hits[0], most = hits[0];
    for (int k = 0; k < E * T; k++) least = hits[k] < least ? hits[k] : least, most = hits[k] > most ? hits[k] : most;
    print_message("%s: %d picks over %d slots, %d to %d each (expected %.1f), %d duplicates within a pick\n",
                  be->name, (int)draws, E * T, least, most, draws * p_slot, dups);
    double sd = sqrt(draws * p_slot * (1.0 - p_slot));
    assert_true(least > draws * p_slot - 5.0 * sd && most < draws * p_slot + 5.0 * sd);
    assert_true(dups > 0); /* the last-write-wins rule was exercised */
    /* every ready window, targets included, as the host replay's */
    float hp[E * T];
    replay_priorities(h, hp);
    int env[E * T];
    int64_t step[E * T];
    int n = ready_after_stream(hp, env, step);
    gbatch g = gbatch_new(be);
    for (int first = 0; first < n; first += B) {
        int nb = n - first < B ? n - first : B;
        static hbatch want, got;
        both_windows(h, d, be, &g, nb, env + first, step + first, &want, &got);
        assert_memory_equal(want.pol, got.pol, sizeof want.pol);
        assert_memory_equal(want.val, got.val, sizeof want.val);
    }
    gbatch_free(&g);
    void *all[] = {d_obs, d_pol, d_val, d_avail};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) be->free(be, all[i]);
    device_replay_destroy(d);
    replay_destroy(h);
}

static void test_reanalyse(void **state) {
    (void)state;
    int32_t slots[2][PICKS];
    reanalyse(test_cpu_backend(), slots[0]);
    reanalyse(test_emu_backend(), slots[1]);
    assert_memory_equal(slots[0], slots[1], sizeof slots[0]);
}

/* Under emulation the device replay's kernels are device_replay_cuda.cu's
 * launchers, which refuse a host pointer as an output as a GPU would: a
 * host observation buffer in the batch stops the gather kernel. */
static void windows_into_host_memory(void *arg) {
    mz_backend *be = arg;
    replay_config c = config();
    device_replay *d = device_replay_create(be, &c);
    test_replay tr = {NULL, d, be, E, N, O, A, NULL};
    for (int i = 0; i < 2 * (K + NS); i++) add_both(NULL, &tr, i);
    gbatch g = gbatch_new(be);
    static float host_obs[KB * N * O];
    g.d.obs = host_obs;
    int env[1] = {0};
    int64_t step[1] = {0};
    device_replay_windows(d, 1, env, step, &g.d);
}

static void test_emu_runs_cuda_launchers(void **state) {
    (void)state;
    char text[512];
    int rc = run_in_child(windows_into_host_memory, test_emu_backend(), text, sizeof text);
    assert_int_equal(rc, 1);
    assert_non_null(strstr(text, "drp_gather output"));
    assert_non_null(strstr(text, "not inside a device allocation"));
    /* the CPU backend's loops take host memory: the same call succeeds */
    assert_int_equal(run_in_child(windows_into_host_memory, test_cpu_backend(), text, sizeof text), 0);
}

static int run_device_replay(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_matches_host_cpu), cmocka_unit_test(test_matches_host_emu),
        cmocka_unit_test(test_priority_updates), cmocka_unit_test(test_sampling),
        cmocka_unit_test(test_cpu_emu_same_draws), cmocka_unit_test(test_device_batch_step),
        cmocka_unit_test(test_emu_runs_cuda_launchers), cmocka_unit_test(test_reanalyse),
    };
    return MZ_RUN_GROUP("device_replay", tests);
}
MZ_TEST_GROUP("device_replay", run_device_replay)
