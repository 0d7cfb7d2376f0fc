/* IPPO / MAPPO: GAE against a hand-computed example (a terminated and a
 * truncated step, with and without truncation bootstrapping), the clipped
 * actor and critic losses against finite differences, the bodies on CPU vs
 * emulated CUDA, orthogonal init, determinism (same seed, same losses; CPU
 * vs emulated CUDA within a tolerance), and learning: IPPO and MAPPO reach
 * the chain task's optimum for 3 seeds. The trainer's checkpoints: saved on
 * SIGINT and loadable; the best actor replays the absolute metric through
 * the final evaluation `mazero eval` runs; evaluation on CPU vs emulated
 * CUDA, repeatable, with its render frames. */
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "envs/vecenv.h"
#include "learner/ppo.h"
#include "learner/ppo_kernels.h"
#include "learner/ppo_ops.h"
#include "src/nn/nn.h"
#include "src/check.h"
#include "src/nn/checkpoint.h"
#include "src/rng.h"
#include "tests/run_test_util.h"
#include "tests/test_util.h"

static void *to_dev(mz_backend *be, const void *host, size_t bytes) {
    void *d = be->alloc(be, bytes);
    be->copy_h2d(be, d, host, bytes);
    return d;
}

/* ---- GAE ---------------------------------------------------------------- */

/* T = 4, E = 2, N = 1, gamma = lambda = 0.5. Env 0: terminated at t = 1,
 * truncated at t = 3 (final value 8); env 1: never done, last value 4.
 * Env 0 by hand (delta = r + gamma next - V, A = delta + 0.25 cont A'):
 *   t3 trunc, bootstrap: next 8, delta 1 + 4 - 4 = 1, A 1, target 5
 *         no bootstrap: next 0, delta -3, A -3, target 1
 *   t2: next V3 = 4, delta 1 + 2 - 3 = 0, A 0 + 0.25 A3 (0.25 | -0.75)
 *   t1 term: next 0, delta 1 - 2 = -1, A -1, target 1
 *   t0: next V1 = 2, delta 1 + 1 - 1 = 1, A 1 + 0.25 (-1) = 0.75
 * Env 1 (V 0, r = 1 0 0 0): A3 = 0.5 * 4 = 2, A2 = 0.5, A1 = 0.125,
 *   A0 = 1 + 0.03125 = 1.03125. */
static void gae_case(mz_backend *be, int bootstrap) {
    enum { T = 4, E = 2 };
    const float value[T * E] = {1, 0, 2, 0, 3, 0, 4, 0};
    const float reward[T * E] = {1, 1, 1, 0, 1, 0, 1, 0};
    const uint8_t term[T * E] = {0, 0, 1, 0, 0, 0, 0, 0};
    const uint8_t trunc[T * E] = {0, 0, 0, 0, 0, 0, 1, 0};
    const float final_value[T * E] = {99, 99, 99, 99, 99, 99, 8, 99};
    const float last_value[E] = {10, 4};
    const float adv_b[T * E] = {0.75f, 1.03125f, -1, 0.125f, 0.25f, 0.5f, 1, 2};
    const float adv_m[T * E] = {0.75f, 1.03125f, -1, 0.125f, -0.75f, 0.5f, -3, 2};
    const float *want = bootstrap ? adv_b : adv_m;
    float want_target[T * E];
    for (int i = 0; i < T * E; i++) want_target[i] = want[i] + value[i];
    float *d[6] = {(float *)to_dev(be, value, sizeof value), (float *)to_dev(be, reward, sizeof reward),
                   (float *)to_dev(be, final_value, sizeof final_value),
                   (float *)to_dev(be, last_value, sizeof last_value), (float *)be->alloc(be, sizeof value),
                   (float *)be->alloc(be, sizeof value)};
    uint8_t *dterm = (uint8_t *)to_dev(be, term, sizeof term), *dtrunc = (uint8_t *)to_dev(be, trunc, sizeof trunc);
    mz_ppo_gae(be, d[4], d[5], d[0], d[1], dterm, dtrunc, d[2], d[3], T, E, 1, 0.5f, 0.5f, bootstrap);
    float adv[T * E], target[T * E];
    be->copy_d2h(be, adv, d[4], sizeof adv);
    be->copy_d2h(be, target, d[5], sizeof target);
    assert_close(want, adv, T * E, 1e-6, 0, "gae advantages");
    assert_close(want_target, target, T * E, 1e-6, 0, "gae targets");
    for (int i = 0; i < 6; i++) be->free(be, d[i]);
    be->free(be, dterm);
    be->free(be, dtrunc);
}

static void test_gae_hand(void **state) {
    (void)state;
    for (int b = 0; b < 2; b++) {
        gae_case(test_cpu_backend(), b);
        gae_case(test_emu_backend(), b);
    }
}

/* ---- losses ------------------------------------------------------------- */

#define LR 8
#define LA 5

