/* `mazero bench mcts`: search throughput with a trivial table model. */
#ifndef MZ_BENCH_MCTS_H
#define MZ_BENCH_MCTS_H

#include "src/backend.h"

int mz_bench_mcts(mz_backend *be, const char *device_desc, const char *peers_json, const char *json_path);

#endif
