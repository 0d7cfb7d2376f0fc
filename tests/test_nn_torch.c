/* The NN core against PyTorch: the network of tests/fixtures/gen_nn_reference.py
 * (MLP with LayerNorm, agent encoding, a transformer block over N=3 agents
 * with a key mask, min-max hidden state, categorical value head on two-hot
 * h-transformed targets, policy head) rebuilt from src/nn ops, with the
 * fixture's weights and inputs: head logits, losses, every parameter
 * gradient, then 10 AdamW steps with clipping and warmup-cosine (and a loss
 * scale of 4, which PyTorch does not use: unscaling must cancel it).
 *
 * Tolerance: each element within 1e-5 relative of the reference, where
 * "relative" is to the larger of |reference| and the tensor's largest
 * |reference| (float sums in a different order differ by a few ulp of the
 * tensor's scale, not of an element that happens to be near zero). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "src/check.h"
#include "src/nn/nn.h"
#include "src/nn/optim.h"
#include "src/nn/params.h"
#include "src/nn/transformer.h"
#include "src/safetensors.h"
#include "tests/test_util.h"

#define FIXTURE "tests/fixtures/nn_reference.safetensors"
#define RTOL 1e-5

enum { B = 4, N = 3, I = 5, H = 8, NH = 2, F = 16, S = 5, K = 2 * S + 1, A = 4, R = B * N, STEPS = 10 };

/* the model's tensors, in the generator's order */
typedef struct {
    float *enc_weight;    /* [H x I] */
    float *enc_bias;      /* [H] */
    float *enc_ln_weight; /* [H] */
    float *enc_ln_bias;   /* [H] */
    mz_block_weights block;
    float *value_weight;  /* [K x H] */
    float *value_bias;    /* [K] */
    float *policy_weight; /* [A x H] */
    float *policy_bias;   /* [A] */
} ref_weights;

#define N_TENSORS (4 + MZ_BLOCK_TENSORS + 4)

static int specs(mz_tensor_spec *s) {
    const struct {
        const char *name;
        int ndim;
        int64_t d0, d1;
    } head[4] = {{"enc.weight", 2, H, I}, {"enc.bias", 1, H, 0}, {"enc_ln.weight", 1, H, 0}, {"enc_ln.bias", 1, H, 0}},
      tail[4] = {{"value.weight", 2, K, H}, {"value.bias", 1, K, 0}, {"policy.weight", 2, A, H}, {"policy.bias", 1, A, 0}};
    memset(s, 0, N_TENSORS * sizeof *s);
    for (int i = 0; i < 4; i++) {
        snprintf(s[i].name, sizeof s[i].name, "%s", head[i].name);
        s[i].ndim = head[i].ndim, s[i].shape[0] = head[i].d0, s[i].shape[1] = head[i].d1;
        mz_tensor_spec *t = &s[4 + MZ_BLOCK_TENSORS + i];
        snprintf(t->name, sizeof t->name, "%s", tail[i].name);
        t->ndim = tail[i].ndim, t->shape[0] = tail[i].d0, t->shape[1] = tail[i].d1;
    }
    mz_block_specs(s + 4, "block.", H, F);
    return N_TENSORS;
}

static void bind(ref_weights *w, const mz_params *p, float *block) {
    w->enc_weight = mz_params_at(p, block, 0);
    w->enc_bias = mz_params_at(p, block, 1);
    w->enc_ln_weight = mz_params_at(p, block, 2);
    w->enc_ln_bias = mz_params_at(p, block, 3);
    mz_block_bind(&w->block, p, block, 4);
    w->value_weight = mz_params_at(p, block, 4 + MZ_BLOCK_TENSORS);
    w->value_bias = mz_params_at(p, block, 5 + MZ_BLOCK_TENSORS);
    w->policy_weight = mz_params_at(p, block, 6 + MZ_BLOCK_TENSORS);
    w->policy_bias = mz_params_at(p, block, 7 + MZ_BLOCK_TENSORS);
}

typedef struct {
    float *ones;                                  /* [R] */
    float *x, *key_mask, *value_target, *value_mask, *policy_target; /* inputs */
    float *value_h, *value_dist;                  /* [R], [R x K] */
    float *enc, *enc_ln, *ln_mean, *ln_rstd, *relu, *hidden; /* [R x H] ([R] for stats) */
    mz_block_acts block;
    float *state;                                 /* [R x H] */
    float *value_logits, *policy_logits;          /* [R x K], [R x A] */
    float *value_rows, *policy_rows, *weighted;   /* [R] */
    float *d_value_rows, *d_policy_rows;          /* [R] */
    float *d_value_logits, *d_policy_logits;      /* [R x K], [R x A] */
    float *d_state, *d_block_out, *d_hidden, *d_relu, *d_enc_ln; /* [R x H] */
    float *dot;                                   /* [1] */
} ref_acts;

