/* The world model: gradient of the full K-step loss against central finite
 * differences (three communication layouts), CPU vs emulated CUDA parity of
 * a training step (loss, gradients, AdamW update) and of a search through
 * the model, the half gradient on the hidden state, and policy-target
 * smoothing. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "src/nn/optim.h"
#include "tests/test_util.h"
#include "worldmodel/worldmodel.h"

enum { TB = 3, TN = 2, TO = 3, TA = 3, TK = 2 };

static wm_config small_config(int comm_layers, int concat) {
    wm_config c;
    memset(&c, 0, sizeof c);
    c.N = TN, c.O = TO, c.A = TA, c.H = 4, c.F = 5, c.head_F = 4, c.P = 3, c.S = 3;
    c.comm_layers = comm_layers, c.comm_heads = 2, c.comm_ff = 6, c.comm_concat = concat;
    c.K = TK, c.max_batch = TB, c.max_trees = 4, c.max_nodes = 9, c.max_envs = 4, c.discount = 0.9f;
    c.coef_reward = 1.0f, c.coef_value = 0.25f, c.coef_policy = 1.0f, c.coef_consistency = 2.0f;
    c.hidden_grad_scale = 1.0f;
    c.seed = 7;
    return c;
}

/* a batch with every feature exercised: a masked future observation, a
 * non-uniform policy, targets of both signs, unequal importance weights */
typedef struct {
    float obs[(TK + 1) * TB * TN * TO];
    int32_t actions[TK * TB * TN];
    float policy[(TK + 1) * TB * TN * TA];
    float value[(TK + 1) * TB], reward[TK * TB], mask[(TK + 1) * TB], weight[TB];
} host_batch;

static void make_batch(host_batch *h, wm_batch *out) {
    fill_normal(h->obs, sizeof h->obs / sizeof(float), 11);
    for (size_t i = 0; i < sizeof h->actions / sizeof(int32_t); i++) h->actions[i] = (int32_t)((i * 7 + 1) % TA);
    fill_normal(h->policy, sizeof h->policy / sizeof(float), 12);
    for (int r = 0; r < (TK + 1) * TB * TN; r++) {
        float s = 0.0f;
        for (int a = 0; a < TA; a++) s += h->policy[r * TA + a] = expf(h->policy[r * TA + a]);
        for (int a = 0; a < TA; a++) h->policy[r * TA + a] /= s;
    }
    fill_normal(h->value, (TK + 1) * TB, 13);
    fill_normal(h->reward, TK * TB, 14);
    for (int i = 0; i < (TK + 1) * TB; i++) h->value[i] *= 2.0f, h->mask[i] = 1.0f;
    h->mask[TK * TB + 1] = 0.0f; /* sample 1's last observation is past its episode */
    for (int b = 0; b < TB; b++) h->weight[b] = 0.5f + 0.25f * (float)b;
    *out = (wm_batch){TB, h->obs, h->actions, h->policy, h->value, h->reward, h->mask, h->weight};
}

static float loss_at(wm_model *m) {
    wm_losses l;
    wm_forward_loss(m, &l);
    return l.total;
}

/* consistency_only 0: every loss but consistency, every parameter.
 * consistency_only 1: the consistency loss alone, checked on the tensors
 * that do not feed its stop-gradient target (the target is rep + proj of
 * the real observation, which finite differences would move). */
