/* A model given as tables over M states: the embedding of a node is a state
 * id; expanding action a from state s goes to next[s][a] with reward[s][a]
 * and discount[s][a] and answers logits[s'] and value[s']. Rebuilds the
 * models of the mctx golden tests exactly, serves solved games to the
 * multi-agent tests, and is the trivial model of `mazero bench mcts`, which
 * then measures the search alone. */
#ifndef MZ_MCTS_TABLE_MODEL_H
#define MZ_MCTS_TABLE_MODEL_H

#include "mcts/mcts.h"

typedef struct mcts_table_model mcts_table_model;

/* Host tables, copied to the backend: logits [M][A], value [M], reward
 * [M][A], discount [M][A], next [M][A]; B trees of N nodes. */
mcts_table_model *mcts_table_model_create(mz_backend *be, int M, int A, int B, int N, const float *logits,
                                          const float *value, const float *reward, const float *discount,
                                          const int32_t *next);
/* The root state of each tree ([B], host). */
void mcts_table_model_set_roots(mcts_table_model *m, const int32_t *roots);
mcts_model mcts_table_model_model(mcts_table_model *m);
void mcts_table_model_destroy(mcts_table_model *m);

#endif
