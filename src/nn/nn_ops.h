/* Single-source bodies of the NN kernels. Each body does the work of one
 * index (an element, a row, a column or an attention query row, as its name
 * says); src/nn/nn_cpu.c runs it in an OpenMP loop and src/nn/nn_cuda.cu in
 * a grid-stride kernel (also under emulation). Layouts are row-major:
 * a [B x C] activation has element (r, c) at r * C + c.
 *
 * Backward bodies ADD into input gradients (llm.c habit): a tensor used twice
 * (residual streams) collects both contributions without extra buffers, and
 * the caller zeroes gradients once per step. */
#ifndef MZ_NN_OPS_H
#define MZ_NN_OPS_H

#include <math.h>
#include <stdbool.h>
#include <stdint.h>

#include "src/hd.h"
#include "src/rng.h"

/* Agents per sample in attention: per-query scores live in registers. */
#define MZ_NN_MAX_AGENTS 64
/* MuZero's floor on the min-max range of a hidden state. */
#define MZ_NN_MINMAX_FLOOR 1e-5f

/* ---- element-wise ------------------------------------------------------- */

HD static inline void fill_body(int64_t i, float *out, float value) { out[i] = value; }

/* one row r of C columns: a 64-bit `i % C` per element cost 15% of the sync
 * MuZero loop on simple_spread and a fifth of the PPO loop (perf) */
HD static inline void bias_add_body(int64_t r, float *out, const float *bias, int C) {
    float *o = out + r * C;
    for (int c = 0; c < C; c++) o[c] += bias[c];
}

HD static inline void relu_forward_body(int64_t i, float *out, const float *inp) {
    out[i] = inp[i] > 0.0f ? inp[i] : 0.0f;
}
/* the kink at 0 takes gradient 0, as PyTorch does. dout is loaded
 * unconditionally so the compiler emits a select, not a branch: signs are
 * random, and the mispredicted branch made this 10x slower than forward. */
HD static inline void relu_backward_body(int64_t i, float *dinp, const float *dout, const float *inp) {
    float g = dout[i];
    dinp[i] += inp[i] > 0.0f ? g : 0.0f;
}

/* exact GELU (erf form), PyTorch's nn.GELU() default */
HD static inline void gelu_forward_body(int64_t i, float *out, const float *inp) {
    float x = inp[i];
    out[i] = 0.5f * x * (1.0f + erff(x * 0.70710678118654752f));
}
HD static inline void gelu_backward_body(int64_t i, float *dinp, const float *dout, const float *inp) {
    float x = inp[i];
    float cdf = 0.5f * (1.0f + erff(x * 0.70710678118654752f));
    float pdf = 0.39894228040143268f * expf(-0.5f * x * x);
    dinp[i] += dout[i] * (cdf + x * pdf);
}

/* y = a + b (residual); dinp += s * dout covers the residual backward and
 * the gradient-scale op (forward identity, backward times s) */
HD static inline void add_forward_body(int64_t i, float *out, const float *a, const float *b) { out[i] = a[i] + b[i]; }
HD static inline void scaled_accumulate_body(int64_t i, float *dinp, const float *dout, float s) {
    dinp[i] += s * dout[i];
}

/* out [B x (C1+C2)] = [a | b]; one index per output element */
HD static inline void concat_forward_body(int64_t i, float *out, const float *a, const float *b, int C1, int C2) {
    int64_t r = i / (C1 + C2);
    int c = (int)(i % (C1 + C2));
    out[i] = c < C1 ? a[r * C1 + c] : b[r * C2 + (c - C1)];
}
HD static inline void concat_backward_body(int64_t i, float *da, float *db, const float *dout, int C1, int C2) {
    int64_t r = i / (C1 + C2);
    int c = (int)(i % (C1 + C2));
    if (c < C1) da[r * C1 + c] += dout[i];
    else db[r * C2 + (c - C1)] += dout[i];
}

/* out [B x K]; an index outside [0, K) (no action) gives a zero row */
/* Row gather: out row r = src row (r / div) * stride + (index ? index[r] : 0),
 * rows of W floats; index on the device. */
