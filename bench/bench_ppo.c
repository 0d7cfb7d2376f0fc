/* IPPO feed-forward training throughput: env-steps per second of the whole
 * loop (rollout with the actor and critic, GAE, 4 epochs x 2 minibatches of
 * clipped PPO with Adam) on MPE simple_spread, 3 agents, at E = 16, 256 and
 * 1024 environments and 1 and 2 CPU threads. One update consumes T x E env
 * steps (T = 128). The settings are the ones bench/peers/ippo_jaxmarl.py
 * gives JaxMARL's IPPO: actor and critic MLPs 128-128 ReLU, T 128, 4
 * epochs, 2 minibatches, no agent ids. */
#include "bench/bench_ppo.h"
#include "bench/bench_util.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "learner/ppo.h"
#include "src/check.h"
#include "src/clock.h"

#define MIN_SECONDS 1.0
#define MIN_UPDATES 2

static const int SIZES[] = {16, 256, 1024};

static double steps_per_second(mz_backend *be, int E, int *updates_timed) {
    mz_env_params p;
    char err[256];
    MZ_CHECK(mz_env_params_resolve(&p, "mpe_simple_spread", "3ag", 0, 1, err, sizeof err) == 0, "%s", err);
    mz_vecenv *v = mz_vecenv_create(be, &p, E);
    mz_ppo_config c;
    mz_ppo_config_default(&c);
    c.add_agent_id = false; /* as JaxMARL's IPPO */
    c.seed = 1;
    mz_ppo ppo;
    MZ_CHECK(mz_ppo_init(&ppo, v, &c, err, sizeof err) == 0, "bench ppo: %s", err);
    mz_ppo_update_stats st;
    mz_ppo_rollout(&ppo); /* warm-up */
    mz_ppo_update(&ppo, &st);
    be->sync(be);
    double start = mz_clock_seconds(), elapsed;
    int updates = 0;
    do {
        mz_ppo_rollout(&ppo);
        mz_ppo_update(&ppo, &st);
        be->sync(be);
        updates++;
        elapsed = mz_clock_seconds() - start;
    } while (elapsed < MIN_SECONDS || updates < MIN_UPDATES);
    mz_ppo_free(&ppo);
    mz_vecenv_destroy(v);
    *updates_timed = updates;
    return (double)updates * (double)c.rollout_length * (double)E / elapsed;
}

/* The peer's rate for E and the thread count (rows without "threads" match
 * any), or 0. */
static double peer_rate(const cJSON *peers, int E, int threads, const char **who) {
    const cJSON *row;
    cJSON_ArrayForEach(row, cJSON_GetObjectItemCaseSensitive(peers, "rows")) {
        const cJSON *e = cJSON_GetObjectItemCaseSensitive(row, "num_envs");
        const cJSON *r = cJSON_GetObjectItemCaseSensitive(row, "steps_per_second");
        const cJSON *sys = cJSON_GetObjectItemCaseSensitive(row, "system");
        const cJSON *th = cJSON_GetObjectItemCaseSensitive(row, "threads");
        if (cJSON_IsNumber(e) && cJSON_IsNumber(r) && (int)e->valuedouble == E &&
            (!cJSON_IsNumber(th) || (int)th->valuedouble == threads)) {
            *who = cJSON_IsString(sys) ? sys->valuestring : "peer";
            return r->valuedouble;
        }
    }
    return 0.0;
}

int mz_bench_ppo(mz_backend *be, const char *device_desc, const char *peers_json, const char *json_path) {
    cJSON *peers = mz_bench_load_peers(peers_json, "ppo", "bench/peers/ippo_jaxmarl.py");
    cJSON *out = cJSON_CreateObject(), *rows = out ? cJSON_AddArrayToObject(out, "rows") : NULL;
    MZ_CHECK(out && rows, "cJSON: out of memory");
    cJSON_AddStringToObject(out, "device", device_desc);
    printf("IPPO FF training benchmark on %s: mpe_simple_spread 3ag, MLP 128-128 ReLU, T 128, 4 epochs x 2 "
           "minibatches\n(env-steps/s of the whole loop: rollout, GAE and update)\n",
           device_desc);
    printf("%6s %7s %8s %14s %14s %8s\n", "E", "threads", "updates", "env-steps/s", "peer", "ratio");
    int thread_counts[2] = {1, 2};
    int n_thread_counts = be->kind == MZ_BACKEND_CPU ? 2 : 1;
#ifdef _OPENMP
    int saved_threads = omp_get_max_threads();
    if (saved_threads < 2) n_thread_counts = 1; /* threads=1: one thread only (a loaded machine) */
#endif
    for (size_t s = 0; s < sizeof SIZES / sizeof SIZES[0]; s++) {
        for (int t = 0; t < n_thread_counts; t++) {
#ifdef _OPENMP
            omp_set_num_threads(thread_counts[t]);
#endif
            int updates = 0;
            double rate = steps_per_second(be, SIZES[s], &updates);
            int threads = be->kind == MZ_BACKEND_CPU ? thread_counts[t] : 0;
            const char *who = NULL;
            double peer = peers ? peer_rate(peers, SIZES[s], threads, &who) : 0.0;
            char peer_text[32] = "-", ratio_text[16] = "-";
            if (peer > 0) {
                snprintf(peer_text, sizeof peer_text, "%.4g", peer);
                snprintf(ratio_text, sizeof ratio_text, "%.1fx", rate / peer);
            }
            printf("%6d %7d %8d %14.4g %14s %8s\n", SIZES[s], threads, updates, rate, peer_text, ratio_text);
            fflush(stdout);
            cJSON *row = cJSON_CreateObject();
            MZ_CHECK(row, "cJSON: out of memory");
            cJSON_AddStringToObject(row, "env", "mpe_simple_spread");
            cJSON_AddStringToObject(row, "scenario", "3ag");
            cJSON_AddNumberToObject(row, "num_envs", SIZES[s]);
            cJSON_AddNumberToObject(row, "threads", threads);
            cJSON_AddNumberToObject(row, "updates", updates);
            cJSON_AddNumberToObject(row, "steps_per_second", rate);
            if (peer > 0) {
                cJSON_AddNumberToObject(row, "peer_steps_per_second", peer);
                cJSON_AddStringToObject(row, "peer", who);
            }
            cJSON_AddItemToArray(rows, row);
        }
    }
#ifdef _OPENMP
    omp_set_num_threads(saved_threads);
#endif
    int rc = json_path ? mz_bench_write_json(out, json_path, "ppo") : 0;
    cJSON_Delete(out);
    cJSON_Delete(peers);
    return rc;
}
