/* The collectives of src/dist.h under mpirun (make test-mpi runs it with 2
 * ranks): all-reduce mean, parameter broadcast and the cross-rank check on
 * the CPU backend and on the emulated CUDA backend, whose NCCL wrapper
 * (src/dist_nccl.cu) maps onto MPI; and data-parallel training equals
 * one process on the whole batch, gradients averaged as the trainers do:
 * a PPO MLP fitted for 20 Adam steps with clipping on each rank's half of
 * 64 rows against one process on all 64 rows, and the MuZero world model
 * (K-step loss, AdamW with clipping) for 10 steps on each rank's half of 8
 * windows against one process on all 8. Prints
 * "dist_check: N passed, N failed" on rank 0; exits 1 on any failure. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "learner/ppo.h"
#include "src/check.h"
#include "src/dist.h"
#include "src/nn/optim.h"
#include "src/rng.h"
#include "worldmodel/worldmodel.h"

static int passed, failed;

/* Every rank's verdict counts: a check fails if it failed on any rank. */
static void check(bool ok, const char *what, const char *detail) {
    bool bad = mz_dist_any(!ok);
    if (mz_dist_rank() == 0) printf("%s %s%s%s\n", bad ? "FAIL" : "ok  ", what, detail[0] ? ": " : "", detail);
    if (bad) failed++;
    else passed++;
}

static float *to_device(mz_backend *be, const float *host, int64_t n) {
    float *d = (float *)be->alloc(be, (size_t)n * sizeof(float));
    be->copy_h2d(be, d, host, (size_t)n * sizeof(float));
    return d;
}

static void check_allreduce(mz_backend *be, const char *name) {
    enum { N = 1000 };
    int P = mz_dist_size(), rank = mz_dist_rank();
    float host[N], want[N];
    for (int i = 0; i < N; i++) {
        host[i] = (float)(rank + 1) * 0.25f * (float)i - (float)rank;
        double s = 0.0;
        for (int r = 0; r < P; r++) s += (double)(r + 1) * 0.25 * i - r;
        want[i] = (float)(s / P);
    }
    float *d = to_device(be, host, N);
    mz_dist_allreduce_mean(be, d, N);
    be->copy_d2h(be, host, d, sizeof host);
    be->free(be, d);
    double worst = 0.0;
    for (int i = 0; i < N; i++) worst = fmax(worst, fabs((double)host[i] - want[i]) / (1.0 + fabs(want[i])));
    char what[128], detail[128];
    snprintf(what, sizeof what, "%s: all-reduce mean of %d floats", name, N);
    snprintf(detail, sizeof detail, "largest relative error %.2g (tolerance 1e-6)", worst);
    check(worst <= 1e-6, what, detail);
}

static void check_broadcast_and_crc(mz_backend *be, const char *name) {
    mz_ppo_mlp m;
    /* a different seed on every rank: the broadcast must make them equal */
    mz_ppo_mlp_init(&m, be, 6, 16, 3, 8, 1.0f, true, false, 100 + (uint64_t)mz_dist_rank(), 5);
    char what[128];
    snprintf(what, sizeof what, "%s: check_params tells rank-different parameters apart", name);
    check(mz_dist_check_params("(differing on purpose)", &m.p) == 1, what, "");
    mz_dist_broadcast_params(&m.p);
    snprintf(what, sizeof what, "%s: parameters bitwise identical after the broadcast", name);
    check(mz_dist_check_params("broadcast", &m.p) == 0, what, "");
    mz_ppo_mlp_free(&m);
}

enum { ROWS = 64, IN = 6, HID = 16, OUT = 3, STEPS = 20 };

/* Fits the MLP to rows [first, first + rows) of (X, T): loss mean over the
 * rows of |y - t|^2 / 2, Adam (eps 1e-5, lr 1e-2) after global-norm
 * clipping to 0.5, gradients averaged over ranks first when `dist`.
 * losses[STEPS] (the mean over ranks when dist) and the final values. */
