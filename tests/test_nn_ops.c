/* Every NN op, two ways (ggml test-backend-ops / test-grad0 style):
 *  - parity: CPU vs emulated CUDA on the same inputs, guard words around
 *    every buffer, NaN anywhere fails; input gradients start non-zero so
 *    the "backward adds" contract is checked too;
 *  - gradients: on the CPU backend, backward against central finite
 *    differences of L = sum_k w_k out_k (w random), input by input.
 *
 * Tolerances. Forwards run in float, so a difference quotient carries
 * rounding noise of about ulp(L) / eps ~ 1e-7 * |L| / eps plus truncation
 * eps^2 f''' / 6. With eps = 1e-2, L = O(10) and O(1) curvature both are
 * ~1e-5 .. 1e-4, hence |analytic - numeric| <= 5e-4 + 2e-3 |numeric| by
 * default (measured: every op passes at 1e-4 + 5e-4 except two, and a 1%
 * error planted in one backward term fails). Cases that change eps say why.
 * ReLU-like kinks (|x| < 2 eps for ReLU) are whitelisted: a
 * central difference across a kink measures the average of the two slopes. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "src/check.h"
#include "src/nn/nn.h"
#include "src/nn/transformer.h"
#include "tests/test_util.h"

#define MAX_TENSORS 16

typedef struct op_case op_case;
typedef struct {
    mz_backend *be;
    float *in[MAX_TENSORS];
    float *out[MAX_TENSORS];
    float *din[MAX_TENSORS];
    float *dout;
    float *scratch;
    int32_t *ints;
    const op_case *c;
} op_args;

struct op_case {
    const char *name;
    int n_in;      /* inputs; the first n_grad are differentiable */
    int n_grad;
    int64_t in_size[MAX_TENSORS];
    int n_out;     /* out[0] enters the loss; the others are saved state */
    int64_t out_size[MAX_TENSORS];
    int64_t scratch; /* floats */
    int n_ints;
    int32_t ints[16];
    void (*init)(float **in, const op_case *c); /* adjusts random inputs; may be NULL */
    void (*fwd)(op_args *a);
    void (*bwd)(op_args *a); /* NULL: forward-only op */
    double fd_eps, fd_atol, fd_rtol; /* 0: defaults */
    double grad_factor;              /* analytic = factor * numeric (gradient scale op); 0: 1 */
    double kink;                     /* skip inputs with |x| < kink (ReLU) */
};

#define FD_EPS 1e-2
#define FD_ATOL 5e-4
#define FD_RTOL 2e-3

/* ---- op adapters: fixed small dims, odd on purpose ----------------------- */

enum { B = 5, C = 7, OC = 3, C2 = 4, KS = 3 /* two-hot S */, KK = 2 * KS + 1 };
enum { AB = 2, AN = 3, ANH = 2, AH = 6, AF = 8 }; /* attention: samples, agents, heads, width, MLP */
enum { GT = 4, GB = 3, GC = 5, GH = 4 };          /* GRU: steps, batch, input, state */

