#include "src/nn/transformer.h"

#include <stdio.h>
#include <string.h>

#include "src/check.h"
#include "src/nn/nn.h"

void mz_block_specs(mz_tensor_spec *out, const char *prefix, int H, int F) {
    const struct {
        const char *name;
        int ndim;
        int64_t d0, d1;
    } t[MZ_BLOCK_TENSORS] = {
        {"ln1.weight", 1, H, 0},      {"ln1.bias", 1, H, 0},   {"qkv.weight", 2, 3 * H, H},
        {"qkv.bias", 1, 3 * H, 0},    {"proj.weight", 2, H, H}, {"proj.bias", 1, H, 0},
        {"ln2.weight", 1, H, 0},      {"ln2.bias", 1, H, 0},   {"fc1.weight", 2, F, H},
        {"fc1.bias", 1, F, 0},        {"fc2.weight", 2, H, F}, {"fc2.bias", 1, H, 0},
    };
    for (int i = 0; i < MZ_BLOCK_TENSORS; i++) {
        memset(&out[i], 0, sizeof out[i]);
        int len = snprintf(out[i].name, sizeof out[i].name, "%s%s", prefix, t[i].name);
        MZ_CHECK(len > 0 && len < (int)sizeof out[i].name, "transformer: tensor name prefix '%s' too long", prefix);
        out[i].ndim = t[i].ndim;
        out[i].shape[0] = t[i].d0;
        out[i].shape[1] = t[i].d1;
    }
}

void mz_block_bind(mz_block_weights *w, const mz_params *p, float *block, int first) {
    float **field[MZ_BLOCK_TENSORS] = {&w->ln1_weight, &w->ln1_bias,   &w->qkv_weight, &w->qkv_bias,
                                       &w->proj_weight, &w->proj_bias, &w->ln2_weight, &w->ln2_bias,
                                       &w->fc1_weight, &w->fc1_bias,   &w->fc2_weight, &w->fc2_bias};
    for (int i = 0; i < MZ_BLOCK_TENSORS; i++) *field[i] = mz_params_at(p, block, first + i);
}

void mz_block_init(mz_backend *be, const mz_block_weights *w, int H, int F, uint64_t seed) {
    mz_fill(be, w->ln1_weight, H, 1.0f);
    mz_fill(be, w->ln2_weight, H, 1.0f);
    mz_init_weights(be, w->qkv_weight, (int64_t)3 * H * H, H, 3 * H, MZ_INIT_XAVIER, seed, 1);
    mz_init_weights(be, w->proj_weight, (int64_t)H * H, H, H, MZ_INIT_XAVIER, seed, 2);
    mz_init_weights(be, w->fc1_weight, (int64_t)F * H, H, F, MZ_INIT_XAVIER, seed, 3);
    mz_init_weights(be, w->fc2_weight, (int64_t)H * F, F, H, MZ_INIT_XAVIER, seed, 4);
    float *zeros[] = {w->ln1_bias, w->qkv_bias, w->proj_bias, w->ln2_bias, w->fc1_bias, w->fc2_bias};
    int64_t sizes[] = {H, 3 * H, H, H, F, H};
    for (int i = 0; i < 6; i++) be->zero(be, zeros[i], (size_t)sizes[i] * sizeof(float));
}

void mz_block_acts_take(mz_block_acts *a, mz_arena *arena, int max_rows, int N, int NH, int H, int F, float dropout,
                        const float *ones) {
    MZ_CHECK(max_rows % N == 0, "transformer: %d rows is not a whole number of %d-agent samples", max_rows, N);
    memset(a, 0, sizeof *a);
    a->max_rows = max_rows, a->N = N, a->NH = NH, a->H = H, a->F = F, a->dropout = dropout, a->ones = ones;
    int64_t R = max_rows, att = (int64_t)(max_rows / N) * NH * N * N;
    a->ln1 = mz_arena_take(arena, R * H, "block ln1");
    a->ln1_mean = mz_arena_take(arena, R, "block ln1 mean");
    a->ln1_rstd = mz_arena_take(arena, R, "block ln1 rstd");
    a->qkv = mz_arena_take(arena, R * 3 * H, "block qkv");
    a->probs = mz_arena_take(arena, att, "block attention probs");
    a->att = mz_arena_take(arena, R * H, "block attention out");
    a->proj = mz_arena_take(arena, R * H, "block proj");
    a->res = mz_arena_take(arena, R * H, "block residual");
    a->ln2 = mz_arena_take(arena, R * H, "block ln2");
    a->ln2_mean = mz_arena_take(arena, R, "block ln2 mean");
    a->ln2_rstd = mz_arena_take(arena, R, "block ln2 rstd");
    a->fc1 = mz_arena_take(arena, R * F, "block fc1");
    a->gelu = mz_arena_take(arena, R * F, "block gelu");
    a->fc2 = mz_arena_take(arena, R * H, "block fc2");
    a->branch = mz_arena_take(arena, R * H, "block dropout branch");
    a->out = mz_arena_take(arena, R * H, "block out");
    a->d_res = mz_arena_take(arena, R * H, "block d_res");
    a->d_h1 = mz_arena_take(arena, R * H, "block d_h1");
    a->d_h2 = mz_arena_take(arena, R * H, "block d_h2");
    a->d_f1 = mz_arena_take(arena, R * F, "block d_f1");
    a->d_f2 = mz_arena_take(arena, R * F, "block d_f2");
    a->d_qkv = mz_arena_take(arena, R * 3 * H, "block d_qkv");
    a->d_score = mz_arena_take(arena, att, "block d_score");
}

