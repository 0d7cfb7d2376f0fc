/* Search throughput: simulations per second (trees x simulations per
 * search / time) and memory per tree, with a table model (a gather per
 * expansion) so that the search's own cost is what is measured. Sweeps B at
 * A = 18, S = 50; A at B = 1024, S = 50; S at B = 1024, A = 18; each for
 * MuZero and Gumbel MuZero, on 1 and 2 threads. */
#include "bench/bench_mcts.h"
#include "bench/bench_util.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "mcts/table_model.h"
#include "src/check.h"
#include "src/rng.h"
#include "src/clock.h"

#define MODEL_STATES 64
#define MIN_SECONDS 0.3

typedef struct {
    int B, A, S;
} shape;

static const shape SHAPES[] = {
    {1, 18, 50}, {64, 18, 50}, {1024, 18, 50}, {4096, 18, 50}, {1024, 5, 50},
    {1024, 125, 50}, {1024, 18, 16}, {1024, 18, 200},
};

static double sims_per_second(mz_backend *be, shape sh, mcts_policy policy, double *bytes_per_tree) {
    int M = MODEL_STATES, A = sh.A;
    float *logits = (float *)mz_malloc((size_t)M * A * sizeof(float)), *value = (float *)mz_malloc((size_t)M * sizeof(float));
    float *reward = (float *)mz_malloc((size_t)M * A * sizeof(float)), *discount = (float *)mz_malloc((size_t)M * A * sizeof(float));
    int32_t *next = (int32_t *)mz_malloc((size_t)M * A * sizeof(int32_t)), *roots = (int32_t *)mz_malloc((size_t)sh.B * sizeof(int32_t));
    for (int i = 0; i < M * A; i++) {
        mz_rng r;
        mz_rng_init(&r, 9, 1, (uint64_t)i);
        logits[i] = mz_rng_normal(&r);
        reward[i] = 0.1f * mz_rng_normal(&r);
        discount[i] = 0.99f;
        next[i] = (int32_t)(mz_rng_u32(&r) % (uint32_t)M);
    }
    for (int s = 0; s < M; s++) value[s] = 0.01f * (float)(s % 17);
    for (int b = 0; b < sh.B; b++) roots[b] = b % M;
    mcts_params p;
    mcts_params_default(&p, policy, sh.S);
    mcts_table_model *tm = mcts_table_model_create(be, M, A, sh.B, sh.S + 1, logits, value, reward, discount, next);
    mcts_table_model_set_roots(tm, roots);
    mcts_search *s = mcts_search_create(be, &p, sh.B, A);
    mcts_model model = mcts_table_model_model(tm);
    size_t used0 = 0, used1 = 0;
    mcts_search_run(s, &model); /* warm-up */
    be->sync(be);
    long searches = 0;
    double start = mz_clock_seconds(), elapsed;
    do {
        mcts_search_run(s, &model);
        be->sync(be);
        searches++;
        elapsed = mz_clock_seconds() - start;
    } while (elapsed < MIN_SECONDS);
    /* the search's own arrays: 6 [N][A] of 4 bytes and 5 [N] of 4 bytes, plus [A] rows */
    size_t N = (size_t)sh.S + 1;
    *bytes_per_tree = (double)(N * A * 6 * 4 + N * 5 * 4 + (size_t)A * 14);
    (void)used0, (void)used1;
    mcts_search_destroy(s);
    mcts_table_model_destroy(tm);
    free(logits), free(value), free(reward), free(discount), free(next), free(roots);
    return (double)searches * sh.B * sh.S / elapsed;
}