static void linear_fwd(op_args *a) { mz_linear_forward(a->be, a->out[0], a->in[0], a->in[1], a->in[2], B, C, OC); }
static void linear_bwd(op_args *a) {
    mz_fill(a->be, a->scratch, B, 1.0f);
    mz_linear_backward(a->be, a->din[0], a->din[1], a->din[2], a->dout, a->in[0], a->in[1], a->scratch, B, C, OC);
}
static void linear_nobias_fwd(op_args *a) { mz_linear_forward(a->be, a->out[0], a->in[0], a->in[1], NULL, B, C, OC); }
static void linear_nobias_bwd(op_args *a) {
    mz_linear_backward(a->be, a->din[0], a->din[1], NULL, a->dout, a->in[0], a->in[1], NULL, B, C, OC);
}
static void relu_fwd(op_args *a) { mz_relu_forward(a->be, a->out[0], a->in[0], B * C); }
static void relu_bwd(op_args *a) { mz_relu_backward(a->be, a->din[0], a->dout, a->in[0], B * C); }
static void gelu_fwd(op_args *a) { mz_gelu_forward(a->be, a->out[0], a->in[0], B * C); }
static void gelu_bwd(op_args *a) { mz_gelu_backward(a->be, a->din[0], a->dout, a->in[0], B * C); }
static void residual_fwd(op_args *a) { mz_residual_forward(a->be, a->out[0], a->in[0], a->in[1], B * C); }
static void residual_bwd(op_args *a) { mz_residual_backward(a->be, a->din[0], a->din[1], a->dout, B * C); }
static void grad_scale_fwd(op_args *a) { mz_grad_scale_forward(a->be, a->out[0], a->in[0], B * C); }
static void grad_scale_bwd(op_args *a) { mz_grad_scale_backward(a->be, a->din[0], a->dout, 0.5f, B * C); }
static void concat_fwd(op_args *a) { mz_concat_forward(a->be, a->out[0], a->in[0], a->in[1], B, C, C2); }
static void concat_bwd(op_args *a) { mz_concat_backward(a->be, a->din[0], a->din[1], a->dout, B, C, C2); }
static void one_hot_fwd(op_args *a) { mz_one_hot(a->be, a->out[0], a->ints, B, C); }
/* 5 trees of 3 node slots with rows of 4 (in[0] is [15 x 4]): row b's slot ints[b] */
static void gather_rows_fwd(op_args *a) { mz_gather_rows(a->be, a->out[0], a->in[0], a->ints, B, 4, 1, 3); }
/* row b / 2 of in[0] [3 x 7] for 5 output rows, no index */
static void gather_groups_fwd(op_args *a) { mz_gather_rows(a->be, a->out[0], a->in[0], NULL, B, C, 2, 1); }
/* AB envs of AN agents with 4-float observations: per-agent rows with ids,
 * global states concatenated from the observations, and given as 5 floats */
static void agent_input_ids_fwd(op_args *a) { mz_agent_input(a->be, a->out[0], a->in[0], AB * AN, AN, 4, 1, 0, 0, 0); }
static void agent_input_obs_state_fwd(op_args *a) {
    mz_agent_input(a->be, a->out[0], a->in[0], AB * AN, AN, 4, 0, 1, 1, AN * 4);
}
static void agent_input_state_fwd(op_args *a) {
    mz_agent_input(a->be, a->out[0], a->in[0], AB * AN, AN, 4, 0, 1, 0, 5);
}
static void scatter_rows_fwd(op_args *a) {
    mz_fill(a->be, a->out[0], 3 * B * 4, 0.0f);
    mz_scatter_rows(a->be, a->out[0], a->in[0], a->ints, B, 4, 3);
}
static void positional_fwd(op_args *a) { mz_positional_forward(a->be, a->out[0], a->in[0], AB, AN, AH); }
static void positional_bwd(op_args *a) { mz_positional_backward(a->be, a->din[0], a->dout, AB * AN * AH); }
static void dropout_fwd(op_args *a) { mz_dropout_forward(a->be, a->out[0], a->in[0], B * C, 0.3f, 77, true); }
static void dropout_bwd(op_args *a) { mz_dropout_backward(a->be, a->din[0], a->dout, B * C, 0.3f, 77, true); }
static void dropout_eval_fwd(op_args *a) { mz_dropout_forward(a->be, a->out[0], a->in[0], B * C, 0.3f, 77, false); }
static void dropout_eval_bwd(op_args *a) {
    mz_dropout_backward(a->be, a->din[0], a->dout, B * C, 0.3f, 77, false);
}
static void layernorm_fwd(op_args *a) {
    mz_layernorm_forward(a->be, a->out[0], a->out[1], a->out[2], a->in[0], a->in[1], a->in[2], B, C);
}
static void layernorm_bwd(op_args *a) {
    mz_layernorm_backward(a->be, a->din[0], a->din[1], a->din[2], a->dout, a->in[0], a->in[1], a->out[1], a->out[2],
                          B, C);
}
static void minmax_fwd(op_args *a) { mz_minmax_forward(a->be, a->out[0], a->in[0], B, C); }
static void minmax_bwd(op_args *a) { mz_minmax_backward(a->be, a->din[0], a->dout, a->in[0], B, C); }
static void softmax_fwd(op_args *a) { mz_softmax_forward(a->be, a->out[0], a->in[0], B, C); }
static void softmax_bwd(op_args *a) { mz_softmax_backward(a->be, a->din[0], a->dout, a->out[0], B, C); }
static void xent_fwd(op_args *a) { mz_cross_entropy_forward(a->be, a->out[0], a->in[0], a->in[1], B, C); }
static void xent_bwd(op_args *a) { mz_cross_entropy_backward(a->be, a->din[0], a->dout, a->in[0], a->in[1], B, C); }
static void mse_fwd(op_args *a) { mz_mse_forward(a->be, a->out[0], a->in[0], a->in[1], B, C); }
static void mse_bwd(op_args *a) { mz_mse_backward(a->be, a->din[0], a->dout, a->in[0], a->in[1], B, C); }
static void cosine_fwd(op_args *a) { mz_neg_cosine_forward(a->be, a->out[0], a->in[0], a->in[1], B, C); }
static void cosine_bwd(op_args *a) { mz_neg_cosine_backward(a->be, a->din[0], a->dout, a->in[0], a->in[1], B, C); }
static void masked_mean_fwd(op_args *a) {
    float count = 0.0f;
    float mean = mz_masked_mean_forward(a->be, a->scratch, a->in[0], a->in[1], B, &count);
    a->be->copy_h2d(a->be, a->out[0], &mean, sizeof mean);
    a->be->copy_h2d(a->be, a->out[1], &count, sizeof count);
}
static void masked_mean_bwd(op_args *a) {
    float dmean = 0.0f, count = 0.0f;
    a->be->copy_d2h(a->be, &dmean, a->dout, sizeof dmean);
    a->be->copy_d2h(a->be, &count, a->out[1], sizeof count);
    mz_masked_mean_backward(a->be, a->din[0], a->in[1], dmean, count, B);
}
static void h_fwd(op_args *a) { mz_h_forward(a->be, a->out[0], a->in[0], B * C, MZ_H_EPS); }
static void h_bwd(op_args *a) { mz_h_backward(a->be, a->din[0], a->dout, a->in[0], B * C, MZ_H_EPS); }
static void h_inverse_fwd(op_args *a) { mz_h_inverse(a->be, a->out[0], a->in[0], B * C, MZ_H_EPS); }
static void two_hot_fwd(op_args *a) { mz_two_hot(a->be, a->out[0], a->in[0], B, KS); }
static void expectation_fwd(op_args *a) { mz_expectation_forward(a->be, a->out[0], a->in[0], B, KS); }
static void expectation_bwd(op_args *a) { mz_expectation_backward(a->be, a->din[0], a->dout, B, KS); }
static void attention_fwd(op_args *a) {
    mz_attention_forward(a->be, a->out[0], a->out[1], a->in[0], a->c->n_in > 1 ? a->in[1] : NULL, AB, AN, ANH, AH);
}
static void attention_bwd(op_args *a) {
    mz_attention_backward(a->be, a->din[0], a->scratch, a->dout, a->out[1], a->in[0], AB, AN, ANH, AH);
}

