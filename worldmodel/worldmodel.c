/* The multi-agent world model: see worldmodel.h. Only src/nn ops and the
 * backend's copy/gemm/axpy entry points; no allocation after wm_create. */
#include "worldmodel/worldmodel.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "src/check.h"
#include "src/nn/nn.h"

#define WM_MAX_COMM 8
#define WM_MAX_TENSORS (2 + 6 + 2 + WM_MAX_COMM * MZ_BLOCK_TENSORS + 6 * 6)

struct wm_model {
    mz_backend *be;
    wm_config cfg;
    int Din, S2;
    uint64_t dropout_update; /* wm_set_dropout_update */
    mz_params params;
    wm_weights w, g; /* values and grads */
    mz_arena arena;
    float *ones;     /* [max rows] */
    float *uniform;  /* [(K+1) x max rows x A] of 1/A where policy_smoothing > 0, else NULL */
    float *dot;      /* [1] */
    /* training */
    int B;           /* batch of the last upload */
    wm_step_acts st[33];
    float *obs, *policy, *value, *reward;           /* device copies of the batch */
    int32_t *actions;                               /* [K][R] (be->alloc) */
    float *cw_v, *cw_p, *cw_c;                      /* [(K+1) B], [(K+1) R], [(K+1) R] row weights */
    float *d_mask, *d_weight, *d_cw_tmp;            /* device batches: [(K+1) B], [B], [(K+1) B] */
    float *h_cw_v, *h_cw_p, *h_cw_c;                /* host staging of the same */
    float *h_value0, *h_reward1;                    /* host copies of the targets the errors need */
    float *v0, *r1, *probs;                         /* [B], [B], [B x S2] */
    float *h_v0, *h_r1, *h_prio;                    /* host [B] */
    /* backward scratch */
    float *dh[33];                                  /* [R x H] */
    float *dtmp, *dhraw, *ddin, *dx, *dc, *dca, *dcb, *drin, *djunk, *drep, *dproj, *dpred;
    float *dl_b, *dl_r, *dlog_b, *dlog_r;
    float *s_dact, *s_dln, *s_dh1;
    /* search */
    wm_step_acts sa;
    float *emb;          /* [max_trees][max_nodes][N x H] hidden states of every node */
    float *hprev;        /* [RS x H] gathered parents */
    float *sobs;         /* [RS x O] gathered root observations */
    float *sprobs, *stmp; /* [RS x S2], [RS] */
    const float *search_obs;
    int search_E;
};

/* ---- parameter layout ---------------------------------------------------- */

typedef struct {
    mz_tensor_spec *s;
    int n;
} spec_list;

static void add_spec(spec_list *l, const char *prefix, const char *name, int64_t d0, int64_t d1) {
    MZ_CHECK(l->n < WM_MAX_TENSORS, "worldmodel: more than %d tensors", WM_MAX_TENSORS);
    mz_tensor_spec *t = &l->s[l->n++];
    memset(t, 0, sizeof *t);
    snprintf(t->name, sizeof t->name, "%s%s", prefix, name);
    t->ndim = d1 > 0 ? 2 : 1;
    t->shape[0] = d0;
    t->shape[1] = d1;
}

static void mlp_specs(spec_list *l, const char *p, int C, int F, int OC) {
    add_spec(l, p, "fc1.weight", F, C);
    add_spec(l, p, "fc1.bias", F, 0);
    add_spec(l, p, "ln.weight", F, 0);
    add_spec(l, p, "ln.bias", F, 0);
    add_spec(l, p, "fc2.weight", OC, F);
    add_spec(l, p, "fc2.bias", OC, 0);
}

static int build_specs(const wm_config *c, int Din, mz_tensor_spec *s) {
    spec_list l = {s, 0};
    int S2 = 2 * c->S + 1;
    int In = wm_rep_inputs(c);
    add_spec(&l, "rep.", "in_ln.weight", In, 0);
    add_spec(&l, "rep.", "in_ln.bias", In, 0);
    mlp_specs(&l, "rep.", In, c->F, c->H);
    if (c->comm_layers > 0) {
        add_spec(&l, "comm.", "in.weight", c->H, c->H + c->A);
        add_spec(&l, "comm.", "in.bias", c->H, 0);
        for (int i = 0; i < c->comm_layers; i++) {
            char prefix[32];
            snprintf(prefix, sizeof prefix, "comm.block%d.", i);
            mz_block_specs(&l.s[l.n], prefix, c->H, c->comm_ff);
            l.n += MZ_BLOCK_TENSORS;
        }
    }
    mlp_specs(&l, "dyn.", Din, c->F, c->H);
    mlp_specs(&l, "reward.", c->N * (c->H + c->A), c->head_F, S2);
    mlp_specs(&l, "value.", c->N * c->H, c->head_F, S2);
    mlp_specs(&l, "policy.", c->H, c->head_F, c->A);
    mlp_specs(&l, "proj.", c->H, c->P, c->P);
    mlp_specs(&l, "pred.", c->P, c->head_F, c->P);
    return l.n;
}

static void mlp_bind(wm_mlp *w, const mz_params *p, float *block, int *i) {
    w->w1 = mz_params_at(p, block, (*i)++);
    w->b1 = mz_params_at(p, block, (*i)++);
    w->lnw = mz_params_at(p, block, (*i)++);
    w->lnb = mz_params_at(p, block, (*i)++);
    w->w2 = mz_params_at(p, block, (*i)++);
    w->b2 = mz_params_at(p, block, (*i)++);
}

