#include "src/plot.h"

#include <cairo/cairo-svg.h>
#include <cairo/cairo.h>
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cjson/cJSON.h>

#include "src/check.h"
#include "src/progress.h"
#include "src/strbuf.h"

#define GRID 200
#define PI 3.14159265358979323846
#define MAX_DEPTH 4

typedef struct {
    double *x, *y;
    int n;
} curve;

typedef struct {
    char algo[128];
    curve *runs;
    int n_runs;
    double grid_x[GRID], mean[GRID], lo[GRID], hi[GRID];
    int n_grid;
} group;

typedef struct {
    group *groups;
    int n_groups;
    char env[128];
    int n_runs_found;
} plot_data;

double mz_t95(int dof) {
    static const double t[] = {0,     12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
                               2.201, 2.179,  2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080,
                               2.074, 2.069,  2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042};
    if (dof < 1) return NAN;
    if (dof <= 30) return t[dof];
    return dof <= 60 ? 2.000 : dof <= 120 ? 1.980 : 1.960;
}

static char *slurp(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    mz_strbuf b = {0};
    char buf[65536];
    size_t got;
    while ((got = fread(buf, 1, sizeof buf, f)) > 0) mz_strbuf_append(&b, buf, got);
    fclose(f);
    if (!b.data) mz_strbuf_puts(&b, "");
    return b.data;
}

static group *group_for(plot_data *d, const char *algo) {
    for (int i = 0; i < d->n_groups; i++)
        if (!strcmp(d->groups[i].algo, algo)) return &d->groups[i];
    d->groups = mz_realloc(d->groups, (size_t)(d->n_groups + 1) * sizeof *d->groups);
    group *g = &d->groups[d->n_groups++];
    memset(g, 0, sizeof *g);
    snprintf(g->algo, sizeof g->algo, "%s", algo);
    return g;
}

/* One run directory: its rows with the metric, under its algorithm. */
static void read_run(plot_data *d, const char *dir, const char *metric) {
    char path[4096];
    snprintf(path, sizeof path, "%s/config.json", dir);
    char *text = slurp(path);
    cJSON *config = text ? cJSON_Parse(text) : NULL;
    free(text);
    const cJSON *algo = cJSON_GetObjectItem(config, "algo");
    const cJSON *env = cJSON_GetObjectItem(cJSON_GetObjectItem(config, "env"), "name");
    const cJSON *scenario = cJSON_GetObjectItem(cJSON_GetObjectItem(config, "env"), "scenario");
    if (cJSON_IsString(env) && cJSON_IsString(scenario) && !d->env[0])
        snprintf(d->env, sizeof d->env, "%s %s", env->valuestring, scenario->valuestring);
    curve c = {NULL, NULL, 0};
    snprintf(path, sizeof path, "%s/metrics.jsonl", dir);
    text = slurp(path);
    for (char *line = text ? strtok(text, "\n") : NULL; line; line = strtok(NULL, "\n")) {
        cJSON *row = cJSON_Parse(line);
        const cJSON *x = cJSON_GetObjectItem(row, "env_steps"), *y = cJSON_GetObjectItem(row, metric);
        if (cJSON_IsNumber(x) && cJSON_IsNumber(y) && isfinite(y->valuedouble)) {
            c.x = mz_realloc(c.x, (size_t)(c.n + 1) * sizeof *c.x);
            c.y = mz_realloc(c.y, (size_t)(c.n + 1) * sizeof *c.y);
            c.x[c.n] = x->valuedouble;
            c.y[c.n] = y->valuedouble;
            c.n++;
        }
        cJSON_Delete(row);
    }
    free(text);
    d->n_runs_found++;
    if (c.n > 0) {
        /* MuZero's sync and async runs are different systems on one plot */
        const cJSON *mode = cJSON_GetObjectItem(config, "mode");
        const char *name_algo = cJSON_IsString(algo) ? algo->valuestring : "run";
        const char *name_mode = !strcmp(name_algo, "mazero") && cJSON_IsString(mode) ? mode->valuestring : NULL;
        char name[128];
        snprintf(name, sizeof name, "%s%s%s", name_algo, name_mode ? " " : "", name_mode ? name_mode : "");
        group *g = group_for(d, name);
        g->runs = mz_realloc(g->runs, (size_t)(g->n_runs + 1) * sizeof *g->runs);
        g->runs[g->n_runs++] = c;
    }
    cJSON_Delete(config);
}