/* the block: inputs are x then its 12 tensors in mz_block_specs order */
static void block_setup(op_args *a, mz_block_acts *acts, mz_block_weights *w, mz_block_weights *g) {
    mz_arena arena = {a->be, a->scratch, a->c->scratch, 0};
    float *ones = mz_arena_take(&arena, AB * AN, "ones");
    mz_fill(a->be, ones, AB * AN, 1.0f);
    mz_block_acts_take(acts, &arena, AB * AN, AN, ANH, AH, AF, 0.1f, ones);
    *w = (mz_block_weights){a->in[1], a->in[2], a->in[3], a->in[4], a->in[5], a->in[6],
                            a->in[7], a->in[8], a->in[9], a->in[10], a->in[11], a->in[12]};
    *g = (mz_block_weights){a->din[1], a->din[2], a->din[3], a->din[4],  a->din[5],  a->din[6],
                            a->din[7], a->din[8], a->din[9], a->din[10], a->din[11], a->din[12]};
}
static void block_fwd(op_args *a) {
    mz_block_acts acts;
    mz_block_weights w, g;
    block_setup(a, &acts, &w, &g);
    mz_block_forward(a->be, &acts, &w, a->in[0], NULL, AB, true, 5);
    a->be->copy_d2d(a->be, a->out[0], acts.out, sizeof(float) * AB * AN * AH);
}
static void block_bwd(op_args *a) {
    mz_block_acts acts;
    mz_block_weights w, g;
    block_setup(a, &acts, &w, &g);
    acts.seed = 5, acts.train = true;
    mz_block_backward(a->be, &acts, &w, &g, a->din[0], a->dout, a->in[0], AB);
}

/* ---- input shaping --------------------------------------------------------- */