HD static inline void gather_rows_body(int64_t i, float *out, const float *src, const int32_t *index, int W, int div,
                                       int stride) {
    int64_t r = i / W;
    int64_t row = (r / div) * stride + (index ? index[r] : 0);
    out[i] = src[row * W + i % W];
}

/* Row scatter: dst row r * stride + (index ? index[r] : 0) = src row r. */
HD static inline void scatter_rows_body(int64_t i, float *dst, const float *src, const int32_t *index, int W,
                                        int stride) {
    int64_t r = i / W;
    int64_t row = r * stride + (index ? index[r] : 0);
    dst[row * W + i % W] = src[i];
}

HD static inline void one_hot_body(int64_t i, float *out, const int32_t *index, int K) {
    int64_t r = i / K;
    int k = (int)(i % K);
    out[i] = index[r] == k ? 1.0f : 0.0f;
}

/* ---- agent inputs and action sampling (PPO and MuZero) -------------------- */

#define MZ_MASKED_LOGIT (-3.4028234663852886e38f) /* finfo(float32).min, as Mava masks */

/* Row r = e * N + n of inp [E*N x I]: [one-hot(n) if ids | obs[e][n]]. When
 * `state` is set (MAPPO's critic) the row is the global state of env e,
 * S = N * O floats: state [E x S] as it is, or, with from_obs, the
 * concatenation of obs [E][N][O] (the final global state, which the env
 * does not keep). */
HD static inline void agent_input_body(int64_t r, float *inp, const float *obs, int N, int O, int ids, int state,
                                       int from_obs, int S) {
    int64_t e = r / N;
    int n = (int)(r % N);
    if (state) {
        const float *src = from_obs ? obs + e * (int64_t)N * O : obs + e * (int64_t)S;
        float *dst = inp + r * (int64_t)S;
        for (int i = 0; i < S; i++) dst[i] = src[i];
        return;
    }
    int I = O + (ids ? N : 0);
    float *dst = inp + r * (int64_t)I;
    int k = 0;
    if (ids)
        for (int j = 0; j < N; j++) dst[k++] = j == n ? 1.0f : 0.0f;
    const float *src = obs + r * (int64_t)O;
    for (int i = 0; i < O; i++) dst[k++] = src[i];
}

/* log-sum-exp of one row over its legal actions (masked logits are
 * finfo.min, whose exp is 0); a row with no legal action treats every
 * action as legal. */
HD static inline float masked_logsumexp(const float *logits, const uint8_t *avail, int A) {
    int any = 0;
    for (int a = 0; a < A; a++) any |= avail[a];
    float m = MZ_MASKED_LOGIT;
    for (int a = 0; a < A; a++)
        if ((avail[a] || !any) && logits[a] > m) m = logits[a];
    float s = 0.0f;
    for (int a = 0; a < A; a++)
        if (avail[a] || !any) s += expf(logits[a] - m);
    return m + logf(s);
}

/* Row r of logits [R x A]: the action (Gumbel-max over legal actions from
 * Philox(seed, stream, offset + r), or the argmax when greedy), its
 * log-probability into logp[r] (when logp is set). actions [R] has the
 * env's [E][N] layout. */
HD static inline void masked_sample_body(int64_t r, int32_t *actions, float *logp, const float *logits,
                                         const uint8_t *avail, int A, int greedy, uint64_t seed, uint32_t stream,
                                         uint64_t offset) {
    const float *l = logits + r * (int64_t)A;
    const uint8_t *m = avail + r * (int64_t)A;
    int any = 0;
    for (int a = 0; a < A; a++) any |= m[a];
    mz_rng g;
    mz_rng_init(&g, seed, stream, offset + (uint64_t)r);
    int best = -1;
    float best_v = 0.0f;
    for (int a = 0; a < A; a++) {
        float noise = greedy ? 0.0f : mz_rng_gumbel(&g);
        if (!(m[a] || !any)) continue;
        float v = l[a] + noise;
        if (best < 0 || v > best_v) {
            best = a;
            best_v = v;
        }
    }
    actions[r] = best;
    if (logp) logp[r] = l[best] - masked_logsumexp(l, m, A);
}

