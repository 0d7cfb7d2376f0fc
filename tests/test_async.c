/* Async mode's pieces and the whole loop.
 *
 *   sum tree: sampling and totals against brute force;
 *   shared replay under contention: 8 writer threads pushing random
 *     episodes in random-length segments, 2 sampler threads and the
 *     prefetch queue's consumer, for ~1.5 s; every sampled window stays in
 *     its environment and episode (observations carry env, step and
 *     episode), and afterwards every pushed step is stored or evicted,
 *     every drawn step is evicted-after-draw or still stored, and the
 *     priority tree equals the stored priorities;
 *   parameter publishing: 4 readers never see a block mixing two versions
 *     while a writer publishes as fast as it can;
 *   flow control on a synthetic producer/consumer (fast producers, then a
 *     fast consumer): |u B - rho S| <= rho (slack + segment) + B at every
 *     check, and the final ratio within B / S of rho;
 *   end to end: async MuZero (2 actors) on the 2-agent chain reaches the
 *     optimum 0.97 (greedy with search and on the prior) within 4000 env
 *     steps for at least 2 of 4 seeds (runs are not reproducible: thread
 *     timing decides which parameters played which step); reanalyse threads refresh targets; an injected
 *     actor failure makes the run report it (-1 and the message); SIGINT
 *     mid-run returns 130 within seconds with a loadable checkpoint and a
 *     metrics.jsonl whose every line is JSON;
 *   legal actions: async actors on LBF never load away from a food (their
 *     roots read the envs' legal-action masks, as sync self-play's do);
 *   resume: a stopped run's model and async_save_state load into a new run
 *     with equal counters, replay bookkeeping and priorities; it goes on
 *     with a finite first loss and the parameter versions continuing, and
 *     a state saved without the replay warms up again; SIGINT mid-run and
 *     `resume=` of its directory finish the budget in that one directory,
 *     with env steps and updates in metrics.jsonl never going back.
 * The group "async" runs under `make tsan` as well; sanitizer builds shorten
 * the end-to-end budgets. */
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "actors/async.h"
#include "actors/flow.h"
#include "actors/mazero_train.h"
#include "actors/param_slot.h"
#include "learner/shared_replay.h"
#include "envs/lbf/lbf.h"
#include "learner/sumtree.h"
#include "src/nn/checkpoint.h"
#include "src/rng.h"
#include "tests/run_test_util.h"
#include "tests/test_util.h"
#include "src/clock.h"

static void sleep_us(long us) {
    struct timespec ts = {us / 1000000, (us % 1000000) * 1000};
    nanosleep(&ts, NULL);
}

/* Sanitizer builds run the code 5-20x slower: shorter end-to-end budgets,
 * one seed, and the learning criterion is left to the plain build. */
static int under_tsan(void) {
#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
    return 1;
#else
    return 0;
#endif
}

/* ---- sum tree ---- */

static void test_sumtree(void **state) {
    (void)state;
    mz_sumtree t;
    mz_sumtree_init(&t, 37);
    double w[37] = {0};
    mz_rng rng;
    mz_rng_init(&rng, 5, 1, 0);
    for (int round = 0; round < 500; round++) {
        int j = (int)(mz_rng_uniform(&rng) * 37) % 37;
        w[j] = mz_rng_uniform(&rng) < 0.3f ? 0.0 : (double)mz_rng_uniform(&rng) * 3.0;
        mz_sumtree_set(&t, j, w[j]);
        double total = 0.0;
        for (int i = 0; i < 37; i++) total += w[i];
        assert_true(fabs(mz_sumtree_total(&t) - total) <= 1e-12 * (1.0 + total));
        if (total <= 0.0) continue;
        double u = (double)mz_rng_uniform(&rng) * total, run = 0.0;
        int want = -1;
        for (int i = 0; i < 37 && want < 0; i++) {
            if (w[i] > 0.0 && u < run + w[i]) want = i;
            run += w[i];
        }
        int64_t got = mz_sumtree_find(&t, u);
        assert_true(w[got] > 0.0);
        if (want >= 0) assert_int_equal(got, want);
    }
    int64_t nonzero = 0;
    assert_true(mz_sumtree_check(&t, &nonzero) < 1e-12);
    int64_t want_nonzero = 0;
    for (int i = 0; i < 37; i++) want_nonzero += w[i] > 0.0;
    assert_int_equal(nonzero, want_nonzero);
    assert_true(w[mz_sumtree_find(&t, 1e300)] > 0.0); /* past the end: the last leaf with weight */
    mz_sumtree_free(&t);
}

/* ---- shared replay under contention ---- */

#define CW 8 /* writers */
#define CS 2 /* samplers */
#define CE 2 /* envs per writer */
#define CN 2
#define CO 3
#define CA 2
#define CT 64
#define CK 3
#define CB 16

typedef struct {
    shared_replay *sr;
    volatile int *stop; /* read under `mu` */
    pthread_mutex_t *mu;
    int id;
    int64_t pushed, per_env[CE];
    int64_t samples;
    int bad;
    char why[256];
} contention_arg;

