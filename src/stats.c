/* See stats.h. */
#include "src/stats.h"

#include <math.h>

/* two-sided 95% quantiles of Student's t, 1..30 degrees of freedom */
static const double T975[30] = {12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
                                2.201,  2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086,
                                2.080,  2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042};

static double t975(int dof) {
    if (dof <= 30) return T975[dof - 1];
    if (dof <= 60) return 2.042 + (2.000 - 2.042) * (dof - 30) / 30.0;
    if (dof <= 120) return 2.000 + (1.980 - 2.000) * (dof - 60) / 60.0;
    return 1.960;
}

void mz_mean_ci95(const double *x, int n, double *mean, double *half_width) {
    double sum = 0.0;
    for (int i = 0; i < n; i++) sum += x[i];
    double m = n > 0 ? sum / n : 0.0, ss = 0.0;
    for (int i = 0; i < n; i++) ss += (x[i] - m) * (x[i] - m);
    *mean = m;
    *half_width = n >= 2 ? t975(n - 1) * sqrt(ss / (n - 1)) / sqrt((double)n) : 0.0;
}