typedef struct {
    float logits[LR * LA], logp_old[LR], adv[LR];
    uint8_t avail[LR * LA];
    int32_t action[LR];
    float value[LR], value_old[LR], target[LR];
} loss_case;

static void make_loss_case(loss_case *c) {
    fill_normal(c->logits, LR * LA, 11);
    fill_normal(c->adv, LR, 12);
    fill_normal(c->target, LR, 13);
    fill_normal(c->value_old, LR, 14);
    for (int r = 0; r < LR; r++) {
        for (int a = 0; a < LA; a++) c->avail[r * LA + a] = (uint8_t)((a + r) % 3 != 0 || a == r % LA);
        c->action[r] = r % LA;
        float lse = masked_logsumexp(c->logits + r * LA, c->avail + r * LA, LA);
        /* ratios well inside or well outside the clip range, away from kinks */
        const float shift[4] = {0.05f, -0.5f, 0.4f, -0.08f};
        c->logp_old[r] = c->logits[r * LA + c->action[r]] - lse + shift[r % 4];
        const float dv[4] = {0.05f, -0.6f, 0.5f, -0.1f};
        c->value[r] = c->value_old[r] + dv[r % 4];
    }
}

static double actor_total(const loss_case *c, const float *logits, float mean, float std) {
    float dl[LR * LA], loss[LR], stats[3 * LR];
    double s = 0;
    for (int r = 0; r < LR; r++) {
        ppo_actor_loss_body(r, dl, loss, stats, logits, c->avail, c->action, c->logp_old, c->adv, mean, std, LA, LR,
                            0.2f, 0.01f);
        s += loss[r];
    }
    return s / LR;
}

static double critic_total(const loss_case *c, const float *value) {
    float dv[LR], loss[LR];
    double s = 0;
    for (int r = 0; r < LR; r++) {
        ppo_critic_loss_body(r, dv, loss, value, c->value_old, c->target, LR, 0.2f, 0.5f);
        s += loss[r];
    }
    return s / LR;
}

static void test_loss_gradients(void **state) {
    (void)state;
    loss_case c;
    make_loss_case(&c);
    float mean = 0.1f, std = 0.9f;
    float dl[LR * LA], loss[LR], stats[3 * LR];
    for (int r = 0; r < LR; r++)
        ppo_actor_loss_body(r, dl, loss, stats, c.logits, c.avail, c.action, c.logp_old, c.adv, mean, std, LA, LR, 0.2f,
                            0.01f);
    const float h = 1e-3f;
    float fd[LR * LA];
    for (int i = 0; i < LR * LA; i++) {
        float x[LR * LA];
        memcpy(x, c.logits, sizeof x);
        x[i] += h;
        double up = actor_total(&c, x, mean, std);
        x[i] -= 2 * h;
        double dn = actor_total(&c, x, mean, std);
        fd[i] = c.avail[i] ? (float)((up - dn) / (2 * h)) : 0.0f;
    }
    assert_close(fd, dl, LR * LA, 2e-4, 2e-2, "actor loss gradient vs finite differences");
    /* the clipped branch is taken somewhere: some rows have zero policy gradient */
    int clipped = 0;
    for (int r = 0; r < LR; r++) clipped += stats[2 * LR + r] > 0.5f;
    assert_true(clipped > 0 && clipped < LR);

    float dv[LR], vl[LR], fdv[LR];
    for (int r = 0; r < LR; r++) ppo_critic_loss_body(r, dv, vl, c.value, c.value_old, c.target, LR, 0.2f, 0.5f);
    for (int r = 0; r < LR; r++) {
        float v[LR];
        memcpy(v, c.value, sizeof v);
        v[r] += h;
        double up = critic_total(&c, v);
        v[r] -= 2 * h;
        double dn = critic_total(&c, v);
        fdv[r] = (float)((up - dn) / (2 * h));
    }
    assert_close(fdv, dv, LR, 2e-4, 2e-2, "critic loss gradient vs finite differences");
    /* by hand, row 0: V - V_old = 0.05 inside the clip, so both terms agree */
    float want0 = 0.5f * 0.5f * (c.value[0] - c.target[0]) * (c.value[0] - c.target[0]);
    assert_close(&want0, &vl[0], 1, 1e-6, 1e-5, "critic loss row 0");
}

/* Central differences (step 1e-3) of f over every parameter of c->m,
 * whose host copy is vals, into fd. */
typedef struct {
    mz_ppo_mlp *m;
    const float *inp, *r, *h0, *keep;
    int rows;
} fd_case;

static void central_differences(const fd_case *c, double (*f)(const fd_case *), float *vals, float *fd) {
    mz_backend *be = c->m->be;
    size_t bytes = (size_t)c->m->p.total * sizeof(float);
    const float h = 1e-3f;
    for (int64_t i = 0; i < c->m->p.total; i++) {
        float keep = vals[i];
        vals[i] = keep + h;
        be->copy_h2d(be, c->m->p.values, vals, bytes);
        double up = f(c);
        vals[i] = keep - h;
        be->copy_h2d(be, c->m->p.values, vals, bytes);
        double dn = f(c);
        vals[i] = keep;
        fd[i] = (float)((up - dn) / (2 * h));
    }
    be->copy_h2d(be, c->m->p.values, vals, bytes);
}