static void take_acts(ref_acts *a, mz_arena *m) {
    a->ones = mz_arena_take(m, R, "ones");
    a->x = mz_arena_take(m, R * I, "x");
    a->key_mask = mz_arena_take(m, B * N, "key mask");
    a->value_target = mz_arena_take(m, R, "value target");
    a->value_mask = mz_arena_take(m, R, "value mask");
    a->policy_target = mz_arena_take(m, R * A, "policy target");
    a->value_h = mz_arena_take(m, R, "h(value)");
    a->value_dist = mz_arena_take(m, R * K, "value two-hot");
    a->enc = mz_arena_take(m, R * H, "enc");
    a->enc_ln = mz_arena_take(m, R * H, "enc ln");
    a->ln_mean = mz_arena_take(m, R, "ln mean");
    a->ln_rstd = mz_arena_take(m, R, "ln rstd");
    a->relu = mz_arena_take(m, R * H, "relu");
    a->hidden = mz_arena_take(m, R * H, "hidden");
    mz_block_acts_take(&a->block, m, R, N, NH, H, F, 0.0f, a->ones);
    a->state = mz_arena_take(m, R * H, "state");
    a->value_logits = mz_arena_take(m, R * K, "value logits");
    a->policy_logits = mz_arena_take(m, R * A, "policy logits");
    a->value_rows = mz_arena_take(m, R, "value rows");
    a->policy_rows = mz_arena_take(m, R, "policy rows");
    a->weighted = mz_arena_take(m, R, "weighted");
    a->d_value_rows = mz_arena_take(m, R, "d value rows");
    a->d_policy_rows = mz_arena_take(m, R, "d policy rows");
    a->d_value_logits = mz_arena_take(m, R * K, "d value logits");
    a->d_policy_logits = mz_arena_take(m, R * A, "d policy logits");
    a->d_state = mz_arena_take(m, R * H, "d state");
    a->d_block_out = mz_arena_take(m, R * H, "d block out");
    a->d_hidden = mz_arena_take(m, R * H, "d hidden");
    a->d_relu = mz_arena_take(m, R * H, "d relu");
    a->d_enc_ln = mz_arena_take(m, R * H, "d enc ln");
    a->dot = mz_arena_take(m, 1, "dot");
}

/* forward and backward; returns the two losses, gradients (times
 * loss_scale) added into the grads block */
static void step(mz_backend *be, ref_acts *a, const ref_weights *w, const ref_weights *g, float loss_scale,
                 float losses[2]) {
    mz_linear_forward(be, a->enc, a->x, w->enc_weight, w->enc_bias, R, I, H);
    mz_layernorm_forward(be, a->enc_ln, a->ln_mean, a->ln_rstd, a->enc, w->enc_ln_weight, w->enc_ln_bias, R, H);
    mz_relu_forward(be, a->relu, a->enc_ln, R * H);
    mz_positional_forward(be, a->hidden, a->relu, B, N, H);
    mz_block_forward(be, &a->block, &w->block, a->hidden, a->key_mask, B, false, 0);
    mz_minmax_forward(be, a->state, a->block.out, R, H);
    mz_linear_forward(be, a->value_logits, a->state, w->value_weight, w->value_bias, R, H, K);
    mz_linear_forward(be, a->policy_logits, a->state, w->policy_weight, w->policy_bias, R, H, A);
    mz_h_forward(be, a->value_h, a->value_target, R, MZ_H_EPS);
    mz_two_hot(be, a->value_dist, a->value_h, R, S);
    mz_cross_entropy_forward(be, a->value_rows, a->value_logits, a->value_dist, R, K);
    mz_cross_entropy_forward(be, a->policy_rows, a->policy_logits, a->policy_target, R, A);
    float value_count, policy_count;
    losses[0] = mz_masked_mean_forward(be, a->weighted, a->value_rows, a->value_mask, R, &value_count);
    losses[1] = mz_masked_mean_forward(be, a->weighted, a->policy_rows, a->ones, R, &policy_count);

    size_t rh = (size_t)R * H * sizeof(float);
    be->zero(be, a->d_value_rows, R * sizeof(float));
    be->zero(be, a->d_policy_rows, R * sizeof(float));
    be->zero(be, a->d_value_logits, (size_t)R * K * sizeof(float));
    be->zero(be, a->d_policy_logits, (size_t)R * A * sizeof(float));
    be->zero(be, a->d_state, rh), be->zero(be, a->d_block_out, rh), be->zero(be, a->d_hidden, rh);
    be->zero(be, a->d_relu, rh), be->zero(be, a->d_enc_ln, rh);
    mz_masked_mean_backward(be, a->d_value_rows, a->value_mask, loss_scale, value_count, R);
    mz_masked_mean_backward(be, a->d_policy_rows, a->ones, loss_scale, policy_count, R);
    mz_cross_entropy_backward(be, a->d_value_logits, a->d_value_rows, a->value_logits, a->value_dist, R, K);
    mz_cross_entropy_backward(be, a->d_policy_logits, a->d_policy_rows, a->policy_logits, a->policy_target, R, A);
    mz_linear_backward(be, a->d_state, g->value_weight, g->value_bias, a->d_value_logits, a->state, w->value_weight,
                       a->ones, R, H, K);
    mz_linear_backward(be, a->d_state, g->policy_weight, g->policy_bias, a->d_policy_logits, a->state,
                       w->policy_weight, a->ones, R, H, A);
    mz_minmax_backward(be, a->d_block_out, a->d_state, a->block.out, R, H);
    mz_block_backward(be, &a->block, &w->block, &g->block, a->d_hidden, a->d_block_out, a->hidden, B);
    mz_positional_backward(be, a->d_relu, a->d_hidden, R * H);
    mz_relu_backward(be, a->d_enc_ln, a->d_relu, a->enc_ln, R * H);
    be->zero(be, a->d_relu, rh); /* reused as LayerNorm's input gradient once relu has consumed it */
    mz_layernorm_backward(be, a->d_relu, g->enc_ln_weight,
                          g->enc_ln_bias, a->d_enc_ln, a->enc, w->enc_ln_weight, a->ln_mean, a->ln_rstd, R, H);
    mz_linear_backward(be, NULL, g->enc_weight, g->enc_bias, a->d_relu, a->x, w->enc_weight, a->ones, R, I, H);
}