static void init_distribution_target(float **in, const op_case *c) {
    (void)c;
    for (int r = 0; r < B; r++) {
        float s = 0.0f;
        for (int k = 0; k < C; k++) s += (in[1][r * C + k] = fabsf(in[1][r * C + k]) + 0.05f);
        for (int k = 0; k < C; k++) in[1][r * C + k] /= s;
    }
}
static void init_mask(float **in, const op_case *c) {
    int64_t n = c->in_size[1];
    for (int64_t i = 0; i < n; i++) in[1][i] = (i % 3 == 1) ? 0.0f : 1.0f;
}
static void init_attention_mask(float **in, const op_case *c) {
    (void)c;
    /* sample 0: agent 2 absent; sample 1: all present */
    for (int i = 0; i < AB * AN; i++) in[1][i] = i == 2 ? 0.0f : 1.0f;
}
static void init_minmax(float **in, const op_case *c) {
    /* distinct values per row, spread so a 1e-2 step never changes the arg-min/max */
    for (int64_t i = 0; i < c->in_size[0]; i++) in[0][i] = (float)((i * 37) % 41) * 0.1f + 0.01f * in[0][i];
}
static void init_h(float **in, const op_case *c) {
    for (int64_t i = 0; i < c->in_size[0]; i++) in[0][i] *= (i % 2) ? 30.0f : 2.0f;
}
static void init_two_hot(float **in, const op_case *c) {
    for (int64_t i = 0; i < c->in_size[0]; i++) in[0][i] *= 2.5f; /* some land outside [-S, S] */
}
static void init_block(float **in, const op_case *c) {
    (void)c;
    for (int i = 0; i < AH; i++) in[1][i] = 1.0f + 0.2f * in[1][i]; /* LayerNorm weights near 1 */
    for (int i = 0; i < AH; i++) in[7][i] = 1.0f + 0.2f * in[7][i];
    for (int k = 3; k <= 12; k++)
        if (k != 7 && k != 8)
            for (int64_t i = 0; i < c->in_size[k]; i++) in[k][i] *= 0.4f;
}

/* GRU: inputs x, h0, w_ih, b_ih, w_hh, b_hn (differentiable) and keep;
 * outputs hs, gates, hprev; scratch gh | dgates | dhp | ones */
static void gru_fwd(op_args *a) {
    mz_gru_forward(a->be, a->out[0], a->out[1], a->out[2], a->scratch, a->in[0], a->in[1], a->in[6], a->in[2],
                   a->in[3], a->in[4], a->in[5], GT, GB, GC, GH);
}
static void gru_bwd(op_args *a) {
    float *dgates = a->scratch + GB * 3 * GH, *dhp = dgates + GT * GB * 4 * GH, *ones = dhp + 2 * GB * GH;
    mz_fill(a->be, ones, GT * GB, 1.0f);
    mz_gru_backward(a->be, a->din[0], a->din[1], a->din[2], a->din[3], a->din[4], a->din[5], dgates, dhp, a->dout,
                    a->out[1], a->out[2], a->in[0], a->in[6], a->in[2], a->in[4], ones, GT, GB, GC, GH);
}
static void init_gru(float **in, const op_case *c) {
    for (int k = 2; k <= 5; k++)
        for (int64_t i = 0; i < c->in_size[k]; i++) in[k][i] *= 0.5f;
    /* resets at step 0 (row 1, so h0 row 1 gets no gradient) and mid-sequence */
    static const float keep[GT * GB] = {1, 0, 1, 1, 1, 0, 0, 1, 1, 1, 1, 1};
    memcpy(in[6], keep, sizeof keep);
}

#define SIZES(...) {__VA_ARGS__}

