/* IPPO / MAPPO: networks, buffers, the clipped-PPO update, evaluation
 * (learner/ppo.h). */
#include "learner/ppo.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "learner/ppo_kernels.h"
#include "learner/ppo_ops.h"
#include "src/check.h"
#include "src/dist.h"
#include "src/nn/nn.h"
#include "src/rng.h"

#define MZ_STREAM_PPO_INIT 0x0f000010u

void mz_ppo_config_default(mz_ppo_config *c) {
    memset(c, 0, sizeof *c);
    c->centralised_critic = false;
    c->rollout_length = 128;
    c->epochs = 4;
    c->minibatches = 2;
    c->actor_lr = 2.5e-4f;
    c->critic_lr = 2.5e-4f;
    c->decay_lr = false;
    c->gamma = 0.99f;
    c->gae_lambda = 0.95f;
    c->clip_eps = 0.2f;
    c->ent_coef = 0.01f;
    c->vf_coef = 0.5f;
    c->max_grad_norm = 0.5f;
    c->adam_eps = 1e-5f;
    c->add_agent_id = true;
    c->bootstrap_truncation = true;
    c->hidden = 128;
    c->num_updates = 1000;
    c->eval_envs = 0;
    c->seed = 42;
}

/* ---- orthogonal init ---------------------------------------------------- */

void mz_ppo_orthogonal(float *w, int rows, int cols, float gain, uint64_t seed, uint32_t stream) {
    /* orthonormalise k vectors of length n, the larger side */
    int tall = rows > cols;
    int k = tall ? cols : rows, n = tall ? rows : cols;
    double *q = (double *)malloc((size_t)k * n * sizeof(double));
    MZ_CHECK(q != NULL, "ppo: out of host memory for a %d x %d orthogonal init", rows, cols);
    for (int i = 0; i < k; i++) {
        mz_rng r;
        mz_rng_init(&r, seed, stream, (uint64_t)i);
        double *v = q + (size_t)i * n;
        for (int j = 0; j < n; j++) v[j] = mz_rng_normal(&r);
        for (int pass = 0; pass < 2; pass++) /* re-orthogonalise once for accuracy */
            for (int p = 0; p < i; p++) {
                const double *u = q + (size_t)p * n;
                double d = 0.0;
                for (int j = 0; j < n; j++) d += u[j] * v[j];
                for (int j = 0; j < n; j++) v[j] -= d * u[j];
            }
        double norm = 0.0;
        for (int j = 0; j < n; j++) norm += v[j] * v[j];
        norm = sqrt(norm);
        MZ_CHECK(norm > 1e-12, "ppo: degenerate draw in the orthogonal init of a %d x %d matrix", rows, cols);
        for (int j = 0; j < n; j++) v[j] /= norm;
    }
    for (int r = 0; r < rows; r++)
        for (int c = 0; c < cols; c++)
            w[(size_t)r * cols + c] = (float)(gain * (tall ? q[(size_t)c * n + r] : q[(size_t)r * n + c]));
    free(q);
}

/* ---- MLP ---------------------------------------------------------------- */