static void gradcheck(int comm_layers, int concat, int consistency_only, int no_layer_norm, int agent_id,
                      float dropout) {
    mz_backend *be = test_cpu_backend();
    wm_config c = small_config(comm_layers, concat);
    c.comm_dropout = dropout; /* the masks of one update: fixed across the finite differences */
    c.no_layer_norm = no_layer_norm;
    c.agent_id = agent_id;
    if (consistency_only) c.coef_reward = c.coef_value = c.coef_policy = 0.0f;
    else c.coef_consistency = 0.0f;
    char err[256];
    wm_model *m = wm_create(be, &c, err, sizeof err);
    assert_non_null(m);
    host_batch hb;
    wm_batch b;
    make_batch(&hb, &b);
    wm_upload(m, &b);
    mz_params *p = wm_params(m);
    int64_t n = p->total;
    float *val = malloc((size_t)n * sizeof(float)), *grad = malloc((size_t)n * sizeof(float));
    assert_true(val && grad);
    mz_params_zero_grads(p);
    float l0 = loss_at(m);
    assert_true(isfinite(l0) && l0 > 0.0f);
    wm_backward(m);
    be->copy_d2h(be, grad, p->grads, (size_t)n * sizeof(float));
    be->copy_d2h(be, val, p->values, (size_t)n * sizeof(float));
    /* central differences in float: eps 1e-3 keeps the rounding error of a
     * loss of a few units near 5e-4 per element, and the truncation error
     * (which grows with eps: 2 transformer blocks after min-max give 1.2e-2
     * at eps 2e-3, 6.7e-3 at 1e-3) under the bound */
    const float eps = 1e-3f;
    double num = 0.0, den = 0.0;
    int far = 0;
    int checked = 0, kinks = 0;
    for (int64_t i = 0; i < n; i++) {
        int t = 0;
        while (t + 1 < p->count && p->offset[t + 1] <= i) t++;
        if (i >= p->offset[t] + mz_tensor_numel(&p->specs[t])) continue; /* alignment padding */
        if (consistency_only) {
            if (!strncmp(p->specs[t].name, "rep.", 4) || !strncmp(p->specs[t].name, "proj.", 5)) continue;
        }
        checked++;
        float keep = val[i];
        val[i] = keep + eps;
        be->copy_h2d(be, p->values + i, val + i, sizeof(float));
        float lp = loss_at(m);
        val[i] = keep - eps;
        be->copy_h2d(be, p->values + i, val + i, sizeof(float));
        float lm = loss_at(m);
        val[i] = keep;
        be->copy_h2d(be, p->values + i, val + i, sizeof(float));
        double fd = ((double)lp - (double)lm) / (2.0 * eps);
        if (fabs(fd - grad[i]) > 5e-3 + 5e-2 * fabs(fd)) {
            /* at a kink (ReLU, min-max argument, attention of a near tie)
             * the analytic gradient is one of the one-sided derivatives */
            double right = ((double)lp - (double)l0) / eps, left = ((double)l0 - (double)lm) / eps;
            fd = fabs(right - grad[i]) < fabs(left - grad[i]) ? right : left;
            kinks++;
        }
        double d = fd - grad[i];
        if (fabs(fd - ((double)lp - (double)lm) / (2.0 * eps)) == 0.0) { /* the norm is over smooth elements */
            num += d * d;
            den += (double)grad[i] * grad[i];
        }
        if (fabs(d) > 5e-3 + 5e-2 * fabs(fd) || (getenv("WM_GRADCHECK_VERBOSE") && fabs(d) > 1e-3)) {
            far += fabs(d) > 5e-3 + 5e-2 * fabs(fd) ? 1 : 0;
            print_message("  %s[%lld]: analytic %g, finite difference %g\n", p->specs[t].name,
                          (long long)(i - p->offset[t]), grad[i], fd);
        }
    }
    double rel = sqrt(num / den);
    print_message("gradcheck comm=%d concat=%d%s%s dropout %g %s: %d parameters, relative error %.2e, %d one-sided, "
                  "%d outside tolerance\n",
                  comm_layers, concat, no_layer_norm ? " no LayerNorm" : "", agent_id ? " agent ids" : "", dropout,
                  consistency_only ? "consistency" : "other losses", checked, rel, kinks, far);
    assert_true(den > 0.0);
    assert_true(rel < 1e-2);
    assert_int_equal(far, 0);
    assert_true(kinks <= checked / 100);
    free(val);
    free(grad);
    wm_destroy(m);
}

static void test_gradcheck_no_comm(void **state) {
    (void)state;
    gradcheck(0, 0, 0, 0, 0, 0.0f);
    gradcheck(0, 0, 1, 0, 0, 0.0f);
}
static void test_gradcheck_no_layer_norm(void **state) {
    (void)state;
    gradcheck(1, 1, 0, 1, 0, 0.0f);
    gradcheck(1, 1, 1, 1, 0, 0.0f);
}
/* the agent-id columns of the representation's input: with and without
 * its LayerNorm (the backward then reads [onehot, obs], not obs) */
