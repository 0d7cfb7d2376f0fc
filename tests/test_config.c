/* Config loading: defaults, every error class with its exact message,
 * overrides, round trip, and a few thousand garbled inputs (no crash, no
 * leak under ASan). */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "src/check.h"
#include "src/config.h"
#include "src/rng.h"
#include "tests/test_util.h"

static char err[4096];

static int load(mz_config *c, const char *text, int n_over, char **over) {
    return mz_config_load_text(c, "t.json", text, strlen(text), n_over, over, err, sizeof err);
}

static void expect_error(const char *text, int n_over, char **over, const char *message) {
    mz_config c;
    int rc = load(&c, text, n_over, over);
    if (rc != 2 || strcmp(err, message) != 0)
        fail_msg("config %s\nwant rc 2 and: %s\n got rc %d and: %s", text, message, rc, err);
}

static void test_defaults(void **state) {
    (void)state;
    mz_config c;
    assert_int_equal(load(&c, "{}", 0, NULL), 0);
    assert_string_equal(err, "");
    assert_string_equal(c.device, "auto");
    assert_int_equal(c.mode, MZ_MODE_SYNC);
    assert_int_equal(c.algo, MZ_ALGO_MAZERO);
    assert_int_equal(c.mcts.num_simulations, 50);
    assert_string_equal(c.env.name, "mpe_simple_spread");
}

static void test_values_and_overrides(void **state) {
    (void)state;
    mz_config c;
    char *over[] = {"mcts.num_simulations=8", "device=cuda:1", "mode=async"};
    assert_int_equal(load(&c, "{\"seed\": 7, \"mcts\": {\"num_simulations\": 100}, \"env.num_envs\": 3}", 3, over), 0);
    assert_int_equal(c.seed, 7);
    assert_int_equal(c.mcts.num_simulations, 8); /* the command line wins */
    assert_int_equal(c.env.num_envs, 3);         /* dotted keys work in files too */
    assert_string_equal(c.device, "cuda:1");
    assert_int_equal(c.mode, MZ_MODE_ASYNC);
}

static void test_malformed_json(void **state) {
    (void)state;
    expect_error("{\n  \"seed\": 3,\n  \"mode\" \"sync\"\n}", 0, NULL, "t.json:3:10: malformed JSON near '\"sync\" }'");
    expect_error("{\n  \"seed\": 3,", 0, NULL, "t.json:2:13: malformed JSON: unexpected end of file");
    expect_error("", 0, NULL, "t.json:1:1: malformed JSON: unexpected end of file");
    expect_error("[1, 2]", 0, NULL, "t.json: the top level must be a JSON object of config keys");
    expect_error("{\"seed\": 1} trailing", 0, NULL, "t.json:1:13: malformed JSON near 'trailing'");
    mz_config c;
    const char nul[] = "{\"seed\": \0 1}";
    assert_int_equal(mz_config_load_text(&c, "t.json", nul, sizeof nul - 1, 0, NULL, err, sizeof err), 2);
    assert_string_equal(err, "t.json:1:10: malformed JSON: NUL byte in the file");
}

static void test_unknown_keys(void **state) {
    (void)state;
    expect_error("{\"devcie\": \"cpu\"}", 0, NULL, "t.json: unknown key 'devcie' (did you mean 'device'?)");
    expect_error("{\"num_simulations\": 5}", 0, NULL,
                 "t.json: unknown key 'num_simulations' (did you mean 'mcts.num_simulations'?)");
    expect_error("{\"mtcs\": {\"num_simulations\": 5}}", 0, NULL,
                 "t.json: unknown key 'mtcs' (did you mean 'mcts'?)");
    expect_error("{\"zzzzzzzz\": 1}", 0, NULL,
                 "t.json: unknown key 'zzzzzzzz' ('mazero config --schema' lists every key)");
    char *over[] = {"devcie=cpu"};
    expect_error("{}", 1, over, "command line: unknown key 'devcie' (did you mean 'device'?)");
    char *over2[] = {"mcts.num_simulation=5"};
    expect_error("{}", 1, over2, "command line: unknown key 'mcts.num_simulation' (did you mean 'mcts.num_simulations'?)");
}

static void test_bad_values(void **state) {
    (void)state;
    expect_error("{\"mcts\": {\"num_simulations\": 0}}", 0, NULL,
                 "t.json: mcts.num_simulations: expected an integer in [1, 100000], got 0");
    expect_error("{\"seed\": 1.5}", 0, NULL, "t.json: seed: expected an integer >= 0, got 1.5");
    expect_error("{\"seed\": \"1\"}", 0, NULL, "t.json: seed: expected an integer >= 0, got \"1\"");
    expect_error("{\"mode\": \"asynk\"}", 0, NULL, "t.json: mode: expected one of sync, async, got \"asynk\"");
    expect_error("{\"device\": \"tpu\"}", 0, NULL, "t.json: device: expected one of auto, cpu, cuda, cuda:N, got \"tpu\"");
    expect_error("{\"device\": null}", 0, NULL, "t.json: device: expected one of auto, cpu, cuda, cuda:N, got null");
    expect_error("{\"mcts\": 3}", 0, NULL, "t.json: 'mcts' is a section: expected an object of its keys");
    expect_error("{\"seed\": {\"a\": 1}}", 0, NULL, "t.json: seed: expected an integer >= 0, got {\"a\":1}");
    expect_error("{\"seed\": 1, \"seed\": 2}", 0, NULL, "t.json: duplicate key 'seed'");
    char *tpu[] = {"device=tpu"};
    expect_error("{}", 1, tpu, "command line: device: expected one of auto, cpu, cuda, cuda:N, got 'tpu'");
    char *cudax[] = {"device=cuda:x"};
    expect_error("{}", 1, cudax, "command line: device: expected one of auto, cpu, cuda, cuda:N, got 'cuda:x'");
    char *threads[] = {"threads=-1"};
    expect_error("{}", 1, threads, "command line: threads: expected an integer in [0, 4096], got '-1'");
    char *noeq[] = {"=3"};
    expect_error("{}", 1, noeq, "command line: expected key=value, got '=3'");
    char *section[] = {"env=3"};
    expect_error("{}", 1, section, "command line: 'env' is a section: set one of its keys, e.g. 'env.<key>=...'");
    /* every problem is reported, not only the first */
    char *two[] = {"seed=x", "mode=y"};
    expect_error("{\"devcie\": 1}", 2, two,
                 "t.json: unknown key 'devcie' (did you mean 'device'?)\n"
                 "command line: seed: expected an integer >= 0, got 'x'\n"
                 "command line: mode: expected one of sync, async, got 'y'");
}