static void bind(wm_model *m, wm_weights *w, float *block) {
    const mz_params *p = &m->params;
    int i = 0;
    memset(w, 0, sizeof *w);
    w->rep_lnw = mz_params_at(p, block, i++);
    w->rep_lnb = mz_params_at(p, block, i++);
    mlp_bind(&w->rep, p, block, &i);
    if (m->cfg.comm_layers > 0) {
        w->comm_in_w = mz_params_at(p, block, i++);
        w->comm_in_b = mz_params_at(p, block, i++);
        for (int l = 0; l < m->cfg.comm_layers; l++) {
            mz_block_bind(&w->comm[l], p, block, i);
            i += MZ_BLOCK_TENSORS;
        }
    }
    mlp_bind(&w->dyn, p, block, &i);
    mlp_bind(&w->reward, p, block, &i);
    mlp_bind(&w->value, p, block, &i);
    mlp_bind(&w->policy, p, block, &i);
    mlp_bind(&w->proj, p, block, &i);
    mlp_bind(&w->pred, p, block, &i);
    MZ_CHECK(i == p->count, "worldmodel: bound %d of %d tensors", i, p->count);
    wm_mlp *all[] = {&w->rep, &w->dyn, &w->reward, &w->value, &w->policy, &w->proj, &w->pred};
    for (size_t j = 0; j < sizeof all / sizeof all[0]; j++) all[j]->layer_norm = !m->cfg.no_layer_norm;
}

static void mlp_init(wm_model *m, const wm_mlp *w, int C, int F, int OC, int zero_out, uint64_t seed, uint32_t *stream) {
    mz_backend *be = m->be;
    mz_init_weights(be, w->w1, (int64_t)F * C, C, F, MZ_INIT_KAIMING, seed, (*stream)++);
    mz_fill(be, w->b1, F, 0.0f);
    mz_fill(be, w->lnw, F, 1.0f);
    mz_fill(be, w->lnb, F, 0.0f);
    mz_init_weights(be, w->w2, (int64_t)OC * F, F, OC, zero_out ? MZ_INIT_ZERO : MZ_INIT_XAVIER, seed, (*stream)++);
    mz_fill(be, w->b2, OC, 0.0f);
}

void wm_init_params(wm_model *m, uint64_t seed) {
    const wm_config *c = &m->cfg;
    const wm_weights *w = &m->w;
    uint32_t stream = 0;
    int In = wm_rep_inputs(c);
    mz_fill(m->be, w->rep_lnw, In, 1.0f);
    mz_fill(m->be, w->rep_lnb, In, 0.0f);
    mlp_init(m, &w->rep, In, c->F, c->H, 0, seed, &stream);
    if (c->comm_layers > 0) {
        mz_init_weights(m->be, w->comm_in_w, (int64_t)c->H * (c->H + c->A), c->H + c->A, c->H, MZ_INIT_XAVIER, seed,
                        stream++);
        mz_fill(m->be, w->comm_in_b, c->H, 0.0f);
        for (int l = 0; l < c->comm_layers; l++) mz_block_init(m->be, &w->comm[l], c->H, c->comm_ff, seed + 1000u + (uint64_t)l);
    }
    mlp_init(m, &w->dyn, m->Din, c->F, c->H, 0, seed, &stream);
    mlp_init(m, &w->reward, c->N * (c->H + c->A), c->head_F, m->S2, c->zero_init, seed, &stream);
    mlp_init(m, &w->value, c->N * c->H, c->head_F, m->S2, c->zero_init, seed, &stream);
    mlp_init(m, &w->policy, c->H, c->head_F, c->A, c->zero_init, seed, &stream);
    mlp_init(m, &w->proj, c->H, c->P, c->P, 0, seed, &stream);
    mlp_init(m, &w->pred, c->P, c->head_F, c->P, 0, seed, &stream);
    m->be->zero(m->be, m->params.adam_m, (size_t)m->params.total * sizeof(float));
    m->be->zero(m->be, m->params.adam_v, (size_t)m->params.total * sizeof(float));
    mz_params_zero_grads(&m->params);
}

/* ---- arena layout --------------------------------------------------------- */

static void mlp_acts_take(wm_mlp_acts *a, mz_arena *ar, int rows, int F, int OC) {
    a->h1 = mz_arena_take(ar, (int64_t)rows * F, "worldmodel mlp fc1");
    a->ln = mz_arena_take(ar, (int64_t)rows * F, "worldmodel mlp ln");
    a->mean = mz_arena_take(ar, rows, "worldmodel mlp mean");
    a->rstd = mz_arena_take(ar, rows, "worldmodel mlp rstd");
    a->act = mz_arena_take(ar, (int64_t)rows * F, "worldmodel mlp relu");
    a->out = mz_arena_take(ar, (int64_t)rows * OC, "worldmodel mlp out");
}

/* Activations of one step over R agent rows (B = R / N samples). */
static void step_take(wm_model *m, wm_step_acts *s, mz_arena *ar, int R, int train) {
    const wm_config *c = &m->cfg;
    int B = R / c->N, HA = c->H + c->A;
    memset(s, 0, sizeof *s);
    s->h = mz_arena_take(ar, (int64_t)R * c->H, "worldmodel h");
    s->onehot = mz_arena_take(ar, (int64_t)R * c->A, "worldmodel onehot");
    s->x = mz_arena_take(ar, (int64_t)R * HA, "worldmodel x");
    if (c->comm_layers > 0) {
        s->comm_in = mz_arena_take(ar, (int64_t)R * c->H, "worldmodel comm in");
        for (int l = 0; l < c->comm_layers; l++)
            mz_block_acts_take(&s->comm[l], ar, R, c->N, c->comm_heads, c->H, c->comm_ff, train ? c->comm_dropout : 0.0f,
                               m->ones);
        if (c->comm_concat) s->din = mz_arena_take(ar, (int64_t)R * m->Din, "worldmodel dyn in");
    }
    s->dsum = mz_arena_take(ar, (int64_t)R * c->H, "worldmodel dyn sum");
    mlp_acts_take(&s->dyn, ar, R, c->F, c->H);
    s->rin = mz_arena_take(ar, (int64_t)R * HA, "worldmodel reward in");
    mlp_acts_take(&s->reward, ar, B, c->head_F, m->S2);
    mlp_acts_take(&s->value, ar, B, c->head_F, m->S2);
    mlp_acts_take(&s->policy, ar, R, c->head_F, c->A);
    s->rep_ln = mz_arena_take(ar, (int64_t)R * wm_rep_inputs(c), "worldmodel rep ln");
    if (c->agent_id) s->rep_in = mz_arena_take(ar, (int64_t)R * wm_rep_inputs(c), "worldmodel rep in");
    s->rep_mean = mz_arena_take(ar, R, "worldmodel rep mean");
    s->rep_rstd = mz_arena_take(ar, R, "worldmodel rep rstd");
    mlp_acts_take(&s->rep, ar, R, c->F, c->H);
    if (!train) return;
    mlp_acts_take(&s->proj, ar, R, c->P, c->P);
    mlp_acts_take(&s->pred, ar, R, c->head_F, c->P);
    mlp_acts_take(&s->tproj, ar, R, c->P, c->P);
    s->th = mz_arena_take(ar, (int64_t)R * c->H, "worldmodel target h");
    s->l_policy = mz_arena_take(ar, R, "worldmodel policy loss");
    s->l_cons = mz_arena_take(ar, R, "worldmodel consistency loss");
    s->l_value = mz_arena_take(ar, B, "worldmodel value loss");
    s->l_reward = mz_arena_take(ar, B, "worldmodel reward loss");
    s->t_value = mz_arena_take(ar, (int64_t)B * m->S2, "worldmodel value target");
    s->t_reward = mz_arena_take(ar, (int64_t)B * m->S2, "worldmodel reward target");
    s->zh = mz_arena_take(ar, B, "worldmodel h(target)");
}