static void test_gradcheck_agent_id(void **state) {
    (void)state;
    gradcheck(0, 0, 0, 0, 1, 0.0f);
    gradcheck(1, 1, 0, 1, 1, 0.0f);
}
/* fixed masks, so the loss is as smooth as without dropout (comm=2 concat
 * at 0.3 puts two of 791 parameters within eps of a kink; 0.1, 0.2 and 0.4
 * do not) */
static void test_gradcheck_comm_dropout(void **state) {
    (void)state;
    gradcheck(1, 1, 0, 0, 0, 0.3f);
    gradcheck(1, 1, 1, 0, 0, 0.3f);
    gradcheck(2, 0, 0, 0, 0, 0.3f);
    gradcheck(2, 1, 0, 0, 0, 0.2f);
}
static void test_gradcheck_comm_concat(void **state) {
    (void)state;
    gradcheck(1, 1, 0, 0, 0, 0.0f);
    gradcheck(1, 1, 1, 0, 0, 0.0f);
}
static void test_gradcheck_comm_replace(void **state) {
    (void)state;
    gradcheck(2, 0, 0, 0, 0, 0.0f);
    gradcheck(2, 0, 1, 0, 0, 0.0f);
}

/* with hidden_grad_scale 0.5 only the gradients that cross a dynamics step
 * change: the reward head reads each step's own state (unchanged), the
 * representation receives the later steps' gradients (halved) */
static void test_half_gradient(void **state) {
    (void)state;
    mz_backend *be = test_cpu_backend();
    wm_config c = small_config(0, 0);
    char err[256];
    host_batch hb;
    wm_batch b;
    make_batch(&hb, &b);
    float *g[2];
    int64_t n = 0;
    for (int v = 0; v < 2; v++) {
        c.hidden_grad_scale = v == 0 ? 1.0f : 0.5f;
        wm_model *m = wm_create(be, &c, err, sizeof err);
        assert_non_null(m);
        wm_upload(m, &b);
        mz_params_zero_grads(wm_params(m));
        loss_at(m);
        wm_backward(m);
        n = wm_params(m)->total;
        g[v] = malloc((size_t)n * sizeof(float));
        be->copy_d2h(be, g[v], wm_params(m)->grads, (size_t)n * sizeof(float));
        int reward_w2 = mz_params_find(wm_params(m), "reward.fc2.weight");
        int rep_w1 = mz_params_find(wm_params(m), "rep.fc1.weight");
        assert_true(reward_w2 >= 0 && rep_w1 >= 0);
        if (v == 1) {
            /* heads read their own step's state: unchanged */
            int64_t o = wm_params(m)->offset[reward_w2], len = mz_tensor_numel(&wm_params(m)->specs[reward_w2]);
            assert_close(g[0] + o, g[1] + o, len, 0.0, 0.0, "reward head gradient");
            /* the representation receives later steps' gradients halved */
            o = wm_params(m)->offset[rep_w1];
            len = mz_tensor_numel(&wm_params(m)->specs[rep_w1]);
            double diff = 0.0;
            for (int64_t i = 0; i < len; i++) diff += fabs(g[0][o + i] - g[1][o + i]);
            assert_true(diff > 1e-6);
        }
        wm_destroy(m);
    }
    free(g[0]);
    free(g[1]);
}

