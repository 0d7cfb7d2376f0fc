/* Trajectory recording: .npy chunks (header, shape, batch-major data) that
 * concatenate along time back to exactly what was recorded, and
 * recording.json. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "src/npy.h"
#include "src/trajectory.h"
#include "tests/run_test_util.h"
#include "tests/test_util.h"

enum { B = 3, T = 10, N = 2, O = 3, CHUNK = 4 };

static float obs_value(int e, int t, int n, int o) { return (float)(e * 1000 + t * 10 + n * 3 + o) + 0.5f; }

/* The data of an .npy file after checking its header's dtype and shape. */
static char *load_npy(const char *path, const char *descr, const char *shape, size_t *data_len) {
    char *text = read_file_text(path, NULL);
    if (!text) fail_msg("cannot read %s", path);
    assert_memory_equal(text, "\x93NUMPY\x01\x00", 8);
    size_t header = 10 + (size_t)(unsigned char)text[8] + 256 * (size_t)(unsigned char)text[9];
    assert_int_equal(header % 64, 0);
    assert_int_equal(text[header - 1], '\n');
    char want[256];
    snprintf(want, sizeof want, "{'descr': '%s', 'fortran_order': False, 'shape': %s, }", descr, shape);
    if (strncmp(text + 10, want, strlen(want)) != 0) fail_msg("%s header: %.100s\nwant: %s", path, text + 10, want);
    FILE *f = fopen(path, "rb");
    fseek(f, 0, SEEK_END);
    *data_len = (size_t)ftell(f) - header;
    fclose(f);
    char *data = malloc(*data_len + 1);
    memcpy(data, text + header, *data_len);
    free(text);
    return data;
}

static void test_chunks_round_trip(void **state) {
    (void)state;
    char root[256], err[512];
    make_temp_dir(root, sizeof root);
    mz_config cfg;
    char record_dir[512], chunk[32];
    snprintf(record_dir, sizeof record_dir, "record.dir=%s/vaults", root);
    snprintf(chunk, sizeof chunk, "record.chunk_steps=%d", CHUNK);
    char *over[] = {"record.trajectories=true", record_dir, chunk, "env.name=lbf", "algo=ippo"};
    load_test_config(&cfg, root, 5, over);
    mz_traj_field fields[] = {{"observations", MZ_NPY_F32, 2, {N, O}},
                              {"actions", MZ_NPY_I32, 1, {N}},
                              {"terminals", MZ_NPY_BOOL, 1, {N}},
                              {"infos.state", MZ_NPY_F32, 0, {0}}};
    mz_recorder *r = mz_recorder_open(&cfg, B, fields, 4, err, sizeof err);
    if (!r) fail_msg("%s", err);
    char dir[1024];
    snprintf(dir, sizeof dir, "%s", mz_recorder_dir(r));
    char prefix[600];
    snprintf(prefix, sizeof prefix, "%s/vaults/lbf/", root);
    assert_memory_equal(dir, prefix, strlen(prefix));
    assert_int_equal(strlen(dir + strlen(prefix)), 14); /* %Y%m%d%H%M%S */
    for (int t = 0; t < T; t++) {
        float obs[B][N][O], state_value[B];
        int32_t act[B][N];
        unsigned char term[B][N];
        for (int e = 0; e < B; e++) {
            state_value[e] = (float)(t * B + e);
            for (int n = 0; n < N; n++) {
                act[e][n] = e * 100 + t * 2 + n;
                term[e][n] = t == T - 1;
                for (int o = 0; o < O; o++) obs[e][n][o] = obs_value(e, t, n, o);
            }
        }
        const void *data[] = {obs, act, term, state_value};
        mz_recorder_step(r, data);
    }
    assert_int_equal(mz_recorder_close(r), 0);

    int t0 = 0;
    for (int c = 0; c < 3; c++) {
        int tc = c < 2 ? CHUNK : T - 2 * CHUNK;
        char path[1200], shape[64];
        size_t len;
        snprintf(path, sizeof path, "%s/observations.%05d.npy", dir, c);
        snprintf(shape, sizeof shape, "(%d, %d, %d, %d)", B, tc, N, O);
        float *obs = (float *)load_npy(path, "<f4", shape, &len);
        assert_int_equal(len, sizeof(float) * B * tc * N * O);
        for (int e = 0; e < B; e++)
            for (int t = 0; t < tc; t++)
                for (int n = 0; n < N; n++)
                    for (int o = 0; o < O; o++)
                        assert_true(obs[((e * tc + t) * N + n) * O + o] == obs_value(e, t0 + t, n, o));
        free(obs);
        snprintf(path, sizeof path, "%s/actions.%05d.npy", dir, c);
        snprintf(shape, sizeof shape, "(%d, %d, %d)", B, tc, N);
        int32_t *act = (int32_t *)load_npy(path, "<i4", shape, &len);
        assert_int_equal(act[(2 * tc + tc - 1) * N + 1], 200 + (t0 + tc - 1) * 2 + 1);
        free(act);
        snprintf(path, sizeof path, "%s/terminals.%05d.npy", dir, c);
        unsigned char *term = (unsigned char *)load_npy(path, "|b1", shape, &len);
        assert_int_equal(len, (size_t)(B * tc * N));
        assert_int_equal(term[tc * N - 1], c == 2);
        free(term);
        snprintf(path, sizeof path, "%s/infos.state.%05d.npy", dir, c);
        snprintf(shape, sizeof shape, "(%d, %d)", B, tc);
        float *st = (float *)load_npy(path, "<f4", shape, &len);
        assert_true(st[1 * tc + 0] == (float)(t0 * B + 1));
        free(st);
        t0 += tc;
    }
    cJSON *desc = read_json_file(dir, "recording.json");
    assert_int_equal(cJSON_GetObjectItem(desc, "steps")->valueint, T);
    assert_int_equal(cJSON_GetObjectItem(desc, "chunks")->valueint, 3);
    assert_int_equal(cJSON_GetObjectItem(desc, "batch")->valueint, B);
    cJSON *obs_desc = cJSON_GetObjectItem(cJSON_GetObjectItem(desc, "fields"), "observations");
    assert_string_equal(cJSON_GetObjectItem(obs_desc, "dtype")->valuestring, "<f4");
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(obs_desc, "shape")), 2);
    cJSON_Delete(desc);
    remove_tree(root);
}

static int run_trajectory(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_chunks_round_trip)};
    return MZ_RUN_GROUP("trajectory", tests);
}

MZ_TEST_GROUP("trajectory", run_trajectory)
