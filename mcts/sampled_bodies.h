/* Single-source bodies of the sampled joint search (mcts/sampled.c runs them
 * in OpenMP loops, mcts/sampled_cuda.cu in one-thread-per-tree kernels, also
 * under emulation). One call works on one tree b. */
#ifndef MZ_MCTS_SAMPLED_BODIES_H
#define MZ_MCTS_SAMPLED_BODIES_H

#include <float.h>
#include <math.h>
#include <stdint.h>

#include "mcts/sampled.h"
#include "src/hd.h"
#include "src/rng.h"

#define MCTS_STREAM_SAMPLED_PROPOSAL 0x3c000020u
#define MCTS_STREAM_SAMPLED_DIRICHLET 0x3c000021u
#define MCTS_SAMPLED_NO_CHILD (-1)
/* Blocks of the proposal stream one expansion may use: K x N categoricals
 * take one word each, at most 256 x 16 words = 1024 blocks. */
#define MCTS_SAMPLED_BLOCKS_PER_NODE 65536u

/* Device pointers and sizes; POD, kernels take it by value. */
typedef struct {
    int B, N, A, K, nodes; /* nodes = num_simulations + 1 */
    mcts_sampled_params p;
    uint32_t call;
    /* per node [B][nodes] */
    int32_t *node_visits;
    float *raw_value;   /* network value at expansion */
    float *os_value;    /* OS(lambda) value of the node's subtree */
    int32_t *parent;
    int32_t *parent_slot;
    int32_t *depth;
    int32_t *num_slots; /* distinct sampled joint actions */
    /* per slot [B][nodes][K] */
    int32_t *child;
    int32_t *slot_visits;
    float *slot_prior;
    float *slot_reward;
    float *slot_discount;
    int32_t *slot_joint; /* [B][nodes][K][N] */
    /* per tree [B] */
    float *adv_min, *adv_max;
    /* OS(lambda) scratch [B][nodes]: breadth-first entries of a subtree */
    int32_t *scratch_node, *scratch_depth;
    float *scratch_return, *scratch_discount;
    /* model inputs / outputs of the current call */
    int32_t *sim_parent, *sim_slot, *sim_node; /* [B] */
    int32_t *sim_joint;                        /* [B][N] */
    float *model_logits;                       /* [B][N][A] */
    float *model_value, *model_reward, *model_discount; /* [B] */
    /* results */
    int32_t *actions;      /* [B][N] */
    float *policy;         /* [B][N][A] */
    float *root_value;     /* [B] */
    int32_t *root_joint;   /* [B][K][N] */
    float *root_weights;   /* [B][K] */
    float *root_advantage; /* [B][K] */
    const uint8_t *avail;  /* [B][N][A] legal actions at the root (1 = legal), or NULL: all legal */
} mcts_sampled_view;

/* p over A actions restricted to the legal ones (renormalised); left as it
 * is when no legal action has mass (nothing better to propose). */
HD static inline void sampled_restrict(float *p, const uint8_t *legal, int A) {
    float total = 0.0f;
    for (int a = 0; a < A; a++) total += legal[a] ? p[a] : 0.0f;
    if (!(total > 0.0f)) return;
    for (int a = 0; a < A; a++) p[a] = legal[a] ? p[a] / total : 0.0f;
}

HD static inline int64_t sampled_node(const mcts_sampled_view *v, int64_t b, int n) { return b * v->nodes + n; }
HD static inline int64_t sampled_slot(const mcts_sampled_view *v, int64_t b, int n, int k) {
    return (b * v->nodes + n) * (int64_t)v->K + k;
}

HD static inline void sampled_softmax(const float *logits, int A, float *out) {
    float m = logits[0];
    for (int a = 1; a < A; a++) m = fmaxf(m, logits[a]);
    float sum = 0.0f;
    for (int a = 0; a < A; a++) {
        out[a] = expf(logits[a] - m);
        sum += out[a];
    }
    for (int a = 0; a < A; a++) out[a] /= sum;
}

/* Fills node n's slots from the model's logits of tree b: K joint actions
 * drawn from beta (the root mixes each agent's pi with Dirichlet noise),
 * duplicates merged in order of first appearance, prior (beta_hat / beta) pi
 * normalised over the slots. */
