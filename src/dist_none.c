/* src/dist.h in a build without MPI: one rank, no communication. */
#ifndef MZ_MPI
#include <string.h>

#include "src/dist.h"

void mz_dist_init(void) {}
void mz_dist_finalize(void) {}
int mz_dist_rank(void) { return 0; }
int mz_dist_size(void) { return 1; }
int mz_dist_local_rank(void) { return 0; }
const char *mz_dist_backend_name(void) { return "none"; }
void mz_dist_host_allreduce_mean(float *x, int64_t n) { (void)x, (void)n; }
int64_t mz_dist_min_i64(int64_t v) { return v; }
bool mz_dist_any(bool flag) { return flag; }
void mz_dist_broadcast_bytes(void *buf, size_t bytes) { (void)buf, (void)bytes; }
void mz_dist_gather_bytes(const void *send, size_t bytes, void *recv) { memcpy(recv, send, bytes); }
#endif
