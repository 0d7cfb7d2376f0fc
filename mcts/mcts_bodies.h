/* Single-source bodies of the search: one call works on one tree b. Run in
 * OpenMP loops by mcts/mcts.c and in one-thread-per-tree kernels by
 * mcts/mcts_cuda.cu (also under emulation). Formulas and their float order
 * follow mctx (search.py, action_selection.py, qtransforms.py, policies.py). */
#ifndef MZ_MCTS_BODIES_H
#define MZ_MCTS_BODIES_H

#include <float.h>
#include <math.h>
#include <stdint.h>

#include "mcts/mcts.h"
#include "src/hd.h"
#include "src/rng.h"

#define MCTS_MAX_ACTIONS 512
#define MCTS_STREAM_TIEBREAK 0x3c000001u
#define MCTS_STREAM_ROOT_NOISE 0x3c000002u
#define MCTS_STREAM_ACTION 0x3c000003u
#define MCTS_TINY FLT_MIN          /* jnp.finfo(float32).tiny */
#define MCTS_LOWEST (-FLT_MAX)     /* jnp.finfo(float32).min: masks without NaN */
#define MCTS_EPSILON 1e-8f

/* max / min for values that are never NaN: on x86 without
 * -ffinite-math-only fmaxf / fminf are libm calls, one per element of the
 * hot loops (8% of a MuZero search in perf). */
HD static inline float mcts_maxf(float a, float b) { return a > b ? a : b; }
HD static inline float mcts_minf(float a, float b) { return a < b ? a : b; }

HD static inline int64_t mcts_na(const mcts_tree *t, int64_t b, int node) {
    return (b * t->N + node) * (int64_t)t->A;
}

HD static inline void mcts_softmax(const float *logits, int A, float *out) {
    float m = logits[0];
    for (int a = 1; a < A; a++) m = mcts_maxf(m, logits[a]);
    float sum = 0.0f;
    for (int a = 0; a < A; a++) {
        out[a] = expf(logits[a] - m);
        sum += out[a];
    }
    for (int a = 0; a < A; a++) out[a] /= sum;
}

/* First index of the maximum; invalid (mask != NULL and mask[a]) excluded;
 * all excluded gives 0, as mctx's masked_argmax. */
HD static inline int mcts_argmax(const float *x, int A, const uint8_t *invalid) {
    int best = -1;
    for (int a = 0; a < A; a++) {
        if (invalid && invalid[a]) continue;
        if (best < 0 || x[a] > x[best]) best = a;
    }
    return best < 0 ? 0 : best;
}

/* q(a) = r(a) + discount(a) * value(a) of node n's children. */
HD static inline void mcts_qvalues(const mcts_tree *t, int64_t b, int n, float *q) {
    int64_t base = mcts_na(t, b, n);
    for (int a = 0; a < t->A; a++) q[a] = t->children_rewards[base + a] + t->children_discounts[base + a] * t->children_values[base + a];
}

HD static inline void mcts_q_parent_and_siblings(const mcts_tree *t, int64_t b, int n, float *out) {
    int A = t->A;
    int64_t base = mcts_na(t, b, n);
    float q[MCTS_MAX_ACTIONS];
    mcts_qvalues(t, b, n, q);
    float v = t->node_values[b * t->N + n];
    float lo = v, hi = v;
    for (int a = 0; a < A; a++) {
        float safe = t->children_visits[base + a] > 0 ? q[a] : v;
        lo = mcts_minf(lo, safe);
        hi = mcts_maxf(hi, safe);
    }
    for (int a = 0; a < A; a++) {
        float completed = t->children_visits[base + a] > 0 ? q[a] : lo;
        out[a] = (completed - lo) / mcts_maxf(hi - lo, MCTS_EPSILON);
    }
}

HD static inline void mcts_q_min_max(const mcts_tree *t, int64_t b, int n, float qmin, float qmax, float *out) {
    int64_t base = mcts_na(t, b, n);
    float q[MCTS_MAX_ACTIONS];
    mcts_qvalues(t, b, n, q);
    for (int a = 0; a < t->A; a++) {
        float v = t->children_visits[base + a] > 0 ? q[a] : qmin;
        out[a] = (v - qmin) / (qmax - qmin);
    }
}

/* mctx's qtransform_completed_by_mix_value, scaled by
 * (maxvisit_init + max visits) * value_scale. */