static int stopped(contention_arg *a) {
    pthread_mutex_lock(a->mu);
    int s = *a->stop;
    pthread_mutex_unlock(a->mu);
    return s;
}

static void *writer_main(void *p) {
    contention_arg *a = p;
    mz_rng rng;
    mz_rng_init(&rng, 11, 2, (uint64_t)a->id);
    enum { L_MAX = 5 };
    float obs[L_MAX * CE * CN * CO], pol[L_MAX * CE * CN * CA], rew[L_MAX * CE], val[L_MAX * CE], fval[L_MAX * CE];
    int32_t act[L_MAX * CE * CN];
    uint8_t term[L_MAX * CE], trunc[L_MAX * CE];
    int64_t episode[CE] = {0}, left[CE] = {0};
    for (int e = 0; e < CE; e++) left[e] = 1 + (int64_t)(mz_rng_uniform(&rng) * 12);
    while (!stopped(a)) {
        int L = 1 + (int)(mz_rng_uniform(&rng) * L_MAX) % L_MAX;
        for (int t = 0; t < L; t++)
            for (int e = 0; e < CE; e++) {
                int k = t * CE + e;
                for (int x = 0; x < CN * CO; x++) obs[k * CN * CO + x] = 0.0f;
                obs[k * CN * CO + 0] = (float)(a->id * CE + e);
                obs[k * CN * CO + 1] = (float)(a->per_env[e] + t);
                obs[k * CN * CO + 2] = (float)episode[e];
                for (int x = 0; x < CN * CA; x++) pol[k * CN * CA + x] = 0.5f;
                for (int x = 0; x < CN; x++) act[k * CN + x] = x % CA;
                rew[k] = 1.0f, val[k] = 0.5f, fval[k] = 0.25f;
                int end = --left[e] == 0;
                term[k] = end && mz_rng_uniform(&rng) < 0.5f;
                trunc[k] = end && !term[k];
                if (end) {
                    episode[e]++;
                    left[e] = 1 + (int64_t)(mz_rng_uniform(&rng) * 12);
                }
            }
        shared_replay_push(a->sr, a->id * CE, CE, L, obs, act, rew, term, trunc, pol, val, fval, a->pushed);
        for (int e = 0; e < CE; e++) a->per_env[e] += L;
        a->pushed += (int64_t)L * CE;
    }
    return NULL;
}

/* every window: first step real, then real steps of the same env and
 * episode at consecutive steps, then only absorbing steps */
static int window_valid(const shared_batch *b, int i, char *why, size_t len) {
    int env = b->env[i];
    int64_t step = b->step[i];
    const float *o0 = b->obs + (size_t)i * CN * CO;
    if (b->mask[i] != 1.0f) return snprintf(why, len, "window %d starts on an absorbing step", i), 0;
    int absorbing = 0;
    for (int k = 0; k <= CK; k++) {
        size_t kb = (size_t)k * CB + i;
        const float *o = b->obs + kb * CN * CO;
        if (b->mask[kb] == 0.0f) {
            absorbing = 1;
            continue;
        }
        if (absorbing) return snprintf(why, len, "window %d: a real step after an absorbing one", i), 0;
        if ((int)o[0] != env || (int64_t)o[1] != step + k || o[2] != o0[2])
            return snprintf(why, len, "window %d (env %d step %lld): step %d holds env %g step %g episode %g (want %g)",
                            i, env, (long long)step, k, o[0], o[1], o[2], o0[2]),
                   0;
    }
    return 1;
}

static void *sampler_main(void *p) {
    contention_arg *a = p;
    shared_batch b;
    shared_batch_alloc(&b, a->sr);
    float prio[CB];
    mz_rng rng;
    mz_rng_init(&rng, 12, 3, (uint64_t)a->id);
    while (!stopped(a)) {
        if (!shared_replay_sample(a->sr, &b)) continue;
        a->samples++;
        for (int i = 0; i < CB && !a->bad; i++) a->bad = !window_valid(&b, i, a->why, sizeof a->why);
        for (int i = 0; i < CB; i++) prio[i] = 0.01f + mz_rng_uniform(&rng);
        shared_replay_update_priorities(a->sr, &b, prio);
    }
    shared_batch_free(&b);
    return NULL;
}

static void *consumer_main(void *p) {
    contention_arg *a = p;
    float prio[CB];
    for (int i = 0; i < CB; i++) prio[i] = 2.0f;
    while (!stopped(a)) {
        const shared_batch *b = shared_replay_take(a->sr, 0.05);
        if (!b) continue;
        a->samples++;
        for (int i = 0; i < CB && !a->bad; i++) a->bad = !window_valid(b, i, a->why, sizeof a->why);
        shared_replay_release(a->sr, b, prio);
    }
    return NULL;
}