static const op_case CASES[] = {
    {"linear", 3, 3, SIZES(B * C, OC * C, OC), 1, SIZES(B * OC), B, 0, {0}, NULL, linear_fwd, linear_bwd, 0, 0, 0, 0, 0},
    {"linear_no_bias", 2, 2, SIZES(B * C, OC * C), 1, SIZES(B * OC), 0, 0, {0}, NULL, linear_nobias_fwd,
     linear_nobias_bwd, 0, 0, 0, 0, 0},
    {"relu", 1, 1, SIZES(B * C), 1, SIZES(B * C), 0, 0, {0}, NULL, relu_fwd, relu_bwd, 0, 0, 0, 0, 2 * FD_EPS},
    {"gelu", 1, 1, SIZES(B * C), 1, SIZES(B * C), 0, 0, {0}, NULL, gelu_fwd, gelu_bwd, 0, 0, 0, 0, 0},
    {"residual", 2, 2, SIZES(B * C, B * C), 1, SIZES(B * C), 0, 0, {0}, NULL, residual_fwd, residual_bwd, 0, 0, 0, 0,
     0},
    {"grad_scale", 1, 1, SIZES(B * C), 1, SIZES(B * C), 0, 0, {0}, NULL, grad_scale_fwd, grad_scale_bwd, 0, 0, 0, 0.5,
     0},
    {"concat", 2, 2, SIZES(B * C, B * C2), 1, SIZES(B *(C + C2)), 0, 0, {0}, NULL, concat_fwd, concat_bwd, 0, 0, 0, 0,
     0},
    {"one_hot", 0, 0, SIZES(0), 1, SIZES(B * C), 0, B, {3, 0, 6, -1, 7}, NULL, one_hot_fwd, NULL, 0, 0, 0, 0, 0},
    {"gather_rows", 1, 0, SIZES(3 * B * 4), 1, SIZES(B * 4), 0, B, {2, 0, 1, 2, 0}, NULL, gather_rows_fwd, NULL, 0, 0,
     0, 0, 0},
    {"agent_input_ids", 1, 0, SIZES(AB * AN * 4), 1, SIZES(AB * AN * (4 + AN)), 0, 0, {0}, NULL, agent_input_ids_fwd,
     NULL, 0, 0, 0, 0, 0},
    {"agent_input_obs_state", 1, 0, SIZES(AB * AN * 4), 1, SIZES(AB * AN * AN * 4), 0, 0, {0}, NULL,
     agent_input_obs_state_fwd, NULL, 0, 0, 0, 0, 0},
    {"agent_input_state", 1, 0, SIZES(AB * 5), 1, SIZES(AB * AN * 5), 0, 0, {0}, NULL, agent_input_state_fwd, NULL, 0, 0,
     0, 0, 0},
    {"gather_groups", 1, 0, SIZES(3 * C), 1, SIZES(B * C), 0, 0, {0}, NULL, gather_groups_fwd, NULL, 0, 0, 0, 0, 0},
    {"scatter_rows", 1, 0, SIZES(B * 4), 1, SIZES(3 * B * 4), 0, B, {1, 2, 0, 0, 2}, NULL, scatter_rows_fwd, NULL, 0, 0,
     0, 0, 0},
    {"positional", 1, 1, SIZES(AB * AN * AH), 1, SIZES(AB * AN * AH), 0, 0, {0}, NULL, positional_fwd, positional_bwd, 0,
     0, 0, 0, 0},
    {"dropout_train", 1, 1, SIZES(B * C), 1, SIZES(B * C), 0, 0, {0}, NULL, dropout_fwd, dropout_bwd, 0, 0, 0, 0, 0},
    {"dropout_eval", 1, 1, SIZES(B * C), 1, SIZES(B * C), 0, 0, {0}, NULL, dropout_eval_fwd, dropout_eval_bwd, 0, 0, 0,
     0, 0},
    /* LayerNorm over 7 features: third derivatives grow like rstd^3, so a
     * smaller step keeps truncation below the tolerance */
    {"layernorm", 3, 3, SIZES(B * C, C, C), 3, SIZES(B * C, B, B), 0, 0, {0}, NULL, layernorm_fwd, layernorm_bwd, 5e-3,
     0, 0, 0, 0},
    {"minmax", 1, 1, SIZES(B * C), 1, SIZES(B * C), 0, 0, {0}, init_minmax, minmax_fwd, minmax_bwd, 0, 0, 0, 0, 0},
    {"softmax", 1, 1, SIZES(B * C), 1, SIZES(B * C), 0, 0, {0}, NULL, softmax_fwd, softmax_bwd, 0, 0, 0, 0, 0},
    {"cross_entropy", 2, 1, SIZES(B * C, B * C), 1, SIZES(B), 0, 0, {0}, init_distribution_target, xent_fwd, xent_bwd,
     0, 0, 0, 0, 0},
    {"mse", 2, 1, SIZES(B * C, B * C), 1, SIZES(B), 0, 0, {0}, NULL, mse_fwd, mse_bwd, 0, 0, 0, 0, 0},
    {"neg_cosine", 2, 1, SIZES(B * C, B * C), 1, SIZES(B), 0, 0, {0}, NULL, cosine_fwd, cosine_bwd, 0, 0, 0, 0, 0},
    {"masked_mean", 2, 1, SIZES(B, B), 2, SIZES(1, 1), B, 0, {0}, init_mask, masked_mean_fwd, masked_mean_bwd, 0, 0, 0,
     0, 0},
    /* h has curvature ~ (|x|+1)^-1.5 / 4: tiny; the inputs reach |x| ~ 60 so
     * L is larger and float noise dominates: eps 5e-2 */
    {"h_transform", 1, 1, SIZES(B * C), 1, SIZES(B * C), 0, 0, {0}, init_h, h_fwd, h_bwd, 5e-2, 0, 0, 0, 0},
    {"h_inverse", 1, 0, SIZES(B * C), 1, SIZES(B * C), 0, 0, {0}, init_h, h_inverse_fwd, NULL, 0, 0, 0, 0, 0},
    {"two_hot", 1, 0, SIZES(B), 1, SIZES(B * KK), 0, 0, {0}, init_two_hot, two_hot_fwd, NULL, 0, 0, 0, 0, 0},
    {"expectation", 1, 1, SIZES(B * KK), 1, SIZES(B), 0, 0, {0}, NULL, expectation_fwd, expectation_bwd, 0, 0, 0, 0,
     0},
    {"attention", 1, 1, SIZES(AB * AN * 3 * AH), 2, SIZES(AB * AN * AH, AB * ANH * AN * AN), AB * ANH * AN * AN, 0, {0},
     NULL, attention_fwd, attention_bwd, 0, 0, 0, 0, 0},
    {"attention_masked", 2, 1, SIZES(AB * AN * 3 * AH, AB * AN), 2, SIZES(AB * AN * AH, AB * ANH * AN * AN),
     AB * ANH * AN * AN, 0, {0}, init_attention_mask, attention_fwd, attention_bwd, 0, 0, 0, 0, 0},
    {"gru", 7, 6, SIZES(GT * GB * GC, GB * GH, 3 * GH * GC, 3 * GH, 3 * GH * GH, GH, GT * GB), 3,
     SIZES(GT * GB * GH, GT * GB * 4 * GH, GT * GB * GH), GB * 3 * GH + GT * GB * 4 * GH + 2 * GB * GH + GT * GB, 0,
     {0}, init_gru, gru_fwd, gru_bwd, 0, 0, 0, 0, 0},
    /* the whole block, dropout 0.1 in training mode (mask fixed by seed) */
    {"transformer_block", 13, 13,
     SIZES(AB * AN * AH, AH, AH, 3 * AH * AH, 3 * AH, AH * AH, AH, AH, AH, AF * AH, AF, AH * AF, AH), 1,
     SIZES(AB * AN * AH), 4096, 0, {0}, init_block, block_fwd, block_bwd, 0, 0, 0, 0, 0},
};
#define N_CASES ((int)(sizeof CASES / sizeof CASES[0]))