HD static inline void mcts_q_mix_value(const mcts_tree *t, const mcts_params *p, int64_t b, int n, float *out) {
    int A = t->A;
    int64_t base = mcts_na(t, b, n);
    float q[MCTS_MAX_ACTIONS];
    const float *prior = t->children_prior + base;
    mcts_qvalues(t, b, n, q);
    float raw = t->raw_values[b * t->N + n];
    float value = raw;
    int sum_visits = 0, max_visits = 0;
    for (int a = 0; a < A; a++) {
        int v = t->children_visits[base + a];
        sum_visits += v;
        max_visits = v > max_visits ? v : max_visits;
    }
    if (p->use_mixed_value) {
        float sum_probs = 0.0f, weighted = 0.0f;
        for (int a = 0; a < A; a++)
            if (t->children_visits[base + a] > 0) sum_probs += mcts_maxf(MCTS_TINY, prior[a]);
        for (int a = 0; a < A; a++)
            if (t->children_visits[base + a] > 0) weighted += mcts_maxf(MCTS_TINY, prior[a]) * q[a] / sum_probs;
        value = (raw + (float)sum_visits * weighted) / ((float)sum_visits + 1.0f);
    }
    for (int a = 0; a < A; a++) out[a] = t->children_visits[base + a] > 0 ? q[a] : value;
    if (p->rescale_values) {
        float lo = out[0], hi = out[0];
        for (int a = 1; a < A; a++) lo = mcts_minf(lo, out[a]), hi = mcts_maxf(hi, out[a]);
        for (int a = 0; a < A; a++) out[a] = (out[a] - lo) / mcts_maxf(hi - lo, MCTS_EPSILON);
    }
    float scale = (p->maxvisit_init + (float)max_visits) * p->value_scale;
    for (int a = 0; a < A; a++) out[a] = scale * out[a];
}

/* A uniform in [0, 1) from a 32-bit key and an index (murmur3 finaliser). */
HD static inline float mcts_tiebreak_uniform(uint32_t key, int index) {
    uint32_t h = key ^ ((uint32_t)index * 0x9E3779B9u);
    h ^= h >> 16;
    h *= 0x85EBCA6Bu;
    h ^= h >> 13;
    h *= 0xC2B2AE35u;
    h ^= h >> 16;
    return (float)(h >> 8) * (1.0f / 16777216.0f);
}

HD static inline int mcts_muzero_select(const mcts_tree *t, const mcts_params *p, int64_t b, int n, int depth,
                                        uint32_t sim_serial) {
    int A = t->A;
    int64_t base = mcts_na(t, b, n);
    float score[MCTS_MAX_ACTIONS];
    const float *prior = t->children_prior + base;
    if (p->qtransform == MCTS_Q_MIN_MAX)
        mcts_q_min_max(t, b, n, p->qmin, p->qmax, score);
    else
        mcts_q_parent_and_siblings(t, b, n, score);
    float visits = (float)t->node_visits[b * t->N + n];
    float pb_c = p->pb_c_init + logf((visits + p->pb_c_base + 1.0f) / p->pb_c_base);
    /* 1e-7 x U(0,1) breaks exact ties as mctx's noise does; one Philox block
     * per selection, spread over the actions by an integer mix */
    mz_rng r;
    mz_rng_init_at(&r, p->seed, MCTS_STREAM_TIEBREAK, ((uint64_t)b << 32) | sim_serial, (uint32_t)depth);
    uint32_t key = mz_rng_u32(&r);
    for (int a = 0; a < A; a++) {
        float policy = sqrtf(visits) * pb_c * prior[a] / ((float)t->children_visits[base + a] + 1.0f);
        score[a] = score[a] + policy + 1e-7f * mcts_tiebreak_uniform(key, a);
    }
    return mcts_argmax(score, A, depth == 0 ? t->root_invalid + b * A : (const uint8_t *)0);
}

/* seq_halving.score_considered */
HD static inline void mcts_score_considered(int considered_visit, const float *gumbel, const float *logits,
                                            const float *qhat, const int32_t *visits, int A, float *out) {
    float m = logits[0];
    for (int a = 1; a < A; a++) m = mcts_maxf(m, logits[a]);
    for (int a = 0; a < A; a++) {
        float s = mcts_maxf(-1e9f, gumbel[a] + (logits[a] - m) + qhat[a]);
        out[a] = visits[a] == considered_visit ? s : -INFINITY;
    }
}

HD static inline int mcts_num_considered(const mcts_tree *t, const mcts_params *p, int64_t b) {
    int valid = 0;
    for (int a = 0; a < t->A; a++) valid += !t->root_invalid[b * t->A + a];
    return valid < p->max_num_considered_actions ? valid : p->max_num_considered_actions;
}

HD static inline int mcts_gumbel_select_root(const mcts_tree *t, const mcts_params *p, int64_t b) {
    int A = t->A;
    int64_t base = mcts_na(t, b, 0);
    float qhat[MCTS_MAX_ACTIONS], score[MCTS_MAX_ACTIONS];
    mcts_q_mix_value(t, p, b, 0, qhat);
    int sum_visits = 0;
    for (int a = 0; a < A; a++) sum_visits += t->children_visits[base + a];
    int considered_visit = t->considered[mcts_num_considered(t, p, b) * p->num_simulations + sum_visits];
    mcts_score_considered(considered_visit, t->root_gumbel + b * A, t->children_logits + base, qhat,
                          t->children_visits + base, A, score);
    return mcts_argmax(score, A, t->root_invalid + b * A);
}