/* one training step (forward, backward, AdamW) on both backends */
static void train_step_parity(int no_layer_norm, int agent_id, float dropout) {
    wm_config c = small_config(1, 1);
    c.no_layer_norm = no_layer_norm;
    c.agent_id = agent_id;
    c.comm_dropout = dropout;
    c.hidden_grad_scale = 0.5f;
    c.zero_init = 1;
    host_batch hb;
    wm_batch b;
    make_batch(&hb, &b);
    mz_backend *bes[2] = {test_cpu_backend(), test_emu_backend()};
    float *vals[2], *grads[2], loss[2];
    int64_t n = 0;
    char err[256];
    for (int v = 0; v < 2; v++) {
        mz_backend *be = bes[v];
        wm_model *m = wm_create(be, &c, err, sizeof err);
        assert_non_null(m);
        mz_params *p = wm_params(m);
        n = p->total;
        wm_upload(m, &b);
        mz_params_zero_grads(p);
        wm_losses l;
        wm_forward_loss(m, &l);
        loss[v] = l.total;
        wm_backward(m);
        grads[v] = malloc((size_t)n * sizeof(float));
        vals[v] = malloc((size_t)n * sizeof(float));
        be->copy_d2h(be, grads[v], p->grads, (size_t)n * sizeof(float));
        float *dotbuf = be->alloc(be, sizeof(float));
        mz_adamw_config ac = {0.9f, 0.999f, 1e-8f, 1e-4f, 5.0f, 1.0f};
        mz_adamw_step(p, &ac, 1e-3f, 1, dotbuf);
        be->free(be, dotbuf);
        be->copy_d2h(be, vals[v], p->values, (size_t)n * sizeof(float));
        wm_destroy(m);
    }
    assert_close(&loss[0], &loss[1], 1, 1e-6, 1e-5, "loss");
    assert_close(grads[0], grads[1], n, 1e-5, 1e-4, "gradients");
    assert_close(vals[0], vals[1], n, 1e-6, 1e-5, "parameters after AdamW");
    for (int v = 0; v < 2; v++) free(vals[v]), free(grads[v]);
}
static void test_train_step_parity(void **state) {
    (void)state;
    train_step_parity(0, 0, 0.0f);
    train_step_parity(1, 0, 0.0f);
    train_step_parity(0, 1, 0.0f);
    train_step_parity(1, 1, 0.0f);
    train_step_parity(0, 0, 0.3f);
}

/* Regression (simple_spread did not learn): with the LayerNorm on the
 * observation the model cannot tell an observation o from 2o, a state with
 * every distance and velocity doubled, whatever its parameters; MPE's reward
 * is those distances. Without LayerNorm the two differ. */
static void test_observation_scale(void **state) {
    (void)state;
    mz_backend *be = test_cpu_backend();
    enum { E = 2 };
    float obs[E * TN * TO], out[2][E * TN * TA + E];
    fill_normal(obs, TN * TO, 21);
    for (int i = 0; i < TN * TO; i++) obs[TN * TO + i] = 2.0f * obs[i];
    for (int no_ln = 0; no_ln < 2; no_ln++) {
        wm_config c = small_config(1, 1);
        c.no_layer_norm = no_ln;
        char err[256];
        wm_model *m = wm_create(be, &c, err, sizeof err);
        assert_non_null(m);
        /* parameters as after some training: every bias non-zero too (a ReLU
         * MLP with zero biases is itself blind to scale after min-max) */
        mz_params *p = wm_params(m);
        float *val = malloc((size_t)p->total * sizeof(float)), *noise = malloc((size_t)p->total * sizeof(float));
        assert_true(val && noise);
        be->copy_d2h(be, val, p->values, (size_t)p->total * sizeof(float));
        fill_normal(noise, (size_t)p->total, 22);
        for (int64_t i = 0; i < p->total; i++) val[i] += 0.3f * noise[i];
        be->copy_h2d(be, p->values, val, (size_t)p->total * sizeof(float));
        free(val);
        free(noise);
        float *d_obs = be->alloc(be, sizeof obs), *d_out = be->alloc(be, sizeof out[0]);
        be->copy_h2d(be, d_obs, obs, sizeof obs);
        wm_search_set_obs(m, d_obs, E);
        mcts_ma_model mm = wm_search_model(m);
        mm.root(mm.ctx, be, E, d_out, d_out + E * TN * TA);
        be->copy_d2h(be, out[no_ln], d_out, sizeof out[0]);
        double diff = fabs(out[no_ln][E * TN * TA] - out[no_ln][E * TN * TA + 1]); /* the two values */
        for (int i = 0; i < TN * TA; i++) diff += fabs(out[no_ln][i] - out[no_ln][TN * TA + i]);
        print_message("observation o vs 2o, %s: summed |difference| of logits and value %.3g\n",
                      no_ln ? "no LayerNorm" : "LayerNorm", diff);
        if (no_ln) assert_true(diff > 1e-3);
        else assert_true(diff < 1e-4);
        be->free(be, d_obs);
        be->free(be, d_out);
        wm_destroy(m);
    }
}