void mz_ppo_mlp_init(mz_ppo_mlp *m, mz_backend *be, int in, int hidden, int out, int max_rows, float head_gain,
                     bool layer_norm, bool recurrent, uint64_t seed, uint32_t stream) {
    memset(m, 0, sizeof *m);
    m->be = be;
    m->in = in;
    m->hidden = hidden;
    m->out = out;
    m->max_rows = max_rows;
    m->layer_norm = layer_norm;
    m->recurrent = recurrent;
    mz_tensor_spec specs[12] = {
        {"fc1.weight", 2, {hidden, in}}, {"fc1.bias", 1, {hidden}}, {"fc2.weight", 2, {hidden, hidden}},
        {"fc2.bias", 1, {hidden}},       {"head.weight", 2, {out, hidden}}, {"head.bias", 1, {out}},
    };
    float **vals[12] = {&m->w1, &m->b1, &m->w2, &m->b2, &m->w3, &m->b3};
    float **grads[12] = {&m->gw1, &m->gb1, &m->gw2, &m->gb2, &m->gw3, &m->gb3};
    int n = 6;
    if (layer_norm) {
        specs[n] = (mz_tensor_spec){"ln1.bias", 1, {hidden}}, vals[n] = &m->ln1, grads[n++] = &m->gln1;
        specs[n] = (mz_tensor_spec){"ln2.bias", 1, {hidden}}, vals[n] = &m->ln2, grads[n++] = &m->gln2;
    }
    if (recurrent) {
        specs[n] = (mz_tensor_spec){"gru.w_ih", 2, {3 * hidden, hidden}}, vals[n] = &m->w_ih, grads[n++] = &m->gw_ih;
        specs[n] = (mz_tensor_spec){"gru.b_ih", 1, {3 * hidden}}, vals[n] = &m->b_ih, grads[n++] = &m->gb_ih;
        specs[n] = (mz_tensor_spec){"gru.w_hh", 2, {3 * hidden, hidden}}, vals[n] = &m->w_hh, grads[n++] = &m->gw_hh;
        specs[n] = (mz_tensor_spec){"gru.b_hn", 1, {hidden}}, vals[n] = &m->b_hn, grads[n++] = &m->gb_hn;
    }
    mz_params_init(&m->p, be, specs, n);
    for (int k = 0; k < n; k++) {
        *vals[k] = mz_params_at(&m->p, m->p.values, k);
        *grads[k] = mz_params_at(&m->p, m->p.grads, k);
    }
    int shapes[3][2] = {{hidden, in}, {hidden, hidden}, {out, hidden}};
    float gains[3] = {sqrtf(2.0f), sqrtf(2.0f), head_gain};
    float *dst[3] = {m->w1, m->w2, m->w3};
    size_t hh = (size_t)hidden * hidden;
    float *host = (float *)malloc((size_t)(hidden > out ? hidden : out) * (size_t)(in > hidden ? in : hidden) *
                                  sizeof(float));
    MZ_CHECK(host != NULL, "ppo: out of host memory for the init of a %d x %d network", in, hidden);
    for (int l = 0; l < 3; l++) {
        size_t cnt = (size_t)shapes[l][0] * shapes[l][1];
        mz_ppo_orthogonal(host, shapes[l][0], shapes[l][1], gains[l], seed, stream + (uint32_t)l);
        be->copy_h2d(be, dst[l], host, cnt * sizeof(float));
    }
    /* GRU, per gate as flax's GRUCell: input kernels lecun-normal (std
     * 1/sqrt(fan_in); flax truncates the normal at 2 std, we do not),
     * recurrent kernels orthogonal */
    for (int gate = 0; recurrent && gate < 3; gate++) {
        mz_rng r;
        mz_rng_init(&r, seed, stream + 3, (uint64_t)gate);
        for (size_t i = 0; i < hh; i++) host[i] = (float)(mz_rng_normal(&r) / sqrt((double)hidden));
        be->copy_h2d(be, m->w_ih + gate * hh, host, hh * sizeof(float));
        mz_ppo_orthogonal(host, hidden, hidden, 1.0f, seed, stream + 4 + (uint32_t)gate);
        be->copy_h2d(be, m->w_hh + gate * hh, host, hh * sizeof(float));
    }
    free(host);
    /* activations */
    int64_t R = max_rows, H = hidden;
    for (int pass = 0; pass < 2; pass++) {
        if (pass == 0) mz_arena_measure(&m->arena);
        else mz_arena_init(&m->arena, be, m->arena.used);
        m->h1 = mz_arena_take(&m->arena, R * H, "ppo mlp h1");
        m->a1 = mz_arena_take(&m->arena, R * H, "ppo mlp a1");
        m->h2 = mz_arena_take(&m->arena, R * H, "ppo mlp h2");
        m->a2 = mz_arena_take(&m->arena, R * H, "ppo mlp a2");
        m->y = mz_arena_take(&m->arena, R * out, "ppo mlp y");
        m->da1 = mz_arena_take(&m->arena, R * H, "ppo mlp da1");
        m->dh1 = mz_arena_take(&m->arena, R * H, "ppo mlp dh1");
        m->da2 = mz_arena_take(&m->arena, R * H, "ppo mlp da2");
        m->dh2 = mz_arena_take(&m->arena, R * H, "ppo mlp dh2");
        m->ones = mz_arena_take(&m->arena, R, "ppo mlp ones");
        if (recurrent) {
            m->hs = mz_arena_take(&m->arena, R * H, "ppo gru hs");
            m->gates = mz_arena_take(&m->arena, R * 4 * H, "ppo gru gates");
            m->hprev = mz_arena_take(&m->arena, R * H, "ppo gru hprev");
            m->gh = mz_arena_take(&m->arena, R * 3 * H, "ppo gru gh");
            m->dgates = mz_arena_take(&m->arena, R * 4 * H, "ppo gru dgates");
            m->dhp = mz_arena_take(&m->arena, 2 * R * H, "ppo gru dhp");
            m->dhs = mz_arena_take(&m->arena, R * H, "ppo gru dhs");
        }
        m->dot = mz_arena_take(&m->arena, 1, "ppo mlp dot");
        if (layer_norm) {
            m->n1 = mz_arena_take(&m->arena, R * H, "ppo mlp n1");
            m->n2 = mz_arena_take(&m->arena, R * H, "ppo mlp n2");
            m->dn1 = mz_arena_take(&m->arena, R * H, "ppo mlp dn1");
            m->dn2 = mz_arena_take(&m->arena, R * H, "ppo mlp dn2");
            m->mu1 = mz_arena_take(&m->arena, R, "ppo mlp mu1");
            m->rs1 = mz_arena_take(&m->arena, R, "ppo mlp rs1");
            m->mu2 = mz_arena_take(&m->arena, R, "ppo mlp mu2");
            m->rs2 = mz_arena_take(&m->arena, R, "ppo mlp rs2");
            m->ln_scale = mz_arena_take(&m->arena, H, "ppo mlp ln scale");
            m->ln_dscale = mz_arena_take(&m->arena, H, "ppo mlp ln dscale");
        }
    }
    mz_fill(be, m->ones, R, 1.0f);
    if (layer_norm) {
        mz_fill(be, m->ln_scale, H, 1.0f);
    } else {
        m->n1 = m->h1;
        m->n2 = m->h2;
        m->dn1 = m->dh1;
        m->dn2 = m->dh2;
    }
}

