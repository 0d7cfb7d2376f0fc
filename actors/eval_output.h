/* What `mazero eval` prints and draws, the same for every algorithm: one
 * line per policy with the mean return, its 95% confidence interval and the
 * win rate, and one evaluation episode as an animated GIF drawn by the
 * environment renderers (envs/render.h). */
#ifndef MZ_ACTORS_EVAL_OUTPUT_H
#define MZ_ACTORS_EVAL_OUTPUT_H

#include "envs/env.h"
#include "envs/render.h"

/* "<how> mean return M ± H (95% CI, n episodes)[, win rate W]" on stdout;
 * the win rate only when has_win. */
void mz_eval_report(const char *how, const double *returns, int n, int has_win, double win_rate);

typedef struct {
    mz_env_canvas *canvas;
    const char *path;
    int failed;
    char err[512];
} mz_eval_gif;

/* Opens a canvas for env p drawing into path; 0, or -1 after printing
 * "mazero eval: render=gif: reason". */
int mz_eval_gif_open(mz_eval_gif *g, const mz_env_params *p, const char *path);
/* A frame callback (sync_frame_fn, mz_ppo_frame_fn): draws the state and
 * appends it to the GIF; after a failure it does nothing. */
void mz_eval_gif_frame(void *gif, const mz_env_params *p, const void *state);
/* Finishes the file and prints "wrote PATH (what)"; 0, or 1 after printing
 * why it failed. Frees the canvas. */
int mz_eval_gif_close(mz_eval_gif *g, const char *what);

#endif
