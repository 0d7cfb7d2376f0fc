/* CUDA launchers of the table model. */
#include "mcts/table_model_bodies.h"
#include "src/backend.h"
#include "src/cuda_common.h"

__global__ void table_root_kernel(mcts_table_view m, int B, float *logits, float *value) {
    MZ_GRID_STRIDE_LOOP(b, B) table_root_body(b, m, logits, value);
}

__global__ void table_recurrent_kernel(mcts_table_view m, int B, const int32_t *parent, const int32_t *action,
                                       const int32_t *new_node, float *reward, float *discount, float *logits,
                                       float *value) {
    MZ_GRID_STRIDE_LOOP(b, B) table_recurrent_body(b, m, parent, action, new_node, reward, discount, logits, value);
}

extern "C" void mcts_table_root_cuda(mz_backend *be, mcts_table_view m, int B, float *logits, float *value) {
    MZ_REQUIRE_DEVICE(m.state, (size_t)B * m.N * sizeof(int32_t), "table model state");
    MZ_REQUIRE_DEVICE(logits, (size_t)B * m.A * sizeof(float), "table model logits");
    MZ_LAUNCH(table_root_kernel, mz_grid_for(B), MZ_BLOCK, mz_cuda_backend_stream(be), m, B, logits, value);
}

extern "C" void mcts_table_recurrent_cuda(mz_backend *be, mcts_table_view m, int B, const int32_t *parent,
                                          const int32_t *action, const int32_t *new_node, float *reward,
                                          float *discount, float *logits, float *value) {
    MZ_REQUIRE_DEVICE(parent, (size_t)B * sizeof(int32_t), "table model parent");
    MZ_REQUIRE_DEVICE(logits, (size_t)B * m.A * sizeof(float), "table model logits");
    MZ_LAUNCH(table_recurrent_kernel, mz_grid_for(B), MZ_BLOCK, mz_cuda_backend_stream(be), m, B, parent, action,
              new_node, reward, discount, logits, value);
}