HD static inline int mcts_gumbel_select_interior(const mcts_tree *t, const mcts_params *p, int64_t b, int n) {
    int A = t->A;
    int64_t base = mcts_na(t, b, n);
    float qhat[MCTS_MAX_ACTIONS], probs[MCTS_MAX_ACTIONS];
    mcts_q_mix_value(t, p, b, n, qhat);
    for (int a = 0; a < A; a++) probs[a] = t->children_logits[base + a] + qhat[a];
    mcts_softmax(probs, A, probs);
    int sum_visits = 0;
    for (int a = 0; a < A; a++) sum_visits += t->children_visits[base + a];
    for (int a = 0; a < A; a++) probs[a] = probs[a] - (float)t->children_visits[base + a] / (float)(1 + sum_visits);
    return mcts_argmax(probs, A, (const uint8_t *)0);
}

/* Resets tree b, draws (or takes) the root noise, and installs the root
 * from the model's output. */
/* A node's [A] rows as mctx creates them: no children yet, the given prior. */
HD static inline void mcts_init_node_row(const mcts_tree *t, int64_t b, int node, const float *logits) {
    int64_t base = mcts_na(t, b, node);
    for (int a = 0; a < t->A; a++) {
        t->children_index[base + a] = MCTS_UNVISITED;
        t->children_visits[base + a] = 0;
        t->children_rewards[base + a] = t->children_discounts[base + a] = t->children_values[base + a] = 0.0f;
        t->children_logits[base + a] = logits[a];
    }
    mcts_softmax(t->children_logits + base, t->A, t->children_prior + base);
}

/* Resets tree b, draws (or takes) the root noise, and installs the root
 * from the model's output. Rows of other nodes are set when they are made. */
HD static inline void mcts_init_root_body(int64_t b, mcts_tree t, mcts_params p, uint32_t call, int noise_from_caller) {
    int A = t.A, N = t.N;
    for (int64_t i = b * N; i < (b + 1) * N; i++) {
        t.node_visits[i] = 0;
        t.raw_values[i] = t.node_values[i] = 0.0f;
        t.parents[i] = MCTS_NO_PARENT;
        t.action_from_parent[i] = MCTS_UNVISITED;
    }
    float logits[MCTS_MAX_ACTIONS];
    const float *model = t.model_logits + b * A;
    const uint8_t *invalid = t.root_invalid + b * A;
    mz_rng r;
    mz_rng_init(&r, p.seed, MCTS_STREAM_ROOT_NOISE, ((uint64_t)b << 32) | call);
    if (p.policy == MCTS_MUZERO) {
        if (!noise_from_caller) mz_rng_dirichlet(&r, t.root_dirichlet + b * A, A, p.dirichlet_alpha);
        mcts_softmax(model, A, logits);
        for (int a = 0; a < A; a++) {
            float mixed = (1.0f - p.dirichlet_fraction) * logits[a] + p.dirichlet_fraction * t.root_dirichlet[b * A + a];
            logits[a] = logf(mcts_maxf(mixed, MCTS_TINY));
        }
    } else {
        if (!noise_from_caller)
            for (int a = 0; a < A; a++) t.root_gumbel[b * A + a] = p.gumbel_scale * mz_rng_gumbel(&r);
        for (int a = 0; a < A; a++) logits[a] = model[a];
    }
    /* _mask_invalid_actions: shift by the max, invalid to the lowest float */
    float m = logits[0];
    for (int a = 1; a < A; a++) m = mcts_maxf(m, logits[a]);
    for (int a = 0; a < A; a++) logits[a] = invalid[a] ? MCTS_LOWEST : logits[a] - m;
    mcts_init_node_row(&t, b, 0, logits);
    t.raw_values[b * N] = t.node_values[b * N] = t.model_value[b];
    t.node_visits[b * N] = 1;
}

/* Walks from the root to the node whose child `sim_action` gets expanded. */
HD static inline void mcts_simulate_body(int64_t b, mcts_tree t, mcts_params p, int sim, uint32_t call) {
    int node = 0, depth = 0, action = 0, next = 0;
    int max_depth = p.max_depth > 0 ? p.max_depth : p.num_simulations;
    uint32_t serial = call * (uint32_t)(p.num_simulations + 1) + (uint32_t)sim;
    for (;;) {
        if (p.policy == MCTS_MUZERO)
            action = mcts_muzero_select(&t, &p, b, node, depth, serial);
        else
            action = depth == 0 ? mcts_gumbel_select_root(&t, &p, b) : mcts_gumbel_select_interior(&t, &p, b, node);
        next = t.children_index[mcts_na(&t, b, node) + action];
        depth++;
        if (next == MCTS_UNVISITED || depth >= max_depth) break;
        node = next;
    }
    t.sim_parent[b] = node;
    t.sim_action[b] = action;
    /* a depth cut-off on an expanded child re-evaluates it (mctx) */
    t.sim_node[b] = next == MCTS_UNVISITED ? sim + 1 : next;
}