/* ---- harness ------------------------------------------------------------------ */

typedef struct {
    guarded in[MAX_TENSORS], out[MAX_TENSORS], din[MAX_TENSORS], dout, scratch, ints;
    op_args args;
} device_run;

static guarded upload(mz_backend *be, const void *host, size_t bytes) {
    guarded g = guarded_new(be, bytes);
    if (bytes) be->copy_h2d(be, g.data, host, bytes);
    return g;
}

static void host_inputs(const op_case *c, float **in, uint64_t seed) {
    for (int i = 0; i < c->n_in; i++) {
        in[i] = (float *)mz_malloc((size_t)c->in_size[i] * sizeof(float));
        fill_normal(in[i], c->in_size[i], seed + (uint64_t)i);
    }
    if (c->init) c->init(in, c);
}

static void device_setup(device_run *d, mz_backend *be, const op_case *c, float **in_host, const float *dout_host,
                         float **din_host) {
    memset(d, 0, sizeof *d);
    for (int i = 0; i < c->n_in; i++) {
        d->in[i] = upload(be, in_host[i], (size_t)c->in_size[i] * sizeof(float));
        d->args.in[i] = (float *)d->in[i].data;
    }
    for (int i = 0; i < c->n_grad; i++) {
        d->din[i] = upload(be, din_host[i], (size_t)c->in_size[i] * sizeof(float));
        d->args.din[i] = (float *)d->din[i].data;
    }
    for (int i = 0; i < c->n_out; i++) {
        d->out[i] = guarded_new(be, (size_t)c->out_size[i] * sizeof(float));
        d->args.out[i] = (float *)d->out[i].data;
    }
    d->dout = upload(be, dout_host, (size_t)c->out_size[0] * sizeof(float));
    d->scratch = guarded_new(be, (size_t)c->scratch * sizeof(float));
    d->ints = upload(be, c->ints, (size_t)c->n_ints * sizeof(int32_t));
    d->args.be = be;
    d->args.dout = (float *)d->dout.data;
    d->args.scratch = (float *)d->scratch.data;
    d->args.ints = (int32_t *)d->ints.data;
    d->args.c = c;
}

