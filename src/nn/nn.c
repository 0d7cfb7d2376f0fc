/* The NN ops: gemms through the backend, everything else through the
 * kernel table of the backend's kind (src/nn/nn_kernels.h). */
#include "src/nn/nn.h"

#include <limits.h>
#include <math.h>
#include <string.h>

#include "src/check.h"
#include "src/nn/nn_kernels.h"
#include "src/nn/nn_ops.h"

const mz_nn_kernels *mz_nn_kernels_for(mz_backend *be) {
    return (const mz_nn_kernels *)mz_kernel_table_for(be, &mz_nn_cpu_kernels, &mz_nn_cuda_kernels, "nn");
}

#define K(be) mz_nn_kernels_for(be)

/* ---- linear ---------------------------------------------------------------- */

void mz_linear_forward(mz_backend *be, float *out, const float *inp, const float *weight, const float *bias, int B,
                       int C, int OC) {
    /* column-major: out^T (OC x B) = weight (stored C x OC)^T * inp^T (C x B) */
    be->gemm(be, true, false, OC, B, C, 1.0f, weight, C, inp, C, 0.0f, out, OC);
    if (bias) K(be)->bias_add(be, (int64_t)B, out, bias, OC); /* one index per row */
}

void mz_linear_backward(mz_backend *be, float *dinp, float *dweight, float *dbias, const float *dout,
                        const float *inp, const float *weight, const float *ones, int B, int C, int OC) {
    /* dinp^T (C x B) += weight (C x OC) * dout^T (OC x B) */
    if (dinp) be->gemm(be, false, false, C, B, OC, 1.0f, weight, C, dout, OC, 1.0f, dinp, C);
    /* dweight^T (C x OC) += inp^T (C x B) * dout (B x OC) */
    if (dweight) be->gemm(be, false, true, C, OC, B, 1.0f, inp, C, dout, OC, 1.0f, dweight, C);
    /* dbias (OC x 1) += dout^T (OC x B) * ones (B x 1) */
    if (dbias) {
        MZ_CHECK(ones, "nn: linear backward with a bias needs the ones vector (B=%d)", B);
        be->gemm(be, false, false, OC, 1, B, 1.0f, dout, OC, ones, B, 1.0f, dbias, OC);
    }
}

void mz_init_weights(mz_backend *be, float *w, int64_t n, int fan_in, int fan_out, mz_init_kind kind, uint64_t seed,
                     uint32_t stream) {
    MZ_CHECK(fan_in > 0 && fan_out > 0, "nn: init with fan_in %d, fan_out %d", fan_in, fan_out);
    if (kind == MZ_INIT_ZERO) {
        be->zero(be, w, (size_t)n * sizeof(float));
        return;
    }
    float std = kind == MZ_INIT_KAIMING ? sqrtf(2.0f / (float)fan_in) : sqrtf(2.0f / (float)(fan_in + fan_out));
    be->rng_fill(be, n, w, MZ_RNG_NORMAL, 0.0f, seed, stream, 0);
    be->scal(be, n, std, w);
}

void mz_fill(mz_backend *be, float *x, int64_t n, float value) { K(be)->fill(be, n, x, value); }

/* ---- element-wise ------------------------------------------------------------ */

void mz_relu_forward(mz_backend *be, float *out, const float *inp, int64_t n) { K(be)->relu_forward(be, n, out, inp); }
void mz_relu_backward(mz_backend *be, float *dinp, const float *dout, const float *inp, int64_t n) {
    K(be)->relu_backward(be, n, dinp, dout, inp);
}
void mz_gelu_forward(mz_backend *be, float *out, const float *inp, int64_t n) { K(be)->gelu_forward(be, n, out, inp); }
void mz_gelu_backward(mz_backend *be, float *dinp, const float *dout, const float *inp, int64_t n) {
    K(be)->gelu_backward(be, n, dinp, dout, inp);
}

void mz_mul(mz_backend *be, float *out, const float *a, const float *b, int64_t n) { K(be)->mul(be, n, out, a, b); }

void mz_residual_forward(mz_backend *be, float *out, const float *a, const float *b, int64_t n) {
    K(be)->add_forward(be, n, out, a, b);
}
void mz_residual_backward(mz_backend *be, float *da, float *db, const float *dout, int64_t n) {
    if (da) K(be)->scaled_accumulate(be, n, da, dout, 1.0f);
    if (db) K(be)->scaled_accumulate(be, n, db, dout, 1.0f);
}