static const mz_st_tensor *need(const mz_st_file *f, const char *name, int64_t numel) {
    const mz_st_tensor *t = mz_st_find(f, name);
    if (!t) fail_msg("%s: tensor '%s' missing", FIXTURE, name);
    if (strcmp(t->dtype, "F32") != 0 || t->bytes != (size_t)numel * sizeof(float))
        fail_msg("%s: tensor '%s' is %s of %zu bytes, expected F32 x %lld", FIXTURE, name, t->dtype, t->bytes,
                 (long long)numel);
    return t;
}

static void upload(mz_backend *be, float *dst, const mz_st_file *f, const char *name, int64_t numel) {
    const mz_st_tensor *t = need(f, name, numel);
    be->copy_h2d(be, dst, t->data, t->bytes);
}

/* every element of got within RTOL of the reference, relative to max(|ref_i|, max_j |ref_j|) */
static void compare(mz_backend *be, const float *dev, const mz_st_file *f, const char *name, int64_t numel,
                    float scale_down) {
    const mz_st_tensor *t = need(f, name, numel);
    float *ref = (float *)mz_malloc((size_t)numel * sizeof(float)), *got = (float *)mz_malloc((size_t)numel * sizeof(float));
    memcpy(ref, t->data, t->bytes);
    be->copy_d2h(be, got, dev, (size_t)numel * sizeof(float));
    double peak = 0;
    for (int64_t i = 0; i < numel; i++) peak = fmax(peak, fabs(ref[i]));
    for (int64_t i = 0; i < numel; i++) got[i] /= scale_down;
    char what[160];
    snprintf(what, sizeof what, "%s on %s vs PyTorch", name, be->name);
    assert_close(ref, got, numel, RTOL * peak, RTOL, what);
    free(ref), free(got);
}

