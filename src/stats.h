/* Small statistics of evaluation episodes, shared by every `mazero eval`
 * and final-evaluation report. */
#ifndef MZ_STATS_H
#define MZ_STATS_H

/* Mean of x[n] and the half-width of its 95% confidence interval
 * (Student's t with n - 1 degrees of freedom on the sample standard
 * deviation; 0 when n < 2). */
void mz_mean_ci95(const double *x, int n, double *mean, double *half_width);

#endif
