/* mazero plot: a PNG and an SVG for a synthetic set of runs (two
 * algorithms, three seeds each): size, non-blank pixels, both algorithms'
 * colours, the confidence band; plots/ written at the end of a run. */
#include <cairo/cairo.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "src/plot.h"
#include "src/runlog.h"
#include "tests/run_test_util.h"
#include "tests/test_util.h"

static void make_runs(const char *root) {
    const char *algos[] = {"ippo", "mappo"};
    for (int a = 0; a < 2; a++)
        for (int seed = 0; seed < 3; seed++) {
            mz_config cfg;
            char algo[32], seed_text[32];
            snprintf(algo, sizeof algo, "algo=%s", algos[a]);
            snprintf(seed_text, sizeof seed_text, "seed=%d", seed);
            char *over[] = {algo, seed_text, "total_env_steps=20000"};
            load_test_config(&cfg, root, 3, over);
            mz_runlog *rl = open_test_run(&cfg);
            for (int k = 1; k <= 20; k++) {
                double ret = (a + 1) * 10.0 * (1 - exp(-k / 6.0)) + (seed - 1) * 1.5;
                double returns[] = {ret - 0.5, ret + 0.5};
                /* more losses than a run draws, logged before the training return */
                mz_metric row[] = {{"loss", 1.0 / k},         {"policy_loss", 1.0 / k}, {"value_loss", 1.0 / k},
                                   {"reward_loss", 1.0 / k},  {"extra_loss", 1.0 / k},  {"train_episode_return", ret}};
                mz_runlog_row(rl, k, 1000 * k, row, 6);
                mz_runlog_eval(rl, k, 1000 * k, returns, 2);
            }
            double absolute[] = {(a + 1) * 10.0, (a + 1) * 10.0 + 1, (a + 1) * 10.0 - 1};
            mz_runlog_eval_absolute(rl, absolute, 3);
            mz_runlog_close(rl, 0);
        }
}

/* pixels within `tol` of an RGB colour */
static int count_colour(cairo_surface_t *s, double r, double g, double b, int tol) {
    int w = cairo_image_surface_get_width(s), h = cairo_image_surface_get_height(s);
    int stride = cairo_image_surface_get_stride(s), n = 0;
    const unsigned char *px = cairo_image_surface_get_data(s);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            uint32_t v = *(const uint32_t *)(px + y * stride + 4 * x);
            int pr = (int)(v >> 16 & 255), pg = (int)(v >> 8 & 255), pb = (int)(v & 255);
            n += abs(pr - (int)(r * 255)) <= tol && abs(pg - (int)(g * 255)) <= tol && abs(pb - (int)(b * 255)) <= tol;
        }
    return n;
}

static void test_png_and_svg(void **state) {
    (void)state;
    char root[256], out[512], err[512];
    make_temp_dir(root, sizeof root);
    make_runs(root);
    snprintf(out, sizeof out, "%s/curves.png", root);
    const char *paths[] = {root};
    if (mz_plot(paths, 1, "mean_episode_return", out, err, sizeof err) != 0) fail_msg("%s", err);
    cairo_surface_t *s = cairo_image_surface_create_from_png(out);
    assert_int_equal(cairo_surface_status(s), CAIRO_STATUS_SUCCESS);
    assert_int_equal(cairo_image_surface_get_width(s), MZ_PLOT_WIDTH);
    assert_int_equal(cairo_image_surface_get_height(s), MZ_PLOT_HEIGHT);
    cairo_surface_flush(s);
    int total = MZ_PLOT_WIDTH * MZ_PLOT_HEIGHT;
    int white = count_colour(s, 1, 1, 1, 0);
    if (total - white < total / 50) fail_msg("only %d non-white pixels of %d", total - white, total);
    int ippo = count_colour(s, 0.12, 0.47, 0.71, 3), mappo = count_colour(s, 0.84, 0.15, 0.16, 3);
    /* the bands: the line colours at 25% over white */
    int ippo_band = count_colour(s, 1 - 0.25 * (1 - 0.12), 1 - 0.25 * (1 - 0.47), 1 - 0.25 * (1 - 0.71), 4);
    if (ippo < 500 || mappo < 500 || ippo_band < 500)
        fail_msg("line pixels ippo %d, mappo %d, ippo band %d: want 500+ each", ippo, mappo, ippo_band);
    cairo_surface_destroy(s);

    snprintf(out, sizeof out, "%s/curves.svg", root);
    if (mz_plot(paths, 1, "mean_episode_return", out, err, sizeof err) != 0) fail_msg("%s", err);
    char *svg = read_file_text(out, NULL);
    assert_non_null(strstr(svg, "<svg"));
    assert_true(strlen(svg) > 2000);
    free(svg);

    /* errors: unknown metric, no runs, bad extension */
    assert_int_equal(mz_plot(paths, 1, "no_such_metric", out, err, sizeof err), 1);
    assert_string_equal(err, "none of the 6 runs found has a row with metric 'no_such_metric'");
    snprintf(out, sizeof out, "%s/curves.jpg", root);
    assert_int_equal(mz_plot(paths, 1, "loss", out, err, sizeof err), 1);
    /* each run drew its own curves into plots/ when it closed */
    char png[1024];
    assert_int_equal(find_file_with_suffix(root, "/plots/mean_episode_return.png", png, sizeof png), 0);
    /* the training return too, whatever the number of losses (it was cut by them) */
    assert_int_equal(find_file_with_suffix(root, "/plots/train_episode_return.png", png, sizeof png), 0);
    assert_int_equal(find_file_with_suffix(root, "/plots/loss.png", png, sizeof png), 0);
    remove_tree(root);
}

static void test_t_quantiles(void **state) {
    (void)state;
    assert_true(fabs(mz_t95(1) - 12.706) < 1e-9);
    assert_true(fabs(mz_t95(2) - 4.303) < 1e-9);
    assert_true(fabs(mz_t95(1000) - 1.96) < 1e-9);
    assert_true(isnan(mz_t95(0)));
}

static int run_plot(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_png_and_svg), cmocka_unit_test(test_t_quantiles)};
    return MZ_RUN_GROUP("plot", tests);
}

MZ_TEST_GROUP("plot", run_plot)
