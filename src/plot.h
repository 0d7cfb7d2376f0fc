/* Learning curves with cairo: a metric against environment steps, runs
 * grouped by algorithm, the mean over seeds with a 95% confidence band
 * (Student t over seeds). PNG or SVG by the output's extension. */
#ifndef MZ_PLOT_H
#define MZ_PLOT_H

#include <stddef.h>

#define MZ_PLOT_WIDTH 900
#define MZ_PLOT_HEIGHT 540

/* `paths` are run directories, or folders holding run directories (searched
 * a few levels down for metrics.jsonl). 0, or 1 with the reason in err
 * (no run found, no row with the metric, the file cannot be written). */
int mz_plot(const char *const *paths, int n_paths, const char *metric, const char *out_path, char *err,
            size_t err_len);

/* The two-sided 95% Student t quantile for `dof` degrees of freedom. */
double mz_t95(int dof);

#endif
