/* What every benchmark shares: a monotonic clock, the peers' timing file,
 * and writing the rows as JSON. */
#ifndef MZ_BENCH_UTIL_H
#define MZ_BENCH_UTIL_H

#include <cjson/cJSON.h>

/* The parsed file, or NULL (with a line on stderr naming the file and the
 * script that writes it) when it is missing or not JSON. NULL path: NULL. */
cJSON *mz_bench_load_peers(const char *path, const char *bench, const char *script);
/* Writes `rows` as pretty JSON; 0, or 1 (MZ_EXIT_RUNTIME) with a line on stderr. */
int mz_bench_write_json(const cJSON *rows, const char *path, const char *bench);

#endif
