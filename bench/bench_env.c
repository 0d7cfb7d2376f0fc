/* Environment throughput: env-steps per second (one env-step = one
 * environment advancing one step, all its agents acting) for each env at
 * E = 1, 64, 4096 and 1 and 2 CPU threads. Actions cycle through 16
 * pre-drawn sets already in backend memory, so only stepping is timed. */
#include "bench/bench_env.h"
#include "bench/bench_util.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "envs/vecenv.h"
#include "src/check.h"
#include "src/rng.h"
#include "src/clock.h"

#define ACTION_SETS 16
#define MIN_SECONDS 0.25

typedef struct {
    const char *name, *scenario;
} bench_env_case;

static const bench_env_case ENVS[] = {
    {"mpe_simple_spread", "3ag"}, {"lbf", "2s-8x8-2p-2f-coop"}, {"rware", "tiny-2ag"},
    {"climbing", "default"},      {"chain", "n2-l5"},
};
static const int SIZES[] = {1, 64, 4096};

static double steps_per_second(mz_backend *be, const mz_env_params *p, int E) {
    mz_vecenv *v = mz_vecenv_create(be, p, E);
    size_t per_set = (size_t)E * (size_t)p->N;
    int32_t *host = (int32_t *)mz_malloc(ACTION_SETS * per_set * sizeof(int32_t));
    for (size_t i = 0; i < ACTION_SETS * per_set; i++) {
        mz_rng r;
        mz_rng_init(&r, 5, 1, i);
        host[i] = (int32_t)(mz_rng_u32(&r) % (uint32_t)p->A);
    }
    int32_t *sets = (int32_t *)be->alloc(be, ACTION_SETS * per_set * sizeof(int32_t));
    be->copy_h2d(be, sets, host, ACTION_SETS * per_set * sizeof(int32_t));
    int32_t *own_actions = v->buf.actions;
    mz_vecenv_reset(v);
    long steps = 0;
    for (int w = 0; w < 8; w++, steps++) { /* warm-up */
        v->buf.actions = sets + (size_t)(steps % ACTION_SETS) * per_set;
        mz_vecenv_step(v);
    }
    be->sync(be);
    double start = mz_clock_seconds(), elapsed;
    steps = 0;
    do {
        for (int k = 0; k < 16; k++, steps++) {
            v->buf.actions = sets + (size_t)(steps % ACTION_SETS) * per_set;
            mz_vecenv_step(v);
        }
        be->sync(be);
        elapsed = mz_clock_seconds() - start;
    } while (elapsed < MIN_SECONDS);
    v->buf.actions = own_actions;
    be->free(be, sets);
    free(host);
    mz_vecenv_destroy(v);
    return (double)steps * (double)E / elapsed;
}

/* The peers' rate for (env, scenario, E), or 0. */
static double peer_rate(const cJSON *peers, const char *env, const char *scenario, int E, const char **who) {
    const cJSON *row;
    cJSON_ArrayForEach(row, cJSON_GetObjectItemCaseSensitive(peers, "rows")) {
        const cJSON *n = cJSON_GetObjectItemCaseSensitive(row, "env"), *s = cJSON_GetObjectItemCaseSensitive(row, "scenario");
        const cJSON *e = cJSON_GetObjectItemCaseSensitive(row, "num_envs"), *r = cJSON_GetObjectItemCaseSensitive(row, "steps_per_second");
        const cJSON *sys = cJSON_GetObjectItemCaseSensitive(row, "system");
        if (cJSON_IsString(n) && cJSON_IsString(s) && cJSON_IsNumber(e) && cJSON_IsNumber(r) && !strcmp(n->valuestring, env) &&
            !strcmp(s->valuestring, scenario) && (int)e->valuedouble == E) {
            *who = cJSON_IsString(sys) ? sys->valuestring : "peer";
            return r->valuedouble;
        }
    }
    return 0.0;
}

int mz_bench_env(mz_backend *be, const char *device_desc, const char *peers_json, const char *json_path) {
    cJSON *peers = mz_bench_load_peers(peers_json, "env", "bench/peers/env_jaxmarl.py");
    cJSON *out = cJSON_CreateObject(), *rows = cJSON_AddArrayToObject(out, "rows");
    MZ_CHECK(out && rows, "cJSON: out of memory");
    cJSON_AddStringToObject(out, "device", device_desc);
    printf("environment benchmark on %s (env-steps/s: environments x steps per second)\n", device_desc);
    printf("%-18s %-18s %6s %7s %14s %14s %8s\n", "env", "scenario", "E", "threads", "env-steps/s", "peer", "ratio");
    int thread_counts[2] = {1, 2};
    int n_thread_counts = be->kind == MZ_BACKEND_CPU ? 2 : 1;
#ifdef _OPENMP
    int saved_threads = omp_get_max_threads();
#endif
    for (size_t i = 0; i < sizeof ENVS / sizeof ENVS[0]; i++) {
        mz_env_params p;
        char err[256];
        MZ_CHECK(mz_env_params_resolve(&p, ENVS[i].name, ENVS[i].scenario, 0, 1, err, sizeof err) == 0, "%s", err);
        for (size_t s = 0; s < sizeof SIZES / sizeof SIZES[0]; s++) {
            for (int t = 0; t < n_thread_counts; t++) {
#ifdef _OPENMP
                omp_set_num_threads(thread_counts[t]);
#endif
                double rate = steps_per_second(be, &p, SIZES[s]);
                const char *who = NULL;
                double peer = peers ? peer_rate(peers, ENVS[i].name, ENVS[i].scenario, SIZES[s], &who) : 0.0;
                char peer_text[32] = "-", ratio_text[16] = "-";
                if (peer > 0) {
                    snprintf(peer_text, sizeof peer_text, "%.3g", peer);
                    snprintf(ratio_text, sizeof ratio_text, "%.1fx", rate / peer);
                }
                printf("%-18s %-18s %6d %7d %14.4g %14s %8s\n", ENVS[i].name, ENVS[i].scenario, SIZES[s],
                       be->kind == MZ_BACKEND_CPU ? thread_counts[t] : 0, rate, peer_text, ratio_text);
                fflush(stdout);
                cJSON *row = cJSON_CreateObject();
                MZ_CHECK(row, "cJSON: out of memory");
                cJSON_AddStringToObject(row, "env", ENVS[i].name);
                cJSON_AddStringToObject(row, "scenario", ENVS[i].scenario);
                cJSON_AddNumberToObject(row, "num_envs", SIZES[s]);
                cJSON_AddNumberToObject(row, "threads", be->kind == MZ_BACKEND_CPU ? thread_counts[t] : 0);
                cJSON_AddNumberToObject(row, "steps_per_second", rate);
                if (peer > 0) {
                    cJSON_AddNumberToObject(row, "peer_steps_per_second", peer);
                    cJSON_AddStringToObject(row, "peer", who);
                }
                cJSON_AddItemToArray(rows, row);
            }
        }
    }
#ifdef _OPENMP
    omp_set_num_threads(saved_threads);
#endif
    int rc = json_path ? mz_bench_write_json(out, json_path, "env") : 0;
    cJSON_Delete(out);
    cJSON_Delete(peers);
    return rc;
}
