/* `mazero bench backend`: throughput of the backend ops on one device. */
#ifndef MZ_BENCH_BACKEND_H
#define MZ_BENCH_BACKEND_H

#include "src/backend.h"

/* Prints a table to stdout; writes JSON rows to json_path unless NULL.
 * Returns 0, or 1 if the JSON file cannot be written. */
int mz_bench_backend(mz_backend *be, const char *device_desc, const char *json_path);

#endif