/* x [B x N x C] + sinusoid(agent n, feature c): sin on even features, cos
 * on odd ones, frequency 10000^(-2 floor(c/2) / C) (Vaswani et al.) */
HD static inline float positional_value(int n, int c, int C) {
    float freq = expf(-logf(10000.0f) * (float)(2 * (c / 2)) / (float)C);
    float angle = (float)n * freq;
    return (c % 2 == 0) ? sinf(angle) : cosf(angle);
}
HD static inline void positional_forward_body(int64_t i, float *out, const float *inp, int N, int C) {
    int n = (int)((i / C) % N);
    int c = (int)(i % C);
    out[i] = inp[i] + positional_value(n, c, C);
}

/* inverted dropout: element i is kept with probability 1 - p and scaled by
 * 1 / (1 - p); the mask is a pure function of (seed, i), so backward redraws
 * it instead of storing it */
HD static inline float dropout_scale(int64_t i, float p, uint64_t seed) {
    mz_rng r;
    mz_rng_init(&r, seed, 0xd0u, (uint64_t)i);
    return mz_rng_uniform(&r) >= p ? 1.0f / (1.0f - p) : 0.0f;
}
HD static inline void dropout_forward_body(int64_t i, float *out, const float *inp, float p, uint64_t seed) {
    out[i] = inp[i] * dropout_scale(i, p, seed);
}
HD static inline void dropout_backward_body(int64_t i, float *dinp, const float *dout, float p, uint64_t seed) {
    dinp[i] += dout[i] * dropout_scale(i, p, seed);
}

/* MuZero value transform h(x) = sign(x)(sqrt(|x|+1) - 1) + eps x, with eps x
 * OUTSIDE the sign (a peer implementation puts it inside, which biases
 * negative values). Double inside: the inverse cancels badly near 0. */
HD static inline double h_transform(double x, double eps) {
    double s = x < 0.0 ? -1.0 : (x > 0.0 ? 1.0 : 0.0);
    return s * (sqrt(fabs(x) + 1.0) - 1.0) + eps * x;
}
/* exact inverse: solve eps a^2 + a - (|y| + 1 + eps) = 0 for a = sqrt(|x|+1)
 * (the larger root, written without cancellation), then x = sign(y)(a^2 - 1) */
HD static inline double h_inverse(double y, double eps) {
    double s = y < 0.0 ? -1.0 : (y > 0.0 ? 1.0 : 0.0);
    double c = fabs(y) + 1.0 + eps;
    double a = 2.0 * c / (1.0 + sqrt(1.0 + 4.0 * eps * c));
    return s * ((a - 1.0) * (a + 1.0));
}
HD static inline void h_forward_body(int64_t i, float *out, const float *inp, float eps) {
    out[i] = (float)h_transform((double)inp[i], (double)eps);
}
HD static inline void h_backward_body(int64_t i, float *dinp, const float *dout, const float *inp, float eps) {
    dinp[i] += dout[i] * (float)(0.5 / sqrt(fabs((double)inp[i]) + 1.0) + (double)eps);
}
HD static inline void h_inverse_forward_body(int64_t i, float *out, const float *inp, float eps) {
    out[i] = (float)h_inverse((double)inp[i], (double)eps);
}

/* ---- optimiser (one parameter each) ------------------------------------- */

/* PyTorch AdamW: p *= 1 - lr wd; p -= lr/bc1 * m / (sqrt(v)/sqrt(bc2) + eps),
 * with the gradient first multiplied by grad_scale (clip and loss-scale) */