void mz_ppo_mlp_free(mz_ppo_mlp *m) {
    mz_arena_free(&m->arena);
    mz_params_free(&m->p);
    memset(m, 0, sizeof *m);
}

void mz_ppo_mlp_forward(mz_ppo_mlp *m, const float *inp, int rows) {
    MZ_CHECK(!m->recurrent, "ppo mlp: a recurrent network runs through mz_ppo_mlp_forward_seq");
    mz_ppo_mlp_forward_seq(m, inp, 1, rows, NULL, NULL);
}

void mz_ppo_mlp_forward_seq(mz_ppo_mlp *m, const float *inp, int T, int B, const float *h0, const float *keep) {
    int rows = T * B;
    MZ_CHECK(rows <= m->max_rows, "ppo mlp: %d rows, sized for %d", rows, m->max_rows);
    MZ_CHECK(!m->recurrent || h0, "ppo mlp: a recurrent forward needs the initial state");
    mz_backend *be = m->be;
    int64_t n = (int64_t)rows * m->hidden;
    /* dense layers: the product through src/nn, then the bias (and the ReLU
     * when no LayerNorm comes between) in one pass */
    mz_linear_forward(be, m->h1, inp, m->w1, NULL, rows, m->in, m->hidden);
    if (m->layer_norm) {
        mz_ppo_bias_relu(be, m->h1, NULL, m->b1, rows, m->hidden);
        mz_layernorm_forward(be, m->n1, m->mu1, m->rs1, m->h1, m->ln_scale, m->ln1, rows, m->hidden);
        mz_relu_forward(be, m->a1, m->n1, n);
    } else {
        mz_ppo_bias_relu(be, m->h1, m->a1, m->b1, rows, m->hidden);
    }
    const float *x2 = m->a1;
    if (m->recurrent) {
        mz_gru_forward(be, m->hs, m->gates, m->hprev, m->gh, m->a1, h0, keep, m->w_ih, m->b_ih, m->w_hh, m->b_hn, T,
                       B, m->hidden, m->hidden);
        x2 = m->hs;
    }
    mz_linear_forward(be, m->h2, x2, m->w2, NULL, rows, m->hidden, m->hidden);
    if (m->layer_norm) {
        mz_ppo_bias_relu(be, m->h2, NULL, m->b2, rows, m->hidden);
        mz_layernorm_forward(be, m->n2, m->mu2, m->rs2, m->h2, m->ln_scale, m->ln2, rows, m->hidden);
        mz_relu_forward(be, m->a2, m->n2, n);
    } else {
        mz_ppo_bias_relu(be, m->h2, m->a2, m->b2, rows, m->hidden);
    }
    mz_linear_forward(be, m->y, m->a2, m->w3, NULL, rows, m->hidden, m->out);
    mz_ppo_bias_relu(be, m->y, NULL, m->b3, rows, m->out);
}

/* The gradients of one dense layer: dinp (when not NULL) is written, the
 * weight and bias gradients accumulate. */
static void dense_backward(mz_ppo_mlp *m, float *dinp, float *dw, float *db, const float *dout, const float *inp,
                           const float *w, int rows, int C, int OC) {
    mz_backend *be = m->be;
    /* dinp^T (C x rows) = w (stored C x OC, column-major) * dout^T (OC x rows), as mz_linear_backward with beta 0 */
    if (dinp) be->gemm(be, false, false, C, rows, OC, 1.0f, w, C, dout, OC, 0.0f, dinp, C);
    mz_linear_backward(be, NULL, dw, db, dout, inp, w, m->ones, rows, C, OC);
}