static void test_replay_contention(void **state) {
    (void)state;
    shared_replay_config c;
    memset(&c, 0, sizeof c);
    c.replay = (replay_config){CW * CE, CN, CO, CA, CT, CK, 2, 0.9f, 0.6f, 0.4f, 1000, CB, 3, 0.0f};
    c.batch = CB, c.queue = 2, c.min_ready = 1;
    shared_replay *sr = shared_replay_create(&c);
    shared_replay_start_sampler(sr);
    pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
    volatile int stop = 0;
    contention_arg args[CW + CS + 1];
    pthread_t th[CW + CS + 1];
    for (int i = 0; i < CW + CS + 1; i++) {
        memset(&args[i], 0, sizeof args[i]);
        args[i].sr = sr, args[i].stop = &stop, args[i].mu = &mu, args[i].id = i < CW ? i : i - CW;
        void *(*fn)(void *) = i < CW ? writer_main : i < CW + CS ? sampler_main : consumer_main;
        assert_int_equal(pthread_create(&th[i], NULL, fn, &args[i]), 0);
    }
    sleep_us(under_tsan() ? 2000000 : 1500000);
    pthread_mutex_lock(&mu);
    stop = 1;
    pthread_mutex_unlock(&mu);
    for (int i = 0; i < CW + CS + 1; i++) assert_int_equal(pthread_join(th[i], NULL), 0);
    shared_replay_stop(sr);

    int64_t pushed = 0, stored = 0, samples = 0;
    for (int i = 0; i < CW + CS + 1; i++) {
        if (args[i].bad) fail_msg("%s", args[i].why);
        pushed += args[i].pushed;
        samples += args[i].samples;
        if (i < CW)
            for (int e = 0; e < CE; e++) stored += args[i].per_env[e] < CT ? args[i].per_env[e] : CT;
    }
    shared_replay_stats st;
    shared_replay_stats_get(sr, &st);
    print_message("contention: %lld steps pushed, %lld stored, %lld evicted (%lld of them drawn first), %lld windows "
                  "(%lld batches), %lld distinct steps drawn\n",
                  (long long)st.pushed, (long long)st.stored, (long long)st.evicted, (long long)st.evicted_sampled,
                  (long long)st.windows, (long long)samples, (long long)st.drawn_distinct);
    assert_true(pushed > 10 * CT * CW); /* the ring wrapped many times */
    assert_true(samples > 100);
    assert_int_equal(st.pushed, pushed);
    assert_int_equal(st.stored, stored);
    assert_int_equal(st.stored + st.evicted, st.pushed);
    /* windows drawn by the queue's thread but not yet taken count too */
    assert_true(st.windows >= samples * CB && st.windows <= (samples + c.queue) * CB);
    assert_int_equal(st.drawn_distinct, st.evicted_sampled + st.drawn_stored);
    assert_true(st.evicted_sampled <= st.evicted && st.drawn_stored <= st.stored);
    assert_true(shared_replay_check(sr) < 1e-12);
    assert_true(st.ready <= st.stored && st.priority_total > 0.0);
    shared_replay_destroy(sr);
}

/* ---- parameter publishing ---- */

#define PN 4096
#define PR 4

static float param_value(int64_t version, int i) {
    mz_rng r;
    mz_rng_init(&r, (uint64_t)version, 7, (uint64_t)i);
    return mz_rng_uniform(&r);
}

typedef struct {
    mz_param_slot *slot;
    pthread_mutex_t *mu;
    volatile int *stop;
    int64_t reads, torn, backwards, last;
} reader_arg;

static void *reader_main(void *p) {
    reader_arg *a = p;
    float *copy = malloc(PN * sizeof(float));
    for (;;) {
        pthread_mutex_lock(a->mu);
        int s = *a->stop;
        pthread_mutex_unlock(a->mu);
        if (s) break;
        int64_t v;
        const float *buf = mz_param_slot_acquire(a->slot, &v);
        if (!buf) continue;
        memcpy(copy, buf, PN * sizeof(float));
        mz_param_slot_release(a->slot, buf);
        for (int i = 0; i < PN; i++)
            if (copy[i] != param_value(v, i)) {
                a->torn++;
                break;
            }
        a->backwards += v < a->last;
        a->last = v;
        a->reads++;
    }
    free(copy);
    return NULL;
}