HD static inline void sampled_make_slots(const mcts_sampled_view *v, int64_t b, int n) {
    int N = v->N, A = v->A, K = v->K;
    float pi[MCTS_SAMPLED_MAX_AGENTS][MCTS_SAMPLED_MAX_ACTIONS];
    float beta[MCTS_SAMPLED_MAX_AGENTS][MCTS_SAMPLED_MAX_ACTIONS];
    const float *logits = v->model_logits + b * N * A;
    mz_rng r;
    if (n == 0) mz_rng_init(&r, v->p.seed, MCTS_STREAM_SAMPLED_DIRICHLET, ((uint64_t)b << 32) | v->call);
    for (int i = 0; i < N; i++) {
        sampled_softmax(logits + i * A, A, pi[i]);
        if (n == 0 && v->p.dirichlet_fraction > 0.0f) {
            mz_rng_dirichlet(&r, beta[i], A, v->p.dirichlet_alpha);
            float eps = v->p.dirichlet_fraction;
            for (int a = 0; a < A; a++) beta[i][a] = (1.0f - eps) * pi[i][a] + eps * beta[i][a];
        } else {
            for (int a = 0; a < A; a++) beta[i][a] = pi[i][a];
        }
        if (n == 0 && v->avail) { /* the root proposes and weighs legal joint actions only */
            sampled_restrict(pi[i], v->avail + (b * N + i) * A, A);
            sampled_restrict(beta[i], v->avail + (b * N + i) * A, A);
        }
    }
    mz_rng_init_at(&r, v->p.seed, MCTS_STREAM_SAMPLED_PROPOSAL, ((uint64_t)b << 32) | v->call,
                   (uint32_t)n * MCTS_SAMPLED_BLOCKS_PER_NODE);
    int32_t *joint = v->slot_joint + sampled_slot(v, b, n, 0) * N;
    float *prior = v->slot_prior + sampled_slot(v, b, n, 0);
    int slots = 0;
    int32_t draw[MCTS_SAMPLED_MAX_AGENTS];
    for (int k = 0; k < K; k++) {
        for (int i = 0; i < N; i++) draw[i] = mz_rng_categorical(&r, beta[i], A);
        int found = -1;
        for (int s = 0; s < slots && found < 0; s++) {
            int same = 1;
            for (int i = 0; i < N; i++) same &= joint[s * N + i] == draw[i];
            if (same) found = s;
        }
        if (found >= 0) {
            prior[found] += 1.0f; /* counts first: beta_hat = count / K */
            continue;
        }
        for (int i = 0; i < N; i++) joint[slots * N + i] = draw[i];
        prior[slots++] = 1.0f;
    }
    float total = 0.0f;
    for (int s = 0; s < slots; s++) {
        float ratio = 1.0f; /* pi / beta per agent: no underflow of the products */
        for (int i = 0; i < N; i++) ratio *= pi[i][joint[s * N + i]] / beta[i][joint[s * N + i]];
        prior[s] = prior[s] / (float)K * ratio;
        total += prior[s];
    }
    /* every slot at pi = 0 (with eps = 1 the noise alone proposed them, or
     * the logits underflowed): uniform over the slots rather than 0 / 0 */
    if (!(total > 0.0f)) {
        for (int s = 0; s < slots; s++) prior[s] = 1.0f;
        total = (float)slots;
    }
    for (int s = 0; s < slots; s++) prior[s] /= total;
    for (int s = 0; s < K; s++) {
        int64_t e = sampled_slot(v, b, n, s);
        v->child[e] = MCTS_SAMPLED_NO_CHILD;
        v->slot_visits[e] = 0;
        v->slot_reward[e] = v->slot_discount[e] = 0.0f;
        if (s >= slots) {
            v->slot_prior[e] = 0.0f;
            for (int i = 0; i < N; i++) v->slot_joint[e * N + i] = -1;
        }
    }
    v->num_slots[sampled_node(v, b, n)] = slots;
}

/* OS(lambda) value of node n of tree b: breadth-first over its subtree, so
 * each depth's returns are contiguous in the scratch; per depth the top
 * max(1, ceil(count (1 - rho))) are kept and weighted by lambda^d. */