/* Agents that see the same observation get the same prior from shared
 * weights, unless the representation also reads their ids; the root call
 * is the same on both backends. */
static void test_agent_id_breaks_symmetry(void **state) {
    (void)state;
    enum { E = 2 };
    float obs[E * TN * TO], out[2][2][E * TN * TA + E];
    fill_normal(obs, TO, 23);
    for (int r = 1; r < E * TN; r++) memcpy(obs + r * TO, obs, TO * sizeof(float));
    mz_backend *bes[2] = {test_cpu_backend(), test_emu_backend()};
    for (int ids = 0; ids < 2; ids++) {
        for (int v = 0; v < 2; v++) {
            mz_backend *be = bes[v];
            wm_config c = small_config(1, 1);
            c.agent_id = ids;
            char err[256];
            wm_model *m = wm_create(be, &c, err, sizeof err);
            assert_non_null(m);
            float *d_obs = be->alloc(be, sizeof obs), *d_out = be->alloc(be, sizeof out[0][0]);
            be->copy_h2d(be, d_obs, obs, sizeof obs);
            wm_search_set_obs(m, d_obs, E);
            mcts_ma_model mm = wm_search_model(m);
            mm.root(mm.ctx, be, E, d_out, d_out + E * TN * TA);
            be->copy_d2h(be, out[ids][v], d_out, sizeof out[0][0]);
            be->free(be, d_obs);
            be->free(be, d_out);
            wm_destroy(m);
        }
        assert_close(out[ids][0], out[ids][1], E * TN * TA + E, 1e-6, 1e-5, "root logits and values");
        double diff = 0.0; /* agent 0 against agent 1 of environment 0 */
        for (int a = 0; a < TA; a++) diff += fabs(out[ids][0][a] - out[ids][0][TA + a]);
        print_message("same observation, agents 0 and 1, %s: summed |logit difference| %.3g\n",
                      ids ? "agent ids" : "no ids", diff);
        if (ids) assert_true(diff > 1e-4);
        else assert_true(diff == 0.0);
    }
}

/* Communication dropout acts in training only: a search through a model
 * with dropout gives the outputs of the same model without; a training
 * forward draws its masks from the update (same update, same loss; another
 * update, other masks), and a forward with dropout differs from one without. */
static void test_dropout_train_only(void **state) {
    (void)state;
    mz_backend *be = test_cpu_backend();
    enum { E = 2 };
    float obs[E * TN * TO], out[2][E * TN * TA + E];
    fill_normal(obs, E * TN * TO, 24);
    host_batch hb;
    wm_batch b;
    make_batch(&hb, &b);
    float loss[2][3];
    for (int d = 0; d < 2; d++) {
        wm_config c = small_config(2, 1);
        c.comm_dropout = d ? 0.5f : 0.0f;
        c.max_trees = E, c.max_envs = E;
        char err[256];
        wm_model *m = wm_create(be, &c, err, sizeof err);
        assert_non_null(m);
        mcts_params p;
        mcts_params_default(&p, MCTS_GUMBEL_MUZERO, 8);
        mcts_ma_search *s = mcts_ma_create(be, &p, MCTS_MA_JOINT, E, TN, TA, 64, 0, err, sizeof err);
        assert_non_null(s);
        float *dobs = be->alloc(be, sizeof obs);
        be->copy_h2d(be, dobs, obs, sizeof obs);
        wm_search_set_obs(m, dobs, E);
        mcts_ma_model model = wm_search_model(m);
        mcts_ma_run(s, &model); /* root and recurrent calls through the communication blocks */
        be->copy_d2h(be, out[d], mcts_ma_policy(s), E * TN * TA * sizeof(float));
        be->copy_d2h(be, out[d] + E * TN * TA, mcts_ma_root_value(s), E * sizeof(float));
        be->free(be, dobs);
        mcts_ma_destroy(s);
        wm_upload(m, &b);
        for (int i = 0; i < 3; i++) {
            wm_set_dropout_update(m, i < 2 ? 5 : 6);
            loss[d][i] = loss_at(m);
        }
        wm_destroy(m);
    }
    assert_memory_equal(out[0], out[1], sizeof out[0]);
    assert_true(loss[0][0] == loss[0][2]);       /* no dropout: the update does not matter */
    assert_true(loss[1][0] == loss[1][1]);       /* same update, same masks */
    assert_true(loss[1][0] != loss[1][2]);       /* another update, other masks */
    assert_true(loss[1][0] != loss[0][0]);
}