static void device_free(device_run *d, const op_case *c) {
    for (int i = 0; i < c->n_in; i++) guarded_free(&d->in[i]);
    for (int i = 0; i < c->n_grad; i++) guarded_free(&d->din[i]);
    for (int i = 0; i < c->n_out; i++) guarded_free(&d->out[i]);
    guarded_free(&d->dout), guarded_free(&d->scratch), guarded_free(&d->ints);
}

static void fetch_checked(const guarded *g, float *host, const char *what, const char *op) {
    g->be->copy_d2h(g->be, host, g->data, g->bytes);
    if (!guarded_intact(g)) fail_msg("%s on %s wrote outside %s", op, g->be->name, what);
    for (size_t i = 0; i < g->bytes / sizeof(float); i++)
        if (isnan(host[i])) fail_msg("%s on %s: NaN in %s at %zu", op, g->be->name, what, i);
}

/* Runs forward then backward on be; fills out_host[i], din_host[i]. */
static void run_on(mz_backend *be, const op_case *c, float **in_host, const float *dout_host, float **din_start,
                   float **out_host, float **din_host) {
    device_run d;
    device_setup(&d, be, c, in_host, dout_host, din_start);
    c->fwd(&d.args);
    if (c->bwd) c->bwd(&d.args);
    for (int i = 0; i < c->n_out; i++) fetch_checked(&d.out[i], out_host[i], "an output", c->name);
    for (int i = 0; i < c->n_grad; i++) fetch_checked(&d.din[i], din_host[i], "an input gradient", c->name);
    if (!guarded_intact(&d.scratch)) fail_msg("%s on %s wrote outside its scratch", c->name, be->name);
    device_free(&d, c);
}

static float **alloc_set(int n, const int64_t *sizes) {
    float **set = (float **)mz_calloc(MAX_TENSORS, sizeof(float *));
    for (int i = 0; i < n; i++) set[i] = (float *)mz_calloc((size_t)sizes[i] + 1, sizeof(float));
    return set;
}
static void free_set(float **set, int n) {
    for (int i = 0; i < n; i++) free(set[i]);
    free(set);
}

static void check_parity(const op_case *c) {
    float **in = (float **)mz_calloc(MAX_TENSORS, sizeof(float *));
    host_inputs(c, in, 100);
    float *dout = (float *)mz_malloc((size_t)c->out_size[0] * sizeof(float));
    fill_normal(dout, c->out_size[0], 200);
    float **din_start = alloc_set(c->n_grad, c->in_size);
    for (int i = 0; i < c->n_grad; i++) fill_normal(din_start[i], c->in_size[i], 300 + (uint64_t)i);
    float **out_cpu = alloc_set(c->n_out, c->out_size), **out_emu = alloc_set(c->n_out, c->out_size);
    float **din_cpu = alloc_set(c->n_grad, c->in_size), **din_emu = alloc_set(c->n_grad, c->in_size);
    run_on(test_cpu_backend(), c, in, dout, din_start, out_cpu, din_cpu);
    run_on(test_emu_backend(), c, in, dout, din_start, out_emu, din_emu);
    char what[96];
    for (int i = 0; i < c->n_out; i++) {
        snprintf(what, sizeof what, "%s output %d cpu vs cuda-emu", c->name, i);
        assert_close(out_cpu[i], out_emu[i], c->out_size[i], 1e-5, 1e-5, what);
    }
    for (int i = 0; i < c->n_grad; i++) {
        snprintf(what, sizeof what, "%s input gradient %d cpu vs cuda-emu", c->name, i);
        assert_close(din_cpu[i], din_emu[i], c->in_size[i], 1e-5, 1e-5, what);
    }
    free_set(in, c->n_in), free(dout), free_set(din_start, c->n_grad);
    free_set(out_cpu, c->n_out), free_set(out_emu, c->n_out), free_set(din_cpu, c->n_grad), free_set(din_emu, c->n_grad);
}

