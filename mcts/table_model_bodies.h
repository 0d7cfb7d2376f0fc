/* Single-source bodies of the table model (mcts/table_model.h). */
#ifndef MZ_MCTS_TABLE_MODEL_BODIES_H
#define MZ_MCTS_TABLE_MODEL_BODIES_H

#include <stdint.h>

#include "src/hd.h"

typedef struct {
    int M, A, N;
    const float *logits, *value, *reward, *discount; /* [M][A], [M], [M][A], [M][A] */
    const int32_t *next;                             /* [M][A] */
    const int32_t *roots;                            /* [B] */
    int32_t *state;                                  /* [B][N] state id of each node */
} mcts_table_view;

HD static inline void table_root_body(int64_t b, mcts_table_view m, float *logits, float *value) {
    int s = m.roots[b];
    m.state[b * m.N] = s;
    for (int a = 0; a < m.A; a++) logits[b * m.A + a] = m.logits[(int64_t)s * m.A + a];
    value[b] = m.value[s];
}

HD static inline void table_recurrent_body(int64_t b, mcts_table_view m, const int32_t *parent, const int32_t *action,
                                           const int32_t *new_node, float *reward, float *discount, float *logits,
                                           float *value) {
    int s = m.state[b * m.N + parent[b]];
    int64_t edge = (int64_t)s * m.A + action[b];
    int next = m.next[edge];
    m.state[b * m.N + new_node[b]] = next;
    reward[b] = m.reward[edge];
    discount[b] = m.discount[edge];
    for (int a = 0; a < m.A; a++) logits[b * m.A + a] = m.logits[(int64_t)next * m.A + a];
    value[b] = m.value[next];
}

#endif