static void test_param_publish(void **state) {
    (void)state;
    mz_param_slot *slot = mz_param_slot_create(PN, PR);
    pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
    volatile int stop = 0;
    reader_arg args[PR];
    pthread_t th[PR];
    for (int i = 0; i < PR; i++) {
        memset(&args[i], 0, sizeof args[i]);
        args[i].slot = slot, args[i].mu = &mu, args[i].stop = &stop;
        assert_int_equal(pthread_create(&th[i], NULL, reader_main, &args[i]), 0);
    }
    double end = mz_clock_seconds() + 0.5;
    int64_t published = 0;
    while (mz_clock_seconds() < end) {
        float *buf = mz_param_slot_begin_write(slot);
        for (int i = 0; i < PN; i++) buf[i] = param_value(published + 1, i);
        assert_int_equal(mz_param_slot_publish(slot), published + 1);
        published++;
    }
    pthread_mutex_lock(&mu);
    stop = 1;
    pthread_mutex_unlock(&mu);
    int64_t reads = 0;
    for (int i = 0; i < PR; i++) {
        assert_int_equal(pthread_join(th[i], NULL), 0);
        assert_int_equal(args[i].torn, 0);
        assert_int_equal(args[i].backwards, 0);
        reads += args[i].reads;
    }
    print_message("publishing: %lld versions, %lld whole reads, none torn\n", (long long)published, (long long)reads);
    assert_true(published > 10 && reads > 10);
    assert_int_equal(mz_param_slot_version(slot), published);
    mz_param_slot_destroy(slot);
}

/* ---- flow control ---- */

#define FB 8
#define FSEG 20 /* env steps per reservation: 4 envs x 5 steps */

typedef struct {
    mz_flow *f;
    int slow_us;
} producer_arg;

static void *producer_main(void *p) {
    producer_arg *a = p;
    for (;;) {
        int steps = mz_flow_actor_reserve(a->f, 4, 5);
        if (steps == 0) break;
        if (a->slow_us) sleep_us(a->slow_us);
        mz_flow_actor_pushed(a->f, (int64_t)steps * 4);
    }
    mz_flow_actor_finished(a->f);
    return NULL;
}

static void flow_case(double ratio, int producer_us, int consumer_us) {
    mz_flow_config fc = {ratio, FB, 200, 20000, 2, 0.0};
    mz_flow *f = mz_flow_create(&fc);
    producer_arg pa[2] = {{f, producer_us}, {f, producer_us}};
    pthread_t th[2];
    for (int i = 0; i < 2; i++) assert_int_equal(pthread_create(&th[i], NULL, producer_main, &pa[i]), 0);
    double bound = ratio * (double)(fc.slack + 2 * FSEG) + FB, worst = 0.0;
    int r;
    while ((r = mz_flow_learner_wait(f, 0.1)) >= 0) {
        if (r == 0) continue;
        if (consumer_us) sleep_us(consumer_us);
        mz_flow_learner_done(f);
        mz_flow_stats st;
        mz_flow_stats_get(f, &st);
        double gap = (double)st.updates * FB - ratio * (double)st.env_steps;
        if (fabs(gap) > worst) worst = fabs(gap);
        if (st.env_steps < fc.budget) assert_true(fabs(gap) <= bound);
    }
    for (int i = 0; i < 2; i++) assert_int_equal(pthread_join(th[i], NULL), 0);
    mz_flow_stats st;
    mz_flow_stats_get(f, &st);
    double achieved = (double)st.updates * FB / (double)st.env_steps;
    print_message("flow ratio %.2f (producer %d us, consumer %d us): %lld env steps, %lld updates, achieved %.4f, "
                  "largest |uB - rho S| %.0f (bound %.0f), actor wait %.2f s, learner wait %.2f s\n",
                  ratio, producer_us, consumer_us, (long long)st.env_steps, (long long)st.updates, achieved, worst,
                  bound, st.actor_wait_seconds, st.learner_wait_seconds);
    assert_true(st.env_steps >= fc.budget && st.env_steps < fc.budget + 2 * FSEG);
    assert_true(fabs(achieved - ratio) <= (double)FB / (double)st.env_steps + 1e-12);
    mz_flow_destroy(f);
}

static void test_flow_ratio(void **state) {
    (void)state;
    flow_case(2.0, 0, 20);   /* producers fast: they wait for the learner */
    flow_case(0.5, 200, 0);  /* consumer fast: it waits for the producers */
}

/* ---- end to end ---- */

static void load_chain(mz_config *cfg, char *const *extra, int n_extra) {
    char err[2048];
    char *over[8] = {"log.console=quiet"};
    int n = 1;
    for (int i = 0; i < n_extra; i++) over[n++] = extra[i];
    if (mz_config_load(cfg, "configs/chain_mazero_async.json", n, over, err, sizeof err)) fail_msg("%s", err);
}

/* The run of cfg; its async config (env sizes filled in) into *ac. */
static async_run *make_run_config(const mz_config *cfg, async_config *ac) {
    char err[1024];
    if (mz_mazero_async_config(ac, cfg, err, sizeof err)) fail_msg("%s", err);
    async_run *a = async_create(test_cpu_backend(), ac, err, sizeof err);
    if (!a) fail_msg("%s", err);
    return a;
}

static async_run *make_run(const mz_config *cfg) {
    async_config ac;
    return make_run_config(cfg, &ac);
}

/* Runs a started run to its end; its last result in *r. */
static void run_to_end(async_run *a, async_result *r) {
    int st;
    double t0 = mz_clock_seconds();
    while ((st = async_step(a, r)) > 0) assert_true(mz_clock_seconds() - t0 < 60.0);
    assert_int_equal(st, 0);
    async_stop(a);
}