HD static inline void adamw_body(int64_t i, float *param, float *m, float *v, const float *grad, float lr,
                                 float beta1, float beta2, float eps, float weight_decay, float bias_corr1,
                                 float bias_corr2_sqrt, float grad_scale) {
    float g = grad[i] * grad_scale;
    float mi = beta1 * m[i] + (1.0f - beta1) * g;
    float vi = beta2 * v[i] + (1.0f - beta2) * g * g;
    m[i] = mi;
    v[i] = vi;
    float p = param[i] * (1.0f - lr * weight_decay);
    param[i] = p - (lr / bias_corr1) * mi / (sqrtf(vi) / bias_corr2_sqrt + eps);
}

/* ---- per row ------------------------------------------------------------ */

/* sum of (x[c] - shift)^power (power 1 or 2) over C values in 8 partial sums:
 * one running float sum is a chain of dependent adds the compiler may not
 * reorder, and made the LayerNorm forward 13% of the sync MuZero loop */
HD static inline float row_sum8(const float *x, int C, float shift, int power) {
    float part[8] = {0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f};
    int c = 0;
    for (; c + 8 <= C; c += 8)
        for (int j = 0; j < 8; j++) {
            float d = x[c + j] - shift;
            part[j] += power == 2 ? d * d : d;
        }
    for (; c < C; c++) {
        float d = x[c] - shift;
        part[0] += power == 2 ? d * d : d;
    }
    return ((part[0] + part[1]) + (part[2] + part[3])) + ((part[4] + part[5]) + (part[6] + part[7]));
}

/* out = (x - mean) * rstd * weight + bias; mean and rstd kept for backward */
HD static inline void layernorm_forward_body(int64_t r, float *out, float *mean, float *rstd, const float *inp,
                                             const float *weight, const float *bias, int C, float eps) {
    const float *x = inp + r * C;
    float mu = row_sum8(x, C, 0.0f, 1) / (float)C;
    float var = row_sum8(x, C, mu, 2);
    float rs = 1.0f / sqrtf(var / (float)C + eps);
    for (int c = 0; c < C; c++) out[r * C + c] = (x[c] - mu) * rs * weight[c] + bias[c];
    mean[r] = mu;
    rstd[r] = rs;
}
HD static inline void layernorm_backward_input_body(int64_t r, float *dinp, const float *dout, const float *inp,
                                                    const float *weight, const float *mean, const float *rstd,
                                                    int C) {
    const float *x = inp + r * C, *dy = dout + r * C;
    float mu = mean[r], rs = rstd[r];
    float mean_dnorm = 0.0f, mean_dnorm_norm = 0.0f;
    for (int c = 0; c < C; c++) {
        float dnorm = dy[c] * weight[c];
        mean_dnorm += dnorm;
        mean_dnorm_norm += dnorm * (x[c] - mu) * rs;
    }
    mean_dnorm /= (float)C;
    mean_dnorm_norm /= (float)C;
    for (int c = 0; c < C; c++) {
        float norm = (x[c] - mu) * rs;
        dinp[r * C + c] += rs * (dy[c] * weight[c] - mean_dnorm - norm * mean_dnorm_norm);
    }
}
/* one index per feature: consecutive threads read consecutive addresses */
HD static inline void layernorm_backward_params_body(int64_t c, float *dweight, float *dbias, const float *dout,
                                                     const float *inp, const float *mean, const float *rstd,
                                                     int B, int C) {
    float dw = 0.0f, db = 0.0f;
    for (int r = 0; r < B; r++) {
        float dy = dout[(int64_t)r * C + c];
        dw += dy * (inp[(int64_t)r * C + c] - mean[r]) * rstd[r];
        db += dy;
    }
    dweight[c] += dw;
    dbias[c] += db;
}

/* MuZero hidden-state scaling to [0, 1] per row: (x - min) / range, where a
 * range below the floor gets the floor added */
