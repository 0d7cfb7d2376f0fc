/* CUDA launchers of the tree oracle model (tests and `mazero search`). */
#include "mcts/oracle_bodies.h"
#include "src/backend.h"
#include "src/cuda_common.h"

__global__ void oracle_root_kernel(mcts_oracle_view o, int B, float *logits, float *value) {
    MZ_GRID_STRIDE_LOOP(b, B) oracle_root_body(b, o, logits, value);
}

__global__ void oracle_recurrent_kernel(mcts_oracle_view o, int B, const int32_t *parent, const int32_t *action,
                                        const int32_t *new_node, float *reward, float *discount, float *logits,
                                        float *value) {
    MZ_GRID_STRIDE_LOOP(b, B) oracle_recurrent_body(b, o, parent, action, new_node, reward, discount, logits, value);
}

extern "C" void mcts_oracle_root_cuda(mz_backend *be, mcts_oracle_view o, int B, float *logits, float *value) {
    MZ_REQUIRE_DEVICE(logits, (size_t)B * o.A * sizeof(float), "oracle logits");
    MZ_REQUIRE_DEVICE(o.map, (size_t)B * o.N * sizeof(int32_t), "oracle map");
    MZ_LAUNCH(oracle_root_kernel, mz_grid_for(B), MZ_BLOCK, mz_cuda_backend_stream(be), o, B, logits, value);
}

extern "C" void mcts_oracle_recurrent_cuda(mz_backend *be, mcts_oracle_view o, int B, const int32_t *parent,
                                           const int32_t *action, const int32_t *new_node, float *reward,
                                           float *discount, float *logits, float *value) {
    MZ_REQUIRE_DEVICE(parent, (size_t)B * sizeof(int32_t), "oracle parent");
    MZ_REQUIRE_DEVICE(logits, (size_t)B * o.A * sizeof(float), "oracle logits");
    MZ_LAUNCH(oracle_recurrent_kernel, mz_grid_for(B), MZ_BLOCK, mz_cuda_backend_stream(be), o, B, parent, action,
              new_node, reward, discount, logits, value);
}
