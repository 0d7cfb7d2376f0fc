/* CUDA launchers of the vectorised environments: one thread per environment
 * over the bodies in envs/env_bodies.h (also run under emulation). */
#include "envs/env_bodies.h"
#include "src/backend.h"
#include "src/cuda_common.h"

__global__ void vecenv_reset_kernel(int64_t E, mz_env_params p, mz_env_buffers b) {
    MZ_GRID_STRIDE_LOOP(e, E) vecenv_reset_body(e, &p, b);
}

__global__ void vecenv_step_kernel(int64_t E, mz_env_params p, mz_env_buffers b) {
    MZ_GRID_STRIDE_LOOP(e, E) vecenv_step_body(e, &p, b);
}

__global__ void vecenv_observe_kernel(int64_t E, mz_env_params p, mz_env_buffers b) {
    MZ_GRID_STRIDE_LOOP(e, E) vecenv_observe_body(e, &p, b, 1);
}

/* Every buffer must be device memory (checked under emulation). */
static void require_device_buffers(const mz_env_params *p, const mz_env_buffers &b, int E) {
    MZ_REQUIRE_DEVICE(b.states, (size_t)E * (size_t)p->state_bytes, "vecenv states");
    MZ_REQUIRE_DEVICE(b.obs, (size_t)E * p->N * p->O * sizeof(float), "vecenv obs");
    MZ_REQUIRE_DEVICE(b.final_obs, (size_t)E * p->N * p->O * sizeof(float), "vecenv final_obs");
    MZ_REQUIRE_DEVICE(b.global_state, (size_t)E * p->S * sizeof(float), "vecenv global_state");
    MZ_REQUIRE_DEVICE(b.actions, (size_t)E * p->N * sizeof(int32_t), "vecenv actions");
    MZ_REQUIRE_DEVICE(b.agent_reward, (size_t)E * p->N * sizeof(float), "vecenv agent_reward");
    MZ_REQUIRE_DEVICE(b.avail, (size_t)E * p->N * p->A, "vecenv avail");
    MZ_REQUIRE_DEVICE(b.done_won, (size_t)E, "vecenv done_won");
    if (p->stack > 1) MZ_REQUIRE_DEVICE(b.frame, (size_t)E * p->N * p->frame * sizeof(float), "vecenv frame");
    (void)p;
    (void)b;
    (void)E;
}

extern "C" void mz_vecenv_reset_cuda(mz_backend *be, const mz_env_params *p, mz_env_buffers b, int E) {
    require_device_buffers(p, b, E);
    MZ_LAUNCH(vecenv_reset_kernel, mz_grid_for(E), MZ_BLOCK, mz_cuda_backend_stream(be), (int64_t)E, *p, b);
}

extern "C" void mz_vecenv_step_cuda(mz_backend *be, const mz_env_params *p, mz_env_buffers b, int E) {
    require_device_buffers(p, b, E);
    MZ_LAUNCH(vecenv_step_kernel, mz_grid_for(E), MZ_BLOCK, mz_cuda_backend_stream(be), (int64_t)E, *p, b);
}

extern "C" void mz_vecenv_observe_cuda(mz_backend *be, const mz_env_params *p, mz_env_buffers b, int E) {
    require_device_buffers(p, b, E);
    MZ_LAUNCH(vecenv_observe_kernel, mz_grid_for(E), MZ_BLOCK, mz_cuda_backend_stream(be), (int64_t)E, *p, b);
}