void mz_ppo_mlp_backward(mz_ppo_mlp *m, const float *inp, const float *dy, int rows) {
    mz_ppo_mlp_backward_seq(m, inp, dy, 1, rows, NULL);
}

void mz_ppo_mlp_backward_seq(mz_ppo_mlp *m, const float *inp, const float *dy, int T, int B, const float *keep) {
    mz_backend *be = m->be;
    int H = m->hidden, rows = T * B;
    int64_t n = (int64_t)rows * H;
    size_t bytes = (size_t)n * sizeof(float);
    /* da*, dn*, dhs and (without LayerNorm) dh* are written whole; the
     * LayerNorm and GRU backwards accumulate into dh* and da1 */
    dense_backward(m, m->da2, m->gw3, m->gb3, dy, m->a2, m->w3, rows, H, m->out);
    mz_ppo_relu_grad(be, m->dn2, m->da2, m->a2, n);
    if (m->layer_norm) {
        be->zero(be, m->dh2, bytes);
        be->zero(be, m->ln_dscale, (size_t)H * sizeof(float));
        mz_layernorm_backward(be, m->dh2, m->ln_dscale, m->gln2, m->dn2, m->h2, m->ln_scale, m->mu2, m->rs2, rows, H);
    }
    if (m->recurrent) {
        dense_backward(m, m->dhs, m->gw2, m->gb2, m->dh2, m->hs, m->w2, rows, H, H);
        be->zero(be, m->da1, bytes);
        mz_gru_backward(be, m->da1, NULL, m->gw_ih, m->gb_ih, m->gw_hh, m->gb_hn, m->dgates, m->dhp, m->dhs, m->gates,
                        m->hprev, m->a1, keep, m->w_ih, m->w_hh, m->ones, T, B, H, H);
    } else {
        dense_backward(m, m->da1, m->gw2, m->gb2, m->dh2, m->a1, m->w2, rows, H, H);
    }
    mz_ppo_relu_grad(be, m->dn1, m->da1, m->a1, n);
    if (m->layer_norm) {
        be->zero(be, m->dh1, bytes);
        be->zero(be, m->ln_dscale, (size_t)H * sizeof(float));
        mz_layernorm_backward(be, m->dh1, m->ln_dscale, m->gln1, m->dn1, m->h1, m->ln_scale, m->mu1, m->rs1, rows, H);
    }
    dense_backward(m, NULL, m->gw1, m->gb1, m->dh1, inp, m->w1, rows, m->in, H);
}

/* ---- state -------------------------------------------------------------- */

static void *dev(mz_backend *be, size_t bytes) {
    void *p = be->alloc(be, bytes);
    be->zero(be, p, bytes);
    return p;
}