static int imax(int a, int b) { return a > b ? a : b; }

static void take_all(wm_model *m, mz_arena *ar) {
    const wm_config *c = &m->cfg;
    int K = c->K, B = c->max_batch, R = B * c->N, RS = c->max_trees * c->N, HA = c->H + c->A;
    int maxF = imax(imax(c->F, c->head_F), c->P);
    int rows = imax(R, RS);
    m->ones = mz_arena_take(ar, rows, "worldmodel ones");
    m->dot = mz_arena_take(ar, 1, "worldmodel dot");
    for (int k = 0; k <= K; k++) step_take(m, &m->st[k], ar, R, 1);
    m->obs = mz_arena_take(ar, (int64_t)(K + 1) * R * c->O, "worldmodel batch obs");
    m->policy = mz_arena_take(ar, (int64_t)(K + 1) * R * c->A, "worldmodel batch policy");
    m->uniform = c->policy_smoothing > 0.0f ? mz_arena_take(ar, (int64_t)(K + 1) * R * c->A, "worldmodel uniform policy")
                                            : NULL;
    m->value = mz_arena_take(ar, (int64_t)(K + 1) * B, "worldmodel batch value");
    m->reward = mz_arena_take(ar, (int64_t)imax(K, 1) * B, "worldmodel batch reward");
    m->cw_v = mz_arena_take(ar, (int64_t)(K + 1) * B, "worldmodel value weights");
    m->cw_p = mz_arena_take(ar, (int64_t)(K + 1) * R, "worldmodel policy weights");
    m->cw_c = mz_arena_take(ar, (int64_t)(K + 1) * R, "worldmodel consistency weights");
    m->d_mask = mz_arena_take(ar, (int64_t)(K + 1) * B, "worldmodel device batch obs mask");
    m->d_weight = mz_arena_take(ar, B, "worldmodel device batch weights");
    m->d_cw_tmp = mz_arena_take(ar, (int64_t)(K + 1) * B, "worldmodel device batch masked weights");
    m->v0 = mz_arena_take(ar, B, "worldmodel v0");
    m->r1 = mz_arena_take(ar, B, "worldmodel r1");
    m->probs = mz_arena_take(ar, (int64_t)B * m->S2, "worldmodel probs");
    for (int k = 0; k <= K; k++) m->dh[k] = mz_arena_take(ar, (int64_t)R * c->H, "worldmodel dh");
    m->dtmp = mz_arena_take(ar, (int64_t)R * c->H, "worldmodel dtmp");
    m->dhraw = mz_arena_take(ar, (int64_t)R * c->H, "worldmodel dhraw");
    m->ddin = mz_arena_take(ar, (int64_t)R * m->Din, "worldmodel ddin");
    m->dx = mz_arena_take(ar, (int64_t)R * HA, "worldmodel dx");
    m->dc = mz_arena_take(ar, (int64_t)R * c->H, "worldmodel dc");
    m->dca = mz_arena_take(ar, (int64_t)R * c->H, "worldmodel dca");
    m->dcb = mz_arena_take(ar, (int64_t)R * c->H, "worldmodel dcb");
    m->drin = mz_arena_take(ar, (int64_t)R * HA, "worldmodel drin");
    m->djunk = mz_arena_take(ar, (int64_t)R * c->A, "worldmodel d onehot");
    m->drep = mz_arena_take(ar, (int64_t)R * wm_rep_inputs(c), "worldmodel drep");
    m->dproj = mz_arena_take(ar, (int64_t)R * c->P, "worldmodel dproj");
    m->dpred = mz_arena_take(ar, (int64_t)R * c->P, "worldmodel dpred");
    m->dl_b = mz_arena_take(ar, B, "worldmodel dloss b");
    m->dl_r = mz_arena_take(ar, R, "worldmodel dloss r");
    m->dlog_b = mz_arena_take(ar, (int64_t)B * m->S2, "worldmodel dlogits b");
    m->dlog_r = mz_arena_take(ar, (int64_t)R * imax(c->A, c->P), "worldmodel dlogits r");
    m->s_dact = mz_arena_take(ar, (int64_t)R * maxF, "worldmodel mlp dact");
    m->s_dln = mz_arena_take(ar, (int64_t)R * maxF, "worldmodel mlp dln");
    m->s_dh1 = mz_arena_take(ar, (int64_t)R * maxF, "worldmodel mlp dh1");
    step_take(m, &m->sa, ar, RS, 0);
    m->emb = mz_arena_take(ar, (int64_t)c->max_trees * c->max_nodes * c->N * c->H, "worldmodel node embeddings");
    m->hprev = mz_arena_take(ar, (int64_t)RS * c->H, "worldmodel parents");
    m->sobs = mz_arena_take(ar, (int64_t)RS * c->O, "worldmodel root obs");
    m->sprobs = mz_arena_take(ar, (int64_t)RS * m->S2, "worldmodel search probs");
    m->stmp = mz_arena_take(ar, RS, "worldmodel search tmp");
}