void mz_grad_scale_forward(mz_backend *be, float *out, const float *inp, int64_t n) {
    if (out != inp) be->copy_d2d(be, out, inp, (size_t)n * sizeof(float));
}
void mz_grad_scale_backward(mz_backend *be, float *dinp, const float *dout, float s, int64_t n) {
    K(be)->scaled_accumulate(be, n, dinp, dout, s);
}

void mz_concat_forward(mz_backend *be, float *out, const float *a, const float *b, int B, int C1, int C2) {
    K(be)->concat_forward(be, (int64_t)B * (C1 + C2), out, a, b, C1, C2);
}
void mz_concat_backward(mz_backend *be, float *da, float *db, const float *dout, int B, int C1, int C2) {
    K(be)->concat_backward(be, (int64_t)B * (C1 + C2), da, db, dout, C1, C2);
}

void mz_gather_rows(mz_backend *be, float *out, const float *src, const int32_t *index, int R, int W, int div,
                    int stride) {
    MZ_CHECK(div >= 1, "nn: gather_rows needs div >= 1, got %d", div);
    K(be)->gather_rows(be, (int64_t)R * W, out, src, index, W, div, stride);
}

void mz_scatter_rows(mz_backend *be, float *dst, const float *src, const int32_t *index, int R, int W, int stride) {
    K(be)->scatter_rows(be, (int64_t)R * W, dst, src, index, W, stride);
}

void mz_one_hot(mz_backend *be, float *out, const int32_t *index, int B, int K_) {
    K(be)->one_hot(be, (int64_t)B * K_, out, index, K_);
}

void mz_agent_input(mz_backend *be, float *inp, const float *obs, int64_t R, int N, int O, int ids, int state,
                    int from_obs, int S) {
    K(be)->agent_input(be, R, inp, obs, N, O, ids, state, from_obs, S);
}

void mz_masked_sample(mz_backend *be, int32_t *actions, float *logp, const float *logits, const uint8_t *avail,
                      int64_t R, int A, int greedy, uint64_t seed, uint32_t stream, uint64_t offset) {
    K(be)->masked_sample(be, R, actions, logp, logits, avail, A, greedy, seed, stream, offset);
}

void mz_positional_forward(mz_backend *be, float *out, const float *inp, int B, int N, int C) {
    K(be)->positional_forward(be, (int64_t)B * N * C, out, inp, N, C);
}
void mz_positional_backward(mz_backend *be, float *dinp, const float *dout, int64_t n) {
    K(be)->scaled_accumulate(be, n, dinp, dout, 1.0f);
}

void mz_dropout_forward(mz_backend *be, float *out, const float *inp, int64_t n, float p, uint64_t seed, bool train) {
    MZ_CHECK(p >= 0.0f && p < 1.0f, "nn: dropout probability %g outside [0, 1)", (double)p);
    if (!train || p == 0.0f) {
        if (out != inp) be->copy_d2d(be, out, inp, (size_t)n * sizeof(float));
        return;
    }
    K(be)->dropout_forward(be, n, out, inp, p, seed);
}
void mz_dropout_backward(mz_backend *be, float *dinp, const float *dout, int64_t n, float p, uint64_t seed,
                         bool train) {
    if (!train || p == 0.0f) K(be)->scaled_accumulate(be, n, dinp, dout, 1.0f);
    else K(be)->dropout_backward(be, n, dinp, dout, p, seed);
}

/* ---- per row ------------------------------------------------------------------ */

#define MZ_LAYERNORM_EPS 1e-5f /* PyTorch's default */

void mz_layernorm_forward(mz_backend *be, float *out, float *mean, float *rstd, const float *inp,
                          const float *weight, const float *bias, int B, int C) {
    K(be)->layernorm_forward(be, B, out, mean, rstd, inp, weight, bias, C, MZ_LAYERNORM_EPS);
}
void mz_layernorm_backward(mz_backend *be, float *dinp, float *dweight, float *dbias, const float *dout,
                           const float *inp, const float *weight, const float *mean, const float *rstd, int B, int C) {
    if (dinp) K(be)->layernorm_backward_input(be, B, dinp, dout, inp, weight, mean, rstd, C);
    K(be)->layernorm_backward_params(be, C, dweight, dbias, dout, inp, mean, rstd, B, C);
}

void mz_minmax_forward(mz_backend *be, float *out, const float *inp, int B, int C) {
    K(be)->minmax_forward(be, B, out, inp, C);
}
void mz_minmax_backward(mz_backend *be, float *dinp, const float *dout, const float *inp, int B, int C) {
    K(be)->minmax_backward(be, B, dinp, dout, inp, C);
}
void mz_softmax_forward(mz_backend *be, float *probs, const float *logits, int B, int C) {
    K(be)->softmax_forward(be, B, probs, logits, C);
}
void mz_softmax_backward(mz_backend *be, float *dlogits, const float *dprobs, const float *probs, int B, int C) {
    K(be)->softmax_backward(be, B, dlogits, dprobs, probs, C);
}