int mz_ppo_init(mz_ppo *p, mz_vecenv *env, const mz_ppo_config *cfg, char *err, size_t err_len) {
    memset(p, 0, sizeof *p);
    const mz_env_params *ep = &env->params;
    if (cfg->rollout_length < 1 || cfg->epochs < 1 || cfg->minibatches < 1 || cfg->hidden < 1) {
        snprintf(err, err_len, "ppo: rollout_length, epochs, minibatches and hidden must be >= 1");
        return 2;
    }
    int64_t samples = (int64_t)cfg->rollout_length * env->E;
    if (cfg->recurrent && env->E % cfg->minibatches != 0) {
        snprintf(err, err_len,
                 "ppo.minibatches=%d does not divide env.num_envs=%d (recurrent minibatches split environments, not "
                 "time)",
                 cfg->minibatches, env->E);
        return 2;
    }
    if (samples % cfg->minibatches != 0) {
        snprintf(err, err_len,
                 "ppo.minibatches=%d does not divide ppo.rollout_length x env.num_envs = %d x %d = %lld",
                 cfg->minibatches, cfg->rollout_length, env->E, (long long)samples);
        return 2;
    }
    if (cfg->centralised_critic && ep->S != ep->N * ep->O) {
        snprintf(err, err_len, "ppo: MAPPO needs the global state to be every agent's observation (S %d, N x O %d)",
                 ep->S, ep->N * ep->O);
        return 2;
    }
    mz_backend *be = env->be;
    p->be = be;
    p->cfg = *cfg;
    p->env = env;
    p->E = env->E;
    p->N = ep->N;
    p->O = ep->O;
    p->S = ep->S;
    p->A = ep->A;
    p->T = cfg->rollout_length;
    p->In = p->O + (cfg->add_agent_id ? p->N : 0);
    p->Ic = cfg->centralised_critic ? p->S : p->In;
    p->EN = (int64_t)p->E * p->N;
    p->samples = samples;
    p->mb_samples = samples / cfg->minibatches;
    int64_t R = p->mb_samples * p->N;
    int64_t rows = R > p->EN ? R : p->EN;
    int64_t eval_rows = (int64_t)cfg->eval_envs * p->N;
    int64_t arows = rows > eval_rows ? rows : eval_rows;
    if (arows > (1 << 30)) {
        snprintf(err, err_len, "ppo: %lld rows per network pass is too many", (long long)arows);
        return 2;
    }
    mz_ppo_mlp_init(&p->actor, be, p->In, cfg->hidden, p->A, (int)arows, 0.01f, cfg->layer_norm, cfg->recurrent,
                    cfg->seed, MZ_STREAM_PPO_INIT);
    mz_ppo_mlp_init(&p->critic, be, p->Ic, cfg->hidden, 1, (int)rows, 1.0f, cfg->layer_norm, cfg->recurrent,
                    cfg->seed, MZ_STREAM_PPO_INIT + 8);

    int64_t T = p->T, EN = p->EN, TEN = T * EN;
    p->obs_in = (float *)dev(be, (size_t)(TEN * p->In) * sizeof(float));
    if (cfg->centralised_critic) p->cobs_in = (float *)dev(be, (size_t)(TEN * p->Ic) * sizeof(float));
    p->avail = (uint8_t *)dev(be, (size_t)(TEN * p->A));
    p->actions = (int32_t *)dev(be, (size_t)TEN * sizeof(int32_t));
    p->logp = (float *)dev(be, (size_t)TEN * sizeof(float));
    p->value = (float *)dev(be, (size_t)TEN * sizeof(float));
    p->reward = (float *)dev(be, (size_t)TEN * sizeof(float));
    p->final_value = (float *)dev(be, (size_t)TEN * sizeof(float));
    p->adv = (float *)dev(be, (size_t)TEN * sizeof(float));
    p->target = (float *)dev(be, (size_t)TEN * sizeof(float));
    p->terminated = (uint8_t *)dev(be, (size_t)(T * p->E));
    p->truncated = (uint8_t *)dev(be, (size_t)(T * p->E));
    p->last_value = (float *)dev(be, (size_t)EN * sizeof(float));
    p->fin_in = (float *)dev(be, (size_t)(EN * p->Ic) * sizeof(float));
    p->keys = (float *)dev(be, (size_t)samples * sizeof(float));
    p->perm = (int32_t *)dev(be, (size_t)samples * sizeof(int32_t));
    p->mb_in = (float *)dev(be, (size_t)(R * p->In) * sizeof(float));
    p->mb_cin = (float *)dev(be, (size_t)(R * p->Ic) * sizeof(float));
    p->mb_logp = (float *)dev(be, (size_t)R * sizeof(float));
    p->mb_vold = (float *)dev(be, (size_t)R * sizeof(float));
    p->mb_adv = (float *)dev(be, (size_t)R * sizeof(float));
    p->mb_target = (float *)dev(be, (size_t)R * sizeof(float));
    p->mb_sq = (float *)dev(be, (size_t)R * sizeof(float));
    p->mb_avail = (uint8_t *)dev(be, (size_t)(R * p->A));
    p->mb_act = (int32_t *)dev(be, (size_t)R * sizeof(int32_t));
    p->dlogits = (float *)dev(be, (size_t)(R * p->A) * sizeof(float));
    p->dvalue = (float *)dev(be, (size_t)R * sizeof(float));
    p->aloss = (float *)dev(be, (size_t)R * sizeof(float));
    p->vloss = (float *)dev(be, (size_t)R * sizeof(float));
    p->astats = (float *)dev(be, (size_t)(3 * R) * sizeof(float));
    p->acc = (float *)dev(be, (size_t)p->E * 4 * sizeof(float));
    int ecap = cfg->eval_envs > 0 ? cfg->eval_envs : 1;
    p->eval_acc = (float *)dev(be, (size_t)ecap * 4 * sizeof(float));
    p->eval_in = (float *)dev(be, (size_t)((int64_t)ecap * p->N * p->In) * sizeof(float));
    int hcap = p->E > ecap ? p->E : ecap;
    p->host_acc = (float *)calloc((size_t)hcap * 4, sizeof(float));
    MZ_CHECK(p->host_acc != NULL, "ppo: out of host memory");
    if (cfg->recurrent) {
        size_t state = (size_t)(EN * cfg->hidden) * sizeof(float), mb_state = (size_t)(R / T * cfg->hidden) * sizeof(float);
        p->h_actor = (float *)dev(be, state);
        p->h_critic = (float *)dev(be, state);
        p->h_actor0 = (float *)dev(be, state);
        p->h_critic0 = (float *)dev(be, state);
        p->keep = (float *)dev(be, (size_t)TEN * sizeof(float));
        p->next_keep = (float *)dev(be, (size_t)EN * sizeof(float)); /* 0: the first step starts episodes */
        p->mb_h_actor = (float *)dev(be, mb_state);
        p->mb_h_critic = (float *)dev(be, mb_state);
        p->mb_keep = (float *)dev(be, (size_t)R * sizeof(float));
        p->env_keys = (float *)dev(be, (size_t)p->E * sizeof(float));
        p->env_perm = (int32_t *)dev(be, (size_t)p->E * sizeof(int32_t));
        p->seq_perm = (int32_t *)dev(be, (size_t)p->mb_samples * sizeof(int32_t));
        p->eval_h = (float *)dev(be, (size_t)((int64_t)ecap * p->N * cfg->hidden) * sizeof(float));
        p->eval_keep = (float *)dev(be, (size_t)((int64_t)ecap * p->N) * sizeof(float));
    }
    mz_vecenv_reset(env);
    return 0;
}

