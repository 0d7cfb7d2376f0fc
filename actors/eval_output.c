/* `mazero eval`'s report line and episode GIF (actors/eval_output.h). */
#include "actors/eval_output.h"

#include <stdio.h>

#include "src/check.h"
#include "src/stats.h"

void mz_eval_report(const char *how, const double *returns, int n, int has_win, double win_rate) {
    double mean, half;
    mz_mean_ci95(returns, n, &mean, &half);
    printf("%-12s mean return %.4f ± %.4f (95%% CI, %d episodes)", how, mean, half, n);
    if (has_win) printf(", win rate %.3f", win_rate);
    printf("\n");
}

int mz_eval_gif_open(mz_eval_gif *g, const mz_env_params *p, const char *path) {
    g->path = path;
    g->failed = 0;
    g->err[0] = '\0';
    g->canvas = mz_env_canvas_create(p, g->err, sizeof g->err);
    if (g->canvas) return 0;
    fprintf(stderr, "mazero eval: render=gif: %s\n", g->err);
    return -1;
}

void mz_eval_gif_frame(void *gif, const mz_env_params *p, const void *state) {
    mz_eval_gif *g = gif;
    (void)p;
    if (g->failed) return;
    mz_env_canvas_draw(g->canvas, state);
    g->failed = mz_env_canvas_add_gif_frame(g->canvas, g->path, 20, g->err, sizeof g->err) != 0;
}

int mz_eval_gif_close(mz_eval_gif *g, const char *what) {
    if (!g->failed && mz_env_canvas_close_gif(g->canvas, g->err, sizeof g->err) != 0) g->failed = 1;
    mz_env_canvas_destroy(g->canvas);
    g->canvas = NULL;
    if (g->failed) {
        fprintf(stderr, "mazero eval: render=gif: %s\n", g->err);
        return MZ_EXIT_RUNTIME;
    }
    printf("wrote %s (%s)\n", g->path, what);
    return 0;
}