HD static inline float minmax_range(float lo, float hi) {
    float range = hi - lo;
    return range < MZ_NN_MINMAX_FLOOR ? range + MZ_NN_MINMAX_FLOOR : range;
}
HD static inline void minmax_forward_body(int64_t r, float *out, const float *inp, int C) {
    const float *x = inp + r * C;
    float lo = x[0], hi = x[0];
    for (int c = 1; c < C; c++) {
        lo = x[c] < lo ? x[c] : lo;
        hi = x[c] > hi ? x[c] : hi;
    }
    float range = minmax_range(lo, hi);
    for (int c = 0; c < C; c++) out[r * C + c] = (x[c] - lo) / range;
}
/* gradient flows into the arg-min and arg-max (first of ties) as well */
HD static inline void minmax_backward_body(int64_t r, float *dinp, const float *dout, const float *inp, int C) {
    const float *x = inp + r * C, *dy = dout + r * C;
    int arg_lo = 0, arg_hi = 0;
    for (int c = 1; c < C; c++) {
        if (x[c] < x[arg_lo]) arg_lo = c;
        if (x[c] > x[arg_hi]) arg_hi = c;
    }
    float lo = x[arg_lo], range = minmax_range(lo, x[arg_hi]);
    float sum_dy = 0.0f, sum_dy_norm = 0.0f;
    for (int c = 0; c < C; c++) {
        sum_dy += dy[c];
        sum_dy_norm += dy[c] * (x[c] - lo) / range;
    }
    for (int c = 0; c < C; c++) dinp[r * C + c] += dy[c] / range;
    /* d out_c / d lo = -1/range + (x_c - lo)/range^2; d out_c / d hi = -(x_c - lo)/range^2 */
    dinp[r * C + arg_lo] += -sum_dy / range + sum_dy_norm / range;
    dinp[r * C + arg_hi] += -sum_dy_norm / range;
}

HD static inline void softmax_forward_body(int64_t r, float *probs, const float *logits, int C) {
    const float *x = logits + r * C;
    float mx = x[0];
    for (int c = 1; c < C; c++) mx = x[c] > mx ? x[c] : mx;
    float s = 0.0f;
    for (int c = 0; c < C; c++) s += expf(x[c] - mx);
    for (int c = 0; c < C; c++) probs[r * C + c] = expf(x[c] - mx) / s;
}
HD static inline void softmax_backward_body(int64_t r, float *dlogits, const float *dprobs, const float *probs, int C) {
    const float *p = probs + r * C, *dp = dprobs + r * C;
    float dot = 0.0f;
    for (int c = 0; c < C; c++) dot += p[c] * dp[c];
    for (int c = 0; c < C; c++) dlogits[r * C + c] += p[c] * (dp[c] - dot);
}

/* loss[r] = -sum_c target[r,c] log softmax(logits[r])_c */
HD static inline void cross_entropy_forward_body(int64_t r, float *loss, const float *logits, const float *target,
                                                 int C) {
    const float *x = logits + r * C, *t = target + r * C;
    float mx = x[0];
    for (int c = 1; c < C; c++) mx = x[c] > mx ? x[c] : mx;
    float s = 0.0f;
    for (int c = 0; c < C; c++) s += expf(x[c] - mx);
    float log_z = mx + logf(s), l = 0.0f;
    for (int c = 0; c < C; c++) l -= t[c] * (x[c] - log_z);
    loss[r] = l;
}
HD static inline void cross_entropy_backward_body(int64_t r, float *dlogits, const float *dloss, const float *logits,
                                                  const float *target, int C) {
    const float *x = logits + r * C, *t = target + r * C;
    float mx = x[0];
    for (int c = 1; c < C; c++) mx = x[c] > mx ? x[c] : mx;
    float s = 0.0f, t_sum = 0.0f;
    for (int c = 0; c < C; c++) {
        s += expf(x[c] - mx);
        t_sum += t[c];
    }
    for (int c = 0; c < C; c++) dlogits[r * C + c] += dloss[r] * (expf(x[c] - mx) / s * t_sum - t[c]);
}

/* loss[r] = mean_c (a - b)^2 */
HD static inline void mse_forward_body(int64_t r, float *loss, const float *a, const float *b, int C) {
    float s = 0.0f;
    for (int c = 0; c < C; c++) s += (a[r * C + c] - b[r * C + c]) * (a[r * C + c] - b[r * C + c]);
    loss[r] = s / (float)C;
}
HD static inline void mse_backward_body(int64_t r, float *da, const float *dloss, const float *a, const float *b, int C) {
    for (int c = 0; c < C; c++) da[r * C + c] += dloss[r] * 2.0f * (a[r * C + c] - b[r * C + c]) / (float)C;
}

