/* Multi-agent search over E environments of N agents with A actions each,
 * batched over environments and agents in one search call.
 *
 *   independent: E x N trees, tree (e, i) over agent i's A actions; inside
 *                the search the other agents take the argmax (or a sample)
 *                of their own prior at that node; reward and value are the
 *                team's (toy_mazero / LightZero-style independent search).
 *   joint:       E trees over the A^N joint actions with the factorised prior
 *                log p(a) = sum_i log_softmax(logits_i)(a_i); per-agent
 *                policy targets are the marginals of the joint weights.
 *
 * Both reuse the mctx-exact single-agent search (mcts.h) through an adapter
 * model; the multi-agent model below answers for whole joint actions. */
#ifndef MZ_MCTS_MULTIAGENT_H
#define MZ_MCTS_MULTIAGENT_H

#include <stddef.h>

#include "mcts/mcts.h"
#include "src/state_file.h"

typedef enum { MCTS_MA_INDEPENDENT = 0, MCTS_MA_JOINT = 1 } mcts_ma_mode;

/* A model of N agents, batched over B trees (B = E for joint and sampled
 * search (mcts/sampled.h), E x N for independent search; the model gives
 * tree b of environment b / N or b its root). Device buffers; logits are per agent [B][N][A], the joint
 * action of a recurrent call is actions [B][N]; value, reward and discount
 * are the team's. */
typedef struct {
    void *ctx;
    void (*root)(void *ctx, mz_backend *be, int B, float *logits, float *value);
    void (*recurrent)(void *ctx, mz_backend *be, int B, const int32_t *parent, const int32_t *actions,
                      const int32_t *new_node, float *reward, float *discount, float *logits, float *value);
} mcts_ma_model;

typedef struct mcts_ma_search mcts_ma_search;

/* NULL and a one-line reason when the mode cannot be built (joint: A^N above
 * joint_limit or the search's action limit). partner_sample: independent
 * search samples partners from their prior instead of taking the argmax. */
mcts_ma_search *mcts_ma_create(mz_backend *be, const mcts_params *params, mcts_ma_mode mode, int E, int N, int A,
                               int joint_limit, int partner_sample, char *err, size_t err_len);
void mcts_ma_destroy(mcts_ma_search *m);
/* The same size check alone, for config validation: 0, or 2 with the reason. */
int mcts_ma_check_config(int joint, int N, int A, int joint_limit, char *err, size_t err_len);
int mcts_ma_trees(const mcts_ma_search *m); /* B: what the model is batched over */

/* One search for every environment; results on the device: */
void mcts_ma_run(mcts_ma_search *m, const mcts_ma_model *model);
const int32_t *mcts_ma_actions(const mcts_ma_search *m);    /* [E][N] joint action to play */
const float *mcts_ma_policy(const mcts_ma_search *m);       /* [E][N][A] per-agent policy targets */
const float *mcts_ma_root_value(const mcts_ma_search *m);   /* [E] */
mcts_search *mcts_ma_tree_search(mcts_ma_search *m);        /* the underlying search (trees, visits) */
/* Legal actions at the roots: avail [E][N][A] in backend memory (1 =
 * legal; the env's buffer), read at every run; NULL (the default): all
 * legal. Illegal actions are never selected at the root, never played and
 * get no policy mass; each agent needs one legal action. */
void mcts_ma_set_avail(mcts_ma_search *m, const uint8_t *avail);
/* The search counters its random draws depend on, for resume. */
void mcts_ma_state_blocks(mcts_ma_search *m, const char *prefix, mz_state_block *list, int *n, int max);

#endif
