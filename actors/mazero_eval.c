/* `mazero eval RUN_DIR|CHECKPOINT` for algo=mazero: the sync loop's greedy
 * (or, with muzero.eval_greedy=false, sampled) evaluation (actors/sync.h) with search and with the prior alone, on a
 * model loaded from a checkpoint; optionally one episode as a GIF drawn by
 * the environment renderers (envs/render.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actors/mazero_train.h"
#include "envs/render.h"
#include "src/nn/checkpoint.h"
#include "src/check.h"
#include "src/stats.h"

typedef struct {
    mz_env_canvas *canvas;
    const char *path;
    int failed;
    char err[512];
} gif_writer;

static void add_frame(void *ctx, const mz_env_params *p, const void *state) {
    gif_writer *g = ctx;
    (void)p;
    if (g->failed) return;
    mz_env_canvas_draw(g->canvas, state);
    g->failed = mz_env_canvas_add_gif_frame(g->canvas, g->path, 20, g->err, sizeof g->err) != 0;
}

/* One line: mean ± 95% CI over n episodes, and the win rate when the env has one. */
static void report(const char *how, const double *returns, const double *won, int n, int has_win) {
    double mean, half, win, unused;
    mz_mean_ci95(returns, n, &mean, &half);
    printf("%-12s mean return %.4f ± %.4f (95%% CI, %d episodes)", how, mean, half, n);
    if (has_win) {
        mz_mean_ci95(won, n, &win, &unused);
        printf(", win rate %.3f", win);
    }
    printf("\n");
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
    gif_writer gif = {NULL, gif_path, 0, ""};
    if (gif_path) {
        gif.canvas = mz_env_canvas_create(&sc.env, gif.err, sizeof gif.err);
        if (!gif.canvas) {
            fprintf(stderr, "mazero eval: render=gif: %s\n", gif.err);
            sync_destroy(s);
            return MZ_EXIT_USAGE;
        }
    }
    int n = sc.eval_envs;
    /* the envs with a success flag (envs/env_bodies.h env_won): LBF (all
     * food eaten) and the chain (everyone at the goal) */
    int has_win = sc.env.kind == MZ_ENV_LBF || sc.env.kind == MZ_ENV_CHAIN;
    double *returns = mz_calloc((size_t)n, sizeof *returns), *won = mz_calloc((size_t)n, sizeof *won);
    printf("mazero eval: %s (%lld updates), %s %s, %d %s episodes each way\n", model, (long long)step,
           cfg->env.name, cfg->env.scenario, n, sc.eval_sample ? "sampled" : "greedy");
    sync_evaluate_episodes(s, 1, returns, won, gif_path ? add_frame : NULL, &gif);
    report("with search", returns, won, n, has_win);
    sync_evaluate_episodes(s, 0, returns, won, NULL, NULL);
    report("prior only", returns, won, n, has_win);
    rc = 0;
    if (gif_path) {
        if (!gif.failed && mz_env_canvas_close_gif(gif.canvas, gif.err, sizeof gif.err) != 0) gif.failed = 1;
        if (gif.failed) {
            fprintf(stderr, "mazero eval: render=gif: %s\n", gif.err);
            rc = MZ_EXIT_RUNTIME;
        } else {
            printf("wrote %s (one episode with search)\n", gif_path);
        }
        mz_env_canvas_destroy(gif.canvas);
    }
    free(returns);
    free(won);
    sync_destroy(s);
    return rc;
}
