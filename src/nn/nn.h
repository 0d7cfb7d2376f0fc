/* The NN core: ops with forward and backward on any backend, parameter
 * blocks, the activation arena, AdamW and schedules. The world model and
 * the PPO baselines build on this; nothing above it calls BLAS or CUDA.
 *
 * Conventions (llm.c): outputs first, then inputs, then dims in capitals
 * (B rows, C input features, OC output features, N agents, NH heads, H
 * hidden). Activations are row-major [rows x features] in backend memory.
 * Backward functions ADD into every gradient they write (d-prefixed), so
 * callers zero gradients once per step; a NULL input gradient is skipped.
 * Nothing here allocates: scratch comes from the caller's arena. */
#ifndef MZ_NN_H
#define MZ_NN_H

#include <stdbool.h>
#include <stdint.h>

#include "src/backend.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- linear: out [B x OC] = inp [B x C] weight^T + bias -------------------
 * weight is [OC x C] (PyTorch layout), bias [OC] or NULL. Backward needs
 * `ones`, B floats equal to 1 (the arena keeps one), to sum dbias over rows
 * with a gemm. */
void mz_linear_forward(mz_backend *be, float *out, const float *inp, const float *weight, const float *bias, int B,
                       int C, int OC);
void mz_linear_backward(mz_backend *be, float *dinp, float *dweight, float *dbias, const float *dout,
                        const float *inp, const float *weight, const float *ones, int B, int C, int OC);

typedef enum {
    MZ_INIT_KAIMING = 0, /* N(0, 2 / fan_in): ReLU layers */
    MZ_INIT_XAVIER = 1,  /* N(0, 2 / (fan_in + fan_out)): linear / attention */
    MZ_INIT_ZERO = 2,    /* MuZero output layers start at zero */
} mz_init_kind;
/* Fills n weights with the scheme's normal draws from Philox (seed, stream):
 * the same values on every backend. */
void mz_init_weights(mz_backend *be, float *w, int64_t n, int fan_in, int fan_out, mz_init_kind kind, uint64_t seed,
                     uint32_t stream);
void mz_fill(mz_backend *be, float *x, int64_t n, float value);

/* ---- element-wise (n elements) ------------------------------------------ */
void mz_relu_forward(mz_backend *be, float *out, const float *inp, int64_t n);
void mz_relu_backward(mz_backend *be, float *dinp, const float *dout, const float *inp, int64_t n);
void mz_gelu_forward(mz_backend *be, float *out, const float *inp, int64_t n);
void mz_gelu_backward(mz_backend *be, float *dinp, const float *dout, const float *inp, int64_t n);
/* out = a * b element-wise (no backward: weights, masks) */
void mz_mul(mz_backend *be, float *out, const float *a, const float *b, int64_t n);
/* residual: out = a + b; backward adds dout into da and db */
void mz_residual_forward(mz_backend *be, float *out, const float *a, const float *b, int64_t n);
void mz_residual_backward(mz_backend *be, float *da, float *db, const float *dout, int64_t n);
/* gradient scale: forward copies, backward adds s * dout (MuZero's 1/2 on
 * the hidden state between unroll steps); out may equal inp */
void mz_grad_scale_forward(mz_backend *be, float *out, const float *inp, int64_t n);
void mz_grad_scale_backward(mz_backend *be, float *dinp, const float *dout, float s, int64_t n);
/* out [B x (C1+C2)] = [a [B x C1] | b [B x C2]] */
void mz_concat_forward(mz_backend *be, float *out, const float *a, const float *b, int B, int C1, int C2);
void mz_concat_backward(mz_backend *be, float *da, float *db, const float *dout, int B, int C1, int C2);
/* Moving rows of W floats by device-side indices (search trees keep one
 * hidden state per (tree, node); the indices never visit the host).
 * gather: out row r [R rows] = src row (r / div) * stride + (index ? index[r] : 0)
 * scatter: dst row r * stride + (index ? index[r] : 0) = src row r [R rows] */