/* The MLP's parameter gradients (with and without LayerNorm) against
 * central differences of L = sum(y * r), on the CPU in float. */
static double mlp_objective(mz_ppo_mlp *m, const float *inp, const float *r, int rows) {
    mz_ppo_mlp_forward(m, inp, rows);
    float y[8 * 3];
    m->be->copy_d2h(m->be, y, m->y, (size_t)rows * m->out * sizeof(float));
    double s = 0.0;
    for (int i = 0; i < rows * m->out; i++) s += (double)y[i] * r[i];
    return s;
}

static double fd_mlp(const fd_case *c) { return mlp_objective(c->m, c->inp, c->r, c->rows); }

static void test_mlp_gradients(void **state) {
    (void)state;
    mz_backend *be = test_cpu_backend();
    enum { ROWS = 8, IN = 5, H = 6, OUT = 3 };
    float inp[ROWS * IN], r[ROWS * OUT];
    mz_rng g;
    mz_rng_init(&g, 11, 2, 0);
    for (int i = 0; i < ROWS * IN; i++) inp[i] = (float)mz_rng_normal(&g);
    for (int i = 0; i < ROWS * OUT; i++) r[i] = (float)mz_rng_normal(&g);
    for (int ln = 0; ln < 2; ln++) {
        mz_ppo_mlp m;
        mz_ppo_mlp_init(&m, be, IN, H, OUT, ROWS, 1.0f, ln, false, 4, 9);
        int64_t P = m.p.total;
        float *vals = (float *)mz_malloc((size_t)P * sizeof(float)), *grad = (float *)mz_malloc((size_t)P * sizeof(float));
        float *fd = (float *)mz_malloc((size_t)P * sizeof(float));
        /* non-zero biases and LayerNorm offsets, so their gradients matter */
        be->copy_d2h(be, vals, m.p.values, (size_t)P * sizeof(float));
        for (int64_t i = 0; i < P; i++)
            if (vals[i] == 0.0f) vals[i] = 0.3f * (float)mz_rng_normal(&g);
        be->copy_h2d(be, m.p.values, vals, (size_t)P * sizeof(float));
        float *din = (float *)to_dev(be, inp, sizeof inp), *dr = (float *)to_dev(be, r, sizeof r);
        mz_params_zero_grads(&m.p);
        mz_ppo_mlp_forward(&m, din, ROWS);
        mz_ppo_mlp_backward(&m, din, dr, ROWS);
        be->copy_d2h(be, grad, m.p.grads, (size_t)P * sizeof(float));
        fd_case c = {&m, din, r, NULL, NULL, ROWS};
        central_differences(&c, fd_mlp, vals, fd);
        assert_close(fd, grad, (int)P, 2e-2, 2e-2,
                     ln ? "MLP with LayerNorm: gradient vs finite differences" : "MLP: gradient vs finite differences");
        be->free(be, din);
        be->free(be, dr);
        free(vals);
        free(grad);
        free(fd);
        mz_ppo_mlp_free(&m);
    }
}

/* The recurrent network (dense, GRU, dense, head) over T = 4 steps of 2
 * rows from a non-zero state, with a reset at step 2 of row 1: every
 * parameter gradient of L = sum(y * r) against central differences. */
static double rec_objective(mz_ppo_mlp *m, const float *inp, const float *r, const float *h0, const float *keep) {
    enum { T = 4, B = 2 };
    mz_ppo_mlp_forward_seq(m, inp, T, B, h0, keep);
    float y[T * B * 3];
    m->be->copy_d2h(m->be, y, m->y, sizeof y);
    double s = 0.0;
    for (int i = 0; i < T * B * 3; i++) s += (double)y[i] * r[i];
    return s;
}

static double fd_rec(const fd_case *c) { return rec_objective(c->m, c->inp, c->r, c->h0, c->keep); }

