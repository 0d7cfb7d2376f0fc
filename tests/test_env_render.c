/* Rendering: exact text frames, and PNG and GIF files that their own
 * libraries wrote with the expected size and more than one colour. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "envs/render.h"
#include "envs/vecenv.h"
#include "src/check.h"
#include "tests/test_util.h"

static void test_text_frames(void **state) {
    (void)state;
    mz_env_params p;
    char err[256], text[4096];
    MZ_CHECK(mz_env_params_resolve(&p, "chain", "n2-l5", 0, 1, err, sizeof err) == 0, "%s", err);
    chain_state c = {{0, 3}, 2, 1};
    mz_env_render_text(&p, &c, text, sizeof text);
    assert_string_equal(text, "A---|\n---B|\nstep 2\n");

    MZ_CHECK(mz_env_params_resolve(&p, "lbf", "8x8-2p-1f", 0, 1, err, sizeof err) == 0, "%s", err);
    lbf_state l;
    memset(&l, 0, sizeof l);
    l.agent_pos[0][0] = 0, l.agent_pos[0][1] = 0, l.agent_level[0] = 1;
    l.agent_pos[1][0] = 7, l.agent_pos[1][1] = 7, l.agent_level[1] = 2;
    l.food_pos[0][0] = 3, l.food_pos[0][1] = 4, l.food_level[0] = 3;
    mz_env_render_text(&p, &l, text, sizeof text);
    assert_string_equal(text, "A.......\n........\n........\n....3...\n........\n........\n........\n.......B\nstep 0; levels: A=1 B=2\n");
    /* a small buffer cuts the frame, still terminated */
    size_t n = mz_env_render_text(&p, &l, text, 10);
    assert_int_equal(n, 9);
    assert_int_equal(strlen(text), 9);
}

static long file_size(const char *path, unsigned char *head, size_t head_len) {
    FILE *f = fopen(path, "rb");
    if (!f) return -1;
    size_t got = fread(head, 1, head_len, f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fclose(f);
    return got == head_len ? n : -1;
}

static void test_png_and_gif(void **state) {
    (void)state;
    const char *envs[][2] = {{"rware", "tiny-2ag"}, {"lbf", ""}, {"mpe_simple_spread", "3ag"}, {"chain", ""}, {"climbing", ""}};
    char dir[] = "/tmp/mazero-render-XXXXXX";
    assert_non_null(mkdtemp(dir));
    for (size_t i = 0; i < sizeof envs / sizeof envs[0]; i++) {
        mz_env_params p;
        char err[256], png[512], gif[512];
        MZ_CHECK(mz_env_params_resolve(&p, envs[i][0], envs[i][1], 0, 4, err, sizeof err) == 0, "%s", err);
        mz_vecenv *v = mz_vecenv_create(test_cpu_backend(), &p, 1);
        mz_vecenv_reset(v);
        void *st = mz_malloc((size_t)p.state_bytes);
        mz_vecenv_get_state(v, 0, st);
        mz_env_canvas *c = mz_env_canvas_create(&p, err, sizeof err);
        assert_non_null(c);
        snprintf(png, sizeof png, "%s/%s.png", dir, envs[i][0]);
        snprintf(gif, sizeof gif, "%s/%s.gif", dir, envs[i][0]);
        for (int frame = 0; frame < 3; frame++) {
            mz_env_canvas_draw(c, st);
            assert_int_equal(mz_env_canvas_add_gif_frame(c, gif, 10, err, sizeof err), 0);
            mz_vecenv_step(v);
            mz_vecenv_get_state(v, 0, st);
        }
        assert_int_equal(mz_env_canvas_write_png(c, png, err, sizeof err), 0);
        assert_int_equal(mz_env_canvas_close_gif(c, err, sizeof err), 0);
        unsigned char head[24];
        long n = file_size(png, head, sizeof head);
        assert_true(n > 100);
        assert_memory_equal(head, "\x89PNG\r\n\x1a\n", 8);
        int w = head[16] << 24 | head[17] << 16 | head[18] << 8 | head[19];
        int h = head[20] << 24 | head[21] << 16 | head[22] << 8 | head[23];
        assert_int_equal(w, mz_env_canvas_width(c));
        assert_int_equal(h, mz_env_canvas_height(c));
        n = file_size(gif, head, 10);
        assert_true(n > 100);
        assert_memory_equal(head, "GIF89a", 6);
        assert_int_equal(head[6] | head[7] << 8, mz_env_canvas_width(c));
        unlink(png);
        unlink(gif);
        mz_env_canvas_destroy(c);
        free(st);
        mz_vecenv_destroy(v);
    }
    /* an unwritable path is an error naming it, not a crash */
    mz_env_params p;
    char err[256];
    MZ_CHECK(mz_env_params_resolve(&p, "chain", "", 0, 1, err, sizeof err) == 0, "%s", err);
    mz_env_canvas *c = mz_env_canvas_create(&p, err, sizeof err);
    chain_state cs = {{0}, 0, 0};
    mz_env_canvas_draw(c, &cs);
    assert_int_equal(mz_env_canvas_write_png(c, "/nonexistent/dir/x.png", err, sizeof err), -1);
    assert_non_null(strstr(err, "/nonexistent/dir/x.png"));
    assert_int_equal(mz_env_canvas_add_gif_frame(c, "/nonexistent/dir/x.gif", 10, err, sizeof err), -1);
    assert_non_null(strstr(err, "/nonexistent/dir/x.gif"));
    mz_env_canvas_destroy(c);
    rmdir(dir);
}

static int run_group(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_text_frames),
        cmocka_unit_test(test_png_and_gif),
    };
    return MZ_RUN_GROUP("env_render", tests);
}

MZ_TEST_GROUP("env_render", run_group)
