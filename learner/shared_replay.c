/* Shared replay for async mode: see shared_replay.h. Lock order: `mu`
 * (replay, bookkeeping) and `qmu` (queue) are never held together. */
#include "learner/shared_replay.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "src/check.h"
#include "src/rng.h"

#define POLL_SECONDS 0.05

struct shared_replay {
    shared_replay_config c;
    replay *rb;
    pthread_mutex_t mu;
    pthread_cond_t data_cv; /* new ready steps */
    int64_t *version;       /* [E*T] of the step in each slot */
    int64_t *drawn;         /* [E*T] step + 1 of the slot's step once drawn, else 0 */
    shared_replay_stats st;
    /* the prefetch queue */
    pthread_mutex_t qmu;
    pthread_cond_t qcv;
    shared_batch *q; /* [queue] */
    int head, filled, taken;
    int stop;
    int sampler_running;
    pthread_t sampler;
};

#define LOCK(m) MZ_CHECK(pthread_mutex_lock(m) == 0, "shared replay: mutex lock failed")
#define UNLOCK(m) MZ_CHECK(pthread_mutex_unlock(m) == 0, "shared replay: mutex unlock failed")
#define WAKE(cv) MZ_CHECK(pthread_cond_broadcast(cv) == 0, "shared replay: condition broadcast failed")

static void timed_wait(pthread_cond_t *cv, pthread_mutex_t *m, double seconds) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    long long ns = (long long)ts.tv_nsec + (long long)(seconds * 1e9);
    ts.tv_sec += (time_t)(ns / 1000000000LL);
    ts.tv_nsec = (long)(ns % 1000000000LL);
    int rc = pthread_cond_timedwait(cv, m, &ts);
    MZ_CHECK(rc == 0 || rc == ETIMEDOUT, "shared replay: condition wait failed (%d)", rc);
}

shared_replay *shared_replay_create(const shared_replay_config *cfg) {
    MZ_CHECK(cfg->batch >= 1 && cfg->queue >= 1 && cfg->min_ready >= 1, "shared replay: batch %d, queue %d, min ready %lld",
             cfg->batch, cfg->queue, (long long)cfg->min_ready);
    shared_replay *sr = mz_calloc(1, sizeof *sr);
    sr->c = *cfg;
    sr->c.replay.max_batch = cfg->batch;
    sr->rb = replay_create(&sr->c.replay);
    size_t ET = (size_t)cfg->replay.E * cfg->replay.T;
    sr->version = mz_calloc(ET, sizeof(int64_t));
    sr->drawn = mz_calloc(ET, sizeof(int64_t));
    MZ_CHECK(pthread_mutex_init(&sr->mu, NULL) == 0 && pthread_mutex_init(&sr->qmu, NULL) == 0,
             "shared replay: mutex init failed");
    MZ_CHECK(pthread_cond_init(&sr->data_cv, NULL) == 0 && pthread_cond_init(&sr->qcv, NULL) == 0,
             "shared replay: condition init failed");
    sr->q = mz_calloc((size_t)cfg->queue, sizeof(shared_batch));
    for (int i = 0; i < cfg->queue; i++) shared_batch_alloc(&sr->q[i], sr);
    return sr;
}

void shared_replay_destroy(shared_replay *sr) {
    if (!sr) return;
    shared_replay_stop(sr);
    if (sr->sampler_running) MZ_CHECK(pthread_join(sr->sampler, NULL) == 0, "shared replay: joining the sampler failed");
    for (int i = 0; i < sr->c.queue; i++) shared_batch_free(&sr->q[i]);
    free(sr->q);
    free(sr->version);
    free(sr->drawn);
    replay_destroy(sr->rb);
    pthread_cond_destroy(&sr->data_cv);
    pthread_cond_destroy(&sr->qcv);
    pthread_mutex_destroy(&sr->mu);
    pthread_mutex_destroy(&sr->qmu);
    free(sr);
}

static size_t slot_of(const shared_replay *sr, int e, int64_t i) {
    return (size_t)e * sr->c.replay.T + (size_t)(i % sr->c.replay.T);
}