static void test_chain_reaches_optimum(void **state) {
    (void)state;
    int seeds = under_tsan() ? 1 : 10, reached_seeds = 0;
    for (int seed = 1; seed <= seeds; seed++) {
        char seed_kv[32], budget_kv[48];
        snprintf(seed_kv, sizeof seed_kv, "seed=%d", seed);
        snprintf(budget_kv, sizeof budget_kv, "total_env_steps=%d", under_tsan() ? 600 : 4000);
        char *extra[] = {seed_kv, budget_kv};
        mz_config cfg;
        load_chain(&cfg, extra, 2);
        async_run *a = make_run(&cfg);
        async_start(a);
        async_result r;
        memset(&r, 0, sizeof r);
        int st, reached = 0;
        int64_t next_eval = 50;
        double search = 0, prior = 0;
        while ((st = async_step(a, &r)) > 0 && !reached) {
            if (r.updates < next_eval) continue;
            next_eval += 50;
            search = async_evaluate(a, 1, NULL), prior = async_evaluate(a, 0, NULL);
            reached = fabs(search - 0.97) <= 1e-3 && fabs(prior - 0.97) <= 1e-3;
        }
        async_stop(a);
        print_message("async chain seed %d: %s at %lld env steps, %lld updates (ratio %.2f, staleness %.1f): search "
                      "%.3f, prior %.3f\n",
                      seed, reached ? "optimum" : "not reached", (long long)r.env_steps, (long long)r.updates,
                      r.env_steps ? (double)r.updates * cfg.muzero.batch_size / (double)r.env_steps : 0.0,
                      r.staleness, search, prior);
        assert_true(st >= 0);
        reached_seeds += reached;
        async_destroy(a);
    }
    /* Thread timing makes each run different. On the machine of 2026-12-02
     * four runs of seeds 1-4 reached the goal 1, 2, 4 and 4 times (11 of
     * 16: a seed whose episodes miss the goal before the policy sharpens
     * stays short of it, as in sync mode); at that rate fewer than 3 of 10
     * is a 0.5% event (at least 2 of 4 failed one run in those four). */
    print_message("async chain: %d of %d seeds reach the optimum\n", reached_seeds, seeds);
    if (!under_tsan()) assert_true(reached_seeds >= 3);
}

static void test_reanalyse(void **state) {
    (void)state;
    char *extra[] = {"total_env_steps=600", "async.num_reanalyse=1", "async.reanalyse_fraction=0.5",
                     "async.reanalyse_batch=8"};
    mz_config cfg;
    load_chain(&cfg, extra, 4);
    async_run *a = make_run(&cfg);
    async_start(a);
    async_result r;
    run_to_end(a, &r);
    shared_replay_stats rs;
    async_replay_stats(a, &rs);
    print_message("reanalyse: %lld env steps, %lld reserved, %lld targets rewritten\n", (long long)r.env_steps,
                  (long long)r.flow.reanalysed, (long long)rs.refreshed);
    assert_true(rs.refreshed > 0 && r.flow.reanalysed <= 0.5 * (double)r.env_steps);
    async_destroy(a);
}

/* LBF's load action is legal only beside a food, visible within the
 * agent's sight: the actors' searches must never choose it elsewhere
 * (without their envs' legal-action masks at the roots about 1 in 6 of the
 * untrained model's choices would be). Checked on the windows' first steps
 * of batches drawn after the run. */
static void test_actor_roots_legal(void **state) {
    (void)state;
    char err[2048];
    char *over[] = {"log.console=quiet",   "mode=async",           "total_env_steps=640", "muzero.min_replay_steps=160",
                    "async.num_actors=2",  "async.segment_length=8", "async.num_reanalyse=0"};
    mz_config cfg;
    if (mz_config_load(&cfg, "configs/lbf_mazero_sync.json", 7, over, err, sizeof err)) fail_msg("%s", err);
    async_config ac;
    async_run *a = make_run_config(&cfg, &ac);
    async_start(a);
    async_result r;
    run_to_end(a, &r);
    shared_replay *sr = async_replay(a);
    int N = ac.base.env.N, O = ac.base.env.O, F = O / 3 - N;
    shared_batch b;
    shared_batch_alloc(&b, sr);
    int64_t loads = 0, illegal_places = 0;
    for (int draw = 0; draw < 20; draw++) {
        assert_true(shared_replay_sample(sr, &b));
        for (int w = 0; w < b.batch.B; w++)
            for (int i = 0; i < N; i++) {
                const float *o = b.batch.obs + ((size_t)w * N + i) * O, *me = o + 3 * F;
                int beside_food = 0;
                for (int f = 0; f < F; f++)
                    beside_food |= o[3 * f + 2] > 0.0f && fabsf(o[3 * f] - me[0]) + fabsf(o[3 * f + 1] - me[1]) == 1.0f;
                int load = b.batch.actions[(size_t)w * N + i] == LBF_LOAD;
                loads += load;
                illegal_places += !beside_food;
                if (load && !beside_food) fail_msg("window %d agent %d loads with no food beside it", w, i);
            }
    }
    print_message("lbf async: %lld agent-steps without a food beside, %lld loads (all beside a food)\n",
                  (long long)illegal_places, (long long)loads);
    assert_true(illegal_places > 100);
    shared_batch_free(&b);
    async_destroy(a);
}

