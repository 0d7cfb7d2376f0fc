/* The console progress line: environment steps, share of the budget,
 * steps/s, ETA, the training return, the last evaluation's return and the
 * losses. */
#ifndef MZ_PROGRESS_H
#define MZ_PROGRESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MZ_PROGRESS_MAX_LOSSES 3

typedef struct {
    int64_t env_steps, total_env_steps;
    double elapsed_seconds;
    bool has_update_rate; /* learner updates/s, shown after steps/s */
    double updates_per_second;
    bool has_train_return; /* recent training episodes: moves every row */
    double train_return;
    bool has_eval_return; /* the last evaluation: moves only when one runs */
    double eval_return;
    int n_losses;
    const char *loss_names[MZ_PROGRESS_MAX_LOSSES];
    double loss_values[MZ_PROGRESS_MAX_LOSSES];
} mz_progress;

/* e.g. "[ 45.0%] 450.0k/1.0M env steps | 12.3k steps/s | ETA 0:00:45 | return 12.34 | eval 11.5 | loss 0.1234" */
void mz_progress_format(const mz_progress *p, char *out, size_t len);

/* 1234 -> "1.2k", 1500000 -> "1.5M" */
void mz_format_count(double v, char *out, size_t len);

#endif