/* loss[r] = -cos(a_r, b_r); b is the stop-gradient target (no db). Norms
 * are floored at 1e-8 like F.cosine_similarity's eps. */
#define MZ_NN_COS_EPS 1e-8f
HD static inline void neg_cosine_forward_body(int64_t r, float *loss, const float *a, const float *b, int C) {
    float ab = 0.0f, aa = 0.0f, bb = 0.0f;
    for (int c = 0; c < C; c++) {
        ab += a[r * C + c] * b[r * C + c];
        aa += a[r * C + c] * a[r * C + c];
        bb += b[r * C + c] * b[r * C + c];
    }
    float na = fmaxf(sqrtf(aa), MZ_NN_COS_EPS), nb = fmaxf(sqrtf(bb), MZ_NN_COS_EPS);
    loss[r] = -ab / (na * nb);
}
HD static inline void neg_cosine_backward_body(int64_t r, float *da, const float *dloss, const float *a, const float *b,
                                               int C) {
    float ab = 0.0f, aa = 0.0f, bb = 0.0f;
    for (int c = 0; c < C; c++) {
        ab += a[r * C + c] * b[r * C + c];
        aa += a[r * C + c] * a[r * C + c];
        bb += b[r * C + c] * b[r * C + c];
    }
    float na = fmaxf(sqrtf(aa), MZ_NN_COS_EPS), nb = fmaxf(sqrtf(bb), MZ_NN_COS_EPS);
    float a_term = sqrtf(aa) > MZ_NN_COS_EPS ? ab / (na * na * na * nb) : 0.0f;
    for (int c = 0; c < C; c++) da[r * C + c] += -dloss[r] * (b[r * C + c] / (na * nb) - a_term * a[r * C + c]);
}

/* Two-hot onto the integer support -S..S (K = 2S+1 atoms): x is clamped to
 * [-S, S] and split between the two neighbouring atoms. */
HD static inline void two_hot_body(int64_t r, float *out, const float *x, int S) {
    int K = 2 * S + 1;
    float v = fminf(fmaxf(x[r], (float)-S), (float)S);
    float lo = floorf(v);
    int k = (int)lo + S;
    float upper = v - lo;
    for (int j = 0; j < K; j++) out[r * K + j] = 0.0f;
    if (k >= K - 1) {
        out[r * K + K - 1] = 1.0f;
    } else {
        out[r * K + k] = 1.0f - upper;
        out[r * K + k + 1] = upper;
    }
}
/* out[r] = sum_k probs[r,k] * (k - S) */
HD static inline void expectation_forward_body(int64_t r, float *out, const float *probs, int S) {
    int K = 2 * S + 1;
    float s = 0.0f;
    for (int k = 0; k < K; k++) s += probs[r * K + k] * (float)(k - S);
    out[r] = s;
}
HD static inline void expectation_backward_body(int64_t i, float *dprobs, const float *dout, int S) {
    int K = 2 * S + 1;
    dprobs[i] += dout[i / K] * (float)((int)(i % K) - S);
}

/* products of a masked mean: weighted[r] = loss[r] * mask[r] */
HD static inline void mul_body(int64_t i, float *out, const float *a, const float *b) { out[i] = a[i] * b[i]; }

/* ---- attention across the agent axis ------------------------------------ */
/* qkv [B*N x 3H] (q | k | v, head h in columns h*D .. h*D+D-1 of each), out
 * [B*N x H], probs [B x NH x N x N]; key_mask [B x N] (1 present, 0 absent)
 * or NULL. One index per (b, head, query i). A query whose keys are all
 * absent attends to nothing and outputs zeros. */
