/* `mazero eval RUN_DIR|CHECKPOINT` for algo=mazero: the sync loop's greedy
 * (or, with muzero.eval_greedy=false, sampled) evaluation (actors/sync.h) with search and with the prior alone, on a
 * model loaded from a checkpoint; optionally one episode as a GIF
 * (actors/eval_output.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actors/eval_output.h"
#include "actors/mazero_train.h"
#include "envs/env_bodies.h"
#include "src/nn/checkpoint.h"
#include "src/check.h"
#include "src/stats.h"

static double mean_of(const double *x, int n) {
    double mean, unused;
    mz_mean_ci95(x, n, &mean, &unused);
    return mean;
}

int mz_mazero_eval(const mz_config *cfg, mz_backend *be, const char *what, const char *gif_path) {
    char err[1024], model[1024], state[1024], run_dir[1024];
    int rc = mz_mazero_run_paths(what, model, state, run_dir, sizeof model, err, sizeof err);
    if (rc) {
        fprintf(stderr, "mazero eval: %s\n", err);
        return rc;
    }
    sync_config sc;
    sync_run *s = mz_mazero_sync_create(cfg, be, "eval", &sc, &rc);
    if (!s) return rc;
    int64_t step = 0;
    if (mz_checkpoint_load(model, sync_params(s), false, &step, NULL, err, sizeof err) != 0) {
        fprintf(stderr, "mazero eval: %s\n", err);
        sync_destroy(s);
        return MZ_EXIT_USAGE;
    }
    mz_eval_gif gif;
    if (gif_path && mz_eval_gif_open(&gif, &sc.env, gif_path) != 0) {
        sync_destroy(s);
        return MZ_EXIT_USAGE;
    }
    int n = sc.eval_envs;
    int has_win = env_defines_win(&sc.env);
    double *returns = mz_calloc((size_t)n, sizeof *returns), *won = mz_calloc((size_t)n, sizeof *won);
    printf("mazero eval: %s (%lld updates), %s %s, %d %s episodes each way\n", model, (long long)step,
           cfg->env.name, cfg->env.scenario, n, sc.eval_sample ? "sampled" : "greedy");
    sync_evaluate_episodes(s, 1, returns, won, gif_path ? mz_eval_gif_frame : NULL, &gif);
    mz_eval_report("with search", returns, n, has_win, mean_of(won, n));
    sync_evaluate_episodes(s, 0, returns, won, NULL, NULL);
    mz_eval_report("prior only", returns, n, has_win, mean_of(won, n));
    rc = gif_path ? mz_eval_gif_close(&gif, "one episode with search") : 0;
    free(returns);
    free(won);
    sync_destroy(s);
    return rc;
}