static void test_injected_failure(void **state) {
    (void)state;
    char *extra[] = {"total_env_steps=100000", "async.fail_actor_after_steps=40"};
    mz_config cfg;
    load_chain(&cfg, extra, 2);
    async_run *a = make_run(&cfg);
    async_start(a);
    async_result r;
    int st;
    double t0 = mz_clock_seconds();
    while ((st = async_step(a, &r)) > 0) assert_true(mz_clock_seconds() - t0 < 30.0);
    assert_int_equal(st, -1);
    assert_non_null(strstr(async_error(a), "actor 0: injected failure after"));
    async_destroy(a);
}

typedef struct {
    mz_config cfg;
    int rc;
} train_arg;

static void *train_main(void *p) {
    train_arg *t = p;
    t->rc = mz_mazero_train_async(&t->cfg, test_cpu_backend(), "cpu", NULL);
    return NULL;
}

static void test_sigint_checkpoint(void **state) {
    (void)state;
    char root[512], over[600];
    make_temp_dir(root, sizeof root);
    snprintf(over, sizeof over, "log.dir=%s", root);
    char *extra[] = {over, "total_env_steps=100000000", "log.interval_steps=64", "muzero.eval_interval_updates=1000000"};
    train_arg t;
    load_chain(&t.cfg, extra, 4);
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, train_main, &t), 0);
    char metrics[1024] = "";
    for (int i = 0; i < 3000 && !metrics[0]; i++) { /* a training row: the run is under way */
        sleep_us(10000);
        char found[1024];
        if (find_file_with_suffix(root, "metrics.jsonl", found, sizeof found) == 0 &&
            files_containing(root, "\"updates_per_second\"") > 0)
            snprintf(metrics, sizeof metrics, "%s", found);
    }
    assert_true(metrics[0] != 0);
    double t0 = mz_clock_seconds();
    /* to the training thread, as a terminal's Ctrl-C reaches a process
     * whose only running thread is the trainer's */
    assert_int_equal(pthread_kill(th, SIGINT), 0);
    assert_int_equal(pthread_join(th, NULL), 0);
    double stop_seconds = mz_clock_seconds() - t0;
    print_message("SIGINT: exit %d after %.2f s\n", t.rc, stop_seconds);
    assert_int_equal(t.rc, 130);
    assert_true(stop_seconds < 5.0);

    /* the checkpoint loads into a fresh model of the same config */
    char ckpt[1024], err[1024];
    assert_int_equal(find_file_with_suffix(root, "model.safetensors", ckpt, sizeof ckpt), 0);
    sync_config sc;
    assert_int_equal(mz_mazero_sync_config(&sc, &t.cfg, err, sizeof err), 0);
    sync_run *s = sync_create(test_cpu_backend(), &sc, err, sizeof err);
    assert_non_null(s);
    int64_t step = -1;
    if (mz_checkpoint_load(ckpt, sync_params(s), true, &step, NULL, err, sizeof err)) fail_msg("%s", err);
    assert_true(step > 0);
    sync_destroy(s);
    /* every metrics line is a whole JSON object */
    char dir[1024];
    snprintf(dir, sizeof dir, "%s", metrics);
    *strrchr(dir, '/') = 0;
    int n = 0;
    char **lines = read_lines(dir, "metrics.jsonl", &n);
    assert_true(n >= 2);
    for (int i = 0; i < n; i++) {
        cJSON *row = cJSON_Parse(lines[i]);
        if (!row) fail_msg("metrics.jsonl line %d is not JSON: %s", i + 1, lines[i]);
        cJSON_Delete(row);
    }
    free_lines(lines, n);
    remove_tree(root);
}

/* ---- resume ---- */

static void assert_stats_equal(const shared_replay_stats *x, const shared_replay_stats *y) {
    assert_int_equal(x->pushed, y->pushed);
    assert_int_equal(x->stored, y->stored);
    assert_int_equal(x->evicted, y->evicted);
    assert_int_equal(x->evicted_sampled, y->evicted_sampled);
    assert_int_equal(x->drawn_distinct, y->drawn_distinct);
    assert_int_equal(x->drawn_stored, y->drawn_stored);
    assert_int_equal(x->windows, y->windows);
    assert_int_equal(x->ready, y->ready);
    assert_int_equal(x->refreshed, y->refreshed);
    assert_true(fabs(x->priority_total - y->priority_total) <= 1e-9 * (1.0 + fabs(x->priority_total)));
}

