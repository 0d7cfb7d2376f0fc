/* A sum tree over n non-negative leaf weights: set a leaf, read the total
 * and find the leaf where a running sum crosses u, each in O(log n). The
 * prioritised replays sample through it.
 *
 * Layout: cap = the power of two >= n; node[1] is the root, node[i] has
 * children 2i and 2i+1, leaf j is node[cap + j]. Every internal node is
 * recomputed from its two children on a set (never incremented), so the
 * sums carry no drift however many updates they see. Not thread-safe: the
 * owner serialises access. */
#ifndef MZ_LEARNER_SUMTREE_H
#define MZ_LEARNER_SUMTREE_H

#include <stdint.h>

typedef struct {
    int64_t n, cap;
    double *node; /* [2 cap] */
} mz_sumtree;

void mz_sumtree_init(mz_sumtree *t, int64_t n);
void mz_sumtree_free(mz_sumtree *t);
void mz_sumtree_set(mz_sumtree *t, int64_t leaf, double weight);
double mz_sumtree_get(const mz_sumtree *t, int64_t leaf);
double mz_sumtree_total(const mz_sumtree *t);
/* The leaf j with sum(w_0..w_j-1) <= u < sum(w_0..w_j) and w_j > 0, for
 * 0 <= u < total (u is clamped into range); the total must be > 0. */
int64_t mz_sumtree_find(const mz_sumtree *t, double u);
/* Largest |node - (left + right)| over the internal nodes, relative to the
 * total (0 for an exact tree); *nonzero gets the count of positive leaves. */
double mz_sumtree_check(const mz_sumtree *t, int64_t *nonzero);

#endif