static bool is_run_dir(const char *dir) {
    char path[4096];
    struct stat st;
    snprintf(path, sizeof path, "%s/metrics.jsonl", dir);
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static void collect(plot_data *d, const char *dir, const char *metric, int depth) {
    if (is_run_dir(dir)) {
        read_run(d, dir, metric);
        return;
    }
    if (depth >= MAX_DEPTH) return;
    DIR *h = opendir(dir);
    if (!h) return;
    /* sorted, so the same folders always give the same picture */
    char **names = NULL;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(h)) != NULL) {
        if (e->d_name[0] == '.') continue;
        names = mz_realloc(names, (size_t)(n + 1) * sizeof *names);
        names[n++] = mz_strdup(e->d_name);
    }
    closedir(h);
    for (int i = 1; i < n; i++)
        for (int j = i; j > 0 && strcmp(names[j - 1], names[j]) > 0; j--) {
            char *t = names[j];
            names[j] = names[j - 1];
            names[j - 1] = t;
        }
    for (int i = 0; i < n; i++) {
        char sub[4096];
        snprintf(sub, sizeof sub, "%s/%s", dir, names[i]);
        struct stat st;
        if (stat(sub, &st) == 0 && S_ISDIR(st.st_mode)) collect(d, sub, metric, depth + 1);
        free(names[i]);
    }
    free(names);
}

/* y of a curve at x by linear interpolation (x within the curve's range). */
static double interpolate(const curve *c, double x) {
    if (c->n == 1 || x <= c->x[0]) return c->y[0];
    for (int i = 1; i < c->n; i++)
        if (x <= c->x[i]) {
            double span = c->x[i] - c->x[i - 1];
            double t = span > 0 ? (x - c->x[i - 1]) / span : 1.0;
            return c->y[i - 1] + t * (c->y[i] - c->y[i - 1]);
        }
    return c->y[c->n - 1];
}

/* Mean and 95% band on a grid over the x range every seed covers. */
static void aggregate(group *g) {
    double lo_x = -INFINITY, hi_x = INFINITY;
    for (int r = 0; r < g->n_runs; r++) {
        lo_x = fmax(lo_x, g->runs[r].x[0]);
        hi_x = fmin(hi_x, g->runs[r].x[g->runs[r].n - 1]);
    }
    if (hi_x < lo_x) hi_x = lo_x; /* seeds that do not overlap: one point */
    g->n_grid = hi_x > lo_x ? GRID : 1;
    for (int i = 0; i < g->n_grid; i++) {
        double x = g->n_grid == 1 ? lo_x : lo_x + (hi_x - lo_x) * i / (GRID - 1);
        double sum = 0, sq = 0;
        for (int r = 0; r < g->n_runs; r++) sum += interpolate(&g->runs[r], x);
        double mean = sum / g->n_runs;
        for (int r = 0; r < g->n_runs; r++) sq += pow(interpolate(&g->runs[r], x) - mean, 2);
        double half = g->n_runs > 1 ? mz_t95(g->n_runs - 1) * sqrt(sq / (g->n_runs - 1)) / sqrt(g->n_runs) : 0;
        g->grid_x[i] = x;
        g->mean[i] = mean;
        g->lo[i] = mean - half;
        g->hi[i] = mean + half;
    }
}

/* 1, 2 or 5 times a power of ten, about (hi - lo) / 6 */
static double nice_step(double lo, double hi) {
    double raw = (hi - lo) / 6.0;
    if (!(raw > 0)) return 1.0;
    double p = pow(10.0, floor(log10(raw)));
    double m = raw / p;
    return (m < 1.5 ? 1 : m < 3.5 ? 2 : m < 7.5 ? 5 : 10) * p;
}

static const double palette[][3] = {{0.12, 0.47, 0.71}, {0.84, 0.15, 0.16}, {0.17, 0.63, 0.17},
                                    {0.58, 0.40, 0.74}, {1.00, 0.50, 0.05}, {0.55, 0.34, 0.29}};
#define N_COLORS ((int)(sizeof palette / sizeof palette[0]))

