/* A stored mctx search tree (../shared/fixtures/mctx format) used as the
 * model: expanding child a of a node answers with that child's stored prior
 * logits (log of its children's priors), raw value and reward, and the
 * discount of the file's env_config. A faithful search then reproduces the
 * stored tree: every node's visits and creation order, and its values.
 * Also: a search tree back to that JSON format, and to Graphviz. */
#ifndef MZ_MCTS_ORACLE_H
#define MZ_MCTS_ORACLE_H

#include <stdio.h>

#include "mcts/mcts.h"

typedef struct mcts_oracle mcts_oracle;

/* Loads the file; on error NULL and a message naming the file and field.
 * `params` gets the file's algorithm and settings for S simulations, where
 * S = root visits - 1. */
mcts_oracle *mcts_oracle_load(const char *path, mz_backend *be, int B, mcts_params *params, char *err, size_t err_len);
void mcts_oracle_destroy(mcts_oracle *o);
int mcts_oracle_num_actions(const mcts_oracle *o);
int mcts_oracle_num_nodes(const mcts_oracle *o);
mcts_model mcts_oracle_model(mcts_oracle *o);

typedef struct {
    int nodes_compared;      /* expanded nodes in the stored tree */
    int mismatched_visits;   /* nodes with other visit counts */
    int mismatched_order;    /* nodes created by another simulation */
    int missing;             /* stored nodes our search never created, or left the stored tree */
    double max_value_error;  /* over value_view and raw_value_view */
    char first_problem[256];
} mcts_oracle_report;

/* Compares tree b of a finished search with the stored tree. */
void mcts_oracle_compare(mcts_oracle *o, mcts_search *s, int b, mcts_oracle_report *r);

/* The discount of the stored tree's env_config. */
float mcts_oracle_discount(const mcts_oracle *o);

/* Tree b in the mctx fixture JSON format, with the search's settings as
 * algorithm_config and `discount` as env_config, so the file can itself be
 * replayed with mcts_oracle_load; caller frees. */
char *mcts_tree_to_json(mcts_search *s, int b, float discount);
/* Tree b as a Graphviz digraph (visits, values, priors), nodes with at most
 * max_nodes shown (most visited first); 0 or -1 on a write error. */
int mcts_tree_to_dot(mcts_search *s, int b, FILE *f, int max_nodes);

#endif