static void test_rec_mlp_gradients(void **state) {
    (void)state;
    mz_backend *be = test_cpu_backend();
    enum { T = 4, B = 2, ROWS = T * B, IN = 5, H = 6, OUT = 3 };
    float inp[ROWS * IN], r[ROWS * OUT], h0[B * H], keep[ROWS] = {1, 1, 1, 1, 1, 0, 1, 1};
    mz_rng g;
    mz_rng_init(&g, 12, 2, 0);
    for (int i = 0; i < ROWS * IN; i++) inp[i] = (float)mz_rng_normal(&g);
    for (int i = 0; i < ROWS * OUT; i++) r[i] = (float)mz_rng_normal(&g);
    for (int i = 0; i < B * H; i++) h0[i] = 0.5f * (float)mz_rng_normal(&g);
    mz_ppo_mlp m;
    mz_ppo_mlp_init(&m, be, IN, H, OUT, ROWS, 1.0f, false, true, 4, 9);
    int64_t P = m.p.total;
    float *vals = (float *)mz_malloc((size_t)P * sizeof(float)), *grad = (float *)mz_malloc((size_t)P * sizeof(float));
    float *fd = (float *)mz_malloc((size_t)P * sizeof(float));
    be->copy_d2h(be, vals, m.p.values, (size_t)P * sizeof(float));
    for (int64_t i = 0; i < P; i++)
        if (vals[i] == 0.0f) vals[i] = 0.3f * (float)mz_rng_normal(&g);
    be->copy_h2d(be, m.p.values, vals, (size_t)P * sizeof(float));
    float *din = (float *)to_dev(be, inp, sizeof inp), *dr = (float *)to_dev(be, r, sizeof r);
    float *dh0 = (float *)to_dev(be, h0, sizeof h0), *dkeep = (float *)to_dev(be, keep, sizeof keep);
    mz_params_zero_grads(&m.p);
    mz_ppo_mlp_forward_seq(&m, din, T, B, dh0, dkeep);
    mz_ppo_mlp_backward_seq(&m, din, dr, T, B, dkeep);
    be->copy_d2h(be, grad, m.p.grads, (size_t)P * sizeof(float));
    fd_case c = {&m, din, r, dh0, dkeep, ROWS};
    central_differences(&c, fd_rec, vals, fd);
    assert_close(fd, grad, (int)P, 2e-2, 2e-2, "recurrent network: gradient vs finite differences");
    void *all[] = {din, dr, dh0, dkeep};
    for (int i = 0; i < 4; i++) be->free(be, all[i]);
    free(vals), free(grad), free(fd);
    mz_ppo_mlp_free(&m);
}

/* The launchers on CPU and emulated CUDA give the same bits as the bodies. */
static void test_bodies_cpu_vs_emu(void **state) {
    (void)state;
    loss_case c;
    make_loss_case(&c);
    float out[2][LR * LA + 4 * LR + LR];
    int32_t acts[2][LR];
    float logp[2][LR];
    mz_backend *bes[2] = {test_cpu_backend(), test_emu_backend()};
    for (int b = 0; b < 2; b++) {
        mz_backend *be = bes[b];
        float *logits = (float *)to_dev(be, c.logits, sizeof c.logits);
        uint8_t *avail = (uint8_t *)to_dev(be, c.avail, sizeof c.avail);
        int32_t *action = (int32_t *)to_dev(be, c.action, sizeof c.action);
        float *lo = (float *)to_dev(be, c.logp_old, sizeof c.logp_old), *adv = (float *)to_dev(be, c.adv, sizeof c.adv);
        float *v = (float *)to_dev(be, c.value, sizeof c.value), *vo = (float *)to_dev(be, c.value_old, sizeof c.value);
        float *tg = (float *)to_dev(be, c.target, sizeof c.target);
        float *dl = (float *)be->alloc(be, sizeof c.logits), *al = (float *)be->alloc(be, LR * sizeof(float));
        float *st = (float *)be->alloc(be, 3 * LR * sizeof(float)), *dv = (float *)be->alloc(be, LR * sizeof(float));
        float *vl = (float *)be->alloc(be, LR * sizeof(float)), *lp = (float *)be->alloc(be, LR * sizeof(float));
        int32_t *sa = (int32_t *)be->alloc(be, LR * sizeof(int32_t));
        mz_ppo_actor_loss(be, dl, al, st, logits, avail, action, lo, adv, 0.1f, 0.9f, LA, LR, 0.2f, 0.01f);
        mz_ppo_critic_loss(be, dv, vl, v, vo, tg, LR, 0.2f, 0.5f);
        mz_masked_sample(be, sa, lp, logits, avail, LR, LA, 0, 7, MZ_STREAM_PPO_ACTION, 100);
        be->copy_d2h(be, out[b], dl, sizeof c.logits);
        be->copy_d2h(be, out[b] + LR * LA, al, LR * sizeof(float));
        be->copy_d2h(be, out[b] + LR * LA + LR, st, 3 * LR * sizeof(float));
        be->copy_d2h(be, out[b] + LR * LA + 4 * LR, dv, LR * sizeof(float));
        be->copy_d2h(be, acts[b], sa, sizeof acts[b]);
        be->copy_d2h(be, logp[b], lp, sizeof logp[b]);
        void *all[] = {logits, avail, action, lo, adv, v, vo, tg, dl, al, st, dv, vl, lp, sa};
        for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) be->free(be, all[i]);
    }
    assert_close(out[0], out[1], LR * LA + 5 * LR, 1e-6, 1e-5, "PPO bodies: CPU vs emulated CUDA");
    assert_memory_equal(acts[0], acts[1], sizeof acts[0]);
    assert_close(logp[0], logp[1], LR, 1e-6, 1e-5, "sampled log-probabilities");
    for (int r = 0; r < LR; r++) assert_true(c.avail[r * LA + acts[0][r]]); /* only legal actions */
}