HD static inline float sampled_os_value(const mcts_sampled_view *v, int64_t b, int n) {
    int32_t *node = v->scratch_node + b * v->nodes, *depth = v->scratch_depth + b * v->nodes;
    float *ret = v->scratch_return + b * v->nodes, *disc = v->scratch_discount + b * v->nodes;
    int count = 1;
    node[0] = n, depth[0] = 0, ret[0] = 0.0f, disc[0] = 1.0f;
    for (int head = 0; head < count; head++) {
        int u = node[head];
        int slots = v->num_slots[sampled_node(v, b, u)];
        for (int s = 0; s < slots; s++) {
            int64_t e = sampled_slot(v, b, u, s);
            int c = v->child[e];
            if (c == MCTS_SAMPLED_NO_CHILD) continue;
            node[count] = c;
            depth[count] = depth[head] + 1;
            ret[count] = ret[head] + disc[head] * v->slot_reward[e];
            disc[count] = disc[head] * v->slot_discount[e];
            count++;
        }
    }
    for (int i = 0; i < count; i++) ret[i] = ret[i] + disc[i] * v->raw_value[sampled_node(v, b, node[i])];
    float weighted = 0.0f, weights = 0.0f, lambda_d = 1.0f;
    for (int start = 0; start < count;) {
        int end = start;
        while (end < count && depth[end] == depth[start]) end++;
        for (int i = start + 1; i < end; i++) { /* descending insertion sort of this depth */
            float x = ret[i];
            int j = i - 1;
            for (; j >= start && ret[j] < x; j--) ret[j + 1] = ret[j];
            ret[j + 1] = x;
        }
        int size = end - start;
        int keep = (int)ceilf((float)size * (1.0f - v->p.os_rho));
        keep = keep < 1 ? 1 : keep > size ? size : keep;
        for (int i = start; i < start + keep; i++) weighted += lambda_d * ret[i];
        weights += lambda_d * (float)keep;
        lambda_d *= v->p.os_lambda;
        start = end;
    }
    return weighted / weights;
}

/* A(s, a) = r + g V(child) - v(s) of a visited slot. */
HD static inline float sampled_advantage(const mcts_sampled_view *v, int64_t b, int n, int s) {
    int64_t e = sampled_slot(v, b, n, s);
    return v->slot_reward[e] + v->slot_discount[e] * v->os_value[sampled_node(v, b, v->child[e])] -
           v->raw_value[sampled_node(v, b, n)];
}

HD static inline int sampled_select(const mcts_sampled_view *v, int64_t b, int n) {
    int slots = v->num_slots[sampled_node(v, b, n)];
    int total = 0;
    for (int s = 0; s < slots; s++) total += v->slot_visits[sampled_slot(v, b, n, s)];
    if (n == 0) /* the root tries every sampled joint action once first */
        for (int s = 0; s < slots; s++)
            if (v->slot_visits[sampled_slot(v, b, n, s)] == 0) return s;
    float lo = v->adv_min[b], hi = v->adv_max[b];
    float c = v->p.pb_c_init + logf(((float)total + v->p.pb_c_base + 1.0f) / v->p.pb_c_base);
    float explore = sqrtf((float)total) * c;
    int best = 0;
    float best_score = -FLT_MAX;
    for (int s = 0; s < slots; s++) {
        int64_t e = sampled_slot(v, b, n, s);
        float value = 0.0f;
        if (v->child[e] != MCTS_SAMPLED_NO_CHILD && hi > lo) {
            value = (sampled_advantage(v, b, n, s) - lo) / (hi - lo);
            value = fminf(fmaxf(value, 0.0f), 1.0f);
        }
        float score = value + v->slot_prior[e] * explore / (1.0f + (float)v->slot_visits[e]);
        if (score > best_score) best = s, best_score = score;
    }
    return best;
}

/* Resets tree b and installs the root from the model's output. */
HD static inline void sampled_init_root_body(int64_t b, mcts_sampled_view v) {
    for (int n = 0; n < v.nodes; n++) {
        int64_t i = sampled_node(&v, b, n);
        v.node_visits[i] = 0, v.num_slots[i] = 0;
        v.raw_value[i] = v.os_value[i] = 0.0f;
        v.parent[i] = -1, v.parent_slot[i] = -1, v.depth[i] = 0;
    }
    v.adv_min[b] = FLT_MAX, v.adv_max[b] = -FLT_MAX;
    sampled_make_slots(&v, b, 0);
    v.raw_value[b * v.nodes] = v.os_value[b * v.nodes] = v.model_value[b];
    v.node_visits[b * v.nodes] = 1;
}

