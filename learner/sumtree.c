/* Sum tree: see sumtree.h. */
#include "learner/sumtree.h"

#include <math.h>
#include <stdlib.h>

#include "src/check.h"

void mz_sumtree_init(mz_sumtree *t, int64_t n) {
    MZ_CHECK(n >= 1, "sumtree: %lld leaves", (long long)n);
    t->n = n;
    t->cap = 1;
    while (t->cap < n) t->cap *= 2;
    t->node = mz_calloc((size_t)(2 * t->cap), sizeof(double));
}

void mz_sumtree_free(mz_sumtree *t) {
    free(t->node);
    t->node = NULL;
}

void mz_sumtree_set(mz_sumtree *t, int64_t leaf, double weight) {
    MZ_CHECK(leaf >= 0 && leaf < t->n, "sumtree: leaf %lld of %lld", (long long)leaf, (long long)t->n);
    MZ_CHECK(weight >= 0.0 && isfinite(weight), "sumtree: weight %g of leaf %lld", weight, (long long)leaf);
    int64_t i = t->cap + leaf;
    t->node[i] = weight;
    for (i /= 2; i >= 1; i /= 2) t->node[i] = t->node[2 * i] + t->node[2 * i + 1];
}

double mz_sumtree_get(const mz_sumtree *t, int64_t leaf) { return t->node[t->cap + leaf]; }

double mz_sumtree_total(const mz_sumtree *t) { return t->node[1]; }

int64_t mz_sumtree_find(const mz_sumtree *t, double u) {
    MZ_CHECK(t->node[1] > 0.0, "sumtree: find in an empty tree");
    if (u < 0.0) u = 0.0;
    int64_t i = 1;
    while (i < t->cap) {
        double left = t->node[2 * i], right = t->node[2 * i + 1];
        /* rounding can leave u at or past this subtree's sum: take the side
         * that has weight */
        if ((u < left && left > 0.0) || right <= 0.0) {
            i = 2 * i;
        } else {
            u -= left;
            i = 2 * i + 1;
        }
    }
    return i - t->cap;
}

double mz_sumtree_check(const mz_sumtree *t, int64_t *nonzero) {
    double worst = 0.0, total = t->node[1] > 0.0 ? t->node[1] : 1.0;
    for (int64_t i = 1; i < t->cap; i++) {
        double d = fabs(t->node[i] - (t->node[2 * i] + t->node[2 * i + 1])) / total;
        if (d > worst) worst = d;
    }
    int64_t count = 0;
    for (int64_t j = 0; j < t->n; j++) count += t->node[t->cap + j] > 0.0;
    if (nonzero) *nonzero = count;
    return worst;
}
