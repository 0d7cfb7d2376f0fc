/* `mazero bench nn`: forward+backward throughput of an MLP and of the
 * transformer block, next to the gemm rate measured in the same run. */
#ifndef MZ_BENCH_NN_H
#define MZ_BENCH_NN_H

#include "src/backend.h"

/* Prints a table to stdout; writes JSON to json_path unless NULL.
 * Returns 0, or 1 if the JSON file cannot be written. */
int mz_bench_nn(mz_backend *be, const char *device_desc, const char *json_path);

#endif