void mz_block_forward(mz_backend *be, mz_block_acts *a, const mz_block_weights *w, const float *inp,
                      const float *key_mask, int B, bool train, uint64_t seed) {
    int R = B * a->N, H = a->H, F = a->F;
    MZ_CHECK(R <= a->max_rows, "transformer: batch of %d rows, arena sized for %d", R, a->max_rows);
    a->seed = seed, a->train = train;
    mz_layernorm_forward(be, a->ln1, a->ln1_mean, a->ln1_rstd, inp, w->ln1_weight, w->ln1_bias, R, H);
    mz_linear_forward(be, a->qkv, a->ln1, w->qkv_weight, w->qkv_bias, R, H, 3 * H);
    mz_attention_forward(be, a->att, a->probs, a->qkv, key_mask, B, a->N, a->NH, H);
    mz_linear_forward(be, a->proj, a->att, w->proj_weight, w->proj_bias, R, H, H);
    mz_dropout_forward(be, a->branch, a->proj, (int64_t)R * H, a->dropout, 2 * seed, train);
    mz_residual_forward(be, a->res, inp, a->branch, (int64_t)R * H);
    mz_layernorm_forward(be, a->ln2, a->ln2_mean, a->ln2_rstd, a->res, w->ln2_weight, w->ln2_bias, R, H);
    mz_linear_forward(be, a->fc1, a->ln2, w->fc1_weight, w->fc1_bias, R, H, F);
    mz_gelu_forward(be, a->gelu, a->fc1, (int64_t)R * F);
    mz_linear_forward(be, a->fc2, a->gelu, w->fc2_weight, w->fc2_bias, R, F, H);
    mz_dropout_forward(be, a->branch, a->fc2, (int64_t)R * H, a->dropout, 2 * seed + 1, train);
    mz_residual_forward(be, a->out, a->res, a->branch, (int64_t)R * H);
}

void mz_block_backward(mz_backend *be, mz_block_acts *a, const mz_block_weights *w, const mz_block_weights *g,
                       float *dinp, const float *dout, const float *inp, int B) {
    int R = B * a->N, H = a->H, F = a->F;
    size_t rh = (size_t)R * H * sizeof(float), rf = (size_t)R * F * sizeof(float);
    /* MLP branch: out = res + dropout(fc2(gelu(fc1(ln2(res))))) */
    be->zero(be, a->d_res, rh);
    be->zero(be, a->d_h1, rh);
    be->zero(be, a->d_h2, rh);
    be->zero(be, a->d_f1, rf);
    be->zero(be, a->d_f2, rf);
    mz_residual_backward(be, a->d_res, a->d_h1, dout, (int64_t)R * H); /* d_h1: d(dropout out) */
    mz_dropout_backward(be, a->d_h2, a->d_h1, (int64_t)R * H, a->dropout, 2 * a->seed + 1, a->train);
    mz_linear_backward(be, a->d_f2, g->fc2_weight, g->fc2_bias, a->d_h2, a->gelu, w->fc2_weight, a->ones, R, F, H);
    mz_gelu_backward(be, a->d_f1, a->d_f2, a->fc1, (int64_t)R * F);
    be->zero(be, a->d_h1, rh);
    mz_linear_backward(be, a->d_h1, g->fc1_weight, g->fc1_bias, a->d_f1, a->ln2, w->fc1_weight, a->ones, R, H, F);
    mz_layernorm_backward(be, a->d_res, g->ln2_weight, g->ln2_bias, a->d_h1, a->res, w->ln2_weight, a->ln2_mean,
                          a->ln2_rstd, R, H);
    /* attention branch: res = inp + dropout(proj(attention(qkv(ln1(inp))))) */
    be->zero(be, a->d_h1, rh);
    be->zero(be, a->d_h2, rh);
    be->zero(be, a->d_qkv, (size_t)R * 3 * H * sizeof(float));
    mz_residual_backward(be, dinp, NULL, a->d_res, (int64_t)R * H);
    mz_dropout_backward(be, a->d_h1, a->d_res, (int64_t)R * H, a->dropout, 2 * a->seed, a->train);
    mz_linear_backward(be, a->d_h2, g->proj_weight, g->proj_bias, a->d_h1, a->att, w->proj_weight, a->ones, R, H, H);
    mz_attention_backward(be, a->d_qkv, a->d_score, a->d_h2, a->probs, a->qkv, B, a->N, a->NH, H);
    be->zero(be, a->d_h1, rh);
    mz_linear_backward(be, a->d_h1, g->qkv_weight, g->qkv_bias, a->d_qkv, a->ln1, w->qkv_weight, a->ones, R, H,
                       3 * H);
    mz_layernorm_backward(be, dinp, g->ln1_weight, g->ln1_bias, a->d_h1, inp, w->ln1_weight, a->ln1_mean,
                          a->ln1_rstd, R, H);
}
