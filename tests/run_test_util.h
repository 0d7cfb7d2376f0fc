/* Helpers for the tests of run outputs: temporary folders, configs pointing
 * into them, reading back what a run wrote. Failures end the test. */
#ifndef MZ_RUN_TEST_UTIL_H
#define MZ_RUN_TEST_UTIL_H

#include <stddef.h>

#include <cjson/cJSON.h>

#include "src/config.h"
#include "src/runlog.h"

void make_temp_dir(char *out, size_t len);
void remove_tree(const char *path);
/* defaults, log.dir=root, log.console=quiet, then the overrides */
void load_test_config(mz_config *cfg, const char *root, int n, char **overrides);
mz_runlog *open_test_run(const mz_config *cfg);
char *read_file_text(const char *dir, const char *name); /* NULL if missing */
cJSON *read_json_file(const char *dir, const char *name);
char **read_lines(const char *dir, const char *name, int *n);
void free_lines(char **lines, int n);
/* the first file under root whose name ends in suffix: 0, or -1 */
int find_file_with_suffix(const char *root, const char *suffix, char *out, size_t len);
/* the number of files under root that contain `needle` anywhere */
int files_containing(const char *root, const char *needle);
/* runs fn(arg) in a child with stdout captured; returns its exit status */
int run_capturing_stdout(void (*fn)(void *), void *arg, char *out, size_t len);

#endif