HD static inline void attention_forward_body(int64_t idx, float *out, float *probs, const float *qkv,
                                             const float *key_mask, int N, int NH, int H) {
    int D = H / NH;
    int i = (int)(idx % N), h = (int)((idx / N) % NH);
    int64_t b = idx / ((int64_t)N * NH);
    float scale = 1.0f / sqrtf((float)D);
    const float *q = qkv + (b * N + i) * 3 * H + h * D;
    float score[MZ_NN_MAX_AGENTS];
    float mx = -INFINITY;
    for (int j = 0; j < N; j++) {
        const float *k = qkv + (b * N + j) * 3 * H + H + h * D;
        float s = 0.0f;
        for (int d = 0; d < D; d++) s += q[d] * k[d];
        bool present = !key_mask || key_mask[b * N + j] != 0.0f;
        score[j] = present ? s * scale : -INFINITY;
        mx = score[j] > mx ? score[j] : mx;
    }
    float total = 0.0f;
    for (int j = 0; j < N; j++) {
        score[j] = mx == -INFINITY ? 0.0f : expf(score[j] - mx);
        total += score[j];
    }
    float *p = probs + idx * N;
    for (int j = 0; j < N; j++) p[j] = total > 0.0f ? score[j] / total : 0.0f;
    float *y = out + (b * N + i) * H + h * D;
    for (int d = 0; d < D; d++) {
        float acc = 0.0f;
        for (int j = 0; j < N; j++) acc += p[j] * qkv[(b * N + j) * 3 * H + 2 * H + h * D + d];
        y[d] = acc;
    }
}
/* first pass, per (b, head, query i): dq, and dscores into dscore [like probs] */
HD static inline void attention_backward_query_body(int64_t idx, float *dqkv, float *dscore, const float *dout,
                                                    const float *probs, const float *qkv, int N, int NH, int H) {
    int D = H / NH;
    int i = (int)(idx % N), h = (int)((idx / N) % NH);
    int64_t b = idx / ((int64_t)N * NH);
    float scale = 1.0f / sqrtf((float)D);
    const float *p = probs + idx * N, *dy = dout + (b * N + i) * H + h * D;
    float dp[MZ_NN_MAX_AGENTS];
    float dot = 0.0f;
    for (int j = 0; j < N; j++) {
        const float *v = qkv + (b * N + j) * 3 * H + 2 * H + h * D;
        float s = 0.0f;
        for (int d = 0; d < D; d++) s += dy[d] * v[d];
        dp[j] = s;
        dot += p[j] * s;
    }
    float *ds = dscore + idx * N;
    for (int j = 0; j < N; j++) ds[j] = p[j] * (dp[j] - dot) * scale;
    float *dq = dqkv + (b * N + i) * 3 * H + h * D;
    for (int d = 0; d < D; d++) {
        float acc = 0.0f;
        for (int j = 0; j < N; j++) acc += ds[j] * qkv[(b * N + j) * 3 * H + H + h * D + d];
        dq[d] += acc;
    }
}
/* second pass, per (b, head, key j): dk and dv, summing over queries */
HD static inline void attention_backward_key_body(int64_t idx, float *dqkv, const float *dscore, const float *dout,
                                                  const float *probs, const float *qkv, int N, int NH, int H) {
    int D = H / NH;
    int j = (int)(idx % N), h = (int)((idx / N) % NH);
    int64_t b = idx / ((int64_t)N * NH);
    int64_t head_base = (b * NH + h) * N; /* row of query 0 in probs / dscore */
    float *dk = dqkv + (b * N + j) * 3 * H + H + h * D;
    float *dv = dqkv + (b * N + j) * 3 * H + 2 * H + h * D;
    for (int d = 0; d < D; d++) {
        float acc_k = 0.0f, acc_v = 0.0f;
        for (int i = 0; i < N; i++) {
            acc_k += dscore[(head_base + i) * N + j] * qkv[(b * N + i) * 3 * H + h * D + d];
            acc_v += probs[(head_base + i) * N + j] * dout[(b * N + i) * H + h * D + d];
        }
        dk[d] += acc_k;
        dv[d] += acc_v;
    }
}

/* ---- GRU (src/nn/nn.h mz_gru_*), one index per row of the batch -------- */