void shared_replay_push(shared_replay *sr, int env0, int envs, int L, const float *obs, const int32_t *actions,
                        const float *rewards, const uint8_t *terminated, const uint8_t *truncated,
                        const float *policy, const float *root_value, const float *final_value, int64_t version) {
    const replay_config *c = &sr->c.replay;
    MZ_CHECK(env0 >= 0 && envs >= 1 && env0 + envs <= c->E && L >= 0, "shared replay: segment of envs %d..%d, %d steps",
             env0, env0 + envs - 1, L);
    size_t NO = (size_t)c->N * c->O, NA = (size_t)c->N * c->A;
    LOCK(&sr->mu);
    for (int t = 0; t < L; t++)
        for (int j = 0; j < envs; j++) {
            size_t k = (size_t)t * envs + j;
            int e = env0 + j;
            int64_t i = replay_steps(sr->rb, e);
            size_t s = slot_of(sr, e, i);
            if (i >= c->T) { /* step i - T leaves */
                sr->st.evicted++;
                if (sr->drawn[s] == i - c->T + 1) sr->st.evicted_sampled++;
            }
            sr->drawn[s] = 0;
            sr->version[s] = version;
            replay_add_env(sr->rb, e, obs + k * NO, actions + k * c->N, rewards[k], terminated[k], truncated[k],
                           policy + k * NA, root_value[k], final_value ? final_value[k] : 0.0f);
        }
    sr->st.pushed += (int64_t)L * envs;
    WAKE(&sr->data_cv);
    UNLOCK(&sr->mu);
}

int64_t shared_replay_ready(shared_replay *sr) {
    LOCK(&sr->mu);
    int64_t r = replay_ready(sr->rb);
    UNLOCK(&sr->mu);
    return r;
}

void shared_batch_alloc(shared_batch *b, const shared_replay *sr) {
    const replay_config *c = &sr->c.replay;
    size_t B = (size_t)sr->c.batch, K1 = (size_t)c->K + 1, K = (size_t)c->K;
    memset(b, 0, sizeof *b);
    b->env = mz_calloc(B, sizeof(int));
    b->step = mz_calloc(B, sizeof(int64_t));
    b->version = mz_calloc(B, sizeof(int64_t));
    b->obs = mz_calloc(K1 * B * c->N * c->O, sizeof(float));
    b->policy = mz_calloc(K1 * B * c->N * c->A, sizeof(float));
    b->value = mz_calloc(K1 * B, sizeof(float));
    b->reward = mz_calloc(K * B, sizeof(float));
    b->mask = mz_calloc(K1 * B, sizeof(float));
    b->weight = mz_calloc(B, sizeof(float));
    b->actions = mz_calloc(K * B * c->N, sizeof(int32_t));
    b->batch = (wm_batch){(int)B, b->obs, b->actions, b->policy, b->value, b->reward, b->mask, b->weight};
}

void shared_batch_free(shared_batch *b) {
    void *all[] = {b->env, b->step, b->version, b->obs, b->policy, b->value, b->reward, b->mask, b->weight, b->actions};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) free(all[i]);
    memset(b, 0, sizeof *b);
}

int shared_replay_sample(shared_replay *sr, shared_batch *out) {
    const replay_config *c = &sr->c.replay;
    size_t B = (size_t)sr->c.batch, K1 = (size_t)c->K + 1, K = (size_t)c->K;
    LOCK(&sr->mu);
    if (replay_ready(sr->rb) < 1) {
        UNLOCK(&sr->mu);
        return 0;
    }
    const wm_batch *w = replay_sample(sr->rb, (int)B, out->env, out->step);
    memcpy(out->obs, w->obs, K1 * B * c->N * c->O * sizeof(float));
    memcpy(out->policy, w->policy, K1 * B * c->N * c->A * sizeof(float));
    memcpy(out->value, w->value, K1 * B * sizeof(float));
    memcpy(out->reward, w->reward, K * B * sizeof(float));
    memcpy(out->mask, w->obs_mask, K1 * B * sizeof(float));
    memcpy(out->weight, w->weight, B * sizeof(float));
    memcpy(out->actions, w->actions, K * B * c->N * sizeof(int32_t));
    for (size_t b = 0; b < B; b++) {
        size_t s = slot_of(sr, out->env[b], out->step[b]);
        out->version[b] = sr->version[s];
        if (sr->drawn[s] != out->step[b] + 1) sr->st.drawn_distinct++;
        sr->drawn[s] = out->step[b] + 1;
    }
    sr->st.windows += (int64_t)B;
    UNLOCK(&sr->mu);
    return 1;
}

