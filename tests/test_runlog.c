/* The run directory: layout, metrics.jsonl rows, the marl-eval metrics.json,
 * console.log, the progress line, and a crash closing the run as failed. */
#include <dirent.h>
#include <math.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "src/check.h"
#include "src/config.h"
#include "src/progress.h"
#include "src/runlog.h"
#include "src/wandb_file.h"
#include "tests/run_test_util.h"
#include "tests/test_util.h"

static void test_layout_and_rows(void **state) {
    (void)state;
    char root[256];
    make_temp_dir(root, sizeof root);
    mz_config cfg;
    char *over[] = {"algo=ippo", "seed=7", "total_env_steps=1000", "env.name=lbf", "env.scenario=8x8-2p"};
    load_test_config(&cfg, root, 5, over);
    mz_runlog *rl = open_test_run(&cfg);
    const char *dir = mz_runlog_dir(rl);
    char dir_copy[1024];
    snprintf(dir_copy, sizeof dir_copy, "%s", dir);
    char pattern[512];
    snprintf(pattern, sizeof pattern, "^%s/ippo/lbf-8x8-2p/[0-9]{8}-[0-9]{6}-7$", root);
    regex_t re;
    assert_int_equal(regcomp(&re, pattern, REG_EXTENDED | REG_NOSUB), 0);
    if (regexec(&re, dir, 0, NULL, 0) != 0) fail_msg("run dir '%s' does not match %s", dir, pattern);
    regfree(&re);
    for (int i = 0; i < 10; i++) {
        mz_metric m[] = {{"loss", 1.0 / (i + 1)}, {"value_loss", 0.5}, {"entropy", i == 3 ? NAN : 0.25}};
        mz_runlog_row(rl, i, 100 * (i + 1), m, 3);
    }
    double returns[] = {1.5, 2.5, 3.5};
    mz_runlog_eval(rl, 10, 1000, returns, 3);
    double absolute[] = {4, 5, 6, 7};
    mz_runlog_eval_absolute(rl, absolute, 4);
    assert_int_equal(mz_runlog_close(rl, 0), 0);

    char path[1100];
    const char *subdirs[] = {"checkpoints", "plots"};
    struct stat st;
    for (int i = 0; i < 2; i++) {
        snprintf(path, sizeof path, "%s/%s", dir_copy, subdirs[i]);
        assert_true(stat(path, &st) == 0 && S_ISDIR(st.st_mode));
    }
    /* config.json is the resolved config */
    cJSON *config = read_json_file(dir_copy, "config.json");
    assert_int_equal(cJSON_GetObjectItem(config, "seed")->valueint, 7);
    assert_string_equal(cJSON_GetObjectItem(config, "algo")->valuestring, "ippo");
    cJSON_Delete(config);
    /* metrics.jsonl: 10 rows + the evaluation's row, strict JSON (NaN is null) */
    int n_lines = 0;
    char **lines = read_lines(dir_copy, "metrics.jsonl", &n_lines);
    assert_int_equal(n_lines, 11);
    for (int i = 0; i < n_lines; i++) {
        cJSON *row = cJSON_Parse(lines[i]);
        if (!row) fail_msg("metrics.jsonl line %d is not JSON: %s", i + 1, lines[i]);
        assert_int_equal(cJSON_GetObjectItem(row, "step")->valueint, i);
        assert_true(cJSON_IsNumber(cJSON_GetObjectItem(row, "wall_time")));
        assert_true(cJSON_IsNumber(cJSON_GetObjectItem(row, "timestamp")));
        if (i < 10) {
            assert_int_equal(cJSON_GetObjectItem(row, "env_steps")->valueint, 100 * (i + 1));
            assert_true(fabs(cJSON_GetObjectItem(row, "loss")->valuedouble - 1.0 / (i + 1)) < 1e-15);
            assert_true(i == 3 ? cJSON_IsNull(cJSON_GetObjectItem(row, "entropy"))
                               : cJSON_IsNumber(cJSON_GetObjectItem(row, "entropy")));
        } else {
            assert_true(fabs(cJSON_GetObjectItem(row, "mean_episode_return")->valuedouble - 2.5) < 1e-12);
        }
        cJSON_Delete(row);
    }
    free_lines(lines, n_lines);
    /* metrics.json: env -> task -> algo -> seed_N -> step_k / absolute_metrics */
    cJSON *marl = read_json_file(dir_copy, "metrics.json");
    cJSON *seed = cJSON_GetObjectItem(
        cJSON_GetObjectItem(cJSON_GetObjectItem(cJSON_GetObjectItem(marl, "lbf"), "8x8-2p"), "ippo"), "seed_7");
    assert_non_null(seed);
    cJSON *step0 = cJSON_GetObjectItem(seed, "step_0");
    assert_non_null(step0);
    assert_int_equal(cJSON_GetObjectItem(step0, "step_count")->valueint, 1000);
    assert_true(cJSON_IsNumber(cJSON_GetObjectItem(step0, "elapsed_time")));
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(step0, "mean_episode_return")), 3);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(step0, "steps_per_second")), 1);
    cJSON *last = seed->child;
    while (last->next) last = last->next;
    assert_string_equal(last->string, "absolute_metrics");
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(last, "mean_episode_return")), 4);
    cJSON_Delete(marl);
    /* console.log: the progress lines and the messages */
    char *console = read_file_text(dir_copy, "console.log");
    assert_non_null(strstr(console, "run directory: "));
    assert_non_null(strstr(console, "1.0k/1.0k env steps"));
    assert_non_null(strstr(console, "final evaluation: mean return 5.5 over 4 episodes"));
    assert_non_null(strstr(console, "run finished with exit code 0"));
    free(console);
    remove_tree(root);
}