#define CFG_ERR(...)                                   \
    do {                                               \
        snprintf(err, err_len, __VA_ARGS__);           \
        return NULL;                                   \
    } while (0)

wm_model *wm_create(mz_backend *be, const wm_config *cfg, char *err, size_t err_len) {
    const wm_config *c = cfg;
    if (c->N < 1 || c->O < 1 || c->A < 1) CFG_ERR("worldmodel: agents %d, obs %d, actions %d must be >= 1", c->N, c->O, c->A);
    if (c->H < 2 || c->F < 1 || c->head_F < 1 || c->P < 1) CFG_ERR("worldmodel: hidden %d (>= 2), widths %d/%d/%d", c->H, c->F, c->head_F, c->P);
    if (c->S < 1) CFG_ERR("worldmodel: support %d must be >= 1", c->S);
    if (c->K < 1 || c->K > 32) CFG_ERR("worldmodel: unroll steps %d outside 1..32", c->K);
    if (c->comm_layers < 0 || c->comm_layers > WM_MAX_COMM) CFG_ERR("worldmodel: comm layers %d outside 0..%d", c->comm_layers, WM_MAX_COMM);
    if (!(c->policy_smoothing >= 0.0f && c->policy_smoothing < 1.0f)) CFG_ERR("worldmodel: policy smoothing %g outside [0, 1)", c->policy_smoothing);
    if (!(c->comm_dropout >= 0.0f && c->comm_dropout < 1.0f)) CFG_ERR("worldmodel: comm dropout %g outside [0, 1)", c->comm_dropout);
    if (c->comm_layers > 0 && (c->comm_heads < 1 || c->H % c->comm_heads != 0 || c->comm_ff < 1))
        CFG_ERR("worldmodel: comm heads %d must divide hidden %d (ff %d)", c->comm_heads, c->H, c->comm_ff);
    if (c->max_batch < 1 || c->max_trees < 1 || c->max_nodes < 1 || c->max_envs < 1)
        CFG_ERR("worldmodel: batch %d, trees %d, nodes %d, envs %d must be >= 1", c->max_batch, c->max_trees, c->max_nodes, c->max_envs);
    wm_model *m = calloc(1, sizeof *m);
    MZ_CHECK(m, "worldmodel: out of host memory");
    m->be = be;
    m->cfg = *cfg;
    m->S2 = 2 * c->S + 1;
    m->Din = c->comm_layers == 0 ? c->H + c->A : (c->comm_concat ? c->H + c->A + c->H : c->H);
    mz_tensor_spec specs[WM_MAX_TENSORS];
    int n = build_specs(c, m->Din, specs);
    mz_params_init(&m->params, be, specs, n);
    bind(m, &m->w, m->params.values);
    bind(m, &m->g, m->params.grads);
    mz_arena measure;
    mz_arena_measure(&measure);
    measure.be = be;
    take_all(m, &measure);
    mz_arena_init(&m->arena, be, measure.used);
    take_all(m, &m->arena);
    mz_fill(be, m->ones, imax(c->max_batch, c->max_trees) * c->N, 1.0f);
    if (m->uniform) mz_fill(be, m->uniform, (int64_t)(c->K + 1) * c->max_batch * c->N * c->A, 1.0f / (float)c->A);
    int R = c->max_batch * c->N;
    m->actions = be->alloc(be, (size_t)c->K * R * sizeof(int32_t));
    size_t hfloats = (size_t)(c->K + 1) * (c->max_batch + 2 * R) + 5 * (size_t)c->max_batch;
    m->h_cw_v = calloc(hfloats, sizeof(float));
    MZ_CHECK(m->h_cw_v, "worldmodel: out of host memory");
    m->h_cw_p = m->h_cw_v + (size_t)(c->K + 1) * c->max_batch;
    m->h_cw_c = m->h_cw_p + (size_t)(c->K + 1) * R;
    m->h_value0 = m->h_cw_c + (size_t)(c->K + 1) * R;
    m->h_reward1 = m->h_value0 + c->max_batch;
    m->h_v0 = m->h_reward1 + c->max_batch;
    m->h_r1 = m->h_v0 + c->max_batch;
    m->h_prio = m->h_r1 + c->max_batch;
    wm_init_params(m, c->seed);
    return m;
}

void wm_destroy(wm_model *m) {
    if (!m) return;
    m->be->free(m->be, m->actions);
    mz_arena_free(&m->arena);
    mz_params_free(&m->params);
    free(m->h_cw_v);
    free(m);
}

mz_params *wm_params(wm_model *m) { return &m->params; }
const wm_config *wm_get_config(const wm_model *m) { return &m->cfg; }
const float *wm_priorities(const wm_model *m) { return m->h_prio; }

/* ---- building blocks -------------------------------------------------------- */

static void mlp_fwd(mz_backend *be, wm_mlp_acts *a, const wm_mlp *w, const float *inp, int rows, int C, int F, int OC) {
    mz_linear_forward(be, a->h1, inp, w->w1, w->b1, rows, C, F);
    if (w->layer_norm) mz_layernorm_forward(be, a->ln, a->mean, a->rstd, a->h1, w->lnw, w->lnb, rows, F);
    mz_relu_forward(be, a->act, w->layer_norm ? a->ln : a->h1, (int64_t)rows * F);
    mz_linear_forward(be, a->out, a->act, w->w2, w->b2, rows, F, OC);
}

