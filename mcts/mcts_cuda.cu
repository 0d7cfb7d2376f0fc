/* CUDA launchers of the search: one thread per tree over the bodies of
 * mcts/mcts_bodies.h (also run under emulation). */
#include "mcts/mcts_bodies.h"
#include "src/cuda_common.h"

__global__ void mcts_init_root_kernel(mcts_tree t, mcts_params p, uint32_t call, int noise) {
    MZ_GRID_STRIDE_LOOP(b, t.B) mcts_init_root_body(b, t, p, call, noise);
}
__global__ void mcts_simulate_kernel(mcts_tree t, mcts_params p, int sim, uint32_t call) {
    MZ_GRID_STRIDE_LOOP(b, t.B) mcts_simulate_body(b, t, p, sim, call);
}
__global__ void mcts_expand_backward_kernel(mcts_tree t) {
    MZ_GRID_STRIDE_LOOP(b, t.B) mcts_expand_backward_body(b, t);
}
__global__ void mcts_summary_kernel(mcts_tree t, mcts_params p, uint32_t call) {
    MZ_GRID_STRIDE_LOOP(b, t.B) mcts_summary_body(b, t, p, call);
}

/* Tree kernels are light on threads and heavy on registers: small blocks. */
#define MCTS_BLOCK 64
static unsigned int grid_for_trees(int B) { return (unsigned int)((B + MCTS_BLOCK - 1) / MCTS_BLOCK); }

static void require_tree(const mcts_tree &t) {
    MZ_REQUIRE_DEVICE(t.children_index, (size_t)t.B * t.N * t.A * sizeof(int32_t), "mcts children_index");
    MZ_REQUIRE_DEVICE(t.children_values, (size_t)t.B * t.N * t.A * sizeof(float), "mcts children_values");
    MZ_REQUIRE_DEVICE(t.node_values, (size_t)t.B * t.N * sizeof(float), "mcts node_values");
    MZ_REQUIRE_DEVICE(t.model_logits, (size_t)t.B * t.A * sizeof(float), "mcts model_logits");
    (void)t;
}

extern "C" void mcts_init_root_cuda(mz_backend *be, mcts_tree t, mcts_params p, uint32_t call, int noise) {
    require_tree(t);
    MZ_LAUNCH(mcts_init_root_kernel, grid_for_trees(t.B), MCTS_BLOCK, mz_cuda_backend_stream(be), t, p, call, noise);
}
extern "C" void mcts_simulate_cuda(mz_backend *be, mcts_tree t, mcts_params p, int sim, uint32_t call) {
    require_tree(t);
    MZ_LAUNCH(mcts_simulate_kernel, grid_for_trees(t.B), MCTS_BLOCK, mz_cuda_backend_stream(be), t, p, sim, call);
}
extern "C" void mcts_expand_backward_cuda(mz_backend *be, mcts_tree t) {
    require_tree(t);
    MZ_LAUNCH(mcts_expand_backward_kernel, grid_for_trees(t.B), MCTS_BLOCK, mz_cuda_backend_stream(be), t);
}
extern "C" void mcts_summary_cuda(mz_backend *be, mcts_tree t, mcts_params p, uint32_t call) {
    require_tree(t);
    MZ_LAUNCH(mcts_summary_kernel, grid_for_trees(t.B), MCTS_BLOCK, mz_cuda_backend_stream(be), t, p, call);
}