void mz_gather_rows(mz_backend *be, float *out, const float *src, const int32_t *index, int R, int W, int div,
                    int stride);
void mz_scatter_rows(mz_backend *be, float *dst, const float *src, const int32_t *index, int R, int W, int stride);

/* out [B x K]: row r is one-hot at index[r] (device int32), zero if outside [0, K) */
void mz_one_hot(mz_backend *be, float *out, const int32_t *index, int B, int K);
/* Per-agent network inputs inp [E*N x I] from obs [E][N][O]: row e*N+n is
 * [one-hot(n) if ids | obs[e][n]] (I = O + N, or O); with `state`, row
 * e*N+n is env e's global state of S floats, taken from obs [E x S], or,
 * with from_obs, concatenated from obs [E][N][O] (S = N * O). R = E * N. */
void mz_agent_input(mz_backend *be, float *inp, const float *obs, int64_t R, int N, int O, int ids, int state,
                    int from_obs, int S);
/* actions [R]: per row of logits [R x A], Gumbel-max over the legal
 * actions of avail [R x A] from Philox(seed, stream, offset + r), or the
 * argmax when greedy; logp [R] (may be NULL) its masked log-probability. */
void mz_masked_sample(mz_backend *be, int32_t *actions, float *logp, const float *logits, const uint8_t *avail,
                      int64_t R, int A, int greedy, uint64_t seed, uint32_t stream, uint64_t offset);
/* out [B x N x C] = inp + sinusoidal encoding of the agent index n */
void mz_positional_forward(mz_backend *be, float *out, const float *inp, int B, int N, int C);
void mz_positional_backward(mz_backend *be, float *dinp, const float *dout, int64_t n);
/* inverted dropout with probability p; with train false, or p == 0, it is
 * the identity. The mask is drawn from `seed` (use a new one per step) and
 * redrawn in backward, so nothing is stored. */
void mz_dropout_forward(mz_backend *be, float *out, const float *inp, int64_t n, float p, uint64_t seed, bool train);
void mz_dropout_backward(mz_backend *be, float *dinp, const float *dout, int64_t n, float p, uint64_t seed,
                         bool train);

/* ---- per row ------------------------------------------------------------- */
/* LayerNorm over C features with affine weight, bias [C]; mean, rstd [B] are
 * saved for backward */
void mz_layernorm_forward(mz_backend *be, float *out, float *mean, float *rstd, const float *inp,
                          const float *weight, const float *bias, int B, int C);
void mz_layernorm_backward(mz_backend *be, float *dinp, float *dweight, float *dbias, const float *dout,
                           const float *inp, const float *weight, const float *mean, const float *rstd, int B, int C);
/* MuZero hidden-state scaling: (x - min) / (max - min) per row, range floored */
void mz_minmax_forward(mz_backend *be, float *out, const float *inp, int B, int C);
void mz_minmax_backward(mz_backend *be, float *dinp, const float *dout, const float *inp, int B, int C);
void mz_softmax_forward(mz_backend *be, float *probs, const float *logits, int B, int C);
void mz_softmax_backward(mz_backend *be, float *dlogits, const float *dprobs, const float *probs, int B, int C);

/* ---- attention across the agent axis --------------------------------------
 * qkv [B*N x 3H] (a linear of the input), out [B*N x H], probs [B x NH x N x N]
 * saved for backward; key_mask [B x N] (1 present, 0 absent) or NULL.
 * Backward needs dscore scratch shaped like probs and adds into dqkv. */
void mz_attention_forward(mz_backend *be, float *out, float *probs, const float *qkv, const float *key_mask, int B,
                          int N, int NH, int H);
void mz_attention_backward(mz_backend *be, float *dqkv, float *dscore, const float *dout, const float *probs,
                           const float *qkv, int B, int N, int NH, int H);

/* ---- losses (per row into loss [B]; the caller reduces) ------------------ */
/* softmax cross-entropy against a target distribution [B x C] */
void mz_cross_entropy_forward(mz_backend *be, float *loss, const float *logits, const float *target, int B, int C);
void mz_cross_entropy_backward(mz_backend *be, float *dlogits, const float *dloss, const float *logits,
                               const float *target, int B, int C);