static void fit(mz_backend *be, const float *X, const float *T, int first, int rows, bool dist, float *losses,
                float *values, int64_t *count) {
    mz_ppo_mlp m;
    mz_ppo_mlp_init(&m, be, IN, HID, OUT, ROWS, 1.0f, false, false, 7, 3);
    float *dx = to_device(be, X + (size_t)first * IN, (int64_t)rows * IN);
    float *ddy = (float *)be->alloc(be, (size_t)rows * OUT * sizeof(float));
    float y[ROWS * OUT], dy[ROWS * OUT];
    mz_adamw_config ac = {0.9f, 0.999f, 1e-5f, 0.0f, 0.5f, 1.0f};
    for (int t = 0; t < STEPS; t++) {
        mz_params_zero_grads(&m.p);
        mz_ppo_mlp_forward(&m, dx, rows);
        be->copy_d2h(be, y, m.y, (size_t)rows * OUT * sizeof(float));
        double loss = 0.0;
        for (int i = 0; i < rows * OUT; i++) {
            float e = y[i] - T[(size_t)first * OUT + i];
            loss += 0.5 * e * e;
            dy[i] = e / (float)rows;
        }
        losses[t] = (float)(loss / rows);
        be->copy_h2d(be, ddy, dy, (size_t)rows * OUT * sizeof(float));
        mz_ppo_mlp_backward(&m, dx, ddy, rows);
        if (dist) {
            mz_dist_host_allreduce_mean(&losses[t], 1);
            mz_dist_allreduce_mean(be, m.p.grads, m.p.total); /* as learner/ppo.c and learner/learner.c */
        }
        mz_adamw_step(&m.p, &ac, 1e-2f, t + 1, m.dot);
    }
    *count = m.p.total;
    be->copy_d2h(be, values, m.p.values, (size_t)m.p.total * sizeof(float));
    if (dist) {
        char what[128];
        snprintf(what, sizeof what, "fit: parameters bitwise identical on every rank after %d steps", STEPS);
        check(mz_dist_check_params("fitted MLP", &m.p) == 0, what, "");
    }
    be->free(be, dx);
    be->free(be, ddy);
    mz_ppo_mlp_free(&m);
}

static void check_equivalence(mz_backend *be, const char *name) {
    int P = mz_dist_size();
    float X[ROWS * IN], T[ROWS * OUT];
    mz_rng g;
    mz_rng_init(&g, 21, 1, 0);
    for (int i = 0; i < ROWS * IN; i++) X[i] = mz_rng_normal(&g);
    for (int i = 0; i < ROWS * OUT; i++) T[i] = mz_rng_normal(&g) + 0.5f * X[(i / OUT) * IN + i % OUT];
    float one_loss[STEPS], dist_loss[STEPS];
    float *one = malloc(sizeof(float) * 8192), *many = malloc(sizeof(float) * 8192);
    MZ_CHECK(one && many, "dist_check: out of host memory");
    int64_t n1 = 0, n2 = 0;
    fit(be, X, T, 0, ROWS, false, one_loss, one, &n1);
    int per = ROWS / P;
    fit(be, X, T, mz_dist_rank() * per, per, true, dist_loss, many, &n2);
    MZ_CHECK(n1 == n2 && n1 <= 8192, "dist_check: %lld and %lld parameters", (long long)n1, (long long)n2);
    double loss_err = 0.0, param_err = 0.0, moved = 0.0;
    for (int t = 0; t < STEPS; t++) loss_err = fmax(loss_err, fabs(one_loss[t] - dist_loss[t]) / fabs(one_loss[t]));
    float init[8192];
    {
        mz_ppo_mlp m0;
        mz_ppo_mlp_init(&m0, be, IN, HID, OUT, ROWS, 1.0f, false, false, 7, 3);
        be->copy_d2h(be, init, m0.p.values, (size_t)n1 * sizeof(float));
        mz_ppo_mlp_free(&m0);
    }
    for (int64_t i = 0; i < n1; i++) {
        param_err = fmax(param_err, fabs(one[i] - many[i]));
        moved = fmax(moved, fabs(one[i] - init[i]));
    }
    char what[160], detail[200];
    snprintf(what, sizeof what, "%s: %d ranks x %d rows = 1 process x %d rows over %d Adam steps", name, P, per, ROWS,
             STEPS);
    snprintf(detail, sizeof detail,
             "loss %.4f -> %.4f, largest relative loss difference %.2g (tolerance 1e-5), largest parameter "
             "difference %.2g (tolerance 1e-5; parameters moved up to %.2g)",
             one_loss[0], one_loss[STEPS - 1], loss_err, param_err, moved);
    check(loss_err <= 1e-5 && param_err <= 1e-5 && one_loss[STEPS - 1] < 0.9f * one_loss[0], what, detail);
    free(one);
    free(many);
}

/* ---- the world model: 2 ranks x 4 windows = 1 process x 8 ---------------- */

enum { WB = 8, WN = 2, WO = 3, WA = 3, WK = 2, WSTEPS = 10 };

