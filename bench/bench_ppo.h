/* `mazero bench ppo`: IPPO feed-forward training throughput. */
#ifndef MZ_BENCH_PPO_H
#define MZ_BENCH_PPO_H

#include "src/backend.h"

/* Prints a table to stdout (with the peer's rates and our ratio when
 * peers_json names a file written by bench/peers/ippo_jaxmarl.py) and writes
 * the rows to json_path unless NULL. Returns 0, or 1 on an I/O error. */
int mz_bench_ppo(mz_backend *be, const char *device_desc, const char *peers_json, const char *json_path);

#endif
