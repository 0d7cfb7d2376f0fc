/* The GRU op over a sequence (src/nn/nn.h): input projections of every
 * step in one gemm, then per step one gemm for W_hh hp and one body per
 * row; backward through time the same way, with the weight gradients of
 * all steps in one gemm each at the end. */
#include "src/check.h"
#include "src/nn/nn.h"
#include "src/nn/nn_kernels.h"

void mz_gru_forward(mz_backend *be, float *hs, float *gates, float *hprev, float *gh, const float *x, const float *h0,
                    const float *keep, const float *w_ih, const float *b_ih, const float *w_hh, const float *b_hn,
                    int T, int B, int C, int H) {
    MZ_CHECK(T >= 1 && B >= 1 && C >= 1 && H >= 1, "nn: gru with T %d, B %d, C %d, H %d", T, B, C, H);
    const mz_nn_kernels *k = mz_nn_kernels_for(be);
    int64_t TB = (int64_t)T * B, BH = (int64_t)B * H, G = 4 * (int64_t)H;
    MZ_CHECK(TB <= INT32_MAX, "nn: gru with %lld rows", (long long)TB);
    /* W_ih x of every step into the first 3H columns of each gates row */
    be->gemm(be, true, false, 3 * H, (int)TB, C, 1.0f, w_ih, C, x, C, 0.0f, gates, (int)G);
    for (int t = 0; t < T; t++) {
        float *hp = hprev + t * BH;
        k->gru_carry(be, B, hp, t == 0 ? h0 : hs + (t - 1) * BH, keep ? keep + (int64_t)t * B : NULL, H);
        be->gemm(be, true, false, 3 * H, B, H, 1.0f, w_hh, H, hp, H, 0.0f, gh, 3 * H);
        k->gru_step_forward(be, B, hs + t * BH, gates + t * B * G, gh, hp, b_ih, b_hn, H);
    }
}

void mz_gru_backward(mz_backend *be, float *dx, float *dh0, float *dw_ih, float *db_ih, float *dw_hh, float *db_hn,
                     float *dgates, float *dhp, const float *dhs, const float *gates, const float *hprev,
                     const float *x, const float *keep, const float *w_ih, const float *w_hh, const float *ones, int T,
                     int B, int C, int H) {
    const mz_nn_kernels *k = mz_nn_kernels_for(be);
    int64_t BH = (int64_t)B * H, G = 4 * (int64_t)H;
    int TB = T * B, g = (int)G;
    float *cur = dhp, *next = dhp + BH; /* this step's and the next step's dhp */
    for (int t = T - 1; t >= 0; t--) {
        float *dg = dgates + (int64_t)t * B * G;
        k->gru_step_backward(be, B, dg, cur, dhs + t * BH, t == T - 1 ? NULL : next,
                             keep && t < T - 1 ? keep + (int64_t)(t + 1) * B : NULL, gates + (int64_t)t * B * G,
                             hprev + t * BH, H);
        /* dhp += W_hh^T (dr, dz, dn_h) */
        be->gemm(be, false, false, H, B, 3 * H, 1.0f, w_hh, H, dg, g, 1.0f, cur, H);
        float *swap = cur;
        cur = next;
        next = swap;
    }
    /* `next` now holds step 0's dhp */
    if (dh0) k->gru_state_grad(be, B, dh0, next, keep, H);
    /* W_hh and b_hn: every step at once, from (dr, dz, dn_h) */
    be->gemm(be, false, true, H, 3 * H, TB, 1.0f, hprev, H, dgates, g, 1.0f, dw_hh, H);
    be->gemm(be, false, false, H, 1, TB, 1.0f, dgates + 2 * H, g, ones, TB, 1.0f, db_hn, H);
    /* W_ih, b_ih and x: the r, z block from (dr, dz), the n block from dn_i */
    be->gemm(be, false, true, C, 2 * H, TB, 1.0f, x, C, dgates, g, 1.0f, dw_ih, C);
    be->gemm(be, false, true, C, H, TB, 1.0f, x, C, dgates + 3 * H, g, 1.0f, dw_ih + (int64_t)2 * H * C, C);
    be->gemm(be, false, false, 2 * H, 1, TB, 1.0f, dgates, g, ones, TB, 1.0f, db_ih, 2 * H);
    be->gemm(be, false, false, H, 1, TB, 1.0f, dgates + 3 * H, g, ones, TB, 1.0f, db_ih + 2 * H, H);
    if (dx) {
        be->gemm(be, false, false, C, TB, 2 * H, 1.0f, w_ih, C, dgates, g, 1.0f, dx, C);
        be->gemm(be, false, false, C, TB, H, 1.0f, w_ih + (int64_t)2 * H * C, C, dgates + 3 * H, g, 1.0f, dx, C);
    }
}