void mz_ppo_free(mz_ppo *p) {
    if (!p->be) return;
    mz_backend *be = p->be;
    void *all[] = {p->obs_in,  p->cobs_in, p->avail,    p->actions,   p->logp,     p->value,   p->reward,
                   p->final_value, p->adv, p->target,   p->terminated, p->truncated, p->last_value, p->fin_in,
                   p->keys,    p->perm,    p->mb_in,    p->mb_cin,    p->mb_logp,  p->mb_vold, p->mb_adv,
                   p->mb_target, p->mb_sq, p->mb_avail, p->mb_act,    p->dlogits,  p->dvalue,  p->aloss,
                   p->vloss,   p->astats,  p->acc,      p->eval_acc, p->eval_in,
                   p->h_actor, p->h_critic, p->h_actor0, p->h_critic0, p->keep, p->next_keep, p->mb_h_actor,
                   p->mb_h_critic, p->mb_keep, p->env_keys, p->env_perm, p->seq_perm, p->eval_h, p->eval_keep};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        if (all[i]) be->free(be, all[i]);
    free(p->host_acc);
    mz_ppo_mlp_free(&p->actor);
    mz_ppo_mlp_free(&p->critic);
    memset(p, 0, sizeof *p);
}

/* ---- update ------------------------------------------------------------- */

static float adam(mz_ppo_mlp *m, const mz_ppo_config *c, float lr) {
    mz_adamw_config ac = {0.9f, 0.999f, c->adam_eps, 0.0f, c->max_grad_norm, 1.0f};
    mz_dist_allreduce_mean(m->be, m->p.grads, m->p.total); /* data-parallel: before clipping and Adam */
    m->step++;
    return mz_adamw_step(&m->p, &ac, lr, m->step, m->dot);
}