/* adds into dinp (may be NULL) and the grads g */
static void mlp_bwd(wm_model *m, const wm_mlp_acts *a, const wm_mlp *w, const wm_mlp *g, float *dinp, const float *dout,
                    const float *inp, int rows, int C, int F, int OC) {
    mz_backend *be = m->be;
    size_t bytes = (size_t)rows * F * sizeof(float);
    be->zero(be, m->s_dact, bytes);
    be->zero(be, m->s_dln, bytes);
    be->zero(be, m->s_dh1, bytes);
    mz_linear_backward(be, m->s_dact, g->w2, g->b2, dout, a->act, w->w2, m->ones, rows, F, OC);
    if (w->layer_norm) {
        mz_relu_backward(be, m->s_dln, m->s_dact, a->ln, (int64_t)rows * F);
        mz_layernorm_backward(be, m->s_dh1, g->lnw, g->lnb, m->s_dln, a->h1, w->lnw, a->mean, a->rstd, rows, F);
    } else {
        mz_relu_backward(be, m->s_dh1, m->s_dact, a->h1, (int64_t)rows * F);
    }
    mz_linear_backward(be, dinp, g->w1, g->b1, m->s_dh1, inp, w->w1, m->ones, rows, C, F);
}

int wm_rep_inputs(const wm_config *c) { return c->O + (c->agent_id ? c->N : 0); }

/* What the representation reads for R agent rows of obs (rows in agent
 * order within each sample): obs itself, or [onehot(agent), obs] in s->rep_in
 * (the PPO actor's input layout, one op for both). */
static const float *rep_input(wm_model *m, wm_step_acts *s, const float *obs, int R) {
    const wm_config *c = &m->cfg;
    if (!c->agent_id) return obs;
    mz_agent_input(m->be, s->rep_in, obs, R, c->N, c->O, 1, 0, 0, 0);
    return s->rep_in;
}

/* representation of R agent rows of obs into h (min-max of s->rep.out) */
static void rep_fwd(wm_model *m, wm_step_acts *s, const float *obs, float *h, int R) {
    const wm_config *c = &m->cfg;
    int In = wm_rep_inputs(c);
    const float *x = rep_input(m, s, obs, R);
    if (!c->no_layer_norm) {
        mz_layernorm_forward(m->be, s->rep_ln, s->rep_mean, s->rep_rstd, x, m->w.rep_lnw, m->w.rep_lnb, R, In);
        x = s->rep_ln;
    }
    mlp_fwd(m->be, &s->rep, &m->w.rep, x, R, In, c->F, c->H);
    mz_minmax_forward(m->be, h, s->rep.out, R, c->H);
}

void wm_set_dropout_update(wm_model *m, uint64_t update) { m->dropout_update = update; }

/* The dropout stream of block l at unroll step k of the current update
 * (mz_block_forward takes 2 seed and 2 seed + 1 for its two branches). */
static uint64_t dropout_seed(const wm_model *m, int k, int l) {
    uint64_t h = (m->cfg.seed ^ 0x9e3779b97f4a7c15ull) * 0xbf58476d1ce4e5b9ull;
    h = (h ^ m->dropout_update) * 0x94d049bb133111ebull;
    return ((h ^ (h >> 31)) << 9) | (uint64_t)(k * WM_MAX_COMM + l);
}

/* dynamics from hprev [R x H] with actions [R] into s->h; s->onehot, s->x
 * and the dynamics input kept for backward. train_k: the unroll step of a
 * training forward (dropout on), -1 in search (off). */
static const float *dyn_fwd(wm_model *m, wm_step_acts *s, const float *hprev, const int32_t *actions, int R,
                            int train_k) {
    const wm_config *c = &m->cfg;
    mz_backend *be = m->be;
    int HA = c->H + c->A;
    mz_one_hot(be, s->onehot, actions, R, c->A);
    mz_concat_forward(be, s->x, hprev, s->onehot, R, c->H, c->A);
    const float *din = s->x;
    if (c->comm_layers > 0) {
        mz_linear_forward(be, s->comm_in, s->x, m->w.comm_in_w, m->w.comm_in_b, R, HA, c->H);
        const float *cur = s->comm_in;
        for (int l = 0; l < c->comm_layers; l++) {
            bool drop = train_k >= 0 && c->comm_dropout > 0.0f;
            mz_block_forward(be, &s->comm[l], &m->w.comm[l], cur, NULL, R / c->N, drop,
                             drop ? dropout_seed(m, train_k, l) : 0);
            cur = s->comm[l].out;
        }
        if (c->comm_concat) {
            mz_concat_forward(be, s->din, s->x, cur, R, HA, c->H);
            din = s->din;
        } else {
            din = cur;
        }
    }
    mlp_fwd(be, &s->dyn, &m->w.dyn, din, R, m->Din, c->F, c->H);
    mz_residual_forward(be, s->dsum, s->dyn.out, hprev, (int64_t)R * c->H);
    mz_minmax_forward(be, s->h, s->dsum, R, c->H);
    return din;
}

/* scalar of categorical logits [rows x S2]: h^-1(E[support]) */
static void cat_scalar(wm_model *m, float *out, float *probs, const float *logits, int rows) {
    mz_softmax_forward(m->be, probs, logits, rows, m->S2);
    mz_expectation_forward(m->be, out, probs, rows, m->cfg.S);
    mz_h_inverse(m->be, out, out, rows, MZ_H_EPS);
}

static float dot(wm_model *m, const float *a, const float *b, int n) {
    m->be->gemm(m->be, true, false, 1, 1, n, 1.0f, a, n, b, n, 0.0f, m->dot, 1);
    float host = 0.0f;
    m->be->copy_d2h(m->be, &host, m->dot, sizeof host);
    return host;
}

/* ---- training ------------------------------------------------------------------- */

/* Where the search's completed values are flat (no reward seen yet) its
 * improved policy is the prior, so cross-entropy to it has no restoring
 * force and the prior drifts with the trunk the other losses train; the
 * uniform share pulls it back. Once per batch, so repeated forwards of one
 * batch (gradient checks) see the same targets. */
static void smooth_policy_targets(wm_model *m, int B) {
    const wm_config *c = &m->cfg;
    if (!m->uniform) return;
    int64_t n = (int64_t)(c->K + 1) * B * c->N * c->A;
    m->be->scale_add(m->be, n, c->policy_smoothing, m->uniform, 1.0f - c->policy_smoothing, m->policy);
}

