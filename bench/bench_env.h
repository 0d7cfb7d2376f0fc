/* `mazero bench env`: environment steps per second. */
#ifndef MZ_BENCH_ENV_H
#define MZ_BENCH_ENV_H

#include "src/backend.h"

/* Prints a table to stdout (with the peers' rates and our ratio when
 * peers_json names a file written by bench/peers/env_jaxmarl.py) and writes
 * the rows to json_path unless NULL. Returns 0, or 1 on an I/O error. */
int mz_bench_env(mz_backend *be, const char *device_desc, const char *peers_json, const char *json_path);

#endif
