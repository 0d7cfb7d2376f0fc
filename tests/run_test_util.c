#define _XOPEN_SOURCE 700 /* nftw */
#include "tests/run_test_util.h"

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "src/check.h"
#include "src/strbuf.h"
#include "tests/test_util.h"

/* MZ_TEST_KEEP_DIR=DIR: the folders go under DIR and stay, for the
 * Python checks (tests/python_checks.sh) to read what the C code wrote. */
static const char *keep_dir(void) {
    const char *keep = getenv("MZ_TEST_KEEP_DIR");
    return keep && keep[0] ? keep : NULL;
}

void make_temp_dir(char *out, size_t len) {
    const char *tmp = keep_dir() ? keep_dir() : getenv("TMPDIR");
    snprintf(out, len, "%s/mazero-test-XXXXXX", tmp && tmp[0] ? tmp : "/tmp");
    MZ_CHECK(mkdtemp(out), "mkdtemp('%s') failed", out);
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

void remove_tree(const char *path) {
    if (keep_dir()) return;
    MZ_CHECK(nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS) == 0, "cannot remove '%s'", path);
}

void load_test_config(mz_config *cfg, const char *root, int n, char **overrides) {
    char dir_setting[512];
    snprintf(dir_setting, sizeof dir_setting, "log.dir=%s", root);
    char **all = mz_calloc((size_t)n + 2, sizeof *all);
    all[0] = dir_setting;
    all[1] = "log.console=quiet";
    for (int i = 0; i < n; i++) all[i + 2] = overrides[i];
    char err[2048];
    int rc = mz_config_load_text(cfg, "test", "{}", 2, n + 2, all, err, sizeof err);
    free(all);
    if (rc != 0) fail_msg("config: %s", err);
}

mz_runlog *open_test_run(const mz_config *cfg) {
    char err[1024];
    int code = 0;
    mz_runlog *rl = mz_runlog_open(cfg, &code, err, sizeof err);
    if (!rl) fail_msg("mz_runlog_open: exit %d: %s", code, err);
    return rl;
}

char *read_file_text(const char *dir, const char *name) {
    char path[2048];
    if (name) snprintf(path, sizeof path, "%s/%s", dir, name);
    else snprintf(path, sizeof path, "%s", dir);
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

cJSON *read_json_file(const char *dir, const char *name) {
    char *text = read_file_text(dir, name);
    if (!text) fail_msg("cannot read %s/%s", dir, name);
    cJSON *json = cJSON_Parse(text);
    free(text);
    if (!json) fail_msg("%s/%s is not JSON", dir, name);
    return json;
}

char **read_lines(const char *dir, const char *name, int *n) {
    char *text = read_file_text(dir, name);
    if (!text) fail_msg("cannot read %s/%s", dir, name);
    char **lines = NULL;
    *n = 0;
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        lines = mz_realloc(lines, (size_t)(*n + 1) * sizeof *lines);
        lines[(*n)++] = mz_strdup(line);
    }
    free(text);
    return lines;
}

void free_lines(char **lines, int n) {
    for (int i = 0; i < n; i++) free(lines[i]);
    free(lines);
}

static const char *wanted_suffix, *wanted_needle;
static char *found_path;
static size_t found_len;
static int found_count;

static int match_suffix(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
    (void)st, (void)ftw;
    size_t n = strlen(path), m = strlen(wanted_suffix);
    if (flag == FTW_F && n >= m && !strcmp(path + n - m, wanted_suffix)) {
        snprintf(found_path, found_len, "%s", path);
        return 1;
    }
    return 0;
}

int find_file_with_suffix(const char *root, const char *suffix, char *out, size_t len) {
    wanted_suffix = suffix;
    found_path = out;
    found_len = len;
    return nftw(root, match_suffix, 16, FTW_PHYS) == 1 ? 0 : -1;
}

static int match_content(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
    (void)st, (void)ftw;
    if (flag != FTW_F) return 0;
    char *text = read_file_text(path, NULL);
    /* binary files (.wandb) may hold NULs: search every byte range */
    FILE *f = fopen(path, "rb");
    if (f && text) {
        fseek(f, 0, SEEK_END);
        long size = ftell(f);
        size_t m = strlen(wanted_needle);
        for (long i = 0; i + (long)m <= size; i++)
            if (!memcmp(text + i, wanted_needle, m)) {
                found_count++;
                break;
            }
    }
    if (f) fclose(f);
    free(text);
    return 0;
}

int files_containing(const char *root, const char *needle) {
    wanted_needle = needle;
    found_count = 0;
    MZ_CHECK(nftw(root, match_content, 16, FTW_PHYS) == 0, "cannot walk '%s'", root);
    return found_count;
}

int run_capturing_stdout(void (*fn)(void *), void *arg, char *out, size_t len) {
    return run_in_child_capturing(fn, arg, 1, out, len);
}