static double peer_rate(const cJSON *peers, const char *policy, shape sh) {
    const cJSON *row;
    cJSON_ArrayForEach(row, cJSON_GetObjectItemCaseSensitive(peers, "rows")) {
        const cJSON *p = cJSON_GetObjectItemCaseSensitive(row, "policy"), *b = cJSON_GetObjectItemCaseSensitive(row, "B");
        const cJSON *a = cJSON_GetObjectItemCaseSensitive(row, "A"), *s = cJSON_GetObjectItemCaseSensitive(row, "S");
        const cJSON *r = cJSON_GetObjectItemCaseSensitive(row, "simulations_per_second");
        if (cJSON_IsString(p) && !strcmp(p->valuestring, policy) && cJSON_IsNumber(b) && (int)b->valuedouble == sh.B &&
            cJSON_IsNumber(a) && (int)a->valuedouble == sh.A && cJSON_IsNumber(s) && (int)s->valuedouble == sh.S &&
            cJSON_IsNumber(r))
            return r->valuedouble;
    }
    return 0.0;
}

int mz_bench_mcts(mz_backend *be, const char *device_desc, const char *peers_json, const char *json_path) {
    cJSON *peers = mz_bench_load_peers(peers_json, "mcts", "bench/peers/mcts_mctx.py");
    cJSON *out = cJSON_CreateObject(), *rows = cJSON_AddArrayToObject(out, "rows");
    MZ_CHECK(out && rows, "cJSON: out of memory");
    cJSON_AddStringToObject(out, "device", device_desc);
    printf("search benchmark on %s (table model; simulations/s = trees x simulations per second)\n", device_desc);
    printf("%-14s %6s %4s %4s %7s %12s %12s %8s %10s\n", "policy", "B", "A", "S", "threads", "sims/s", "mctx", "ratio", "KiB/tree");
    int n_threads = be->kind == MZ_BACKEND_CPU ? 2 : 1;
#ifdef _OPENMP
    int saved = omp_get_max_threads();
#endif
    for (int pol = 0; pol < 2; pol++) {
        const char *name = pol ? "gumbel_muzero" : "muzero";
        for (size_t i = 0; i < sizeof SHAPES / sizeof SHAPES[0]; i++) {
            for (int t = 1; t <= n_threads; t++) {
#ifdef _OPENMP
                omp_set_num_threads(t);
#endif
                double bytes = 0;
                double rate = sims_per_second(be, SHAPES[i], pol ? MCTS_GUMBEL_MUZERO : MCTS_MUZERO, &bytes);
                double peer = peers ? peer_rate(peers, name, SHAPES[i]) : 0.0;
                char peer_text[24] = "-", ratio_text[16] = "-";
                if (peer > 0) {
                    snprintf(peer_text, sizeof peer_text, "%.3g", peer);
                    snprintf(ratio_text, sizeof ratio_text, "%.0fx", rate / peer);
                }
                printf("%-14s %6d %4d %4d %7d %12.4g %12s %8s %10.1f\n", name, SHAPES[i].B, SHAPES[i].A, SHAPES[i].S,
                       be->kind == MZ_BACKEND_CPU ? t : 0, rate, peer_text, ratio_text, bytes / 1024.0);
                fflush(stdout);
                cJSON *row = cJSON_CreateObject();
                MZ_CHECK(row, "cJSON: out of memory");
                cJSON_AddStringToObject(row, "policy", name);
                cJSON_AddNumberToObject(row, "B", SHAPES[i].B);
                cJSON_AddNumberToObject(row, "A", SHAPES[i].A);
                cJSON_AddNumberToObject(row, "S", SHAPES[i].S);
                cJSON_AddNumberToObject(row, "threads", be->kind == MZ_BACKEND_CPU ? t : 0);
                cJSON_AddNumberToObject(row, "simulations_per_second", rate);
                cJSON_AddNumberToObject(row, "bytes_per_tree", bytes);
                if (peer > 0) cJSON_AddNumberToObject(row, "mctx_simulations_per_second", peer);
                cJSON_AddItemToArray(rows, row);
            }
        }
    }
#ifdef _OPENMP
    omp_set_num_threads(saved);
#endif
    int rc = json_path ? mz_bench_write_json(out, json_path, "mcts") : 0;
    cJSON_Delete(out);
    cJSON_Delete(peers);
    return rc;
}