static void draw(cairo_t *cr, const plot_data *d, const char *metric) {
    const double W = MZ_PLOT_WIDTH, H = MZ_PLOT_HEIGHT, left = 90, right = 30, top = 50, bottom = 70;
    double x0 = INFINITY, x1 = -INFINITY, y0 = INFINITY, y1 = -INFINITY;
    for (int k = 0; k < d->n_groups; k++) {
        const group *g = &d->groups[k];
        for (int i = 0; i < g->n_grid; i++) {
            x0 = fmin(x0, g->grid_x[i]), x1 = fmax(x1, g->grid_x[i]);
            y0 = fmin(y0, g->lo[i]), y1 = fmax(y1, g->hi[i]);
        }
    }
    if (x1 <= x0) x0 -= 1, x1 += 1;
    if (y1 <= y0) y0 -= 1, y1 += 1;
    double pad = 0.05 * (y1 - y0);
    y0 -= pad, y1 += pad;
    double pw = W - left - right, ph = H - top - bottom;
#define PX(x) (left + ((x)-x0) / (x1 - x0) * pw)
#define PY(y) (top + ph - ((y)-y0) / (y1 - y0) * ph)

    cairo_set_source_rgb(cr, 1, 1, 1);
    cairo_paint(cr);
    cairo_select_font_face(cr, "sans-serif", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL);
    cairo_set_font_size(cr, 13);
    /* grid lines and tick labels */
    cairo_set_line_width(cr, 1);
    char label[200];
    cairo_text_extents_t ext;
    double step = nice_step(x0, x1);
    for (double v = ceil(x0 / step) * step; v <= x1 + 1e-9 * step; v += step) {
        cairo_set_source_rgb(cr, 0.9, 0.9, 0.9);
        cairo_move_to(cr, PX(v), top);
        cairo_line_to(cr, PX(v), top + ph);
        cairo_stroke(cr);
        mz_format_count(v, label, sizeof label);
        cairo_text_extents(cr, label, &ext);
        cairo_set_source_rgb(cr, 0.2, 0.2, 0.2);
        cairo_move_to(cr, PX(v) - ext.width / 2, top + ph + 20);
        cairo_show_text(cr, label);
    }
    step = nice_step(y0, y1);
    for (double v = ceil(y0 / step) * step; v <= y1 + 1e-9 * step; v += step) {
        cairo_set_source_rgb(cr, 0.9, 0.9, 0.9);
        cairo_move_to(cr, left, PY(v));
        cairo_line_to(cr, left + pw, PY(v));
        cairo_stroke(cr);
        snprintf(label, sizeof label, "%.4g", fabs(v) < 1e-12 * step ? 0.0 : v);
        cairo_text_extents(cr, label, &ext);
        cairo_set_source_rgb(cr, 0.2, 0.2, 0.2);
        cairo_move_to(cr, left - 8 - ext.width, PY(v) + ext.height / 2);
        cairo_show_text(cr, label);
    }
    cairo_set_source_rgb(cr, 0.2, 0.2, 0.2);
    cairo_rectangle(cr, left, top, pw, ph);
    cairo_stroke(cr);
    cairo_move_to(cr, left + pw / 2 - 50, H - 20);
    cairo_show_text(cr, "environment steps");
    cairo_save(cr);
    cairo_move_to(cr, 22, top + ph / 2 + 60);
    cairo_rotate(cr, -PI / 2);
    cairo_show_text(cr, metric);
    cairo_restore(cr);
    cairo_set_font_size(cr, 15);
    char title[320];
    snprintf(title, sizeof title, "%s%s%s (mean and 95%% CI over seeds)", metric, d->env[0] ? " on " : "", d->env);
    cairo_move_to(cr, left, 30);
    cairo_show_text(cr, title);

    /* bands, then mean lines over them, then the legend */
    cairo_rectangle(cr, left, top, pw, ph);
    cairo_clip(cr);
    for (int k = 0; k < d->n_groups; k++) {
        const group *g = &d->groups[k];
        const double *c = palette[k % N_COLORS];
        if (g->n_runs > 1 && g->n_grid > 1) {
            cairo_set_source_rgba(cr, c[0], c[1], c[2], 0.25);
            cairo_move_to(cr, PX(g->grid_x[0]), PY(g->hi[0]));
            for (int i = 1; i < g->n_grid; i++) cairo_line_to(cr, PX(g->grid_x[i]), PY(g->hi[i]));
            for (int i = g->n_grid - 1; i >= 0; i--) cairo_line_to(cr, PX(g->grid_x[i]), PY(g->lo[i]));
            cairo_close_path(cr);
            cairo_fill(cr);
        }
    }
    cairo_set_line_width(cr, 2.5);
    for (int k = 0; k < d->n_groups; k++) {
        const group *g = &d->groups[k];
        const double *c = palette[k % N_COLORS];
        cairo_set_source_rgb(cr, c[0], c[1], c[2]);
        if (g->n_grid == 1) {
            cairo_arc(cr, PX(g->grid_x[0]), PY(g->mean[0]), 4, 0, 2 * PI);
            cairo_fill(cr);
            continue;
        }
        cairo_move_to(cr, PX(g->grid_x[0]), PY(g->mean[0]));
        for (int i = 1; i < g->n_grid; i++) cairo_line_to(cr, PX(g->grid_x[i]), PY(g->mean[i]));
        cairo_stroke(cr);
    }
    cairo_reset_clip(cr);
    cairo_set_font_size(cr, 13);
    for (int k = 0; k < d->n_groups; k++) {
        const double *c = palette[k % N_COLORS];
        double ly = top + 18 + 20 * k;
        cairo_set_source_rgb(cr, c[0], c[1], c[2]);
        cairo_rectangle(cr, left + 12, ly - 9, 22, 10);
        cairo_fill(cr);
        cairo_set_source_rgb(cr, 0.1, 0.1, 0.1);
        snprintf(label, sizeof label, "%s (%d seed%s)", d->groups[k].algo, d->groups[k].n_runs,
                 d->groups[k].n_runs == 1 ? "" : "s");
        cairo_move_to(cr, left + 40, ly);
        cairo_show_text(cr, label);
    }
#undef PX
#undef PY
}