/* ---- attention ------------------------------------------------------------------ */

static void check_attention_dims(int N, int NH, int H) {
    MZ_CHECK(N >= 1 && N <= MZ_NN_MAX_AGENTS, "nn: attention over %d agents (1..%d supported)", N,
             MZ_NN_MAX_AGENTS);
    MZ_CHECK(NH >= 1 && H % NH == 0, "nn: attention width %d is not a multiple of %d heads", H, NH);
}

void mz_attention_forward(mz_backend *be, float *out, float *probs, const float *qkv, const float *key_mask, int B,
                          int N, int NH, int H) {
    check_attention_dims(N, NH, H);
    K(be)->attention_forward(be, (int64_t)B * NH * N, out, probs, qkv, key_mask, N, NH, H);
}
void mz_attention_backward(mz_backend *be, float *dqkv, float *dscore, const float *dout, const float *probs,
                           const float *qkv, int B, int N, int NH, int H) {
    check_attention_dims(N, NH, H);
    K(be)->attention_backward_query(be, (int64_t)B * NH * N, dqkv, dscore, dout, probs, qkv, N, NH, H);
    K(be)->attention_backward_key(be, (int64_t)B * NH * N, dqkv, dscore, dout, probs, qkv, N, NH, H);
}

/* ---- losses --------------------------------------------------------------------- */

void mz_cross_entropy_forward(mz_backend *be, float *loss, const float *logits, const float *target, int B, int C) {
    K(be)->cross_entropy_forward(be, B, loss, logits, target, C);
}
void mz_cross_entropy_backward(mz_backend *be, float *dlogits, const float *dloss, const float *logits,
                               const float *target, int B, int C) {
    K(be)->cross_entropy_backward(be, B, dlogits, dloss, logits, target, C);
}
void mz_mse_forward(mz_backend *be, float *loss, const float *a, const float *b, int B, int C) {
    K(be)->mse_forward(be, B, loss, a, b, C);
}
void mz_mse_backward(mz_backend *be, float *da, const float *dloss, const float *a, const float *b, int B, int C) {
    K(be)->mse_backward(be, B, da, dloss, a, b, C);
}
void mz_neg_cosine_forward(mz_backend *be, float *loss, const float *a, const float *b, int B, int C) {
    K(be)->neg_cosine_forward(be, B, loss, a, b, C);
}
void mz_neg_cosine_backward(mz_backend *be, float *da, const float *dloss, const float *a, const float *b, int B,
                            int C) {
    K(be)->neg_cosine_backward(be, B, da, dloss, a, b, C);
}

float mz_masked_mean_forward(mz_backend *be, float *weighted, const float *loss, const float *mask, int B,
                             float *count_out) {
    K(be)->mul(be, B, weighted, loss, mask);
    float total = be->sum(be, B, weighted), count = be->sum(be, B, mask);
    *count_out = count;
    return count > 0.0f ? total / count : 0.0f;
}
void mz_masked_mean_backward(mz_backend *be, float *dloss, const float *mask, float dmean, float count, int B) {
    if (count > 0.0f) K(be)->scaled_accumulate(be, B, dloss, mask, dmean / count);
}

/* ---- categorical targets ----------------------------------------------------------- */

void mz_h_forward(mz_backend *be, float *out, const float *inp, int64_t n, float eps) {
    K(be)->h_forward(be, n, out, inp, eps);
}
void mz_h_backward(mz_backend *be, float *dinp, const float *dout, const float *inp, int64_t n, float eps) {
    K(be)->h_backward(be, n, dinp, dout, inp, eps);
}
void mz_h_inverse(mz_backend *be, float *out, const float *inp, int64_t n, float eps) {
    K(be)->h_inverse_forward(be, n, out, inp, eps);
}
void mz_two_hot(mz_backend *be, float *out, const float *x, int B, int S) {
    MZ_CHECK(S >= 1, "nn: two-hot support size S=%d (need >= 1)", S);
    K(be)->two_hot(be, B, out, x, S);
}
void mz_expectation_forward(mz_backend *be, float *out, const float *probs, int B, int S) {
    K(be)->expectation_forward(be, B, out, probs, S);
}
void mz_expectation_backward(mz_backend *be, float *dprobs, const float *dout, int B, int S) {
    K(be)->expectation_backward(be, (int64_t)B * (2 * S + 1), dprobs, dout, S);
}