static void test_orthogonal(void **state) {
    (void)state;
    enum { R = 6, C = 10 };
    float w[R * C], t[C * R];
    mz_ppo_orthogonal(w, R, C, 2.0f, 5, 1);
    mz_ppo_orthogonal(t, C, R, 1.0f, 5, 1);
    for (int i = 0; i < R; i++)
        for (int j = 0; j < R; j++) {
            double d = 0, e = 0;
            for (int k = 0; k < C; k++) d += (double)w[i * C + k] * w[j * C + k];
            for (int k = 0; k < C; k++) e += (double)t[k * R + i] * t[k * R + j];
            assert_true(fabs(d - (i == j ? 4.0 : 0.0)) < 1e-5);
            assert_true(fabs(e - (i == j ? 1.0 : 0.0)) < 1e-5);
        }
}

/* ---- whole loop --------------------------------------------------------- */

static mz_vecenv *make_env(mz_backend *be, const char *name, const char *scenario, int E, uint64_t seed) {
    mz_env_params ep;
    char err[256];
    MZ_CHECK(mz_env_params_resolve(&ep, name, scenario, 0, seed, err, sizeof err) == 0, "%s", err);
    return mz_vecenv_create(be, &ep, E);
}

/* 5 updates on spread (truncation every 25 steps, 3 agents); losses per update */
static void run_updates(mz_backend *be, bool mappo, bool layer_norm, bool recurrent, float out[5][4]) {
    mz_vecenv *env = make_env(be, "mpe_simple_spread", "3ag", 4, 9);
    mz_ppo_config cfg;
    mz_ppo_config_default(&cfg);
    cfg.centralised_critic = mappo;
    cfg.layer_norm = layer_norm;
    cfg.recurrent = recurrent;
    cfg.rollout_length = 16;
    cfg.hidden = 32;
    cfg.seed = 3;
    mz_ppo p;
    char err[256];
    MZ_CHECK(mz_ppo_init(&p, env, &cfg, err, sizeof err) == 0, "%s", err);
    for (int u = 0; u < 5; u++) {
        mz_ppo_update_stats st;
        mz_ppo_rollout(&p);
        mz_ppo_update(&p, &st);
        out[u][0] = st.actor_loss;
        out[u][1] = st.value_loss;
        out[u][2] = st.entropy;
        out[u][3] = st.critic_grad_norm;
    }
    mz_ppo_free(&p);
    mz_vecenv_destroy(env);
}

/* Recurrent minibatches split environments: 3 envs do not split in 2. */
static void test_rec_minibatches(void **state) {
    (void)state;
    mz_vecenv *env = make_env(test_cpu_backend(), "chain", "n2-l5", 3, 1);
    mz_ppo_config cfg;
    mz_ppo_config_default(&cfg);
    cfg.recurrent = true;
    cfg.rollout_length = 4; /* 12 samples would split in 2 over time */
    mz_ppo p;
    char err[256];
    assert_int_equal(mz_ppo_init(&p, env, &cfg, err, sizeof err), 2);
    assert_non_null(strstr(err, "env.num_envs=3"));
    mz_vecenv_destroy(env);
}

static void test_determinism(void **state) {
    (void)state;
    /* IPPO, MAPPO, IPPO with LayerNorm, rec IPPO (4 envs of 3 agents:
     * minibatches of 2 whole sequences, 25-step episodes ending inside the
     * 16-step rollouts), rec MAPPO */
    static const char *names[5] = {"IPPO CPU vs emu", "MAPPO CPU vs emulated CUDA", "IPPO+LayerNorm CPU vs emu",
                                   "rec IPPO CPU vs emu", "rec MAPPO CPU vs emu"};
    for (int m = 0; m < 5; m++) {
        float a[5][4], b[5][4], c[5][4];
        bool mappo = m == 1 || m == 4, ln = m == 2, rec = m >= 3;
        run_updates(test_cpu_backend(), mappo, ln, rec, a);
        run_updates(test_cpu_backend(), mappo, ln, rec, b);
        assert_memory_equal(a, b, sizeof a);
        /* emulated CUDA: the same draws and bodies; gemm sums in another
         * order, so agreement to 1e-3 relative over 5 updates */
        run_updates(test_emu_backend(), mappo, ln, rec, c);
        assert_close(&a[0][0], &c[0][0], 20, 1e-4, 1e-3, names[m]);
    }
}

/* IPPO and MAPPO on chain n2-l5 (optimum 0.97 in 4 steps), Mava's
 * recipe with a 3e-3 learning rate: from a near-uniform policy (sampled
 * return below 0.5) to the optimum, greedy exactly and sampled within 0.02
 * over 64 episodes, after a fixed budget, for 3 seeds. */
