/* The MPI side of src/dist.h (make MPI=1): processes, host collectives and
 * the gradient all-reduce on host memory. Every MPI call is checked; an
 * error names the call and exits 1, which makes mpirun end the whole job. */
#ifdef MZ_MPI
#include <mpi.h>
#include <stdlib.h>
#include <string.h>

#include "src/check.h"
#include "src/dist.h"

static int initialized, finalized, world_rank, world_size = 1, local_rank;

#define MPI_CHECK(call)                                                                            \
    do {                                                                                           \
        int mz_rc_ = (call);                                                                       \
        if (mz_rc_ != MPI_SUCCESS) {                                                               \
            char mz_msg_[MPI_MAX_ERROR_STRING];                                                    \
            int mz_len_ = 0;                                                                       \
            if (MPI_Error_string(mz_rc_, mz_msg_, &mz_len_) != MPI_SUCCESS) mz_msg_[0] = 0;        \
            mz_fail(__FILE__, __LINE__, "MPI: %s failed on rank %d: %s", #call, world_rank, mz_msg_); \
        }                                                                                          \
    } while (0)

static bool started_by_launcher(void) {
    return getenv("OMPI_COMM_WORLD_SIZE") || getenv("PMI_SIZE") || getenv("PMIX_RANK");
}

void mz_dist_init(void) {
    if (initialized || !started_by_launcher()) return;
    int provided = 0;
    /* only the main thread calls MPI (OpenMP teams and the W&B uploader do not) */
    MPI_CHECK(MPI_Init_thread(NULL, NULL, MPI_THREAD_FUNNELED, &provided));
    initialized = 1;
    MPI_CHECK(MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN));
    MPI_CHECK(MPI_Comm_rank(MPI_COMM_WORLD, &world_rank));
    MPI_CHECK(MPI_Comm_size(MPI_COMM_WORLD, &world_size));
    if (world_size == 1) { /* mpirun -np 1: the single-process run, MPI not needed */
        MPI_CHECK(MPI_Finalize());
        finalized = 1;
        return;
    }
    MPI_Comm node;
    MPI_CHECK(MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, world_rank, MPI_INFO_NULL, &node));
    MPI_CHECK(MPI_Comm_rank(node, &local_rank));
    MPI_CHECK(MPI_Comm_free(&node));
}

/* Not at exit: a rank leaving through mz_fail must not wait in
 * MPI_Finalize for ranks blocked in a collective; exiting without it makes
 * mpirun end the job instead. */
void mz_dist_finalize(void) {
    if (!initialized || finalized) return;
    if (mz_dist_nccl_finalize) mz_dist_nccl_finalize();
    MPI_CHECK(MPI_Finalize());
    finalized = 1;
}

int mz_dist_rank(void) { return world_rank; }
int mz_dist_size(void) { return world_size; }
int mz_dist_local_rank(void) { return local_rank; }
const char *mz_dist_backend_name(void) { return "mpi"; }

void mz_dist_host_allreduce_mean(float *x, int64_t n) {
    if (world_size == 1) return;
    const float inv = 1.0f / (float)world_size;
    for (int64_t done = 0; done < n;) { /* MPI counts are int */
        int count = n - done > (1 << 30) ? (1 << 30) : (int)(n - done);
        MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, x + done, count, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD));
        done += count;
    }
    for (int64_t i = 0; i < n; i++) x[i] *= inv;
}

int64_t mz_dist_min_i64(int64_t v) {
    if (world_size == 1) return v;
    int64_t out = v;
    MPI_CHECK(MPI_Allreduce(&v, &out, 1, MPI_INT64_T, MPI_MIN, MPI_COMM_WORLD));
    return out;
}

bool mz_dist_any(bool flag) {
    if (world_size == 1) return flag;
    int in = flag ? 1 : 0, out = in;
    MPI_CHECK(MPI_Allreduce(&in, &out, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD));
    return out != 0;
}

void mz_dist_broadcast_bytes(void *buf, size_t bytes) {
    if (world_size == 1) return;
    for (size_t done = 0; done < bytes;) {
        int count = bytes - done > (1u << 30) ? (1 << 30) : (int)(bytes - done);
        MPI_CHECK(MPI_Bcast((char *)buf + done, count, MPI_BYTE, 0, MPI_COMM_WORLD));
        done += (size_t)count;
    }
}

void mz_dist_gather_bytes(const void *send, size_t bytes, void *recv) {
    if (world_size == 1) {
        memcpy(recv, send, bytes);
        return;
    }
    MZ_CHECK(bytes <= (1u << 30), "mz_dist_gather_bytes: %zu bytes per rank (at most 2^30)", bytes);
    MPI_CHECK(MPI_Gather(send, (int)bytes, MPI_BYTE, recv, (int)bytes, MPI_BYTE, 0, MPI_COMM_WORLD));
}
#endif