void wm_upload(wm_model *m, const wm_batch *bt) {
    const wm_config *c = &m->cfg;
    mz_backend *be = m->be;
    MZ_CHECK(bt->B >= 1 && bt->B <= c->max_batch, "worldmodel: batch of %d (the model was built for %d)", bt->B,
             c->max_batch);
    int B = bt->B, K = c->K, N = c->N, R = B * N;
    m->B = B;
    be->copy_h2d(be, m->obs, bt->obs, (size_t)(K + 1) * R * c->O * sizeof(float));
    be->copy_h2d(be, m->actions, bt->actions, (size_t)K * R * sizeof(int32_t));
    be->copy_h2d(be, m->policy, bt->policy, (size_t)(K + 1) * R * c->A * sizeof(float));
    smooth_policy_targets(m, B);
    be->copy_h2d(be, m->value, bt->value, (size_t)(K + 1) * B * sizeof(float));
    be->copy_h2d(be, m->reward, bt->reward, (size_t)K * B * sizeof(float));
    /* the float operations of wm_device_batch_ready, in its order: both batches train alike to the bit */
    float per_agent = 1.0f / (float)N;
    for (int k = 0; k <= K; k++) {
        float s = (k == 0 ? 1.0f : 1.0f / (float)K) / (float)B;
        for (int b = 0; b < B; b++) {
            float w = s * bt->weight[b];
            m->h_cw_v[k * B + b] = w;
            for (int i = 0; i < N; i++) {
                m->h_cw_p[(k * B + b) * N + i] = w * per_agent;
                m->h_cw_c[(k * B + b) * N + i] = k == 0 ? 0.0f : (w * bt->obs_mask[k * B + b]) * per_agent;
            }
        }
    }
    be->copy_h2d(be, m->cw_v, m->h_cw_v, (size_t)(K + 1) * B * sizeof(float));
    be->copy_h2d(be, m->cw_p, m->h_cw_p, (size_t)(K + 1) * R * sizeof(float));
    be->copy_h2d(be, m->cw_c, m->h_cw_c, (size_t)(K + 1) * R * sizeof(float));
    memcpy(m->h_value0, bt->value, (size_t)B * sizeof(float));
    memcpy(m->h_reward1, bt->reward, (size_t)B * sizeof(float));
}

wm_device_batch wm_device_batch_buffers(wm_model *m) {
    wm_device_batch d = {m->obs, m->actions, m->policy, m->value, m->reward, m->d_mask, m->d_weight};
    return d;
}

/* The row weights wm_upload computes on the host, here from the device's
 * weight and mask: cw_v[k][b] = w_b s_k / B, cw_p = cw_v / N per agent,
 * cw_c = cw_v m_k,b / N for k >= 1 (0 at k = 0). */
void wm_device_batch_ready(wm_model *m, int B) {
    const wm_config *c = &m->cfg;
    mz_backend *be = m->be;
    MZ_CHECK(B >= 1 && B <= c->max_batch, "worldmodel: batch of %d (the model was built for %d)", B, c->max_batch);
    int K = c->K, N = c->N, KB = (K + 1) * B;
    m->B = B;
    be->zero(be, m->cw_v, (size_t)KB * sizeof(float));
    for (int k = 0; k <= K; k++)
        be->axpy(be, B, (k == 0 ? 1.0f : 1.0f / (float)K) / (float)B, m->d_weight, m->cw_v + (size_t)k * B);
    mz_gather_rows(be, m->cw_p, m->cw_v, NULL, KB * N, 1, N, 1);
    be->scal(be, (int64_t)KB * N, 1.0f / (float)N, m->cw_p);
    be->zero(be, m->d_cw_tmp, (size_t)B * sizeof(float));
    mz_mul(be, m->d_cw_tmp + B, m->cw_v + B, m->d_mask + B, (int64_t)K * B);
    mz_gather_rows(be, m->cw_c, m->d_cw_tmp, NULL, KB * N, 1, N, 1);
    be->scal(be, (int64_t)KB * N, 1.0f / (float)N, m->cw_c);
    smooth_policy_targets(m, B);
    be->copy_d2h(be, m->h_value0, m->value, (size_t)B * sizeof(float));
    be->copy_d2h(be, m->h_reward1, m->reward, (size_t)B * sizeof(float));
}