static void test_progress_line(void **state) {
    (void)state;
    mz_progress p = {0};
    p.env_steps = 450000;
    p.total_env_steps = 1000000;
    p.elapsed_seconds = 45;
    p.has_train_return = true;
    p.train_return = 12.3456;
    p.has_eval_return = true;
    p.eval_return = -3;
    p.n_losses = 2;
    p.loss_names[0] = "loss";
    p.loss_values[0] = 0.123456;
    p.loss_names[1] = "value_loss";
    p.loss_values[1] = 2;
    char line[256];
    mz_progress_format(&p, line, sizeof line);
    assert_string_equal(line, "[ 45.0%] 450.0k/1.0M env steps | 10.0k steps/s | ETA 0:00:55 | return 12.35 | eval -3 | "
                              "loss 0.1235 | value_loss 2");
    p.env_steps = 0;
    p.elapsed_seconds = 0;
    p.has_train_return = false;
    p.has_eval_return = false;
    p.n_losses = 0;
    mz_progress_format(&p, line, sizeof line);
    assert_string_equal(line, "[  0.0%] 0/1.0M env steps | 0 steps/s | ETA ?");
    char tiny[8];
    mz_progress_format(&p, tiny, sizeof tiny); /* cut, never overrun */
    assert_int_equal(strlen(tiny), 7);
}

/* Plain progress lines go to stdout when it is not a terminal; quiet prints nothing. */
typedef struct {
    const char *console;
    char root[256];
} console_case;

static void run_with_console(void *arg) {
    console_case *c = arg;
    mz_config cfg;
    char setting[64];
    snprintf(setting, sizeof setting, "log.console=%s", c->console);
    char *over[] = {setting, "log.progress_seconds=0", "total_env_steps=300"};
    load_test_config(&cfg, c->root, 3, over);
    mz_runlog *rl = open_test_run(&cfg);
    for (int i = 1; i <= 3; i++) mz_runlog_row(rl, i, 100 * i, NULL, 0);
    mz_runlog_close(rl, 0);
}

static void test_console_modes(void **state) {
    (void)state;
    const char *modes[] = {"plain", "quiet", "line"};
    for (int m = 0; m < 3; m++) {
        console_case c = {modes[m], ""};
        make_temp_dir(c.root, sizeof c.root);
        char out[8192];
        int rc = run_capturing_stdout(run_with_console, &c, out, sizeof out);
        assert_int_equal(rc, 0);
        if (m == 0) {
            assert_non_null(strstr(out, "[ 33.3%] 100/300 env steps"));
            assert_non_null(strstr(out, "[100.0%] 300/300 env steps"));
            assert_null(strchr(out, '\r'));
        } else if (m == 1) {
            assert_string_equal(out, "");
        } else {
            assert_non_null(strstr(out, "\r[ 33.3%] 100/300 env steps"));
            assert_non_null(strstr(out, "\033[K"));
        }
        remove_tree(c.root);
    }
}

