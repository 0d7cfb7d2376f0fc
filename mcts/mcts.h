/* Batched tree search with mctx's semantics (../shared/reference/mcts.md):
 * MuZero (pUCT, Dirichlet root noise, both Q transforms) and Gumbel MuZero
 * (Gumbel-top-k root with sequential halving, completed Q by mixed value).
 *
 * B trees of N = num_simulations + 1 nodes and A actions are structure-of-
 * arrays in backend memory, laid out [B][N] and [B][N][A] as mctx's; a
 * node's [A] rows are initialised when the node is created, so a search
 * touches only the nodes it makes. A search
 * is: the model's root call, then per simulation one selection kernel (one
 * thread per tree), one batched model call on the B leaves, one expansion +
 * backup kernel; then a summary kernel. Nothing crosses to the host inside a
 * search. The model is a callback pair working on device buffers; it keeps
 * its own embeddings, indexed by (tree, node). */
#ifndef MZ_MCTS_H
#define MZ_MCTS_H

#include <stdbool.h>
#include <stdint.h>

#include "src/backend.h"

#define MCTS_UNVISITED (-1)
#define MCTS_NO_PARENT (-1)

typedef enum { MCTS_MUZERO = 0, MCTS_GUMBEL_MUZERO = 1 } mcts_policy;
typedef enum { MCTS_Q_PARENT_AND_SIBLINGS = 0, MCTS_Q_MIN_MAX = 1, MCTS_Q_COMPLETED_BY_MIX_VALUE = 2 } mcts_qtransform;

/* Settings of one search; defaults are mctx's (mcts_params_default). */
typedef struct {
    int policy; /* mcts_policy */
    int num_simulations;
    int max_depth; /* 0: num_simulations */
    int qtransform; /* MuZero: parent_and_siblings or min_max; Gumbel: completed_by_mix_value */
    float qmin, qmax; /* min_max bounds */
    /* MuZero */
    float pb_c_init, pb_c_base;
    float dirichlet_fraction, dirichlet_alpha;
    float temperature;
    /* Gumbel MuZero */
    int max_num_considered_actions;
    float gumbel_scale;
    float value_scale, maxvisit_init;
    int rescale_values, use_mixed_value;
    /* noise: drawn from Philox(seed, ...) unless the caller filled it (mcts_set_root_noise) */
    uint64_t seed;
} mcts_params;

void mcts_params_default(mcts_params *p, mcts_policy policy, int num_simulations);
/* The same search with its root noise off, for greedy play: Gumbel MuZero
 * considers the top actions by logits and picks by logits + sigma(q)
 * (mctx's gumbel_scale 0); MuZero has no Dirichlet mix and takes the most
 * visited action (temperature 0). */
void mcts_params_noise_free(mcts_params *p);

/* Device pointers of the tree and the search's working buffers. POD, so a
 * kernel takes it by value. */
typedef struct {
    int B, N, A;
    int32_t *node_visits;     /* [B][N] */
    float *raw_values;        /* [B][N] network value at expansion */
    float *node_values;       /* [B][N] running mean including the node's own value */
    int32_t *parents;         /* [B][N] */
    int32_t *action_from_parent; /* [B][N] */
    int32_t *children_index;  /* [B][N][A], MCTS_UNVISITED */
    float *children_logits;   /* [B][N][A] prior logits */
    float *children_prior;    /* [B][N][A] softmax of the logits, computed once per expansion */
    int32_t *children_visits; /* [B][N][A] */
    float *children_rewards;  /* [B][N][A] */
    float *children_discounts; /* [B][N][A] */
    float *children_values;   /* [B][N][A] node_values of the child */
    uint8_t *root_invalid;    /* [B][A], 1 = invalid (the caller fills it; zeroed by default) */
    float *root_gumbel;       /* [B][A] Gumbel noise of the root (Gumbel MuZero) */
    float *root_dirichlet;    /* [B][A] Dirichlet noise of the root (MuZero) */
    int32_t *considered;      /* [m + 1][num_simulations] sequential-halving table */
    int32_t *sim_parent;      /* [B] node whose child is expanded this simulation */
    int32_t *sim_action;      /* [B] action leading to it */
    int32_t *sim_node;        /* [B] index of the node to (re)fill */
    /* model outputs of the current call */
    float *model_logits;      /* [B][A] */
    float *model_value;       /* [B] */
    float *model_reward;      /* [B] */
    float *model_discount;    /* [B] */
    /* results */
    int32_t *action;          /* [B] */
    float *action_weights;    /* [B][A] policy target */
    float *root_value;        /* [B] */
    float *root_qvalues;      /* [B][A] */
    int32_t *visit_counts;    /* [B][A] */
} mcts_tree;

/* The model: device buffers in and out. `root` writes logits [B][A] and
 * value [B] of the root observations it was given beforehand (and stores
 * the root embeddings as node 0). `recurrent` expands, for every tree b,
 * node new_node[b] as the child of parent[b] through action[b]: it writes
 * reward [B], discount [B], logits [B][A], value [B] and stores the new
 * embedding as (b, new_node[b]). */
typedef struct {
    void *ctx;
    void (*root)(void *ctx, mz_backend *be, float *logits, float *value);
    void (*recurrent)(void *ctx, mz_backend *be, const int32_t *parent, const int32_t *action, const int32_t *new_node,
                      float *reward, float *discount, float *logits, float *value);
} mcts_model;

typedef struct {
    mz_backend *be;
    mcts_params params;
    mcts_tree tree;
    uint32_t calls;        /* searches run: separates their noise streams */
    bool noise_from_caller;
} mcts_search;

/* Allocates B trees for `params` (num_simulations fixes N). */
mcts_search *mcts_search_create(mz_backend *be, const mcts_params *params, int B, int A);
void mcts_search_destroy(mcts_search *s);

/* Uses the caller's root noise ([B][A] host arrays; either may be NULL) in
 * the next searches instead of drawing it: replays runs of other systems. */
void mcts_set_root_noise(mcts_search *s, const float *gumbel, const float *dirichlet);

/* One batched search; results in s->tree.action, action_weights,
 * root_value, root_qvalues, visit_counts (device). */
void mcts_search_run(mcts_search *s, const mcts_model *model);

/* The sequential-halving schedule of mctx: out[0..S) for m considered
 * actions (host). */
void mcts_considered_visits(int m, int S, int32_t *out);

#endif
