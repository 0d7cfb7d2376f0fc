/* Single-source bodies of the multi-agent adapter (mcts/multiagent.c and
 * mcts/multiagent_cuda.cu): per-agent logits to the tree's prior, the tree's
 * action to a joint action, and the results back per agent. */
#ifndef MZ_MCTS_MULTIAGENT_BODIES_H
#define MZ_MCTS_MULTIAGENT_BODIES_H

#include <stdint.h>

#include "mcts/mcts_bodies.h"
#include "mcts/multiagent.h"

#define MCTS_MA_MAX_AGENTS 16
#define MCTS_STREAM_PARTNER 0x3c000010u

typedef struct {
    int mode, N, A, TA; /* TA: actions of a tree (A or A^N) */
    int nodes;          /* nodes per tree */
    int partner_sample;
    uint64_t seed;
    uint32_t call;
    const float *agent_logits; /* [B][N][A] from the multi-agent model */
    float *tree_logits;        /* [B][TA] to the search */
    int32_t *partner;          /* [B][nodes][N] independent: the partners' actions at each node */
    int32_t *joint_actions;    /* [B][N] of the current recurrent call */
    const uint8_t *avail;      /* [E][N][A] legal actions at the roots (1 = legal), or NULL: all legal */
    float *root_logits;        /* = agent_logits, written by the root mask */
    uint8_t *root_invalid;     /* [B][TA] the search's root mask */
} mcts_ma_view;

/* Below any logit a model gives, above what log-softmax sums could overflow. */
#define MCTS_MA_ILLEGAL (-1e9f)

HD static inline void ma_log_softmax(const float *logits, int A, float *out) {
    float m = logits[0];
    for (int a = 1; a < A; a++) m = fmaxf(m, logits[a]);
    float sum = 0.0f;
    for (int a = 0; a < A; a++) sum += expf(logits[a] - m);
    float lse = m + logf(sum);
    for (int a = 0; a < A; a++) out[a] = logits[a] - lse;
}

/* Turns the model's per-agent logits of tree b into the tree's prior, and
 * (independent) fixes the partners' actions at `node`. */
HD static inline void ma_adapt_logits_body(int64_t b, mcts_ma_view v, const int32_t *node_of_tree, int node_fixed) {
    const float *agent = v.agent_logits + b * v.N * v.A;
    float *tree = v.tree_logits + b * v.TA;
    if (v.mode == MCTS_MA_JOINT) {
        float lsm[MCTS_MA_MAX_AGENTS][32];
        for (int i = 0; i < v.N; i++) ma_log_softmax(agent + i * v.A, v.A, lsm[i]);
        for (int ja = 0; ja < v.TA; ja++) {
            float s = 0.0f;
            int rest = ja;
            for (int i = v.N - 1; i >= 0; i--) { /* agent 0 is the most significant digit */
                s += lsm[i][rest % v.A];
                rest /= v.A;
            }
            tree[ja] = s;
        }
        return;
    }
    int me = (int)(b % v.N);
    for (int a = 0; a < v.A; a++) tree[a] = agent[me * v.A + a];
    int node = node_of_tree ? node_of_tree[b] : node_fixed;
    int32_t *partner = v.partner + (b * v.nodes + node) * v.N;
    for (int j = 0; j < v.N; j++) {
        if (j == me) {
            partner[j] = -1;
            continue;
        }
        if (v.partner_sample) {
            float p[MCTS_MAX_ACTIONS];
            mcts_softmax(agent + j * v.A, v.A, p);
            mz_rng r;
            mz_rng_init_at(&r, v.seed, MCTS_STREAM_PARTNER, ((uint64_t)b << 32) | v.call, (uint32_t)(node * v.N + j));
            partner[j] = mz_rng_categorical(&r, p, v.A);
        } else {
            partner[j] = mcts_argmax(agent + j * v.A, v.A, (const uint8_t *)0);
        }
    }
}

/* Legal actions at tree b's root: the agents' illegal logits drop to
 * MCTS_MA_ILLEGAL, so partners (independent) and the factorised joint prior
 * never favour them, and the tree's root_invalid excludes them from
 * selection and from the policy targets. Interior nodes are not masked
 * (mctx's convention: the model knows no legality there). */
HD static inline void ma_root_mask_body(int64_t b, mcts_ma_view v) {
    int N = v.N, A = v.A;
    int64_t env = v.mode == MCTS_MA_JOINT ? b : b / N;
    const uint8_t *av = v.avail + env * N * A;
    float *logits = v.root_logits + b * N * A;
    for (int k = 0; k < N * A; k++)
        if (!av[k]) logits[k] = MCTS_MA_ILLEGAL;
    uint8_t *invalid = v.root_invalid + b * v.TA;
    if (v.mode == MCTS_MA_JOINT) {
        for (int ja = 0; ja < v.TA; ja++) {
            int rest = ja, bad = 0;
            for (int i = N - 1; i >= 0; i--) {
                bad |= !av[i * A + rest % A];
                rest /= A;
            }
            invalid[ja] = (uint8_t)bad;
        }
        return;
    }
    int me = (int)(b % N);
    for (int a = 0; a < A; a++) invalid[a] = (uint8_t)!av[me * A + a];
}

/* The joint action of tree b's expansion: its own action plus the partners'
 * (independent), or the joint index decoded (joint). */
HD static inline void ma_joint_action_body(int64_t b, mcts_ma_view v, const int32_t *parent, const int32_t *action) {
    int32_t *out = v.joint_actions + b * v.N;
    if (v.mode == MCTS_MA_JOINT) {
        int rest = action[b];
        for (int i = v.N - 1; i >= 0; i--) {
            out[i] = rest % v.A;
            rest /= v.A;
        }
        return;
    }
    int me = (int)(b % v.N);
    const int32_t *partner = v.partner + (b * v.nodes + parent[b]) * v.N;
    for (int j = 0; j < v.N; j++) out[j] = j == me ? action[b] : partner[j];
}

/* Results of environment e: joint action, per-agent targets, root value. */
HD static inline void ma_results_body(int64_t e, mcts_ma_view v, const int32_t *tree_action, const float *tree_weights,
                                      const float *tree_value, int32_t *actions, float *policy, float *root_value) {
    int N = v.N, A = v.A;
    if (v.mode == MCTS_MA_JOINT) {
        int rest = tree_action[e];
        for (int i = N - 1; i >= 0; i--) {
            actions[e * N + i] = rest % A;
            rest /= A;
        }
        float *pol = policy + e * N * A;
        for (int k = 0; k < N * A; k++) pol[k] = 0.0f;
        for (int ja = 0; ja < v.TA; ja++) {
            float w = tree_weights[e * v.TA + ja];
            int r2 = ja;
            for (int i = N - 1; i >= 0; i--) {
                pol[i * A + r2 % A] += w;
                r2 /= A;
            }
        }
        root_value[e] = tree_value[e];
        return;
    }
    float value = 0.0f;
    for (int i = 0; i < N; i++) {
        int64_t b = e * N + i;
        actions[e * N + i] = tree_action[b];
        for (int a = 0; a < A; a++) policy[(e * N + i) * A + a] = tree_weights[b * A + a];
        value += tree_value[b];
    }
    root_value[e] = value / (float)N;
}

#endif