HD static inline float gru_sigmoid(float x) { return 1.0f / (1.0f + expf(-x)); }
/* tanh through expf: glibc's tanhf goes through expm1f, which took a
 * quarter of a recurrent PPO update; this form is within 1e-7 absolute
 * (relative precision is lost only where |tanh| < 1e-3, which the state
 * update does not amplify) and saturates cleanly (expf overflow gives 1) */
HD static inline float gru_tanh(float x) { return 1.0f - 2.0f / (expf(2.0f * x) + 1.0f); }

/* The state entering a step: hp = keep[r] * h (keep NULL: 1); a zero keep
 * starts a new episode from the zero state. */
HD static inline void gru_carry_body(int64_t r, float *hp, const float *h, const float *keep, int H) {
    float k = keep ? keep[r] : 1.0f;
    for (int j = 0; j < H; j++) hp[r * H + j] = k * h[r * H + j];
}
/* One step of row r. gates row [4H] holds the input projection W_ih x (r,
 * z, n; without b_ih) on entry and r, z, n, W_hn hp + b_hn on exit; gh row
 * [3H] = W_hh hp. */
HD static inline void gru_step_forward_body(int64_t r, float *h, float *gates, const float *gh, const float *hp,
                                            const float *b_ih, const float *b_hn, int H) {
    float *g = gates + r * 4 * H;
    const float *q = gh + r * 3 * H, *hr = hp + r * H;
    for (int j = 0; j < H; j++) {
        float rg = gru_sigmoid(g[j] + b_ih[j] + q[j]);
        float zg = gru_sigmoid(g[H + j] + b_ih[H + j] + q[H + j]);
        float hn = q[2 * H + j] + b_hn[j];
        float ng = gru_tanh(g[2 * H + j] + b_ih[2 * H + j] + rg * hn);
        g[j] = rg;
        g[H + j] = zg;
        g[2 * H + j] = ng;
        g[3 * H + j] = hn;
        h[r * H + j] = (1.0f - zg) * ng + zg * hr[j];
    }
}
/* Backward of one step for row r: dh = dout + keep_next * dhp_next (the
 * gradient reaching this step's output from the loss and from the next
 * step; dhp_next NULL at the last step). Writes dgates row [4H] = d(pre-
 * activations) of r, z, W_hn hp + b_hn (times r) and of W_in x + b_in:
 * (dr, dz, dn_h, dn_i), so that (dr, dz, dn_h) is the W_hh product's
 * gradient in one block; writes dhp row = dh * z (the direct path; the
 * caller adds the W_hh path). */
HD static inline void gru_step_backward_body(int64_t r, float *dgates, float *dhp, const float *dout,
                                             const float *dhp_next, const float *keep_next, const float *gates,
                                             const float *hp, int H) {
    const float *g = gates + r * 4 * H;
    float *dg = dgates + r * 4 * H;
    float k = dhp_next ? (keep_next ? keep_next[r] : 1.0f) : 0.0f;
    for (int j = 0; j < H; j++) {
        float dh = dout[r * H + j] + (dhp_next ? k * dhp_next[r * H + j] : 0.0f);
        float rg = g[j], zg = g[H + j], ng = g[2 * H + j], hn = g[3 * H + j];
        float dni = dh * (1.0f - zg) * (1.0f - ng * ng);
        float dzg = dh * (hp[r * H + j] - ng) * zg * (1.0f - zg);
        float drg = dni * hn * rg * (1.0f - rg);
        dg[j] = drg;
        dg[H + j] = dzg;
        dg[2 * H + j] = dni * rg;
        dg[3 * H + j] = dni;
        dhp[r * H + j] = dh * zg;
    }
}
/* dh0 row r += keep[r] * dhp (the initial state's gradient through the reset) */
HD static inline void gru_state_grad_body(int64_t r, float *dh0, const float *dhp, const float *keep, int H) {
    float k = keep ? keep[r] : 1.0f;
    for (int j = 0; j < H; j++) dh0[r * H + j] += k * dhp[r * H + j];
}

#endif