static void learn_chain(bool mappo, bool recurrent, uint64_t seed) {
    mz_backend *be = test_cpu_backend();
    mz_vecenv *env = make_env(be, "chain", "n2-l5", 16, seed);
    mz_vecenv *ev = make_env(be, "chain", "n2-l5", 8, seed + 100);
    mz_ppo_config cfg;
    mz_ppo_config_default(&cfg);
    cfg.centralised_critic = mappo;
    cfg.recurrent = recurrent;
    cfg.rollout_length = 32;
    cfg.hidden = 64;
    cfg.actor_lr = cfg.critic_lr = 3e-3f;
    cfg.eval_envs = 8;
    cfg.seed = seed;
    mz_ppo p;
    char err[256];
    MZ_CHECK(mz_ppo_init(&p, env, &cfg, err, sizeof err) == 0, "%s", err);
    const int budget = 20; /* updates: 20 x 32 x 16 = 10240 env steps */
    /* the untrained (near-uniform) policy is far from the optimum */
    float before = mz_ppo_evaluate(&p, ev, 64, false, seed, NULL, NULL, NULL);
    if (before > 0.5f) fail_msg("seed %llu: untrained sampled return %.4f", (unsigned long long)seed, before);
    float ret = 0.0f;
    for (int u = 0; u < budget; u++) {
        mz_ppo_rollout(&p);
        mz_ppo_update(&p, NULL);
    }
    ret = mz_ppo_evaluate(&p, ev, 8, true, seed, NULL, NULL, NULL);
    float sampled = mz_ppo_evaluate(&p, ev, 64, false, seed, NULL, NULL, NULL);
    float optimum = 1.0f - 0.01f * 3;
    if (fabsf(ret - optimum) > 1e-4f || sampled < optimum - 0.02f)
        fail_msg("%s seed %llu: greedy return %.4f, sampled %.4f after %d updates, optimum %.4f",
                 recurrent ? (mappo ? "rec MAPPO" : "rec IPPO") : mappo ? "MAPPO" : "IPPO", (unsigned long long)seed, ret, sampled, budget, optimum);
    mz_ppo_free(&p);
    mz_vecenv_destroy(ev);
    mz_vecenv_destroy(env);
}

static void test_ippo_learns_chain(void **state) {
    (void)state;
    for (uint64_t s = 1; s <= 3; s++) learn_chain(false, false, s);
}

/* rec IPPO: the same task, budget and learning rate (a GRU(64) after the
 * first layer, minibatches of 8 whole 32-step sequences) */
static void test_rec_ippo_learns_chain(void **state) {
    (void)state;
    for (uint64_t s = 1; s <= 3; s++) learn_chain(false, true, s);
}

static void test_mappo_learns_chain(void **state) {
    (void)state;
    for (uint64_t s = 1; s <= 3; s++) learn_chain(true, false, s);
}

/* ppo.team_reward: each agent's stored reward is its env's team reward (on
 * simple_spread the sum of the agents', which differ by their collision
 * penalties), the same rollout otherwise, on CPU and emulated CUDA. */
static void team_reward_case(mz_backend *be) {
    const int E = 8, T = 64;
    float *rew[2];
    int EN = 0;
    for (int team = 0; team < 2; team++) {
        mz_vecenv *env = make_env(be, "mpe_simple_spread", "3ag", E, 5);
        mz_ppo_config cfg;
        mz_ppo_config_default(&cfg);
        cfg.rollout_length = T;
        cfg.hidden = 16;
        cfg.team_reward = team;
        cfg.seed = 7;
        mz_ppo p;
        char err[256];
        MZ_CHECK(mz_ppo_init(&p, env, &cfg, err, sizeof err) == 0, "%s", err);
        mz_ppo_rollout(&p);
        EN = (int)p.EN;
        rew[team] = (float *)mz_malloc((size_t)T * EN * sizeof(float));
        be->copy_d2h(be, rew[team], p.reward, (size_t)T * EN * sizeof(float));
        mz_ppo_free(&p);
        mz_vecenv_destroy(env);
    }
    int N = EN / E, differ = 0;
    for (int r = 0; r < T * E; r++) {
        float sum = 0.0f;
        for (int n = 0; n < N; n++) sum += rew[0][r * N + n];
        for (int n = 0; n < N; n++) {
            assert_float_equal(rew[1][r * N + n], sum, 1e-6);
            differ += rew[0][r * N + n] != sum;
        }
    }
    /* individual rewards did differ from the team's somewhere */
    assert_true(differ > 0);
    free(rew[0]);
    free(rew[1]);
}

static void test_team_reward(void **state) {
    (void)state;
    team_reward_case(test_cpu_backend());
    team_reward_case(test_emu_backend());
}

static void test_bad_minibatches(void **state) {
    (void)state;
    mz_vecenv *env = make_env(test_cpu_backend(), "chain", "n2-l5", 3, 1);
    mz_ppo_config cfg;
    mz_ppo_config_default(&cfg);
    cfg.rollout_length = 5;
    cfg.minibatches = 2;
    mz_ppo p;
    char err[256];
    assert_int_equal(mz_ppo_init(&p, env, &cfg, err, sizeof err), 2);
    assert_non_null(strstr(err, "ppo.minibatches=2"));
    mz_vecenv_destroy(env);
}

