/* The NCCL side of src/dist.h (builds with CUDA=1 MPI=1): the gradient
 * all-reduce on device memory, on the backend's stream. The communicator is
 * made on first use: rank 0 draws the unique id, MPI broadcasts it, every
 * rank joins with ncclCommInitRank.
 *
 * Under emulation (make MPI=1 emu) the few NCCL calls used here are mapped
 * below onto the MPI implementation on host memory, so the MPI test job
 * runs this file's code path, id broadcast included. Without MPI the file
 * is empty: the dispatch in src/dist.c never reaches it with one rank. */
#ifdef MZ_MPI
#include <stdlib.h>
#include <string.h>

#include "src/cuda_common.h"
#include "src/dist.h"

#ifdef MZ_CUDA_EMU
/* ---- emulated NCCL: the id travels over MPI, the reduction is MPI's ---- */
typedef struct {
    char internal[128];
} ncclUniqueId;
typedef struct {
    int nranks, rank;
    ncclUniqueId id;
} *ncclComm_t;
typedef enum { ncclSuccess = 0, ncclInvalidUsage = 5 } ncclResult_t;
typedef enum { ncclFloat = 7 } ncclDataType_t;
typedef enum { ncclAvg = 4 } ncclRedOp_t;

static const char *ncclGetErrorString(ncclResult_t r) { return r == ncclSuccess ? "no error" : "invalid usage"; }
static ncclResult_t ncclGetUniqueId(ncclUniqueId *id) {
    memset(id, 0, sizeof *id);
    snprintf(id->internal, sizeof id->internal, "emulated-nccl-id");
    return ncclSuccess;
}
static ncclResult_t ncclCommInitRank(ncclComm_t *comm, int nranks, ncclUniqueId id, int rank) {
    if (strcmp(id.internal, "emulated-nccl-id") != 0 || nranks != mz_dist_size() || rank != mz_dist_rank())
        return ncclInvalidUsage; /* the id did not arrive intact */
    *comm = (ncclComm_t)calloc(1, sizeof **comm);
    if (!*comm) return ncclInvalidUsage;
    (*comm)->nranks = nranks, (*comm)->rank = rank, (*comm)->id = id;
    return ncclSuccess;
}
static ncclResult_t ncclCommDestroy(ncclComm_t comm) {
    free(comm);
    return ncclSuccess;
}
static ncclResult_t ncclAllReduce(const void *send, void *recv, size_t count, ncclDataType_t type, ncclRedOp_t op,
                                  ncclComm_t comm, cudaStream_t stream) {
    (void)stream, (void)comm;
    if (send != recv || type != ncclFloat || op != ncclAvg) return ncclInvalidUsage;
    mz_dist_host_allreduce_mean((float *)recv, (int64_t)count);
    return ncclSuccess;
}
#else
#include <nccl.h>
#endif

#define NCCL_CHECK(call)                                                                           \
    do {                                                                                           \
        ncclResult_t mz_r_ = (call);                                                               \
        if (mz_r_ != ncclSuccess)                                                                  \
            mz_fail(__FILE__, __LINE__, "NCCL: %s failed on rank %d: %s", #call, mz_dist_rank(),   \
                    ncclGetErrorString(mz_r_));                                                    \
    } while (0)

static ncclComm_t comm;
static int have_comm;

static void ensure_comm(void) {
    if (have_comm) return;
    ncclUniqueId id;
    memset(&id, 0, sizeof id);
    if (mz_dist_rank() == 0) NCCL_CHECK(ncclGetUniqueId(&id));
    mz_dist_broadcast_bytes(&id, sizeof id);
    NCCL_CHECK(ncclCommInitRank(&comm, mz_dist_size(), id, mz_dist_rank()));
    have_comm = 1;
}

extern "C" void mz_dist_nccl_allreduce_mean(mz_backend *be, float *x, int64_t n) {
    ensure_comm();
    NCCL_CHECK(ncclAllReduce(x, x, (size_t)n, ncclFloat, ncclAvg, comm, mz_cuda_backend_stream(be)));
}

extern "C" void mz_dist_nccl_finalize(void) {
    if (!have_comm) return;
    NCCL_CHECK(ncclCommDestroy(comm));
    have_comm = 0;
}
#endif
