/* The self-play search behind one handle: the per-agent or joint search
 * (mcts/multiagent.h) or MAZero's sampled joint search (mcts/sampled.h), as
 * the sync config's `sampled` picks. Sync self-play, its evaluation and
 * reanalyse, and the async actors each hold one, so the choice between the
 * two is made here once. Results stay on the searching backend. */
#ifndef MZ_PLAY_SEARCH_H
#define MZ_PLAY_SEARCH_H

#include "actors/sync.h"

typedef struct {
    mcts_ma_search *ma;           /* independent or joint, or */
    mcts_sampled_search *sampled; /* sampled; the other is NULL */
} play_search;

/* A search over E roots of c->env's N agents and A actions with the given
 * parameters (only the ones of the kind c->sampled picks are read). Returns
 * 0, or -1 with err set and *out empty. */
int play_search_create(play_search *out, mz_backend *be, const sync_config *c, const mcts_params *params,
                       const mcts_sampled_params *sampled_params, int E, char *err, size_t err_len);
/* Trees the world model's search callbacks batch for E roots (wm_config's
 * max_trees): N per root for the per-agent search, one otherwise. */
int play_search_trees(const sync_config *c, int E);
void play_search_destroy(play_search *p); /* leaves it empty; an empty one is a no-op */
/* The roots' legal actions [E*N*A], read at every search. */
void play_search_set_avail(const play_search *p, const uint8_t *avail);
void play_search_run(const play_search *p, const mcts_ma_model *mm);
const int32_t *play_search_actions(const play_search *p);  /* [E*N] */
const float *play_search_policy(const play_search *p);     /* [E*N*A] */
const float *play_search_root_value(const play_search *p); /* [E] */
/* Its RNG counters for resume, under prefix; nothing for an empty one. */
void play_search_state_blocks(const play_search *p, const char *prefix, mz_state_block *list, int *n, int max);

#endif