static void run_reference(mz_backend *be) {
    mz_st_file f;
    char err[512];
    if (mz_st_read(FIXTURE, &f, err, sizeof err) != 0) fail_msg("%s", err);
    mz_tensor_spec s[N_TENSORS];
    specs(s);
    mz_params P;
    mz_params_init(&P, be, s, N_TENSORS);
    ref_weights w, g;
    bind(&w, &P, P.values);
    bind(&g, &P, P.grads);
    char name[128];
    for (int i = 0; i < N_TENSORS; i++) {
        snprintf(name, sizeof name, "param.%.100s", s[i].name);
        upload(be, mz_params_at(&P, P.values, i), &f, name, mz_tensor_numel(&s[i]));
    }
    /* one measuring pass sizes the arena; the real pass takes the same pointers */
    mz_arena arena;
    ref_acts a;
    mz_arena_measure(&arena);
    take_acts(&a, &arena);
    mz_arena_init(&arena, be, arena.used);
    take_acts(&a, &arena);
    mz_fill(be, a.ones, R, 1.0f);
    upload(be, a.x, &f, "input.x", R * I);
    upload(be, a.key_mask, &f, "input.key_mask", B * N);
    upload(be, a.value_target, &f, "input.value_target", R);
    upload(be, a.value_mask, &f, "input.value_mask", R);
    upload(be, a.policy_target, &f, "input.policy_target", R * A);

    float losses[2];
    size_t held_before, held_after;
    be->mem_info(be, &held_before, NULL);
    step(be, &a, &w, &g, 1.0f, losses);
    be->mem_info(be, &held_after, NULL);
    assert_true(held_after == held_before); /* forward and backward allocate nothing */
    float ref_losses[2];
    memcpy(ref_losses, need(&f, "out.losses", 2)->data, sizeof ref_losses);
    assert_close(ref_losses, losses, 2, 0.0, RTOL, "losses vs PyTorch");
    compare(be, a.value_logits, &f, "out.value_logits", R * K, 1.0f);
    compare(be, a.policy_logits, &f, "out.policy_logits", R * A, 1.0f);
    for (int i = 0; i < N_TENSORS; i++) {
        snprintf(name, sizeof name, "grad.%.100s", s[i].name);
        compare(be, mz_params_at(&P, P.grads, i), &f, name, mz_tensor_numel(&s[i]), 1.0f);
    }

    mz_adamw_config cfg = {0.9f, 0.999f, 1e-8f, 0.01f, 0.5f, 4.0f};
    mz_lr_schedule sched = {1e-2f, 3, 7, 1e-3f};
    float norms[STEPS], ref_norms[STEPS];
    for (int t = 0; t < STEPS; t++) {
        mz_params_zero_grads(&P);
        step(be, &a, &w, &g, cfg.loss_scale, losses);
        norms[t] = mz_adamw_step(&P, &cfg, mz_lr_at(&sched, t), t + 1, a.dot);
    }
    memcpy(ref_norms, need(&f, "out.grad_norms", STEPS)->data, sizeof ref_norms);
    assert_close(ref_norms, norms, STEPS, 0.0, RTOL, "pre-clip gradient norms vs PyTorch");
    /* The key bias (block.qkv.bias[H..2H)) has an exactly zero gradient:
     * adding a constant to every key's score leaves the softmax unchanged.
     * Both sides compute rounding noise there, which AdamW normalises into
     * updates of about lr with a random sign, so that slice is only held to
     * the bound such updates obey: no more than sum(lr) (plus decay) away
     * from its start. Everything else must match. */
    int qkv_bias = mz_params_find(&P, "block.qkv.bias");
    float lr_sum = 0.0f;
    for (int t = 0; t < STEPS; t++) lr_sum += mz_lr_at(&sched, t);
    for (int i = 0; i < N_TENSORS; i++) {
        snprintf(name, sizeof name, "after.%.100s", s[i].name);
        float *dev = mz_params_at(&P, P.values, i);
        if (i != qkv_bias) {
            compare(be, dev, &f, name, mz_tensor_numel(&s[i]), 1.0f);
            continue;
        }
        float before[3 * H], after[3 * H], ref[3 * H];
        memcpy(before, need(&f, "param.block.qkv.bias", 3 * H)->data, sizeof before);
        memcpy(ref, need(&f, name, 3 * H)->data, sizeof ref);
        be->copy_d2h(be, after, dev, sizeof after);
        float peak = 0.0f;
        for (int k = 0; k < 3 * H; k++) peak = fmaxf(peak, fabsf(ref[k]));
        assert_close(ref, after, H, RTOL * peak, RTOL, "after.block.qkv.bias (queries) vs PyTorch");
        assert_close(ref + 2 * H, after + 2 * H, H, RTOL * peak, RTOL, "after.block.qkv.bias (values) vs PyTorch");
        for (int k = H; k < 2 * H; k++) {
            assert_true(fabsf(after[k] - before[k]) <= 1.2f * lr_sum);
            assert_true(fabsf(ref[k] - before[k]) <= 1.2f * lr_sum);
        }
    }
    mz_arena_free(&arena);
    mz_params_free(&P);
    mz_st_free(&f);
}

static void test_torch_cpu(void **state) {
    (void)state;
    run_reference(test_cpu_backend());
}

static void test_torch_emu(void **state) {
    (void)state;
    run_reference(test_emu_backend());
}

static int run_group(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_torch_cpu),
        cmocka_unit_test(test_torch_emu),
    };
    return MZ_RUN_GROUP("nn_torch", tests);
}

MZ_TEST_GROUP("nn_torch", run_group)