/* ---- checkpoints and the final evaluation ------------------------------ */

static void count_frame(void *ctx, const mz_env_params *p, const void *state) {
    (void)p, (void)state;
    (*(int *)ctx)++;
}

/* The final evaluation's episodes on one backend: the returns of 6 sampled
 * LBF episodes (two rounds of 4 evaluation envs), the win rate and the
 * frames of env 0's first episode; a second evaluation with the same seed
 * plays the same episodes (it does not depend on the ones before). */
static void evaluate_on(mz_backend *be, bool recurrent, double returns[6], float *win, int *frames) {
    mz_vecenv *env = make_env(be, "lbf", "2s-8x8-2p-2f-coop", 4, 5);
    mz_vecenv *ev = make_env(be, "lbf", "2s-8x8-2p-2f-coop", 4, 77);
    mz_ppo_config cfg;
    mz_ppo_config_default(&cfg);
    cfg.recurrent = recurrent;
    cfg.rollout_length = 8;
    cfg.hidden = 16;
    cfg.eval_envs = 4;
    cfg.seed = 5;
    mz_ppo p;
    char err[256];
    MZ_CHECK(mz_ppo_init(&p, env, &cfg, err, sizeof err) == 0, "%s", err);
    mz_ppo_rollout(&p);
    mz_ppo_update(&p, NULL);
    *frames = 0;
    p.eval_frame = count_frame;
    p.eval_frame_ctx = frames;
    mz_ppo_evaluate(&p, ev, 6, false, 11, returns, win, NULL);
    p.eval_frame = NULL;
    double again[6];
    mz_ppo_evaluate(&p, ev, 6, false, 11, again, NULL, NULL);
    for (int i = 0; i < 6; i++) assert_true(again[i] == returns[i]);
    mz_ppo_free(&p);
    mz_vecenv_destroy(ev);
    mz_vecenv_destroy(env);
}

static void test_evaluate_cpu_vs_emu(void **state) {
    (void)state;
    for (int recurrent = 0; recurrent < 2; recurrent++) {
        double cpu[6], emu[6];
        float cpu_win, emu_win;
        int cpu_frames, emu_frames;
        evaluate_on(test_cpu_backend(), recurrent, cpu, &cpu_win, &cpu_frames);
        evaluate_on(test_emu_backend(), recurrent, emu, &emu_win, &emu_frames);
        float a[6], b[6];
        for (int i = 0; i < 6; i++) a[i] = (float)cpu[i], b[i] = (float)emu[i];
        assert_close(a, b, 6, 1e-5, 0.0, recurrent ? "rec evaluation returns, CPU vs emulated CUDA"
                                                   : "evaluation returns, CPU vs emulated CUDA");
        assert_true(cpu_win == emu_win);
        assert_int_equal(cpu_frames, emu_frames);
        assert_true(cpu_frames > 0 && cpu_frames <= 100); /* one episode: LBF's limit is 100 steps */
    }
}

/* A tiny run on the chain task, its run directory under root. */
static void load_chain_run(mz_config *cfg, const char *root, const char *algo, const char *total_steps,
                           const char *evaluations, const char *ckpt_every) {
    char a[64], t[64], e[64], c[64];
    snprintf(a, sizeof a, "algo=%s", algo);
    snprintf(t, sizeof t, "total_env_steps=%s", total_steps);
    snprintf(e, sizeof e, "ppo.num_evaluation=%s", evaluations);
    snprintf(c, sizeof c, "ppo.checkpoint_interval_updates=%s", ckpt_every);
    char *over[] = {a, t, e, c, "device=cpu", "env.name=chain", "env.scenario=n2-l5", "env.num_envs=4",
                    "ppo.rollout_length=8", "ppo.hidden=16", "ppo.eval_episodes=4", "ppo.absolute_episodes=6",
                    "log.interval_steps=32"};
    load_test_config(cfg, root, (int)(sizeof over / sizeof over[0]), over);
}

/* Loads checkpoints/NAME beside `any` (a file in that folder) into params;
 * returns the step it records. */
static int64_t load_beside(const char *any, const char *name, mz_params *params, bool with_optimizer) {
    char path[1200], err[1024];
    snprintf(path, sizeof path, "%s", any);
    *strrchr(path, '/') = '\0';
    snprintf(path + strlen(path), sizeof path - strlen(path), "/%s", name);
    int64_t step = -1;
    if (mz_checkpoint_load(path, params, with_optimizer, &step, NULL, err, sizeof err)) fail_msg("%s", err);
    return step;
}

/* The best actor of a finished run, evaluated again as `mazero eval` does,
 * gives the absolute metric's episodes exactly (the recurrent one with its
 * GRU state carried through each episode); the final actor and critic load
 * with their Adam moments. */