static void test_resume_state(void **state) {
    (void)state;
    char root[512], model[600], full[600], bare[600], err[1024];
    make_temp_dir(root, sizeof root);
    snprintf(model, sizeof model, "%s/model.safetensors", root);
    snprintf(full, sizeof full, "%s/model.state.safetensors", root);
    snprintf(bare, sizeof bare, "%s/bare.state.safetensors", root);
    char *first_kv[] = {"total_env_steps=240"}, *second_kv[] = {"total_env_steps=400"},
         *bare_kv[] = {"total_env_steps=400", "async.save_replay=false"};
    mz_config first, second, no_replay;
    load_chain(&first, first_kv, 1);
    load_chain(&second, second_kv, 1);
    load_chain(&no_replay, bare_kv, 2);

    async_run *a = make_run(&first);
    async_result ra;
    async_start(a);
    run_to_end(a, &ra);
    shared_replay_stats sa;
    async_replay_stats(a, &sa);
    async_position(a, &ra); /* with the actors' last segments */
    assert_true(ra.updates > 0 && sa.ready > 0);
    if (mz_checkpoint_save(model, async_params(a), true, NULL, ra.updates, err, sizeof err)) fail_msg("%s", err);
    if (async_save_state(a, full, err, sizeof err)) fail_msg("%s", err);

    /* the loaded run is where the saved one stopped */
    async_run *b = make_run(&second);
    if (mz_checkpoint_load(model, async_params(b), true, NULL, NULL, err, sizeof err)) fail_msg("%s", err);
    if (async_load_state(b, full, err, sizeof err)) fail_msg("%s", err);
    async_result rb;
    async_position(b, &rb);
    assert_int_equal(rb.env_steps, ra.env_steps);
    assert_int_equal(rb.updates, ra.updates);
    assert_int_equal(rb.episodes, ra.episodes);
    assert_int_equal(rb.version, ra.version);
    assert_true(rb.train_return == ra.train_return);
    shared_replay_stats sb;
    async_replay_stats(b, &sb);
    assert_stats_equal(&sa, &sb);
    mz_params *pa = async_params(a), *pb = async_params(b);
    assert_memory_equal(pa->values, pb->values, (size_t)pa->total * sizeof(float));
    async_destroy(a);

    /* it goes on: a finite first loss, versions after the saved one, every
     * pushed step accounted for */
    async_start(b);
    int st;
    while ((st = async_step(b, &rb)) > 0 && rb.updates == ra.updates) {
    }
    assert_true(st > 0);
    print_message("resume: saved at %lld env steps, %lld updates, version %lld, %lld ready; first resumed loss %.4f, "
                  "version %lld\n",
                  (long long)ra.env_steps, (long long)ra.updates, (long long)ra.version, (long long)sa.ready,
                  rb.last.loss.total, (long long)rb.version);
    assert_true(isfinite(rb.last.loss.total));
    assert_true(rb.version > ra.version);
    run_to_end(b, &rb);
    async_replay_stats(b, &sb);
    assert_true(rb.env_steps >= 400 && rb.updates > ra.updates);
    assert_int_equal(sb.pushed, rb.env_steps);
    assert_int_equal(sb.evicted, sb.pushed - sb.stored);
    async_destroy(b);

    /* a state without the replay: an empty replay and a new warm-up */
    async_run *c = make_run(&no_replay);
    if (async_load_state(c, full, err, sizeof err)) fail_msg("%s", err); /* a file with the replay still loads it */
    if (async_save_state(c, bare, err, sizeof err)) fail_msg("%s", err);
    async_destroy(c);
    async_run *d = make_run(&no_replay);
    if (async_load_state(d, bare, err, sizeof err)) fail_msg("%s", err);
    shared_replay_stats sd;
    async_replay_stats(d, &sd);
    assert_int_equal(sd.pushed, 0);
    assert_int_equal(sd.ready, 0);
    async_result rd;
    async_position(d, &rd);
    assert_int_equal(rd.env_steps, ra.env_steps);
    async_start(d);
    run_to_end(d, &rd);
    assert_true(rd.env_steps >= 400 && rd.updates > ra.updates);
    async_destroy(d);

    /* a sync run's state is refused with a reason */
    async_run *e = make_run(&second);
    sync_config sc;
    assert_int_equal(mz_mazero_sync_config(&sc, &second, err, sizeof err), 0);
    sync_run *s = sync_create(test_cpu_backend(), &sc, err, sizeof err);
    assert_non_null(s);
    if (sync_save_state(s, bare, err, sizeof err)) fail_msg("%s", err);
    sync_destroy(s);
    assert_int_equal(async_load_state(e, bare, err, sizeof err), -1);
    assert_non_null(strstr(err, "not an async run's state file (kind 'sync')"));
    async_destroy(e);
    remove_tree(root);
}

typedef struct {
    mz_config cfg;
    const char *resume;
    int rc;
} resume_arg;