void mz_ppo_update(mz_ppo *p, mz_ppo_update_stats *st) {
    mz_backend *be = p->be;
    const mz_ppo_config *c = &p->cfg;
    int N = p->N, A = p->A;
    int64_t R = p->mb_samples * N;
    float frac = 1.0f;
    if (c->decay_lr && c->num_updates > 0) {
        frac = 1.0f - (float)p->updates / (float)c->num_updates;
        if (frac < 0.0f) frac = 0.0f;
    }
    float alr = c->actor_lr * frac, clr = c->critic_lr * frac;
    const float *cin = c->centralised_critic ? p->cobs_in : p->obs_in;
    double s_al = 0, s_vl = 0, s_h = 0, s_cf = 0, s_ag = 0, s_cg = 0;
    int count = 0;
    /* recurrent: whole sequences of E / minibatches environments, rows
     * [T][mbE * N] step-major, gathered through seq_perm */
    int T = p->T, mbE = p->E / c->minibatches, mbB = mbE * N;
    for (int ep = 0; ep < c->epochs; ep++) {
        uint64_t draw = (uint64_t)p->updates * (uint64_t)c->epochs + (uint64_t)ep;
        if (c->recurrent) {
            be->rng_fill(be, p->E, p->env_keys, MZ_RNG_UNIFORM, 0.0f, c->seed, MZ_STREAM_PPO_SHUFFLE,
                         draw * (uint64_t)p->E);
            mz_ppo_iota(be, p->env_perm, p->E);
            be->sort_by_key(be, p->E, p->env_keys, p->env_perm);
        } else {
            be->rng_fill(be, p->samples, p->keys, MZ_RNG_UNIFORM, 0.0f, c->seed, MZ_STREAM_PPO_SHUFFLE,
                         draw * (uint64_t)p->samples);
            mz_ppo_iota(be, p->perm, p->samples);
            be->sort_by_key(be, p->samples, p->keys, p->perm);
        }
        for (int mb = 0; mb < c->minibatches; mb++) {
            int64_t first = (int64_t)mb * p->mb_samples;
            const int32_t *perm = p->perm;
            if (c->recurrent) {
                mz_ppo_seq_perm(be, p->seq_perm, p->env_perm, (int64_t)mb * mbE, mbE, p->E, T);
                perm = p->seq_perm;
                first = 0;
                mz_ppo_gather(be, p->mb_keep, p->keep, perm, 0, R, N, 1);
                mz_ppo_gather(be, p->mb_h_actor, p->h_actor0, p->env_perm, (int64_t)mb * mbE, mbB, N, c->hidden);
                mz_ppo_gather(be, p->mb_h_critic, p->h_critic0, p->env_perm, (int64_t)mb * mbE, mbB, N, c->hidden);
            }
            mz_ppo_gather(be, p->mb_in, p->obs_in, perm, first, R, N, p->In);
            mz_ppo_gather(be, p->mb_cin, cin, perm, first, R, N, p->Ic);
            mz_ppo_gather_u8(be, p->mb_avail, p->avail, perm, first, R, N, A);
            mz_ppo_gather_i32(be, p->mb_act, p->actions, perm, first, R, N);
            mz_ppo_gather(be, p->mb_logp, p->logp, perm, first, R, N, 1);
            mz_ppo_gather(be, p->mb_vold, p->value, perm, first, R, N, 1);
            mz_ppo_gather(be, p->mb_adv, p->adv, perm, first, R, N, 1);
            mz_ppo_gather(be, p->mb_target, p->target, perm, first, R, N, 1);
            /* feed-forward: T = 1 step of R rows */
            int steps = c->recurrent ? T : 1, width = c->recurrent ? mbB : (int)R;
            /* advantage normalisation over the minibatch, agents included */
            double mean = be->sum(be, R, p->mb_adv) / (double)R;
            mz_ppo_square(be, p->mb_sq, p->mb_adv, R);
            double var = be->sum(be, R, p->mb_sq) / (double)R - mean * mean;
            float std = (float)sqrt(var > 0.0 ? var : 0.0);

            mz_params_zero_grads(&p->actor.p);
            mz_ppo_mlp_forward_seq(&p->actor, p->mb_in, steps, width, p->mb_h_actor, p->mb_keep);
            mz_ppo_actor_loss(be, p->dlogits, p->aloss, p->astats, p->actor.y, p->mb_avail, p->mb_act, p->mb_logp,
                              p->mb_adv, (float)mean, std, A, R, c->clip_eps, c->ent_coef);
            mz_ppo_mlp_backward_seq(&p->actor, p->mb_in, p->dlogits, steps, width, p->mb_keep);
            s_ag += adam(&p->actor, c, alr);

            mz_params_zero_grads(&p->critic.p);
            mz_ppo_mlp_forward_seq(&p->critic, p->mb_cin, steps, width, p->mb_h_critic, p->mb_keep);
            mz_ppo_critic_loss(be, p->dvalue, p->vloss, p->critic.y, p->mb_vold, p->mb_target, R, c->clip_eps,
                               c->vf_coef);
            mz_ppo_mlp_backward_seq(&p->critic, p->mb_cin, p->dvalue, steps, width, p->mb_keep);
            s_cg += adam(&p->critic, c, clr);

            s_al += be->sum(be, R, p->aloss) / (double)R;
            s_vl += be->sum(be, R, p->vloss) / (double)R;
            s_h += be->sum(be, R, p->astats + R) / (double)R;
            s_cf += be->sum(be, R, p->astats + 2 * R) / (double)R;
            count++;
        }
    }
    p->updates++;
    if (st) {
        st->actor_loss = (float)(s_al / count);
        st->value_loss = (float)(s_vl / count);
        st->entropy = (float)(s_h / count);
        st->clip_frac = (float)(s_cf / count);
        st->actor_grad_norm = (float)(s_ag / count);
        st->critic_grad_norm = (float)(s_cg / count);
        st->lr = alr;
    }
}