static void crash_mid_run(void *arg) {
    const char *root = arg;
    mz_config cfg;
    char *over[] = {"wandb.mode=offline"};
    load_test_config(&cfg, root, 1, over);
    mz_runlog *rl = open_test_run(&cfg);
    mz_metric m = {"loss", 0.5};
    mz_runlog_row(rl, 0, 10, &m, 1);
    MZ_CHECK(false, "a simulated crash");
}

static void test_crash_closes_run_as_failed(void **state) {
    (void)state;
    char root[256], err[2048];
    make_temp_dir(root, sizeof root);
    assert_int_equal(run_in_child(crash_mid_run, root, err, sizeof err), 1);
    assert_non_null(strstr(err, "a simulated crash"));
    assert_non_null(strstr(err, "closing it as failed"));
    char wandb_path[1024];
    assert_int_equal(find_file_with_suffix(root, ".wandb", wandb_path, sizeof wandb_path), 0);
    mz_wandb_records recs;
    char why[512];
    if (mz_wandb_file_read(wandb_path, &recs, why, sizeof why) != 0) fail_msg("%s", why);
    int exit_code = -1, histories = 0;
    for (int i = 0; i < recs.n; i++) {
        if (recs.records[i].kind == MZ_WREC_EXIT) exit_code = recs.records[i].exit_code;
        histories += recs.records[i].kind == MZ_WREC_HISTORY;
    }
    assert_int_equal(exit_code, 1);
    assert_int_equal(histories, 1);
    mz_wandb_records_free(&recs);
    remove_tree(root);
}

static void test_bad_settings(void **state) {
    (void)state;
    char root[256], err[512];
    make_temp_dir(root, sizeof root);
    mz_config cfg;
    load_test_config(&cfg, root, 0, NULL);
    setenv("WANDB_MODE", "sometimes", 1);
    int code = 0;
    mz_runlog *rl = mz_runlog_open(&cfg, &code, err, sizeof err);
    unsetenv("WANDB_MODE");
    assert_null(rl);
    assert_int_equal(code, 2);
    assert_string_equal(err, "WANDB_MODE: expected one of online, offline, dryrun, disabled, got 'sometimes'");
    remove_tree(root);
}

/* The data-parallel stop agreement: a signal that lands while the
 * collective runs (the collective still agrees on 0) is kept and stops
 * every rank at the next call; before, the agreed 0 overwrote it and the
 * signalled rank ran on until killed. */
static volatile sig_atomic_t *agree_flag;
static int64_t agree_other_rank; /* the largest signal of the other ranks */
static int64_t signal_during_collective(int64_t mine) {
    *agree_flag = SIGTERM; /* arrives after this rank's value was sent */
    return mine > agree_other_rank ? mine : agree_other_rank;
}
static int64_t plain_collective(int64_t mine) { return mine > agree_other_rank ? mine : agree_other_rank; }

static void test_stop_agreement_keeps_late_signal(void **state) {
    (void)state;
    volatile sig_atomic_t sig = 0;
    agree_flag = &sig, agree_other_rank = 0;
    assert_false(mz_stop_agree(&sig, signal_during_collective)); /* every rank continues this iteration */
    assert_int_equal(sig, SIGTERM);                              /* ... and the signal is not lost */
    assert_true(mz_stop_agree(&sig, plain_collective));          /* every rank stops at the next */
    assert_int_equal(sig, SIGTERM);
    /* a rank that got no signal stops with the other rank's */
    sig = 0, agree_other_rank = SIGINT;
    assert_true(mz_stop_agree(&sig, plain_collective));
    assert_int_equal(sig, SIGINT);
    sig = 0, agree_other_rank = 0;
    assert_false(mz_stop_agree(&sig, plain_collective));
    assert_int_equal(sig, 0);
}

static int run_runlog(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_layout_and_rows),      cmocka_unit_test(test_progress_line),
        cmocka_unit_test(test_console_modes),        cmocka_unit_test(test_crash_closes_run_as_failed),
        cmocka_unit_test(test_bad_settings),         cmocka_unit_test(test_stop_agreement_keeps_late_signal),
    };
    return MZ_RUN_GROUP("runlog", tests);
}

MZ_TEST_GROUP("runlog", run_runlog)
