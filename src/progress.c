#include "src/progress.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

void mz_format_count(double v, char *out, size_t len) {
    double a = fabs(v);
    if (a >= 1e9) snprintf(out, len, "%.1fG", v / 1e9);
    else if (a >= 1e6) snprintf(out, len, "%.1fM", v / 1e6);
    else if (a >= 1e3) snprintf(out, len, "%.1fk", v / 1e3);
    else snprintf(out, len, "%.0f", v);
}

static void append(char *out, size_t len, size_t *used, const char *fmt, double a, double b, double c) {
    if (*used >= len) return;
    int n = snprintf(out + *used, len - *used, fmt, a, b, c);
    if (n > 0) *used += (size_t)n;
}

void mz_progress_format(const mz_progress *p, char *out, size_t len) {
    char done[32], total[32], rate[32];
    double steps_per_s = p->elapsed_seconds > 0 ? (double)p->env_steps / p->elapsed_seconds : 0.0;
    mz_format_count((double)p->env_steps, done, sizeof done);
    mz_format_count((double)p->total_env_steps, total, sizeof total);
    mz_format_count(steps_per_s, rate, sizeof rate);
    double share = p->total_env_steps > 0 ? 100.0 * (double)p->env_steps / (double)p->total_env_steps : 0.0;
    int n = snprintf(out, len, "[%5.1f%%] %s/%s env steps | %s steps/s | ETA ", share, done, total, rate);
    size_t used = n > 0 ? (size_t)n : 0;
    int64_t left = p->total_env_steps - p->env_steps;
    if (steps_per_s > 0 && left > 0) {
        double eta = (double)left / steps_per_s;
        if (eta > 359999) eta = 359999; /* 99:59:59 */
        append(out, len, &used, "%.0f:%02.0f:%02.0f", floor(eta / 3600), floor(fmod(eta, 3600) / 60),
               floor(fmod(eta, 60)));
    } else {
        append(out, len, &used, left <= 0 ? "0:00:00" : "?", 0, 0, 0);
    }
    if (p->has_update_rate) append(out, len, &used, " | %.1f updates/s", p->updates_per_second, 0, 0);
    if (p->has_train_return) append(out, len, &used, " | return %.4g", p->train_return, 0, 0);
    if (p->has_eval_return) append(out, len, &used, " | eval %.4g", p->eval_return, 0, 0);
    for (int i = 0; i < p->n_losses && used < len; i++) {
        int m = snprintf(out + used, len - used, " | %s %.4g", p->loss_names[i], p->loss_values[i]);
        if (m > 0) used += (size_t)m;
    }
}
