/* CUDA launchers of the multi-agent adapter (mcts/multiagent_bodies.h). */
#include "mcts/multiagent_bodies.h"
#include "src/cuda_common.h"

__global__ void ma_adapt_kernel(mcts_ma_view v, int B, const int32_t *node_of_tree, int node_fixed) {
    MZ_GRID_STRIDE_LOOP(b, B) ma_adapt_logits_body(b, v, node_of_tree, node_fixed);
}
__global__ void ma_root_mask_kernel(mcts_ma_view v, int B) { MZ_GRID_STRIDE_LOOP(b, B) ma_root_mask_body(b, v); }
__global__ void ma_joint_action_kernel(mcts_ma_view v, int B, const int32_t *parent, const int32_t *action) {
    MZ_GRID_STRIDE_LOOP(b, B) ma_joint_action_body(b, v, parent, action);
}
__global__ void ma_results_kernel(mcts_ma_view v, int E, const int32_t *tree_action, const float *tree_weights,
                                  const float *tree_value, int32_t *actions, float *policy, float *root_value) {
    MZ_GRID_STRIDE_LOOP(e, E) ma_results_body(e, v, tree_action, tree_weights, tree_value, actions, policy, root_value);
}

extern "C" void mcts_ma_adapt_cuda(mz_backend *be, mcts_ma_view v, int B, const int32_t *node_of_tree, int node_fixed) {
    MZ_REQUIRE_DEVICE(v.tree_logits, (size_t)B * v.TA * sizeof(float), "multi-agent tree logits");
    MZ_REQUIRE_DEVICE(v.agent_logits, (size_t)B * v.N * v.A * sizeof(float), "multi-agent agent logits");
    MZ_LAUNCH(ma_adapt_kernel, mz_grid_for(B), MZ_BLOCK, mz_cuda_backend_stream(be), v, B, node_of_tree, node_fixed);
}
extern "C" void mcts_ma_root_mask_cuda(mz_backend *be, mcts_ma_view v, int B) {
    MZ_REQUIRE_DEVICE(v.root_invalid, (size_t)B * v.TA, "multi-agent root mask");
    MZ_LAUNCH(ma_root_mask_kernel, mz_grid_for(B), MZ_BLOCK, mz_cuda_backend_stream(be), v, B);
}
extern "C" void mcts_ma_joint_action_cuda(mz_backend *be, mcts_ma_view v, int B, const int32_t *parent,
                                          const int32_t *action) {
    MZ_REQUIRE_DEVICE(v.joint_actions, (size_t)B * v.N * sizeof(int32_t), "multi-agent joint actions");
    MZ_LAUNCH(ma_joint_action_kernel, mz_grid_for(B), MZ_BLOCK, mz_cuda_backend_stream(be), v, B, parent, action);
}
extern "C" void mcts_ma_results_cuda(mz_backend *be, mcts_ma_view v, int E, const int32_t *tree_action,
                                     const float *tree_weights, const float *tree_value, int32_t *actions,
                                     float *policy, float *root_value) {
    MZ_REQUIRE_DEVICE(policy, (size_t)E * v.N * v.A * sizeof(float), "multi-agent policy");
    MZ_LAUNCH(ma_results_kernel, mz_grid_for(E), MZ_BLOCK, mz_cuda_backend_stream(be), v, E, tree_action, tree_weights,
              tree_value, actions, policy, root_value);
}