typedef struct {
    float obs[(WK + 1) * WB * WN * WO];
    int32_t actions[WK * WB * WN];
    float policy[(WK + 1) * WB * WN * WA];
    float value[(WK + 1) * WB], reward[WK * WB], mask[(WK + 1) * WB], weight[WB];
} wm_host;

static void wm_host_fill(wm_host *h) {
    mz_rng g;
    mz_rng_init(&g, 31, 1, 0);
    for (size_t i = 0; i < sizeof h->obs / sizeof(float); i++) h->obs[i] = mz_rng_normal(&g);
    for (size_t i = 0; i < sizeof h->actions / sizeof(int32_t); i++) h->actions[i] = (int32_t)((i * 7 + 1) % WA);
    for (int r = 0; r < (WK + 1) * WB * WN; r++) {
        float sum = 0.0f;
        for (int a = 0; a < WA; a++) sum += h->policy[r * WA + a] = expf(mz_rng_normal(&g));
        for (int a = 0; a < WA; a++) h->policy[r * WA + a] /= sum;
    }
    for (int i = 0; i < (WK + 1) * WB; i++) h->value[i] = 2.0f * mz_rng_normal(&g), h->mask[i] = 1.0f;
    for (int i = 0; i < WK * WB; i++) h->reward[i] = mz_rng_normal(&g);
    h->mask[WK * WB + 1] = 0.0f; /* window 1's last observation is past its episode */
    for (int b = 0; b < WB; b++) h->weight[b] = 0.5f + 0.125f * (float)b;
}

/* windows [first, first + B) of h into out, every [k][b] array sliced on b */
static void wm_host_slice(const wm_host *h, int first, int B, wm_host *out) {
    for (int k = 0; k <= WK; k++)
        for (int b = 0; b < B; b++) {
            int src = k * WB + first + b, dst = k * B + b;
            memcpy(&out->obs[(size_t)dst * WN * WO], &h->obs[(size_t)src * WN * WO], sizeof(float) * WN * WO);
            memcpy(&out->policy[(size_t)dst * WN * WA], &h->policy[(size_t)src * WN * WA], sizeof(float) * WN * WA);
            out->value[dst] = h->value[src], out->mask[dst] = h->mask[src];
            if (k < WK) {
                memcpy(&out->actions[(size_t)dst * WN], &h->actions[(size_t)src * WN], sizeof(int32_t) * WN);
                out->reward[dst] = h->reward[src];
            }
        }
    for (int b = 0; b < B; b++) out->weight[b] = h->weight[first + b];
}

/* WSTEPS updates as learner/learner.c does them (zero, forward, backward,
 * all-reduce when dist, AdamW with clipping); losses and final values out */
static int64_t wm_fit(mz_backend *be, const wm_host *h, int first, int B, bool dist, float *losses, float *grad0,
                      float *values) {
    wm_config c;
    memset(&c, 0, sizeof c);
    c.N = WN, c.O = WO, c.A = WA, c.H = 8, c.F = 8, c.head_F = 8, c.P = 4, c.S = 3;
    c.comm_layers = 1, c.comm_heads = 2, c.comm_ff = 8, c.comm_concat = 1;
    c.K = WK, c.max_batch = WB, c.max_trees = 1, c.max_nodes = 2, c.max_envs = 1, c.discount = 0.9f;
    c.coef_reward = 1.0f, c.coef_value = 0.25f, c.coef_policy = 1.0f, c.coef_consistency = 2.0f;
    c.hidden_grad_scale = 0.5f, c.seed = 5;
    char err[256];
    wm_model *m = wm_create(be, &c, err, sizeof err);
    MZ_CHECK(m, "dist_check: %s", err);
    static wm_host part;
    wm_host_slice(h, first, B, &part);
    wm_batch batch = {B, part.obs, part.actions, part.policy, part.value, part.reward, part.mask, part.weight};
    mz_params *p = wm_params(m);
    float *dot = (float *)be->alloc(be, sizeof(float));
    mz_adamw_config ac = {0.9f, 0.999f, 1e-8f, 1e-4f, 1.0f, 1.0f};
    for (int t = 0; t < WSTEPS; t++) {
        wm_upload(m, &batch);
        mz_params_zero_grads(p);
        wm_losses l;
        wm_forward_loss(m, &l);
        wm_backward(m);
        losses[t] = l.total;
        if (dist) {
            mz_dist_host_allreduce_mean(&losses[t], 1);
            mz_dist_allreduce_mean(be, p->grads, p->total);
        }
        if (t == 0) be->copy_d2h(be, grad0, p->grads, (size_t)p->total * sizeof(float));
        mz_adamw_step(p, &ac, 3e-3f, t + 1, dot);
    }
    int64_t n = p->total;
    MZ_CHECK(n <= 65536, "dist_check: %lld world-model parameters", (long long)n);
    be->copy_d2h(be, values, p->values, (size_t)n * sizeof(float));
    if (dist) check(mz_dist_check_params("world model", p) == 0, "world model: parameters bitwise identical on every rank", "");
    be->free(be, dot);
    wm_destroy(m);
    return n;
}