static void test_parity_case(void **state) { check_parity((const op_case *)*state); }

/* L = sum_k w_k out0_k in double, forward on the CPU backend */
static double loss_at(const op_case *c, device_run *d, const float *w, float *out_host) {
    c->fwd(&d->args);
    d->args.be->copy_d2h(d->args.be, out_host, d->args.out[0], (size_t)c->out_size[0] * sizeof(float));
    double L = 0.0;
    for (int64_t k = 0; k < c->out_size[0]; k++) L += (double)w[k] * out_host[k];
    return L;
}

static void check_gradients(const op_case *c) {
    mz_backend *be = test_cpu_backend();
    double eps = c->fd_eps > 0 ? c->fd_eps : FD_EPS, atol = c->fd_atol > 0 ? c->fd_atol : FD_ATOL;
    double rtol = c->fd_rtol > 0 ? c->fd_rtol : FD_RTOL, factor = c->grad_factor > 0 ? c->grad_factor : 1.0;
    float **in = (float **)mz_calloc(MAX_TENSORS, sizeof(float *));
    host_inputs(c, in, 400);
    float *w = (float *)mz_malloc((size_t)c->out_size[0] * sizeof(float));
    float *out_host = (float *)mz_malloc((size_t)c->out_size[0] * sizeof(float));
    fill_normal(w, c->out_size[0], 500);
    float **zeros = alloc_set(c->n_grad, c->in_size), **analytic = alloc_set(c->n_grad, c->in_size);
    float **unused = alloc_set(c->n_out, c->out_size);
    run_on(be, c, in, w, zeros, unused, analytic);
    device_run d;
    device_setup(&d, be, c, in, w, zeros);
    int checked = 0;
    for (int t = 0; t < c->n_grad; t++) {
        for (int64_t j = 0; j < c->in_size[t]; j++) {
            float x0 = in[t][j];
            if (c->kink > 0 && fabsf(x0) < c->kink) continue;
            float xp = (float)(x0 + eps), xm = (float)(x0 - eps);
            be->copy_h2d(be, d.args.in[t] + j, &xp, sizeof xp);
            double Lp = loss_at(c, &d, w, out_host);
            be->copy_h2d(be, d.args.in[t] + j, &xm, sizeof xm);
            double Lm = loss_at(c, &d, w, out_host);
            be->copy_h2d(be, d.args.in[t] + j, &x0, sizeof x0);
            double numeric = factor * (Lp - Lm) / ((double)xp - (double)xm);
            double got = analytic[t][j];
            if (!(fabs(got - numeric) <= atol + rtol * fabs(numeric)))
                fail_msg("%s: d/d input %d [%lld]: backward %.7g, finite difference %.7g (eps %g, atol %g, rtol %g)",
                         c->name, t, (long long)j, got, numeric, eps, atol, rtol);
            checked++;
        }
    }
    if (c->n_grad > 0 && checked == 0) fail_msg("%s: no gradient element was checked", c->name);
    device_free(&d, c);
    free_set(in, c->n_in), free(w), free(out_host);
    free_set(zeros, c->n_grad), free_set(analytic, c->n_grad), free_set(unused, c->n_out);
}

static void test_gradient_case(void **state) { check_gradients((const op_case *)*state); }

/* one cmocka test per op and check, named "parity <op>" / "gradient <op>" */
static int run_group(void) {
    struct CMUnitTest tests[2 * N_CASES];
    static char names[2 * N_CASES][64];
    int n = 0;
    for (int k = 0; k < N_CASES; k++) {
        snprintf(names[n], sizeof names[n], "parity %s", CASES[k].name);
        tests[n++] = (struct CMUnitTest){names[n - 1], test_parity_case, NULL, NULL, (void *)&CASES[k]};
        if (!CASES[k].bwd || CASES[k].n_grad == 0) continue;
        snprintf(names[n], sizeof names[n], "gradient %s", CASES[k].name);
        tests[n++] = (struct CMUnitTest){names[n - 1], test_gradient_case, NULL, NULL, (void *)&CASES[k]};
    }
    return mz_test_run_group("nn_ops", tests, (size_t)n);
}

MZ_TEST_GROUP("nn_ops", run_group)