static void test_round_trip(void **state) {
    (void)state;
    mz_config a, b;
    char *over[] = {"seed=123456789012", "mcts.policy=muzero", "log.dir=/tmp/x y", "device=cuda:2"};
    assert_int_equal(load(&a, "{}", 4, over), 0);
    char *json = mz_config_to_json(&a);
    assert_int_equal(load(&b, json, 0, NULL), 0);
    assert_memory_equal(&a, &b, sizeof a);
    free(json);
}

static void test_enum_names(void **state) {
    (void)state;
    assert_string_equal(mz_config_enum_name("mcts.mode", MZ_SEARCH_JOINT), "joint");
    assert_string_equal(mz_config_enum_name("algo", MZ_ALGO_MAPPO), "mappo");
    assert_string_equal(mz_config_enum_name("algo", 9), "?");
    assert_string_equal(mz_config_enum_name("seed", 0), "?");
    const char *a = mz_config_enum_name("mode", MZ_MODE_SYNC), *b = mz_config_enum_name("mode", MZ_MODE_ASYNC);
    assert_string_equal(a, "sync"); /* two names alive at once */
    assert_string_equal(b, "async");
}

/* Every shipped config loads cleanly. */
static void test_shipped_configs(void **state) {
    (void)state;
    DIR *dir = opendir("configs");
    assert_non_null(dir);
    int seen = 0;
    for (struct dirent *e; (e = readdir(dir)) != NULL;) {
        size_t n = strlen(e->d_name);
        if (n < 6 || strcmp(e->d_name + n - 5, ".json")) continue;
        char path[512];
        snprintf(path, sizeof path, "configs/%s", e->d_name);
        mz_config c;
        if (mz_config_load(&c, path, 0, NULL, err, sizeof err) != 0) fail_msg("%s: %s", path, err);
        seen++;
    }
    closedir(dir);
    assert_true(seen >= 1);
}

/* Truncations at every byte, then random flips, insertions and deletions of
 * a valid config: the loader must answer 0 or 2 (with a message), never
 * crash, overrun or leak. */
static void test_garbled_inputs(void **state) {
    (void)state;
    mz_config good;
    assert_int_equal(load(&good, "{}", 0, NULL), 0);
    char *valid = mz_config_to_json(&good);
    size_t len = strlen(valid);
    char *buf = (char *)mz_malloc(len + 64);
    static const char specials[] = "{}[]\":,.-+eE0123456789 \n\\tnullfase\x01\xff";
    int mutations = 0, rejected = 0;
    for (size_t cut = 0; cut < len; cut++, mutations++) {
        mz_config c;
        int rc = mz_config_load_text(&c, "t.json", valid, cut, 0, NULL, err, sizeof err);
        assert_true(rc == 2 && err[0] != '\0');
        rejected++;
    }
    for (int i = 0; i < 3000; i++, mutations++) {
        mz_rng r;
        mz_rng_init(&r, 2024, 77, (uint64_t)i);
        memcpy(buf, valid, len + 1);
        size_t n = len;
        int edits = 1 + (int)(mz_rng_u32(&r) % 4);
        for (int e = 0; e < edits; e++) {
            size_t at = mz_rng_u32(&r) % n;
            char ch = specials[mz_rng_u32(&r) % (sizeof specials - 1)];
            switch (mz_rng_u32(&r) % 3) {
            case 0: buf[at] = ch; break;
            case 1: memmove(buf + at + 1, buf + at, n - at + 1), buf[at] = ch, n++; break;
            default: memmove(buf + at, buf + at + 1, n - at), n--; break;
            }
            if (n + 8 > len + 64 || n < 2) break;
        }
        mz_config c;
        int rc = mz_config_load_text(&c, "t.json", buf, n, 0, NULL, err, sizeof err);
        assert_true(rc == 0 || (rc == 2 && err[0] != '\0'));
        rejected += rc == 2;
    }
    free(buf);
    free(valid);
    print_message("      %d garbled configs, %d rejected with a message, none crashed\n", mutations, rejected);
    assert_true(mutations >= 3000 && rejected > mutations / 2);
}

static int run_group(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),     cmocka_unit_test(test_values_and_overrides),
        cmocka_unit_test(test_malformed_json), cmocka_unit_test(test_unknown_keys),
        cmocka_unit_test(test_bad_values),   cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_enum_names),   cmocka_unit_test(test_shipped_configs),
        cmocka_unit_test(test_garbled_inputs),
    };
    return MZ_RUN_GROUP("config", tests);
}

MZ_TEST_GROUP("config", run_group)