static void *resume_main(void *p) {
    resume_arg *t = p;
    t->rc = mz_mazero_train_async(&t->cfg, test_cpu_backend(), "cpu", t->resume);
    return NULL;
}

static void test_sigint_resume(void **state) {
    (void)state;
    char root[512], over[600];
    make_temp_dir(root, sizeof root);
    snprintf(over, sizeof over, "log.dir=%s", root);
    /* periodic checkpoints save the state while the actors push */
    char *extra[] = {over, "total_env_steps=100000000", "log.interval_steps=64", "muzero.eval_interval_updates=1000000",
                     "muzero.checkpoint_interval_updates=5"};
    resume_arg t = {.resume = NULL};
    load_chain(&t.cfg, extra, 5);
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, resume_main, &t), 0);
    char metrics[1024] = "";
    for (int i = 0; i < 3000 && !metrics[0]; i++) { /* a training row and a periodic state: the run is under way */
        sleep_us(10000);
        char found[1024], periodic[1024];
        if (find_file_with_suffix(root, "metrics.jsonl", found, sizeof found) == 0 &&
            files_containing(root, "\"updates_per_second\"") > 0 &&
            find_file_with_suffix(root, "0010.state.safetensors", periodic, sizeof periodic) == 0)
            snprintf(metrics, sizeof metrics, "%s", found);
    }
    assert_true(metrics[0] != 0);
    assert_int_equal(pthread_kill(th, SIGINT), 0);
    assert_int_equal(pthread_join(th, NULL), 0);
    assert_int_equal(t.rc, 130);
    char dir[1024];
    snprintf(dir, sizeof dir, "%s", metrics);
    *strrchr(dir, '/') = 0;
    int n = 0;
    char **lines = read_lines(dir, "metrics.jsonl", &n);
    int64_t stopped = 0; /* the last logged env steps */
    for (int i = 0; i < n; i++) {
        cJSON *row = cJSON_Parse(lines[i]), *steps = cJSON_GetObjectItem(row, "env_steps");
        if (steps && (int64_t)steps->valuedouble > stopped) stopped = (int64_t)steps->valuedouble;
        cJSON_Delete(row);
    }
    free_lines(lines, n);

    /* resume the run directory to a budget past the stop */
    char budget[64];
    int64_t target = stopped + (under_tsan() ? 400 : 1600);
    snprintf(budget, sizeof budget, "total_env_steps=%lld", (long long)target);
    char *again[] = {over, budget, "log.interval_steps=64", "muzero.eval_interval_updates=1000000"};
    resume_arg u = {.resume = dir};
    load_chain(&u.cfg, again, 4);
    assert_int_equal(pthread_create(&th, NULL, resume_main, &u), 0);
    assert_int_equal(pthread_join(th, NULL), 0);
    assert_int_equal(u.rc, 0);
    assert_int_equal(files_containing(root, "resumed from"), 1);

    /* one run directory; training rows never go back; the budget reached */
    assert_int_equal(files_containing(root, "\"updates_per_second\""), 1);
    lines = read_lines(dir, "metrics.jsonl", &n);
    int64_t last_steps = -1, last_updates = -1, rows_after = 0;
    for (int i = 0; i < n; i++) {
        cJSON *row = cJSON_Parse(lines[i]);
        if (!row) fail_msg("metrics.jsonl line %d is not JSON: %s", i + 1, lines[i]);
        cJSON *steps = cJSON_GetObjectItem(row, "env_steps"), *updates = cJSON_GetObjectItem(row, "step"),
              *loss = cJSON_GetObjectItem(row, "loss");
        if (cJSON_GetObjectItem(row, "updates_per_second")) {
            int64_t s = (int64_t)steps->valuedouble, up = (int64_t)updates->valuedouble;
            assert_true(s >= last_steps && up >= last_updates);
            last_steps = s, last_updates = up;
            rows_after += s > stopped;
            if (loss) assert_true(isfinite(loss->valuedouble));
        }
        cJSON_Delete(row);
    }
    free_lines(lines, n);
    print_message("SIGINT at %lld logged env steps, resumed to %lld (%lld rows after the stop), %lld updates\n",
                  (long long)stopped, (long long)last_steps, (long long)rows_after, (long long)last_updates);
    assert_true(rows_after >= 1 && last_steps >= target);
    remove_tree(root);
}

static int run_async(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sumtree),
        cmocka_unit_test(test_replay_contention),
        cmocka_unit_test(test_param_publish),
        cmocka_unit_test(test_flow_ratio),
        cmocka_unit_test(test_chain_reaches_optimum),
        cmocka_unit_test(test_reanalyse),
        cmocka_unit_test(test_actor_roots_legal),
        cmocka_unit_test(test_injected_failure),
        cmocka_unit_test(test_sigint_checkpoint),
        cmocka_unit_test(test_resume_state),
        cmocka_unit_test(test_sigint_resume),
    };
    return MZ_RUN_GROUP("async", tests);
}
MZ_TEST_GROUP("async", run_async)