static void free_data(plot_data *d) {
    for (int k = 0; k < d->n_groups; k++) {
        for (int r = 0; r < d->groups[k].n_runs; r++) {
            free(d->groups[k].runs[r].x);
            free(d->groups[k].runs[r].y);
        }
        free(d->groups[k].runs);
    }
    free(d->groups);
}

static bool ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && !strcmp(s + n - m, suffix);
}

int mz_plot(const char *const *paths, int n_paths, const char *metric, const char *out_path, char *err,
            size_t err_len) {
    bool svg = ends_with(out_path, ".svg");
    if (!svg && !ends_with(out_path, ".png")) {
        snprintf(err, err_len, "--out '%s': expected a .png or .svg file name", out_path);
        return 1;
    }
    plot_data d;
    memset(&d, 0, sizeof d);
    for (int i = 0; i < n_paths; i++) collect(&d, paths[i], metric, 0);
    if (d.n_groups == 0) {
        if (d.n_runs_found == 0) snprintf(err, err_len, "no run directory (with metrics.jsonl) under the paths given");
        else snprintf(err, err_len, "none of the %d runs found has a row with metric '%s'", d.n_runs_found, metric);
        free_data(&d);
        return 1;
    }
    for (int k = 0; k < d.n_groups; k++) aggregate(&d.groups[k]);
    cairo_surface_t *surface = svg ? cairo_svg_surface_create(out_path, MZ_PLOT_WIDTH, MZ_PLOT_HEIGHT)
                                   : cairo_image_surface_create(CAIRO_FORMAT_RGB24, MZ_PLOT_WIDTH, MZ_PLOT_HEIGHT);
    cairo_status_t status = cairo_surface_status(surface);
    int rc = 0;
    if (status == CAIRO_STATUS_SUCCESS) {
        cairo_t *cr = cairo_create(surface);
        draw(cr, &d, metric);
        status = cairo_status(cr);
        cairo_destroy(cr);
        if (status == CAIRO_STATUS_SUCCESS && !svg) status = cairo_surface_write_to_png(surface, out_path);
        cairo_surface_finish(surface); /* writes the SVG out */
        if (status == CAIRO_STATUS_SUCCESS) status = cairo_surface_status(surface);
    }
    if (status != CAIRO_STATUS_SUCCESS) {
        snprintf(err, err_len, "cannot draw '%s': cairo: %s", out_path, cairo_status_to_string(status));
        rc = 1;
    }
    cairo_surface_destroy(surface);
    free_data(&d);
    return rc;
}