static void replay_absolute(const char *algo) {
    char root[512];
    make_temp_dir(root, sizeof root);
    mz_config cfg;
    load_chain_run(&cfg, root, algo, "256", "2", "3");
    mz_backend *be = test_cpu_backend();
    assert_int_equal(mz_ppo_train(&cfg, be, "cpu"), 0);
    char metrics[1024], best[1024], err[512];
    assert_int_equal(find_file_with_suffix(root, "metrics.json", metrics, sizeof metrics), 0);
    assert_int_equal(find_file_with_suffix(root, "best_actor.safetensors", best, sizeof best), 0);
    cJSON *json = read_json_file(metrics, NULL);
    const cJSON *seed = json;
    for (int level = 0; level < 4; level++) seed = seed->child; /* env, task, algorithm, seed */
    const cJSON *absolute = cJSON_GetObjectItemCaseSensitive(seed, "absolute_metrics");
    float logged[6];
    assert_int_equal(json_floats(cJSON_GetObjectItemCaseSensitive(absolute, "mean_episode_return"), logged, 6), 6);
    cJSON_Delete(json);

    mz_ppo_run run;
    if (mz_ppo_run_create(&run, &cfg, be, err, sizeof err)) fail_msg("%s", err);
    assert_true(load_beside(best, "best_actor.safetensors", &run.ppo.actor.p, false) > 0);
    double returns[6];
    float replayed[6];
    mz_ppo_run_final_evaluation(&run, 6, returns, NULL);
    for (int i = 0; i < 6; i++) replayed[i] = (float)returns[i];
    assert_close(logged, replayed, 6, 1e-5, 0.0, "the absolute metric's episode returns, replayed");
    assert_int_equal(load_beside(best, "actor.safetensors", &run.ppo.actor.p, true), 8);
    assert_int_equal(load_beside(best, "critic.safetensors", &run.ppo.critic.p, true), 8);
    mz_ppo_run_destroy(&run);
    remove_tree(root);
}

static void test_eval_replays_absolute_metric(void **state) {
    (void)state;
    replay_absolute("ippo");
    replay_absolute("rec_ippo");
}

typedef struct {
    mz_config cfg;
    int rc;
} train_arg;

static void *train_main(void *arg) {
    train_arg *t = arg;
    t->rc = mz_ppo_train(&t->cfg, test_cpu_backend(), "cpu");
    return NULL;
}

/* Ctrl-C mid-run: exit 130 with the actor and critic (Adam moments too) and
 * the best actor saved, each loadable into the run's networks. */
static void test_sigint_saves_checkpoints(void **state) {
    (void)state;
    char root[512], err[512];
    make_temp_dir(root, sizeof root);
    train_arg t;
    /* an evaluation every 3 updates; no periodic checkpoint */
    load_chain_run(&t.cfg, root, "rec_ippo", "100000000", "1000000", "0");
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, train_main, &t), 0);
    bool running = false;
    for (int i = 0; i < 6000 && !running; i++) { /* an evaluation row: there is a best actor (60 s at most) */
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
        running = files_containing(root, "\"eval_episode_length\"") > 0;
    }
    assert_true(running);
    /* to the training thread, as a terminal's Ctrl-C reaches it */
    assert_int_equal(pthread_kill(th, SIGINT), 0);
    assert_int_equal(pthread_join(th, NULL), 0);
    assert_int_equal(t.rc, 130);
    char best[1024];
    assert_int_equal(find_file_with_suffix(root, "best_actor.safetensors", best, sizeof best), 0);
    mz_ppo_run run;
    if (mz_ppo_run_create(&run, &t.cfg, test_cpu_backend(), err, sizeof err)) fail_msg("%s", err);
    int64_t updates = load_beside(best, "actor.safetensors", &run.ppo.actor.p, true);
    assert_true(updates > 0);
    assert_int_equal(load_beside(best, "critic.safetensors", &run.ppo.critic.p, true), updates);
    int64_t best_update = load_beside(best, "best_actor.safetensors", &run.ppo.actor.p, false);
    assert_true(best_update > 0 && best_update <= updates);
    mz_ppo_run_destroy(&run);
    remove_tree(root);
}

static int run_group(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gae_hand),         cmocka_unit_test(test_loss_gradients),
        cmocka_unit_test(test_bodies_cpu_vs_emu), cmocka_unit_test(test_orthogonal),
        cmocka_unit_test(test_determinism),      cmocka_unit_test(test_ippo_learns_chain),
        cmocka_unit_test(test_mappo_learns_chain), cmocka_unit_test(test_bad_minibatches),
        cmocka_unit_test(test_team_reward),      cmocka_unit_test(test_mlp_gradients),
        cmocka_unit_test(test_rec_ippo_learns_chain), cmocka_unit_test(test_rec_mlp_gradients),
        cmocka_unit_test(test_rec_minibatches), cmocka_unit_test(test_eval_replays_absolute_metric),
        cmocka_unit_test(test_sigint_saves_checkpoints), cmocka_unit_test(test_evaluate_cpu_vs_emu),
    };
    return MZ_RUN_GROUP("ppo", tests);
}

MZ_TEST_GROUP("ppo", run_group)
