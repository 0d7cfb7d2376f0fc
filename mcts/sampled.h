/* MAZero's sampled joint search (../shared/reference/mazero-and-toy.md
 * §2.2-2.4) over E environments of N agents with A actions each, batched
 * over environments in one call, with the multi-agent model of
 * mcts/multiagent.h (per-agent logits [E][N][A], joint actions [E][N], team
 * reward, value and discount).
 *
 * Each expansion samples K joint actions from the factorised proposal
 * beta = prod_i beta_i (root: (1 - eps) pi_i + eps Dir(alpha) per agent,
 * interior: pi_i); duplicates merge into one slot, whose prior is the
 * Sampled MuZero correction (beta_hat / beta) pi, normalised over the slots.
 * Selection is pUCT (c1, c2) over a node's slots; the root visits each of
 * its slots once first (in slot order), then pUCT.
 *
 * The value term of selection is OS(lambda): for a node s, U_d(s) are the
 * returns sum_{k<d} g^k r_k + g^d v(s') of the nodes s' d levels below s
 * (v: the network value, g: the model's discounts); per depth the top
 * max(1, ceil(|U_d| (1 - rho))) are kept (MAZero's code semantics: rho is
 * the fraction dropped), and V(s) is their lambda^d-weighted mean. The value
 * term of slot a is A(s, a) = r + g V(child) - v(s), min-max normalised to
 * [0, 1] by the smallest and largest advantage seen in the tree so far;
 * unvisited slots score 0 for value. The root's A(s, a) are exported for
 * AWPO policy targets.
 *
 * Memory per tree: S + 1 nodes of K slots (joint actions stored per slot)
 * plus a [S + 1] scratch for the OS(lambda) sets; nothing is allocated in a
 * search. */
#ifndef MZ_MCTS_SAMPLED_H
#define MZ_MCTS_SAMPLED_H

#include <stddef.h>
#include <stdint.h>

#include "mcts/multiagent.h"
#include "src/config.h"

#define MCTS_SAMPLED_MAX_AGENTS 16
#define MCTS_SAMPLED_MAX_ACTIONS 64 /* per agent */
#define MCTS_SAMPLED_MAX_K 256

typedef struct {
    int num_simulations;
    int K;                    /* joint actions sampled per expansion */
    float pb_c_init, pb_c_base;
    float dirichlet_fraction, dirichlet_alpha; /* root proposal per agent */
    float os_lambda;          /* weight of depth d: lambda^d */
    float os_rho;             /* fraction of each depth's returns dropped (code semantics) */
    uint64_t seed;
} mcts_sampled_params;

/* MAZero's defaults: K 10, c1 1.25, c2 19652, Dirichlet 0.25 / 0.3,
 * lambda 0.8, rho 0.25 (train_smac.sh). */
void mcts_sampled_params_default(mcts_sampled_params *p, int num_simulations);
/* No Dirichlet mix in the root proposal, for greedy play; the sampled
 * joint actions themselves stay random (that is the search). */
void mcts_sampled_params_noise_free(mcts_sampled_params *p);

/* The settings of a run's config (mcts.num_simulations, sampled_actions,
 * os_lambda, os_rho, root_dirichlet_fraction/alpha, seed); pUCT constants
 * are MAZero's. */
void mcts_sampled_params_from_config(mcts_sampled_params *p, const mz_config *cfg);

typedef struct mcts_sampled_search mcts_sampled_search;

/* 0, or 2 with a one-line reason in err when the settings cannot be used. */
int mcts_sampled_check(const mcts_sampled_params *p, int E, int N, int A, char *err, size_t err_len);
/* NULL and the reason in err when mcts_sampled_check refuses. */
mcts_sampled_search *mcts_sampled_create(mz_backend *be, const mcts_sampled_params *p, int E, int N, int A, char *err,
                                         size_t err_len);
void mcts_sampled_destroy(mcts_sampled_search *s);

/* One search for every environment (model batched over B = E trees;
 * recurrent's `parent` and `new_node` are node ids within a tree, node 0 the
 * root). Results on the device: */
void mcts_sampled_run(mcts_sampled_search *s, const mcts_ma_model *model);
const int32_t *mcts_sampled_actions(const mcts_sampled_search *s);    /* [E][N] most visited root slot */
const float *mcts_sampled_policy(const mcts_sampled_search *s);       /* [E][N][A] per-agent marginals of the visits */
const float *mcts_sampled_root_value(const mcts_sampled_search *s);   /* [E] OS(lambda) value of the root */
const int32_t *mcts_sampled_root_joint(const mcts_sampled_search *s); /* [E][K][N] slot joint actions, -1 past the last */
const float *mcts_sampled_root_weights(const mcts_sampled_search *s); /* [E][K] visits / simulations, 0 past the last */
const float *mcts_sampled_root_advantage(const mcts_sampled_search *s); /* [E][K] A(root, a) of visited slots, else 0 */
/* Legal actions at the roots: avail [E][N][A] in backend memory (1 =
 * legal), read at every run; NULL (the default): all legal. The root's
 * proposal and prior are restricted to legal actions per agent, so no
 * illegal joint action is sampled, played or given policy mass. */
void mcts_sampled_set_avail(mcts_sampled_search *s, const uint8_t *avail);
/* The search counter its random draws depend on, for resume. */
void mcts_sampled_state_blocks(mcts_sampled_search *s, const char *prefix, mz_state_block *list, int *n, int max);

#endif
