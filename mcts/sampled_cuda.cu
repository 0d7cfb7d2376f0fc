/* CUDA launchers of the sampled joint search: one thread per tree over the
 * bodies of mcts/sampled_bodies.h (also run under emulation). */
#include "mcts/sampled_bodies.h"
#include "src/cuda_common.h"

__global__ void sampled_init_root_kernel(mcts_sampled_view v) {
    MZ_GRID_STRIDE_LOOP(b, v.B) sampled_init_root_body(b, v);
}
__global__ void sampled_simulate_kernel(mcts_sampled_view v, int sim) {
    MZ_GRID_STRIDE_LOOP(b, v.B) sampled_simulate_body(b, v, sim);
}
__global__ void sampled_expand_backward_kernel(mcts_sampled_view v) {
    MZ_GRID_STRIDE_LOOP(b, v.B) sampled_expand_backward_body(b, v);
}
__global__ void sampled_summary_kernel(mcts_sampled_view v) {
    MZ_GRID_STRIDE_LOOP(b, v.B) sampled_summary_body(b, v);
}

/* Tree kernels are light on threads and heavy on registers and local
 * memory (the per-agent proposal rows): small blocks. */
#define SAMPLED_BLOCK 64
static unsigned int grid_for_trees(int B) { return (unsigned int)((B + SAMPLED_BLOCK - 1) / SAMPLED_BLOCK); }

static void require_view(const mcts_sampled_view &v) {
    MZ_REQUIRE_DEVICE(v.child, (size_t)v.B * v.nodes * v.K * sizeof(int32_t), "sampled search children");
    MZ_REQUIRE_DEVICE(v.slot_joint, (size_t)v.B * v.nodes * v.K * v.N * sizeof(int32_t), "sampled search joint actions");
    MZ_REQUIRE_DEVICE(v.scratch_return, (size_t)v.B * v.nodes * sizeof(float), "sampled search OS scratch");
    MZ_REQUIRE_DEVICE(v.model_logits, (size_t)v.B * v.N * v.A * sizeof(float), "sampled search model logits");
    (void)v;
}

extern "C" void mcts_sampled_init_root_cuda(mz_backend *be, mcts_sampled_view v) {
    require_view(v);
    MZ_LAUNCH(sampled_init_root_kernel, grid_for_trees(v.B), SAMPLED_BLOCK, mz_cuda_backend_stream(be), v);
}
extern "C" void mcts_sampled_simulate_cuda(mz_backend *be, mcts_sampled_view v, int sim) {
    require_view(v);
    MZ_LAUNCH(sampled_simulate_kernel, grid_for_trees(v.B), SAMPLED_BLOCK, mz_cuda_backend_stream(be), v, sim);
}
extern "C" void mcts_sampled_expand_backward_cuda(mz_backend *be, mcts_sampled_view v) {
    require_view(v);
    MZ_LAUNCH(sampled_expand_backward_kernel, grid_for_trees(v.B), SAMPLED_BLOCK, mz_cuda_backend_stream(be), v);
}
extern "C" void mcts_sampled_summary_cuda(mz_backend *be, mcts_sampled_view v) {
    require_view(v);
    MZ_LAUNCH(sampled_summary_kernel, grid_for_trees(v.B), SAMPLED_BLOCK, mz_cuda_backend_stream(be), v);
}