/* Walks from the root to the first slot without a child: the leaf of this
 * simulation, expanded as node sim + 1. */
HD static inline void sampled_simulate_body(int64_t b, mcts_sampled_view v, int sim) {
    int n = 0;
    for (;;) {
        int s = sampled_select(&v, b, n);
        int64_t e = sampled_slot(&v, b, n, s);
        if (v.child[e] == MCTS_SAMPLED_NO_CHILD) {
            v.sim_parent[b] = n, v.sim_slot[b] = s, v.sim_node[b] = sim + 1;
            for (int i = 0; i < v.N; i++) v.sim_joint[b * v.N + i] = v.slot_joint[e * v.N + i];
            return;
        }
        n = v.child[e];
    }
}

/* Installs the model's output as node sim_node, then backs up visits and the
 * OS(lambda) values of every node on the path, widening the tree's
 * advantage range by the path's edges. */
HD static inline void sampled_expand_backward_body(int64_t b, mcts_sampled_view v) {
    int parent = v.sim_parent[b], slot = v.sim_slot[b], n = v.sim_node[b];
    int64_t i = sampled_node(&v, b, n), e = sampled_slot(&v, b, parent, slot);
    sampled_make_slots(&v, b, n);
    v.raw_value[i] = v.os_value[i] = v.model_value[b];
    v.node_visits[i] = 1;
    v.parent[i] = parent, v.parent_slot[i] = slot;
    v.depth[i] = v.depth[sampled_node(&v, b, parent)] + 1;
    v.child[e] = n;
    v.slot_reward[e] = v.model_reward[b];
    v.slot_discount[e] = v.model_discount[b];
    for (int u = n; u != 0;) {
        int up = v.parent[sampled_node(&v, b, u)], s = v.parent_slot[sampled_node(&v, b, u)];
        v.slot_visits[sampled_slot(&v, b, up, s)] += 1;
        v.node_visits[sampled_node(&v, b, up)] += 1;
        v.os_value[sampled_node(&v, b, up)] = sampled_os_value(&v, b, up);
        u = up;
    }
    for (int u = n; u != 0;) { /* after every value on the path is new */
        int up = v.parent[sampled_node(&v, b, u)], s = v.parent_slot[sampled_node(&v, b, u)];
        float adv = sampled_advantage(&v, b, up, s);
        v.adv_min[b] = fminf(v.adv_min[b], adv);
        v.adv_max[b] = fmaxf(v.adv_max[b], adv);
        u = up;
    }
}

/* Results of tree b: root slots, their visit weights and advantages, the
 * per-agent marginals, the most visited joint action (first on ties), the
 * root's OS(lambda) value. */
HD static inline void sampled_summary_body(int64_t b, mcts_sampled_view v) {
    int N = v.N, A = v.A, K = v.K;
    int slots = v.num_slots[b * v.nodes], total = 0, best = 0;
    for (int s = 0; s < slots; s++) {
        int visits = v.slot_visits[sampled_slot(&v, b, 0, s)];
        total += visits;
        if (visits > v.slot_visits[sampled_slot(&v, b, 0, best)]) best = s;
    }
    float *policy = v.policy + b * N * A;
    for (int k = 0; k < N * A; k++) policy[k] = 0.0f;
    for (int s = 0; s < K; s++) {
        int64_t e = sampled_slot(&v, b, 0, s);
        float w = s < slots && total > 0 ? (float)v.slot_visits[e] / (float)total : 0.0f;
        v.root_weights[b * K + s] = w;
        v.root_advantage[b * K + s] =
            s < slots && v.child[e] != MCTS_SAMPLED_NO_CHILD ? sampled_advantage(&v, b, 0, s) : 0.0f;
        for (int i = 0; i < N; i++) {
            int a = v.slot_joint[e * N + i];
            v.root_joint[(b * K + s) * N + i] = a;
            if (s < slots) policy[i * A + a] += w;
        }
    }
    for (int i = 0; i < N; i++) v.actions[b * N + i] = v.slot_joint[sampled_slot(&v, b, 0, best) * N + i];
    v.root_value[b] = v.os_value[b * v.nodes];
}

#endif
