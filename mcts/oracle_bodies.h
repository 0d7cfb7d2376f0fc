/* Single-source body of the oracle model: tree b's new node takes the stored
 * child's outputs. */
#ifndef MZ_MCTS_ORACLE_BODIES_H
#define MZ_MCTS_ORACLE_BODIES_H

#include <stdint.h>

#include "src/hd.h"

typedef struct {
    int A, N;                 /* actions, nodes of our trees */
    float discount;
    const float *logits;      /* [stored nodes][A] */
    const float *raw_value;   /* [stored nodes] */
    const float *reward;      /* [stored nodes] reward of the edge into the node */
    const int32_t *child;     /* [stored nodes][A] stored child, -1 if never expanded */
    int32_t *map;             /* [B][N] our node -> stored node, -1 */
    int32_t *lost;            /* [B] 1 once the search left the stored tree */
} mcts_oracle_view;

HD static inline void oracle_root_body(int64_t b, mcts_oracle_view o, float *logits, float *value) {
    for (int a = 0; a < o.A; a++) logits[b * o.A + a] = o.logits[a];
    value[b] = o.raw_value[0];
    for (int n = 0; n < o.N; n++) o.map[b * o.N + n] = -1;
    o.map[b * o.N] = 0;
    o.lost[b] = 0;
}

HD static inline void oracle_recurrent_body(int64_t b, mcts_oracle_view o, const int32_t *parent, const int32_t *action,
                                            const int32_t *new_node, float *reward, float *discount, float *logits,
                                            float *value) {
    int from = o.map[b * o.N + parent[b]];
    int stored = from >= 0 ? o.child[(int64_t)from * o.A + action[b]] : -1;
    o.map[b * o.N + new_node[b]] = stored;
    if (stored < 0) { /* outside the stored tree: answer something finite, flag it */
        o.lost[b] = 1;
        stored = 0;
    }
    for (int a = 0; a < o.A; a++) logits[b * o.A + a] = o.logits[(int64_t)stored * o.A + a];
    value[b] = o.raw_value[stored];
    reward[b] = o.reward[stored];
    discount[b] = o.discount;
}

#endif