void shared_replay_update_priorities(shared_replay *sr, const shared_batch *b, const float *priority) {
    LOCK(&sr->mu);
    replay_update_priorities(sr->rb, sr->c.batch, b->env, b->step, priority);
    UNLOCK(&sr->mu);
}

/* ---- the prefetch queue ---- */

static void *sampler_main(void *arg) {
    shared_replay *sr = arg;
    for (;;) {
        /* a free queue entry */
        LOCK(&sr->qmu);
        while (!sr->stop && sr->filled + sr->taken >= sr->c.queue) timed_wait(&sr->qcv, &sr->qmu, POLL_SECONDS);
        int stop = sr->stop, idx = (sr->head + sr->filled + sr->taken) % sr->c.queue;
        UNLOCK(&sr->qmu);
        if (stop) break;
        /* the warm-up */
        LOCK(&sr->mu);
        int warm = replay_ready(sr->rb) >= sr->c.min_ready;
        if (!warm) timed_wait(&sr->data_cv, &sr->mu, POLL_SECONDS);
        UNLOCK(&sr->mu);
        if (!warm || !shared_replay_sample(sr, &sr->q[idx])) continue;
        LOCK(&sr->qmu);
        sr->filled++;
        WAKE(&sr->qcv);
        UNLOCK(&sr->qmu);
    }
    return NULL;
}

void shared_replay_start_sampler(shared_replay *sr) {
    MZ_CHECK(!sr->sampler_running, "shared replay: sampler already started");
    int rc = pthread_create(&sr->sampler, NULL, sampler_main, sr);
    MZ_CHECK(rc == 0, "shared replay: cannot start the sampler thread (%d)", rc);
    sr->sampler_running = 1;
}

const shared_batch *shared_replay_take(shared_replay *sr, double timeout_seconds) {
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    LOCK(&sr->qmu);
    MZ_CHECK(!sr->taken, "shared replay: take before the previous batch was released");
    const shared_batch *b = NULL;
    for (;;) {
        if (sr->stop) break;
        if (sr->filled > 0) {
            b = &sr->q[sr->head];
            sr->filled--;
            sr->taken = 1;
            break;
        }
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        double left = timeout_seconds - ((double)(now.tv_sec - t0.tv_sec) + 1e-9 * (double)(now.tv_nsec - t0.tv_nsec));
        if (left <= 0.0) break;
        timed_wait(&sr->qcv, &sr->qmu, left < POLL_SECONDS ? left : POLL_SECONDS);
    }
    UNLOCK(&sr->qmu);
    return b;
}

void shared_replay_release(shared_replay *sr, const shared_batch *b, const float *priority) {
    if (priority) shared_replay_update_priorities(sr, b, priority);
    LOCK(&sr->qmu);
    MZ_CHECK(sr->taken && b == &sr->q[sr->head], "shared replay: release of a batch that was not taken");
    sr->taken = 0;
    sr->head = (sr->head + 1) % sr->c.queue;
    WAKE(&sr->qcv);
    UNLOCK(&sr->qmu);
}

void shared_replay_stop(shared_replay *sr) {
    LOCK(&sr->qmu);
    sr->stop = 1;
    WAKE(&sr->qcv);
    UNLOCK(&sr->qmu);
    LOCK(&sr->mu);
    WAKE(&sr->data_cv);
    UNLOCK(&sr->mu);
}

/* ---- reanalyse ---- */