void wm_forward_loss(wm_model *m, wm_losses *out) {
    const wm_config *c = &m->cfg;
    mz_backend *be = m->be;
    int B = m->B, K = c->K, N = c->N, R = B * N, H = c->H, HA = H + c->A;
    MZ_CHECK(B >= 1, "worldmodel: forward before any upload");
    memset(out, 0, sizeof *out);
    rep_fwd(m, &m->st[0], m->obs, m->st[0].h, R);
    for (int k = 0; k <= K; k++) {
        wm_step_acts *s = &m->st[k];
        if (k >= 1) {
            dyn_fwd(m, s, m->st[k - 1].h, m->actions + (size_t)(k - 1) * R, R, k);
            mz_concat_forward(be, s->rin, s->h, s->onehot, R, H, c->A);
            mlp_fwd(be, &s->reward, &m->w.reward, s->rin, B, N * HA, c->head_F, m->S2);
            mz_h_forward(be, s->zh, m->reward + (size_t)(k - 1) * B, B, MZ_H_EPS);
            mz_two_hot(be, s->t_reward, s->zh, B, c->S);
            mz_cross_entropy_forward(be, s->l_reward, s->reward.out, s->t_reward, B, m->S2);
            out->reward += dot(m, s->l_reward, m->cw_v + (size_t)k * B, B);
            /* consistency: predicted projection of the unrolled state vs the
             * projection of the real observation o_t+k (stop-gradient) */
            mlp_fwd(be, &s->proj, &m->w.proj, s->h, R, H, c->P, c->P);
            mlp_fwd(be, &s->pred, &m->w.pred, s->proj.out, R, c->P, c->head_F, c->P);
            rep_fwd(m, s, m->obs + (size_t)k * R * c->O, s->th, R);
            mlp_fwd(be, &s->tproj, &m->w.proj, s->th, R, H, c->P, c->P);
            mz_neg_cosine_forward(be, s->l_cons, s->pred.out, s->tproj.out, R, c->P);
            out->consistency += dot(m, s->l_cons, m->cw_c + (size_t)k * R, R);
            if (k == 1) cat_scalar(m, m->r1, m->probs, s->reward.out, B);
        }
        mlp_fwd(be, &s->value, &m->w.value, s->h, B, N * H, c->head_F, m->S2);
        mz_h_forward(be, s->zh, m->value + (size_t)k * B, B, MZ_H_EPS);
        mz_two_hot(be, s->t_value, s->zh, B, c->S);
        mz_cross_entropy_forward(be, s->l_value, s->value.out, s->t_value, B, m->S2);
        out->value += dot(m, s->l_value, m->cw_v + (size_t)k * B, B);
        if (k == 0) cat_scalar(m, m->v0, m->probs, s->value.out, B);
        mlp_fwd(be, &s->policy, &m->w.policy, s->h, R, H, c->head_F, c->A);
        mz_cross_entropy_forward(be, s->l_policy, s->policy.out, m->policy + (size_t)k * R * c->A, R, c->A);
        out->policy += dot(m, s->l_policy, m->cw_p + (size_t)k * R, R);
    }
    out->total = c->coef_reward * out->reward + c->coef_value * out->value + c->coef_policy * out->policy +
                 c->coef_consistency * out->consistency;
    be->copy_d2h(be, m->h_v0, m->v0, (size_t)B * sizeof(float));
    be->copy_d2h(be, m->h_r1, m->r1, (size_t)B * sizeof(float));
    double ve = 0.0, re = 0.0;
    for (int b = 0; b < B; b++) {
        float e = fabsf(m->h_v0[b] - m->h_value0[b]);
        m->h_prio[b] = e + 1e-6f;
        ve += e;
        re += fabsf(m->h_r1[b] - m->h_reward1[b]);
    }
    out->value_error = (float)(ve / B);
    out->reward_error = (float)(re / B);
}

/* dl = coef * weights over n rows */
static void dloss(wm_model *m, float *dl, const float *weights, float coef, int n) {
    m->be->zero(m->be, dl, (size_t)n * sizeof(float));
    m->be->axpy(m->be, n, coef, weights, dl);
}

void wm_backward(wm_model *m) {
    const wm_config *c = &m->cfg;
    mz_backend *be = m->be;
    int B = m->B, K = c->K, N = c->N, R = B * N, H = c->H, HA = H + c->A, A = c->A, P = c->P;
    size_t rh = (size_t)R * H * sizeof(float);
    float hidden_scale = c->hidden_grad_scale;
    for (int k = 0; k <= K; k++) be->zero(be, m->dh[k], rh);
    for (int k = K; k >= 0; k--) {
        wm_step_acts *s = &m->st[k];
        float *dh = m->dh[k];
        /* value */
        dloss(m, m->dl_b, m->cw_v + (size_t)k * B, c->coef_value, B);
        be->zero(be, m->dlog_b, (size_t)B * m->S2 * sizeof(float));
        mz_cross_entropy_backward(be, m->dlog_b, m->dl_b, s->value.out, s->t_value, B, m->S2);
        mlp_bwd(m, &s->value, &m->w.value, &m->g.value, dh, m->dlog_b, s->h, B, N * H, c->head_F, m->S2);
        /* policy */
        dloss(m, m->dl_r, m->cw_p + (size_t)k * R, c->coef_policy, R);
        be->zero(be, m->dlog_r, (size_t)R * A * sizeof(float));
        mz_cross_entropy_backward(be, m->dlog_r, m->dl_r, s->policy.out, m->policy + (size_t)k * R * A, R, A);
        mlp_bwd(m, &s->policy, &m->w.policy, &m->g.policy, dh, m->dlog_r, s->h, R, H, c->head_F, A);
        if (k >= 1) {
            /* consistency (the target branch gets no gradient) */
            dloss(m, m->dl_r, m->cw_c + (size_t)k * R, c->coef_consistency, R);
            be->zero(be, m->dpred, (size_t)R * P * sizeof(float));
            mz_neg_cosine_backward(be, m->dpred, m->dl_r, s->pred.out, s->tproj.out, R, P);
            be->zero(be, m->dproj, (size_t)R * P * sizeof(float));
            mlp_bwd(m, &s->pred, &m->w.pred, &m->g.pred, m->dproj, m->dpred, s->proj.out, R, P, c->head_F, P);
            mlp_bwd(m, &s->proj, &m->w.proj, &m->g.proj, dh, m->dproj, s->h, R, H, P, P);
            /* reward */
            dloss(m, m->dl_b, m->cw_v + (size_t)k * B, c->coef_reward, B);
            be->zero(be, m->dlog_b, (size_t)B * m->S2 * sizeof(float));
            mz_cross_entropy_backward(be, m->dlog_b, m->dl_b, s->reward.out, s->t_reward, B, m->S2);
            be->zero(be, m->drin, (size_t)R * HA * sizeof(float));
            mlp_bwd(m, &s->reward, &m->w.reward, &m->g.reward, m->drin, m->dlog_b, s->rin, B, N * HA, c->head_F,
                    m->S2);
            mz_concat_backward(be, dh, m->djunk, m->drin, R, H, A);
        }
        be->zero(be, m->dhraw, rh);
        if (k == 0) {
            mz_minmax_backward(be, m->dhraw, dh, s->rep.out, R, H);
            int In = wm_rep_inputs(c);
            const float *x = c->agent_id ? s->rep_in : m->obs; /* what rep_fwd read for step 0 */
            if (c->no_layer_norm) {
                mlp_bwd(m, &s->rep, &m->w.rep, &m->g.rep, NULL, m->dhraw, x, R, In, c->F, H);
                break;
            }
            be->zero(be, m->drep, (size_t)R * In * sizeof(float));
            mlp_bwd(m, &s->rep, &m->w.rep, &m->g.rep, m->drep, m->dhraw, s->rep_ln, R, In, c->F, H);
            mz_layernorm_backward(be, NULL, m->g.rep_lnw, m->g.rep_lnb, m->drep, x, m->w.rep_lnw, s->rep_mean,
                                  s->rep_rstd, R, In);
            break;
        }
        mz_minmax_backward(be, m->dhraw, dh, s->dsum, R, H);
        /* dsum = dyn.out + h_prev */
        be->zero(be, m->dtmp, rh);
        be->axpy(be, (int64_t)R * H, 1.0f, m->dhraw, m->dtmp);
        be->zero(be, m->ddin, (size_t)R * m->Din * sizeof(float));
        const float *din = c->comm_layers == 0 ? s->x : (c->comm_concat ? s->din : s->comm[c->comm_layers - 1].out);
        mlp_bwd(m, &s->dyn, &m->w.dyn, &m->g.dyn, m->ddin, m->dhraw, din, R, m->Din, c->F, H);
        be->zero(be, m->dx, (size_t)R * HA * sizeof(float));
        if (c->comm_layers == 0) {
            be->axpy(be, (int64_t)R * HA, 1.0f, m->ddin, m->dx);
        } else {
            float *dcur = m->dca, *dprev = m->dcb;
            be->zero(be, dcur, rh);
            if (c->comm_concat) mz_concat_backward(be, m->dx, dcur, m->ddin, R, HA, H);
            else be->axpy(be, (int64_t)R * H, 1.0f, m->ddin, dcur);
            for (int l = c->comm_layers - 1; l >= 0; l--) {
                const float *inp = l == 0 ? s->comm_in : s->comm[l - 1].out;
                be->zero(be, dprev, rh);
                mz_block_backward(be, &s->comm[l], &m->w.comm[l], &m->g.comm[l], dprev, dcur, inp, B);
                float *t = dcur;
                dcur = dprev;
                dprev = t;
            }
            mz_linear_backward(be, m->dx, m->g.comm_in_w, m->g.comm_in_b, dcur, s->x, m->w.comm_in_w, m->ones, R, HA,
                               H);
        }
        mz_concat_backward(be, m->dtmp, m->djunk, m->dx, R, H, A);
        be->axpy(be, (int64_t)R * H, hidden_scale, m->dtmp, m->dh[k - 1]);
    }
}

