/* Data-parallel training across processes (DESIGN.md §6, the Anakin
 * pattern): every rank holds the same parameters and its own environments,
 * actors, replay and random streams; before each optimiser step the ranks'
 * gradients are averaged, so the parameters stay bitwise identical.
 *
 *   mpirun -np P ./mazero train CONFIG      (a binary built with make MPI=1)
 *
 * Processes and host collectives are MPI (src/dist_mpi.c); gradients on the
 * CUDA backend go through NCCL (src/dist_nccl.cu), its communicator set up
 * by broadcasting the unique id over MPI. Without MPI=1 (src/dist_none.c),
 * or when the binary was not started by mpirun, there is one rank and every
 * call below is a no-op, so single-process behaviour is unchanged.
 *
 * Every function except rank/size/active is collective once size > 1:
 * every rank must call it at the same point with the same sizes, or the job
 * hangs. The trainers keep the ranks in lockstep (same config, same number
 * of updates per phase); a rank that dies ends the job through mpirun. */
#ifndef MZ_DIST_H
#define MZ_DIST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "src/backend.h"
#include "src/nn/params.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Joins the job when started by mpirun (OMPI_COMM_WORLD_SIZE, PMI_SIZE or
 * PMIX_RANK set); otherwise, or in a build without MPI, one rank. Also
 * registers mz_dist_finalize with atexit. Safe to call twice. */
void mz_dist_init(void);
void mz_dist_finalize(void);
int mz_dist_rank(void);
int mz_dist_size(void);
/* Rank among the processes of this machine (one GPU each). */
int mz_dist_local_rank(void);
static inline bool mz_dist_active(void) { return mz_dist_size() > 1; }
/* "mpi" or "none": what the binary was built with. */
const char *mz_dist_backend_name(void);

/* The device this rank should open: with several ranks on one machine,
 * "cuda" and "auto" become cuda:<local rank> when that device is usable;
 * anything else is kept. Writes into out. */
void mz_dist_device(const char *device, char *out, size_t out_len);

/* x[n] (backend memory) = the mean over ranks of x: MPI on host memory,
 * NCCL on the CUDA backend. Call on gradients before clipping and the
 * optimiser step, so the global norm and AdamW see the averaged gradient. */
void mz_dist_allreduce_mean(mz_backend *be, float *x, int64_t n);
/* Rank 0's values, gradients and optimiser moments to every rank (the
 * whole block, so it serves a fresh start and a resume alike). */
void mz_dist_broadcast_params(mz_params *p);
/* Host collectives for loop control and metrics. */
int64_t mz_dist_min_i64(int64_t v);
bool mz_dist_any(bool flag);
void mz_dist_broadcast_bytes(void *buf, size_t bytes);
/* Rank 0 receives size x bytes (rank order) in `recv`; other ranks may
 * pass NULL. */
void mz_dist_gather_bytes(const void *send, size_t bytes, void *recv);

/* Checks that the parameter values are bitwise identical on every rank
 * (CRC-32 of the block, gathered on rank 0). Rank 0 prints one line
 * "data-parallel check: <what> parameters crc32 on P ranks: c0 c1 ...
 * (identical|DIFFERENT)" to stdout. Returns 0, or 1 on every rank when
 * they differ. */
int mz_dist_check_params(const char *what, const mz_params *p);

/* x[n] in host memory = the mean over ranks (MPI): for host scalars such
 * as an evaluation mean, and what the emulated NCCL wrapper maps onto. */
void mz_dist_host_allreduce_mean(float *x, int64_t n);

/* src/dist_nccl.cu (CUDA builds with MPI): the same interface on device
 * memory, on the backend's stream. */
MZ_CUDA_LAUNCHER void mz_dist_nccl_allreduce_mean(mz_backend *be, float *x, int64_t n);
MZ_CUDA_LAUNCHER void mz_dist_nccl_finalize(void);

#ifdef __cplusplus
}
#endif

#endif