int shared_replay_pick(shared_replay *sr, int R, uint64_t seed, uint64_t counter, float *obs, int *env,
                       int64_t *step) {
    const replay_config *c = &sr->c.replay;
    size_t NO = (size_t)c->N * c->O;
    mz_rng rng;
    mz_rng_init(&rng, seed, 0x4ea11u, counter);
    LOCK(&sr->mu);
    int n = 0;
    for (int tries = 0; n < R && tries < 4 * R; tries++) {
        int e = (int)(mz_rng_uniform(&rng) * (float)c->E);
        if (e >= c->E) e = c->E - 1;
        int64_t count = replay_steps(sr->rb, e), first = count > c->T ? count - c->T : 0;
        if (count == 0) continue;
        int64_t i = first + (int64_t)(mz_rng_uniform(&rng) * (float)(count - first));
        if (i >= count) i = count - 1;
        memcpy(obs + (size_t)n * NO, replay_obs_at(sr->rb, e, i), NO * sizeof(float));
        env[n] = e;
        step[n] = i;
        n++;
    }
    UNLOCK(&sr->mu);
    return n;
}

int shared_replay_refresh(shared_replay *sr, int R, const int *env, const int64_t *step, const float *policy,
                          const float *value) {
    const replay_config *c = &sr->c.replay;
    size_t NA = (size_t)c->N * c->A;
    LOCK(&sr->mu);
    int n = 0;
    for (int k = 0; k < R; k++) {
        if (step[k] < replay_steps(sr->rb, env[k]) - c->T) continue; /* evicted meanwhile */
        replay_set_search(sr->rb, env[k], step[k], policy + (size_t)k * NA, value[k]);
        n++;
    }
    sr->st.refreshed += n;
    UNLOCK(&sr->mu);
    return n;
}

/* ---- resume ---- */

static int state_blocks(shared_replay *sr, mz_state_block *list, int n, int max) {
    size_t ET = (size_t)sr->c.replay.E * sr->c.replay.T;
    replay_state_blocks(sr->rb, list, &n, max);
    mz_state_add(list, &n, max, "shared_replay.version", sr->version, ET * sizeof(int64_t), 0);
    mz_state_add(list, &n, max, "shared_replay.drawn", sr->drawn, ET * sizeof(int64_t), 0);
    mz_state_add(list, &n, max, "shared_replay.counters", &sr->st, sizeof sr->st, 0);
    return n;
}

int shared_replay_save_state(shared_replay *sr, const char *path, mz_backend *be, mz_state_block *list, int n,
                             int max, const char *kind, char *err, size_t err_len) {
    LOCK(&sr->mu);
    n = state_blocks(sr, list, n, max);
    int rc = mz_state_save(path, be, list, n, kind, err, err_len);
    UNLOCK(&sr->mu);
    return rc;
}

int shared_replay_load_state(shared_replay *sr, const char *path, mz_backend *be, mz_state_block *list, int n,
                             int max, const char *kind, char *err, size_t err_len) {
    MZ_CHECK(!sr->sampler_running, "shared replay: state loaded while the sampler runs");
    LOCK(&sr->mu);
    n = state_blocks(sr, list, n, max);
    int rc = mz_state_load(path, be, list, n, kind, err, err_len);
    if (rc == 0) replay_state_loaded(sr->rb);
    UNLOCK(&sr->mu);
    return rc;
}

void shared_replay_end_episodes(shared_replay *sr) {
    LOCK(&sr->mu);
    replay_end_episodes(sr->rb);
    WAKE(&sr->data_cv);
    UNLOCK(&sr->mu);
}

void shared_replay_stats_get(shared_replay *sr, shared_replay_stats *out) {
    const replay_config *c = &sr->c.replay;
    LOCK(&sr->mu);
    *out = sr->st;
    out->stored = 0;
    for (int e = 0; e < c->E; e++) {
        int64_t n = replay_steps(sr->rb, e);
        out->stored += n < c->T ? n : c->T;
    }
    out->drawn_stored = 0;
    for (int e = 0; e < c->E; e++) {
        int64_t count = replay_steps(sr->rb, e), first = count > c->T ? count - c->T : 0;
        for (int64_t i = first; i < count; i++) out->drawn_stored += sr->drawn[slot_of(sr, e, i)] == i + 1;
    }
    out->ready = replay_ready(sr->rb);
    out->priority_total = replay_priority_total(sr->rb);
    UNLOCK(&sr->mu);
}

double shared_replay_check(shared_replay *sr) {
    LOCK(&sr->mu);
    double d = replay_check_priorities(sr->rb);
    UNLOCK(&sr->mu);
    return d;
}