/* ---- search ------------------------------------------------------------------------ */

void wm_search_set_obs(wm_model *m, const float *obs_dev, int E) {
    MZ_CHECK(E >= 1 && E <= m->cfg.max_envs, "worldmodel: %d environments (built for %d)", E, m->cfg.max_envs);
    m->search_obs = obs_dev;
    m->search_E = E;
}

static void search_heads(wm_model *m, int B, const float *h, float *logits, float *value) {
    const wm_config *c = &m->cfg;
    wm_step_acts *s = &m->sa;
    int R = B * c->N;
    mlp_fwd(m->be, &s->policy, &m->w.policy, h, R, c->H, c->head_F, c->A);
    m->be->copy_d2d(m->be, logits, s->policy.out, (size_t)R * c->A * sizeof(float));
    mlp_fwd(m->be, &s->value, &m->w.value, h, B, c->N * c->H, c->head_F, m->S2);
    cat_scalar(m, value, m->sprobs, s->value.out, B);
}

/* Tree b's node node[b] (all roots when node is NULL) takes row b of h. */
static void store_nodes(wm_model *m, int B, const float *h, const int32_t *node) {
    const wm_config *c = &m->cfg;
    mz_scatter_rows(m->be, m->emb, h, node, B, c->N * c->H, c->max_nodes);
}

static void wm_root(void *ctx, mz_backend *be, int B, float *logits, float *value) {
    wm_model *m = ctx;
    const wm_config *c = &m->cfg;
    MZ_CHECK(m->search_obs, "worldmodel: search without observations (wm_search_set_obs)");
    MZ_CHECK(B <= c->max_trees && B % m->search_E == 0, "worldmodel: %d trees for %d environments (at most %d)", B,
             m->search_E, c->max_trees);
    (void)be;
    int per = B / m->search_E, R = B * c->N;
    /* tree b searches environment b / per (independent search: one tree per agent) */
    mz_gather_rows(m->be, m->sobs, m->search_obs, NULL, B, c->N * c->O, per, 1);
    rep_fwd(m, &m->sa, m->sobs, m->sa.h, R);
    store_nodes(m, B, m->sa.h, NULL);
    search_heads(m, B, m->sa.h, logits, value);
}

static void wm_recurrent(void *ctx, mz_backend *be, int B, const int32_t *parent, const int32_t *actions,
                         const int32_t *new_node, float *reward, float *discount, float *logits, float *value) {
    wm_model *m = ctx;
    const wm_config *c = &m->cfg;
    (void)be;
    MZ_CHECK(B <= c->max_trees, "worldmodel: %d trees (at most %d)", B, c->max_trees);
    int R = B * c->N;
    /* parent and new_node stay on the device: the search made them < max_nodes */
    mz_gather_rows(m->be, m->hprev, m->emb, parent, B, c->N * c->H, 1, c->max_nodes);
    wm_step_acts *s = &m->sa;
    dyn_fwd(m, s, m->hprev, actions, R, -1);
    mz_concat_forward(m->be, s->rin, s->h, s->onehot, R, c->H, c->A);
    mlp_fwd(m->be, &s->reward, &m->w.reward, s->rin, B, c->N * (c->H + c->A), c->head_F, m->S2);
    cat_scalar(m, reward, m->sprobs, s->reward.out, B);
    mz_fill(m->be, discount, B, c->discount);
    store_nodes(m, B, s->h, new_node);
    search_heads(m, B, s->h, logits, value);
}

mcts_ma_model wm_search_model(wm_model *m) {
    mcts_ma_model model = {m, wm_root, wm_recurrent};
    return model;
}