static void check_world_model(mz_backend *be, const char *name) {
    static wm_host h;
    static float one[65536], many[65536], g_one[65536], g_many[65536];
    wm_host_fill(&h);
    float one_loss[WSTEPS], dist_loss[WSTEPS];
    int P = mz_dist_size(), per = WB / P;
    int64_t n = wm_fit(be, &h, 0, WB, false, one_loss, g_one, one);
    wm_fit(be, &h, mz_dist_rank() * per, per, true, dist_loss, g_many, many);
    double loss_err = 0.0, param_err = 0.0, grad_err = 0.0, grad_max = 0.0;
    for (int t = 0; t < WSTEPS; t++) loss_err = fmax(loss_err, fabs(one_loss[t] - dist_loss[t]) / fabs(one_loss[t]));
    for (int64_t i = 0; i < n; i++) {
        param_err = fmax(param_err, fabs(one[i] - many[i]));
        grad_err = fmax(grad_err, fabs(g_one[i] - g_many[i]));
        grad_max = fmax(grad_max, fabs(g_one[i]));
    }
    grad_err /= grad_max;
    char what[160], detail[320];
    snprintf(what, sizeof what, "%s: world model, %d ranks x %d windows = 1 process x %d over %d AdamW steps", name, P,
             per, WB, WSTEPS);
    /* AdamW (eps 1e-8, as the learner) moves a parameter whose gradient is
     * rounding noise by up to lr a step in the noise's direction, so the
     * parameters are held to lr x steps / 30 = 1e-3; the gradient itself to 1e-5 */
    snprintf(detail, sizeof detail,
             "loss %.4f -> %.4f, largest relative loss difference %.2g (tolerance 1e-5), first gradient "
             "%.2g of its largest entry (tolerance 1e-5), largest parameter difference %.2g (tolerance 1e-3)",
             one_loss[0], one_loss[WSTEPS - 1], loss_err, grad_err, param_err);
    check(loss_err <= 1e-5 && grad_err <= 1e-5 && param_err <= 1e-3 && one_loss[WSTEPS - 1] < one_loss[0], what,
          detail);
}

int main(void) {
    mz_dist_init();
    if (mz_dist_rank() == 0)
        printf("dist_check: %d ranks (%s), local rank of rank 0: %d\n", mz_dist_size(), mz_dist_backend_name(),
               mz_dist_local_rank());
    check(mz_dist_size() >= 2, "started by mpirun with at least 2 ranks", "");
    check(mz_dist_min_i64(10 + mz_dist_rank()) == 10 && mz_dist_any(mz_dist_rank() == 1) &&
              !mz_dist_any(false),
          "host collectives: min, any", "");
    check(mz_rng_rank_seed(5, 0) == 5 && mz_rng_rank_seed(5, 1) != 5 && mz_rng_rank_seed(5, 1) != mz_rng_rank_seed(5, 2),
          "rank seeds: rank 0 keeps the seed, the others differ", "");
    char reason[256];
    mz_backend *backends[2] = {mz_backend_cpu_create(1), NULL};
    const char *names[2] = {"cpu (MPI)", "emulated cuda (NCCL wrapper)"};
    MZ_CHECK(mz_cuda_probe(0, reason, sizeof reason) == 0, "dist_check: emulated CUDA probe failed: %s", reason);
    backends[1] = mz_backend_cuda_create(0);
    for (int b = 0; b < 2; b++) {
        check_allreduce(backends[b], names[b]);
        check_broadcast_and_crc(backends[b], names[b]);
        check_equivalence(backends[b], names[b]);
        check_world_model(backends[b], names[b]);
        backends[b]->destroy(backends[b]);
    }
    if (mz_dist_rank() == 0) printf("dist_check: %d passed, %d failed\n", passed, failed);
    fflush(stdout);
    mz_dist_finalize();
    return failed ? 1 : 0;
}