/* Installs the model's output as node sim_node and backs its value up. */
HD static inline void mcts_expand_backward_body(int64_t b, mcts_tree t) {
    int A = t.A, N = t.N;
    int parent = t.sim_parent[b], action = t.sim_action[b], node = t.sim_node[b];
    int64_t nb = b * N;
    if (t.node_visits[nb + node] == 0) {
        mcts_init_node_row(&t, b, node, t.model_logits + b * A);
    } else { /* a depth cut-off re-evaluates a node: mctx overwrites its prior, keeps its children */
        int64_t base = mcts_na(&t, b, node);
        for (int a = 0; a < A; a++) t.children_logits[base + a] = t.model_logits[b * A + a];
        mcts_softmax(t.children_logits + base, A, t.children_prior + base);
    }
    t.raw_values[nb + node] = t.node_values[nb + node] = t.model_value[b];
    t.node_visits[nb + node] += 1;
    int64_t edge = mcts_na(&t, b, parent) + action;
    t.children_index[edge] = node;
    t.children_rewards[edge] = t.model_reward[b];
    t.children_discounts[edge] = t.model_discount[b];
    t.parents[nb + node] = parent;
    t.action_from_parent[nb + node] = action;
    float value = t.node_values[nb + node];
    for (int index = node; index != 0;) {
        int up = t.parents[nb + index], a = t.action_from_parent[nb + index];
        int64_t e = mcts_na(&t, b, up) + a;
        int count = t.node_visits[nb + up];
        value = t.children_rewards[e] + t.children_discounts[e] * value;
        t.node_values[nb + up] = (t.node_values[nb + up] * (float)count + value) / ((float)count + 1.0f);
        t.node_visits[nb + up] = count + 1;
        t.children_values[e] = t.node_values[nb + index];
        t.children_visits[e] += 1;
        index = up;
    }
}

/* Results of tree b: visit counts, root value and Q, policy target, action. */
HD static inline void mcts_summary_body(int64_t b, mcts_tree t, mcts_params p, uint32_t call) {
    int A = t.A;
    int64_t base = mcts_na(&t, b, 0);
    int total = 0, most = 0;
    for (int a = 0; a < A; a++) {
        int v = t.children_visits[base + a];
        t.visit_counts[b * A + a] = v;
        total += v;
        most = v > most ? v : most;
    }
    mcts_qvalues(&t, b, 0, t.root_qvalues + b * A);
    t.root_value[b] = t.node_values[b * t.N];
    float *w = t.action_weights + b * A;
    const uint8_t *invalid = t.root_invalid + b * A;
    if (p.policy == MCTS_MUZERO) {
        for (int a = 0; a < A; a++) w[a] = total > 0 ? (float)t.children_visits[base + a] / (float)total : 1.0f / (float)A;
        if (p.temperature <= 0.0f) {
            t.action[b] = mcts_argmax(w, A, (const uint8_t *)0);
            return;
        }
        float logits[MCTS_MAX_ACTIONS];
        for (int a = 0; a < A; a++) logits[a] = logf(mcts_maxf(w[a], MCTS_TINY));
        float m = logits[0];
        for (int a = 1; a < A; a++) m = mcts_maxf(m, logits[a]);
        for (int a = 0; a < A; a++) logits[a] = (logits[a] - m) / mcts_maxf(MCTS_TINY, p.temperature);
        mcts_softmax(logits, A, logits);
        mz_rng r;
        mz_rng_init(&r, p.seed, MCTS_STREAM_ACTION, ((uint64_t)b << 32) | call);
        t.action[b] = mz_rng_categorical(&r, logits, A);
        return;
    }
    float qhat[MCTS_MAX_ACTIONS], score[MCTS_MAX_ACTIONS];
    mcts_q_mix_value(&t, &p, b, 0, qhat);
    mcts_score_considered(most, t.root_gumbel + b * A, t.children_logits + base, qhat, t.children_visits + base, A, score);
    t.action[b] = mcts_argmax(score, A, invalid);
    for (int a = 0; a < A; a++) score[a] = t.children_logits[base + a] + qhat[a];
    float m = MCTS_LOWEST;
    for (int a = 0; a < A; a++) m = mcts_maxf(m, score[a]);
    for (int a = 0; a < A; a++) score[a] = invalid[a] ? MCTS_LOWEST : score[a] - m;
    mcts_softmax(score, A, w);
}

#endif