void mz_ppo_episodes(mz_ppo *p, float *mean_return, float *mean_length, float *win_rate, int *count) {
    mz_backend *be = p->be;
    be->copy_d2h(be, p->host_acc, p->acc, (size_t)p->E * 4 * sizeof(float));
    be->zero(be, p->acc, (size_t)p->E * 4 * sizeof(float));
    double s[4] = {0, 0, 0, 0};
    for (int e = 0; e < p->E; e++)
        for (int k = 0; k < 4; k++) s[k] += p->host_acc[e * 4 + k];
    int n = (int)s[3];
    *count = n;
    *mean_return = n ? (float)(s[0] / n) : 0.0f;
    *mean_length = n ? (float)(s[1] / n) : 0.0f;
    *win_rate = n ? (float)(s[2] / n) : 0.0f;
}

float mz_ppo_evaluate(mz_ppo *p, mz_vecenv *ev, int episodes, bool greedy, uint64_t seed, double *returns,
                      float *win_rate, float *mean_length) {
    mz_backend *be = p->be;
    int E = ev->E, N = p->N;
    MZ_CHECK(E <= p->cfg.eval_envs, "ppo: evaluation on %d envs, sized for ppo eval_envs=%d", E, p->cfg.eval_envs);
    MZ_CHECK(ev->params.N == N && ev->params.O == p->O && ev->params.A == p->A,
             "ppo: the evaluation env's shapes differ from the training env's");
    int64_t EN = (int64_t)E * N;
    double s[3] = {0, 0, 0};
    int taken = 0;
    uint64_t base_seed = ev->params.seed;
    void *frame_state = p->eval_frame ? mz_calloc(1, (size_t)ev->params.state_bytes) : NULL;
    for (int loop = 0; taken < episodes; loop++) {
        ev->params.seed = base_seed + (uint64_t)loop * 0x9E3779B97F4A7C15ull + seed;
        /* episode counters from 0 (they seed each reset): an evaluation
         * depends on the actor and the seed alone, not on the evaluations
         * before it, so `mazero eval` replays the absolute metric */
        be->zero(be, ev->buf.states, (size_t)E * (size_t)ev->params.state_bytes);
        mz_vecenv_reset(ev);
        be->zero(be, p->eval_acc, (size_t)E * 4 * sizeof(float));
        if (p->cfg.recurrent) be->zero(be, p->eval_keep, (size_t)EN * sizeof(float)); /* zero state at the start */
        bool framing = frame_state && loop == 0; /* env 0's first episode */
        for (int t = 0; t < ev->params.max_steps; t++) {
            if (framing) {
                float finished;
                be->copy_d2h(be, &finished, p->eval_acc + 3, sizeof finished);
                framing = finished < 1.0f;
                if (framing) {
                    mz_vecenv_get_state(ev, 0, frame_state);
                    p->eval_frame(p->eval_frame_ctx, &ev->params, frame_state);
                }
            }
            mz_agent_input(be, p->eval_in, ev->buf.obs, EN, N, p->O, p->cfg.add_agent_id, 0, 0, 0);
            mz_ppo_mlp_forward_seq(&p->actor, p->eval_in, 1, (int)EN, p->eval_h, p->eval_keep);
            if (p->cfg.recurrent) be->copy_d2d(be, p->eval_h, p->actor.hs, (size_t)EN * p->cfg.hidden * sizeof(float));
            uint64_t off = ((uint64_t)loop * (uint64_t)ev->params.max_steps + (uint64_t)t) * (uint64_t)EN;
            mz_masked_sample(be, ev->buf.actions, NULL, p->actor.y, ev->buf.avail, EN, p->A, greedy, seed,
                             MZ_STREAM_PPO_EVAL, off);
            mz_vecenv_step(ev);
            if (p->cfg.recurrent) mz_ppo_keep(be, p->eval_keep, ev->buf.terminated, ev->buf.truncated, EN, N);
            mz_ppo_episode_acc(be, p->eval_acc, ev->buf.terminated, ev->buf.truncated, ev->buf.done_return,
                               ev->buf.done_length, ev->buf.done_won, E, 1);
        }
        be->copy_d2h(be, p->host_acc, p->eval_acc, (size_t)E * 4 * sizeof(float));
        for (int e = 0; e < E && taken < episodes; e++) {
            if (p->host_acc[e * 4 + 3] < 1.0f) continue;
            if (returns) returns[taken] = p->host_acc[e * 4 + 0];
            s[0] += p->host_acc[e * 4 + 0];
            s[1] += p->host_acc[e * 4 + 1];
            s[2] += p->host_acc[e * 4 + 2];
            taken++;
        }
        MZ_CHECK(loop < 1000000, "ppo: evaluation finished no episode");
    }
    ev->params.seed = base_seed;
    free(frame_state);
    if (win_rate) *win_rate = (float)(s[2] / taken);
    if (mean_length) *mean_length = (float)(s[1] / taken);
    return (float)(s[0] / taken);
}