/* a joint and an independent search through the model: same actions and
 * policies on both backends, policies are distributions */
static void search_parity(mcts_ma_mode mode) {
    enum { E = 2 };
    wm_config c = small_config(1, 1);
    c.max_trees = E * TN;
    c.max_envs = E;
    mz_backend *bes[2] = {test_cpu_backend(), test_emu_backend()};
    float pol[2][E * TN * TA], root[2][E];
    int32_t act[2][E * TN];
    float obs[E * TN * TO];
    fill_normal(obs, E * TN * TO, 21);
    char err[256];
    for (int v = 0; v < 2; v++) {
        mz_backend *be = bes[v];
        mcts_params p;
        mcts_params_default(&p, MCTS_GUMBEL_MUZERO, 8);
        c.max_nodes = 9;
        wm_model *m = wm_create(be, &c, err, sizeof err);
        assert_non_null(m);
        mcts_ma_search *s = mcts_ma_create(be, &p, mode, E, TN, TA, 64, 0, err, sizeof err);
        assert_non_null(s);
        float *dobs = be->alloc(be, sizeof obs);
        be->copy_h2d(be, dobs, obs, sizeof obs);
        wm_search_set_obs(m, dobs, E);
        mcts_ma_model model = wm_search_model(m);
        mcts_ma_run(s, &model);
        be->copy_d2h(be, pol[v], mcts_ma_policy(s), sizeof pol[v]);
        be->copy_d2h(be, act[v], mcts_ma_actions(s), sizeof act[v]);
        be->copy_d2h(be, root[v], mcts_ma_root_value(s), sizeof root[v]);
        be->free(be, dobs);
        mcts_ma_destroy(s);
        wm_destroy(m);
    }
    for (int r = 0; r < E * TN; r++) {
        float sum = 0.0f;
        for (int a = 0; a < TA; a++) sum += pol[0][r * TA + a];
        assert_true(fabsf(sum - 1.0f) < 1e-4f);
        assert_true(act[0][r] >= 0 && act[0][r] < TA);
        assert_int_equal(act[0][r], act[1][r]);
    }
    assert_close(pol[0], pol[1], E * TN * TA, 1e-5, 1e-4, "search policy");
    assert_close(root[0], root[1], E, 1e-5, 1e-4, "root value");
}

static void test_search_joint(void **state) {
    (void)state;
    search_parity(MCTS_MA_JOINT);
}
static void test_search_independent(void **state) {
    (void)state;
    search_parity(MCTS_MA_INDEPENDENT);
}

static void test_bad_config(void **state) {
    (void)state;
    wm_config c = small_config(1, 1);
    c.comm_heads = 3; /* does not divide H = 4 */
    char err[256] = "";
    assert_null(wm_create(test_cpu_backend(), &c, err, sizeof err));
    assert_non_null(strstr(err, "heads 3"));
}

/* policy_smoothing: the loss is the unsmoothed model's on targets mixed by
 * hand, through the host upload and the device batch, on both backends */
