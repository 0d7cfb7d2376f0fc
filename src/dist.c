/* The parts of src/dist.h built on the primitives of dist_mpi.c or
 * dist_none.c: backend dispatch, parameter broadcast and the cross-rank
 * parameter check. */
#include "src/dist.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "src/check.h"
#include "src/crc32.h"

void mz_dist_device(const char *device, char *out, size_t out_len) {
    snprintf(out, out_len, "%s", device);
    if (!mz_dist_active() || (strcmp(device, "cuda") && strcmp(device, "auto"))) return;
    char reason[256];
    int index = mz_dist_local_rank();
    if (mz_cuda_probe(index, reason, sizeof reason) == 0) snprintf(out, out_len, "cuda:%d", index);
}

void mz_dist_allreduce_mean(mz_backend *be, float *x, int64_t n) {
    if (!mz_dist_active() || n == 0) return;
    if (be->kind == MZ_BACKEND_CUDA) {
        MZ_CHECK(mz_dist_nccl_allreduce_mean, "data-parallel CUDA training needs a binary built with CUDA=1 MPI=1");
        mz_dist_nccl_allreduce_mean(be, x, n);
        return;
    }
    mz_dist_host_allreduce_mean(x, n);
}

/* Through host memory: once per run, so no device-aware MPI is needed. */
void mz_dist_broadcast_params(mz_params *p) {
    if (!mz_dist_active()) return;
    size_t bytes = (size_t)p->total * 4 * sizeof(float);
    float *host = mz_malloc(bytes);
    p->be->copy_d2h(p->be, host, p->memory, bytes);
    mz_dist_broadcast_bytes(host, bytes);
    p->be->copy_h2d(p->be, p->memory, host, bytes);
    free(host);
}

int mz_dist_check_params(const char *what, const mz_params *p) {
    if (!mz_dist_active()) return 0;
    size_t bytes = (size_t)p->total * sizeof(float);
    float *host = mz_malloc(bytes);
    p->be->copy_d2h(p->be, host, p->values, bytes);
    uint32_t crc = mz_crc32(0, host, bytes);
    free(host);
    int P = mz_dist_size();
    uint32_t *all = mz_calloc((size_t)P, sizeof *all);
    mz_dist_gather_bytes(&crc, sizeof crc, all);
    int differ = 0;
    if (mz_dist_rank() == 0) {
        for (int r = 1; r < P; r++) differ |= all[r] != all[0];
        printf("data-parallel check: %s parameters crc32 on %d ranks:", what, P);
        for (int r = 0; r < P; r++) printf(" %08x", all[r]);
        printf(" (%s)\n", differ ? "DIFFERENT" : "identical");
        fflush(stdout);
    }
    free(all);
    int64_t bad = mz_dist_min_i64(differ ? -1 : 0); /* rank 0's verdict, on every rank */
    return bad < 0;
}