/* mean over C of (a - b)^2; b gets no gradient */
void mz_mse_forward(mz_backend *be, float *loss, const float *a, const float *b, int B, int C);
void mz_mse_backward(mz_backend *be, float *da, const float *dloss, const float *a, const float *b, int B, int C);
/* -cos(a, b) with a stop-gradient target b (consistency loss) */
void mz_neg_cosine_forward(mz_backend *be, float *loss, const float *a, const float *b, int B, int C);
void mz_neg_cosine_backward(mz_backend *be, float *da, const float *dloss, const float *a, const float *b, int B,
                            int C);
/* sum_r mask[r] loss[r] / sum_r mask[r] on the host (0 when the mask is all
 * zero); `weighted` is B floats of scratch. *count_out gets sum(mask) for
 * the backward, which adds dmean * mask[r] / count into dloss. */
float mz_masked_mean_forward(mz_backend *be, float *weighted, const float *loss, const float *mask, int B,
                             float *count_out);
void mz_masked_mean_backward(mz_backend *be, float *dloss, const float *mask, float dmean, float count, int B);

/* ---- GRU over a sequence (flax GRUCell as JaxMARL's ScannedRNN uses it) ---
 * x [T x B x C] (step-major), h0 [B x H], keep [T x B] or NULL (all 1):
 * keep 0 resets the state to zero before that step (an episode starts).
 * w_ih [3H x C] and b_ih [3H] (gates r, z, n), w_hh [3H x H], b_hn [H]:
 *   hp = keep h;  r = s(W_ir x + b_ir + W_hr hp);  z = s(W_iz x + b_iz + W_hz hp)
 *   n = tanh(W_in x + b_in + r (W_hn hp + b_hn));  h' = (1 - z) n + z hp
 * (PyTorch's GRU with b_hr = b_hz = 0: flax puts no bias on hr, hz.)
 * Forward writes hs [T x B x H], the state after each step, and saves
 * gates [T x B x 4H] and hprev [T x B x H] for backward; gh is [B x 3H]
 * scratch. Backward takes dhs (d loss / d hs) and adds into dx, dh0 (each
 * may be NULL), dw_ih, db_ih, dw_hh, db_hn; scratch: dgates [T x B x 4H],
 * dhp [2 x B x H], ones [T x B] of 1. */
void mz_gru_forward(mz_backend *be, float *hs, float *gates, float *hprev, float *gh, const float *x, const float *h0,
                    const float *keep, const float *w_ih, const float *b_ih, const float *w_hh, const float *b_hn,
                    int T, int B, int C, int H);
void mz_gru_backward(mz_backend *be, float *dx, float *dh0, float *dw_ih, float *db_ih, float *dw_hh, float *db_hn,
                     float *dgates, float *dhp, const float *dhs, const float *gates, const float *hprev,
                     const float *x, const float *keep, const float *w_ih, const float *w_hh, const float *ones, int T,
                     int B, int C, int H);

/* ---- categorical value targets ------------------------------------------ */
#define MZ_H_EPS 0.001f
/* h(x) = sign(x)(sqrt(|x|+1) - 1) + eps x and its exact inverse */
void mz_h_forward(mz_backend *be, float *out, const float *inp, int64_t n, float eps);
void mz_h_backward(mz_backend *be, float *dinp, const float *dout, const float *inp, int64_t n, float eps);
void mz_h_inverse(mz_backend *be, float *out, const float *inp, int64_t n, float eps);
/* out [B x (2S+1)]: two-hot of x [B] (clamped) on the support -S..S */
void mz_two_hot(mz_backend *be, float *out, const float *x, int B, int S);
/* out [B] = sum_k probs[r,k] (k - S) */
void mz_expectation_forward(mz_backend *be, float *out, const float *probs, int B, int S);
void mz_expectation_backward(mz_backend *be, float *dprobs, const float *dout, int B, int S);

#ifdef __cplusplus
}
#endif

#endif