static float smoothed_loss(mz_backend *be, float eps, const wm_batch *b, int device_path, float *policy_loss) {
    wm_config c = small_config(1, 1);
    c.policy_smoothing = eps;
    char err[256];
    wm_model *m = wm_create(be, &c, err, sizeof err);
    assert_non_null(m);
    if (device_path) {
        wm_device_batch d = wm_device_batch_buffers(m);
        int R = b->B * TN;
        be->copy_h2d(be, d.obs, b->obs, sizeof(float) * (TK + 1) * R * TO);
        be->copy_h2d(be, d.actions, b->actions, sizeof(int32_t) * TK * R);
        be->copy_h2d(be, d.policy, b->policy, sizeof(float) * (TK + 1) * R * TA);
        be->copy_h2d(be, d.value, b->value, sizeof(float) * (TK + 1) * b->B);
        be->copy_h2d(be, d.reward, b->reward, sizeof(float) * TK * b->B);
        be->copy_h2d(be, d.obs_mask, b->obs_mask, sizeof(float) * (TK + 1) * b->B);
        be->copy_h2d(be, d.weight, b->weight, sizeof(float) * b->B);
        wm_device_batch_ready(m, b->B);
    } else {
        wm_upload(m, b);
    }
    wm_losses l, again;
    wm_forward_loss(m, &l);
    wm_forward_loss(m, &again); /* smoothing happens once per batch, not per forward */
    assert_true(l.total == again.total);
    wm_destroy(m);
    *policy_loss = l.policy;
    return l.total;
}

static void test_policy_smoothing(void **state) {
    (void)state;
    const float eps = 0.2f;
    host_batch hb, mixed;
    wm_batch b, bm;
    make_batch(&hb, &b);
    make_batch(&mixed, &bm);
    for (size_t i = 0; i < sizeof mixed.policy / sizeof(float); i++)
        mixed.policy[i] = eps * (1.0f / (float)TA) + (1.0f - eps) * mixed.policy[i];
    mz_backend *bes[2] = {test_cpu_backend(), test_emu_backend()};
    for (int v = 0; v < 2; v++) {
        float pl_hand, pl_host, pl_dev, pl_raw;
        float hand = smoothed_loss(bes[v], 0.0f, &bm, 0, &pl_hand);
        float host = smoothed_loss(bes[v], eps, &b, 0, &pl_host);
        float dev = smoothed_loss(bes[v], eps, &b, 1, &pl_dev);
        float raw = smoothed_loss(bes[v], 0.0f, &b, 0, &pl_raw);
        assert_close(&host, &hand, 1, 1e-6, 1e-6, "smoothed loss (upload) vs hand-mixed targets");
        assert_close(&dev, &hand, 1, 1e-6, 1e-6, "smoothed loss (device batch) vs hand-mixed targets");
        assert_close(&pl_host, &pl_hand, 1, 1e-6, 1e-6, "policy loss");
        assert_true(fabsf(pl_raw - pl_host) > 1e-3f && fabsf(raw - host) > 1e-3f); /* the mix changes the loss */
    }
    wm_config c = small_config(1, 1);
    c.policy_smoothing = 1.0f;
    char err[256] = "";
    assert_null(wm_create(test_cpu_backend(), &c, err, sizeof err));
    assert_non_null(strstr(err, "policy smoothing 1"));
}

static int run_worldmodel(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gradcheck_no_comm),   cmocka_unit_test(test_gradcheck_comm_concat),
        cmocka_unit_test(test_gradcheck_comm_replace), cmocka_unit_test(test_half_gradient),
        cmocka_unit_test(test_train_step_parity),   cmocka_unit_test(test_search_joint),
        cmocka_unit_test(test_search_independent),  cmocka_unit_test(test_bad_config),
        cmocka_unit_test(test_gradcheck_no_layer_norm), cmocka_unit_test(test_observation_scale),
        cmocka_unit_test(test_gradcheck_agent_id),  cmocka_unit_test(test_agent_id_breaks_symmetry),
        cmocka_unit_test(test_gradcheck_comm_dropout), cmocka_unit_test(test_dropout_train_only),
        cmocka_unit_test(test_policy_smoothing),
    };
    return MZ_RUN_GROUP("worldmodel", tests);
}
MZ_TEST_GROUP("worldmodel", run_worldmodel)
