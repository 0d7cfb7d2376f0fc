/* The collectives of src/dist.h under mpirun (make test-mpi runs it with 2
 * ranks): all-reduce mean, parameter broadcast and the cross-rank check on
 * the CPU backend and on the emulated CUDA backend, whose NCCL wrapper
 * (src/dist_nccl.cu) maps onto MPI; and data-parallel training equals
 * one process on the whole batch: a PPO MLP fitted for 20 Adam steps with
 * clipping on each rank's half of 64 rows, gradients averaged as the
 * trainers do, against one process on all 64 rows. Prints
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
    mz_ppo_mlp_init(&m, be, 6, 16, 3, 8, 1.0f, true, 100 + (uint64_t)mz_dist_rank(), 5);
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
    mz_ppo_mlp_init(&m, be, IN, HID, OUT, ROWS, 1.0f, false, 7, 3);
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
        mz_ppo_mlp_init(&m0, be, IN, HID, OUT, ROWS, 1.0f, false, 7, 3);
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
        backends[b]->destroy(backends[b]);
    }
    if (mz_dist_rank() == 0) printf("dist_check: %d passed, %d failed\n", passed, failed);
    fflush(stdout);
    mz_dist_finalize();
    return failed ? 1 : 0;
}
