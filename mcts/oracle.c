/* The mctx tree oracle, tree export to JSON and Graphviz. */
#include "mcts/oracle.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "mcts/mcts_bodies.h"
#include "mcts/oracle_bodies.h"
#include "src/check.h"

void mcts_oracle_root_cuda(mz_backend *be, mcts_oracle_view o, int B, float *logits, float *value) MZ_CUDA_LAUNCHER;
void mcts_oracle_recurrent_cuda(mz_backend *be, mcts_oracle_view o, int B, const int32_t *parent, const int32_t *action,
                                const int32_t *new_node, float *reward, float *discount, float *logits,
                                float *value) MZ_CUDA_LAUNCHER;

struct mcts_oracle {
    mz_backend *be;
    int B, A, n_stored;
    mcts_oracle_view view; /* device */
    /* host copies for comparison */
    int32_t *evaluation_index, *visit;
    float *value_view, *raw_view;
};

typedef struct {
    int A, count, cap;
    float *logits, *raw, *reward, *value;
    int32_t *child, *eval, *visit;
    char *err;
    size_t err_len;
} flat_tree;

static const cJSON *field(const cJSON *obj, const char *key) { return cJSON_GetObjectItemCaseSensitive(obj, key); }

static int grow(flat_tree *f) {
    if (f->count < f->cap) return f->count++;
    f->cap = f->cap ? 2 * f->cap : 256;
    f->logits = (float *)mz_realloc(f->logits, (size_t)f->cap * f->A * sizeof(float));
    f->child = (int32_t *)mz_realloc(f->child, (size_t)f->cap * f->A * sizeof(int32_t));
    f->raw = (float *)mz_realloc(f->raw, (size_t)f->cap * sizeof(float));
    f->reward = (float *)mz_realloc(f->reward, (size_t)f->cap * sizeof(float));
    f->value = (float *)mz_realloc(f->value, (size_t)f->cap * sizeof(float));
    f->eval = (int32_t *)mz_realloc(f->eval, (size_t)f->cap * sizeof(int32_t));
    f->visit = (int32_t *)mz_realloc(f->visit, (size_t)f->cap * sizeof(int32_t));
    return f->count++;
}

/* Flattens an expanded node and its expanded descendants; its id, or -1. */
static int flatten(flat_tree *f, const cJSON *node, int depth) {
    const cJSON *visit = field(node, "visit"), *raw = field(node, "raw_value_view"), *value = field(node, "value_view");
    const cJSON *eval = field(node, "evaluation_index"), *kids = field(node, "child_stats");
    if (!cJSON_IsNumber(visit) || !cJSON_IsNumber(raw) || !cJSON_IsNumber(value) || !cJSON_IsNumber(eval) ||
        !cJSON_IsArray(kids) || depth > 100000) {
        snprintf(f->err, f->err_len, "node at depth %d lacks visit, raw_value_view, value_view, evaluation_index or child_stats", depth);
        return -1;
    }
    if (f->A == 0) f->A = cJSON_GetArraySize(kids); /* the root fixes A */
    if (cJSON_GetArraySize(kids) != f->A || f->A < 1 || f->A > MCTS_MAX_ACTIONS) {
        snprintf(f->err, f->err_len, "node %d has %d children, expected %d (at most %d)", (int)eval->valuedouble,
                 cJSON_GetArraySize(kids), f->A, MCTS_MAX_ACTIONS);
        return -1;
    }
    int id = grow(f);
    const cJSON *reward = field(node, "reward");
    f->raw[id] = (float)raw->valuedouble;
    f->value[id] = (float)value->valuedouble;
    f->reward[id] = cJSON_IsNumber(reward) ? (float)reward->valuedouble : 0.0f;
    f->eval[id] = (int32_t)eval->valuedouble;
    f->visit[id] = (int32_t)visit->valuedouble;
    int a = 0;
    const cJSON *kid;
    cJSON_ArrayForEach(kid, kids) {
        const cJSON *prior = field(kid, "prior"), *act = field(kid, "action");
        if (!cJSON_IsNumber(prior) || !cJSON_IsNumber(act) || (int)act->valuedouble != a) {
            snprintf(f->err, f->err_len, "child %d of node %d lacks prior or has another action", a, f->eval[id]);
            return -1;
        }
        f->logits[(size_t)id * f->A + a] = (float)log(prior->valuedouble > 0 ? prior->valuedouble : 1e-38);
        int child = -1;
        if (field(kid, "visit")) {
            child = flatten(f, kid, depth + 1);
            if (child < 0) return -1;
        }
        f->child[(size_t)id * f->A + a] = child;
        a++;
    }
    return id;
}

static float number_or(const cJSON *obj, const char *key, float fallback) {
    const cJSON *v = field(obj, key);
    return cJSON_IsNumber(v) ? (float)v->valuedouble : cJSON_IsBool(v) ? (float)cJSON_IsTrue(v) : fallback;
}

static int params_from_json(const cJSON *root, int S, mcts_params *p, char *err, size_t len) {
    const cJSON *alg = field(root, "algorithm"), *cfg = field(root, "algorithm_config");
    if (!cJSON_IsString(alg) || !cJSON_IsObject(cfg)) {
        snprintf(err, len, "missing algorithm or algorithm_config");
        return -1;
    }
    const cJSON *kw = field(cfg, "qtransform_kwargs"), *qt = field(cfg, "qtransform");
    if (!strcmp(alg->valuestring, "muzero")) {
        mcts_params_default(p, MCTS_MUZERO, S);
        p->pb_c_init = number_or(cfg, "pb_c_init", p->pb_c_init);
        p->pb_c_base = number_or(cfg, "pb_c_base", p->pb_c_base);
        p->dirichlet_alpha = number_or(cfg, "dirichlet_alpha", p->dirichlet_alpha);
        p->dirichlet_fraction = number_or(cfg, "dirichlet_fraction", p->dirichlet_fraction);
        if (cJSON_IsString(qt) && strstr(qt->valuestring, "min_max")) {
            p->qtransform = MCTS_Q_MIN_MAX;
            p->qmin = number_or(kw, "min_value", 0.0f);
            p->qmax = number_or(kw, "max_value", 1.0f);
        }
    } else if (!strcmp(alg->valuestring, "gumbel_muzero")) {
        mcts_params_default(p, MCTS_GUMBEL_MUZERO, S);
        p->gumbel_scale = number_or(cfg, "gumbel_scale", p->gumbel_scale);
        p->max_num_considered_actions = (int)number_or(cfg, "max_num_considered_actions", 16);
        p->value_scale = number_or(kw, "value_scale", p->value_scale);
        p->maxvisit_init = number_or(kw, "maxvisit_init", p->maxvisit_init);
        p->rescale_values = (int)number_or(kw, "rescale_values", 1);
        p->use_mixed_value = (int)number_or(kw, "use_mixed_value", 1);
    } else {
        snprintf(err, len, "algorithm '%s' is not muzero or gumbel_muzero", alg->valuestring);
        return -1;
    }
    return 0;
}

mcts_oracle *mcts_oracle_load(const char *path, mz_backend *be, int B, mcts_params *params, char *err, size_t err_len) {
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        snprintf(err, err_len, "%s: %s", path, strerror(errno));
        return NULL;
    }
    MZ_CHECK(fseek(fp, 0, SEEK_END) == 0, "seek %s", path);
    long n = ftell(fp);
    MZ_CHECK(n >= 0 && fseek(fp, 0, SEEK_SET) == 0, "seek %s", path);
    char *text = (char *)mz_malloc((size_t)n + 1);
    size_t got = fread(text, 1, (size_t)n, fp);
    fclose(fp);
    text[got] = '\0';
    cJSON *root = cJSON_Parse(text);
    free(text);
    if (!root) {
        snprintf(err, err_len, "%s: not valid JSON", path);
        return NULL;
    }
    char why[200] = "";
    flat_tree f = {0, 0, 0, NULL, NULL, NULL, NULL, NULL, NULL, NULL, why, sizeof why};
    const cJSON *tree = field(root, "tree"), *env = field(root, "env_config");
    mcts_oracle *o = NULL;
    if (!cJSON_IsObject(tree) || !cJSON_IsObject(env)) {
        snprintf(why, sizeof why, "missing tree or env_config");
    } else if (flatten(&f, tree, 0) == 0 && params_from_json(root, f.visit[0] - 1, params, why, sizeof why) == 0) {
        if (params->num_simulations < 1) snprintf(why, sizeof why, "root has %d visits: no simulation to replay", f.visit[0]);
    }
    if (!why[0]) {
        o = (mcts_oracle *)mz_calloc(1, sizeof *o);
        o->be = be, o->B = B, o->A = f.A, o->n_stored = f.count;
        int N = params->num_simulations + 1;
        mcts_oracle_view *v = &o->view;
        v->A = f.A, v->N = N;
        v->discount = number_or(env, "discount", 1.0f);
        size_t na = (size_t)f.count * f.A;
        float *logits = (float *)be->alloc(be, na * sizeof(float));
        int32_t *child = (int32_t *)be->alloc(be, na * sizeof(int32_t));
        float *raw = (float *)be->alloc(be, (size_t)f.count * sizeof(float));
        float *reward = (float *)be->alloc(be, (size_t)f.count * sizeof(float));
        be->copy_h2d(be, logits, f.logits, na * sizeof(float));
        be->copy_h2d(be, child, f.child, na * sizeof(int32_t));
        be->copy_h2d(be, raw, f.raw, (size_t)f.count * sizeof(float));
        be->copy_h2d(be, reward, f.reward, (size_t)f.count * sizeof(float));
        v->logits = logits, v->child = child, v->raw_value = raw, v->reward = reward;
        v->map = (int32_t *)be->alloc(be, (size_t)B * N * sizeof(int32_t));
        v->lost = (int32_t *)be->alloc(be, (size_t)B * sizeof(int32_t));
        o->evaluation_index = f.eval, o->visit = f.visit, o->value_view = f.value, o->raw_view = f.raw;
        f.eval = f.visit = NULL, f.value = f.raw = NULL;
    } else {
        snprintf(err, err_len, "%s: %s", path, why);
    }
    free(f.logits), free(f.child), free(f.raw), free(f.reward), free(f.value), free(f.eval), free(f.visit);
    cJSON_Delete(root);
    return o;
}

void mcts_oracle_destroy(mcts_oracle *o) {
    if (!o) return;
    mz_backend *be = o->be;
    be->free(be, (void *)o->view.logits), be->free(be, (void *)o->view.child), be->free(be, (void *)o->view.raw_value);
    be->free(be, (void *)o->view.reward), be->free(be, o->view.map), be->free(be, o->view.lost);
    free(o->evaluation_index), free(o->visit), free(o->value_view), free(o->raw_view);
    free(o);
}

int mcts_oracle_num_actions(const mcts_oracle *o) { return o->A; }
int mcts_oracle_num_nodes(const mcts_oracle *o) { return o->n_stored; }
float mcts_oracle_discount(const mcts_oracle *o) { return o->view.discount; }

static void oracle_root(void *ctx, mz_backend *be, float *logits, float *value) {
    mcts_oracle *o = (mcts_oracle *)ctx;
    if (be->kind == MZ_BACKEND_CUDA) {
        mcts_oracle_root_cuda(be, o->view, o->B, logits, value);
        return;
    }
    for (int64_t b = 0; b < o->B; b++) oracle_root_body(b, o->view, logits, value);
}

static void oracle_recurrent(void *ctx, mz_backend *be, const int32_t *parent, const int32_t *action,
                             const int32_t *new_node, float *reward, float *discount, float *logits, float *value) {
    mcts_oracle *o = (mcts_oracle *)ctx;
    if (be->kind == MZ_BACKEND_CUDA) {
        mcts_oracle_recurrent_cuda(be, o->view, o->B, parent, action, new_node, reward, discount, logits, value);
        return;
    }
    for (int64_t b = 0; b < o->B; b++)
        oracle_recurrent_body(b, o->view, parent, action, new_node, reward, discount, logits, value);
}

mcts_model mcts_oracle_model(mcts_oracle *o) {
    mcts_model m = {o, oracle_root, oracle_recurrent};
    return m;
}

/* Tree b copied to the host. */
typedef struct {
    int N, A;
    int32_t *visits, *children_index, *parents, *action_from_parent;
    float *values, *raw, *logits, *rewards;
} host_tree;

static host_tree download_tree(mcts_search *s, int b) {
    mz_backend *be = s->be;
    const mcts_tree *t = &s->tree;
    host_tree h;
    h.N = t->N, h.A = t->A;
    size_t n = (size_t)t->N, na = n * t->A;
    h.visits = (int32_t *)mz_malloc(n * sizeof(int32_t));
    h.parents = (int32_t *)mz_malloc(n * sizeof(int32_t));
    h.action_from_parent = (int32_t *)mz_malloc(n * sizeof(int32_t));
    h.values = (float *)mz_malloc(n * sizeof(float));
    h.raw = (float *)mz_malloc(n * sizeof(float));
    h.children_index = (int32_t *)mz_malloc(na * sizeof(int32_t));
    h.logits = (float *)mz_malloc(na * sizeof(float));
    h.rewards = (float *)mz_malloc(na * sizeof(float));
    be->copy_d2h(be, h.visits, t->node_visits + (size_t)b * n, n * sizeof(int32_t));
    be->copy_d2h(be, h.parents, t->parents + (size_t)b * n, n * sizeof(int32_t));
    be->copy_d2h(be, h.action_from_parent, t->action_from_parent + (size_t)b * n, n * sizeof(int32_t));
    be->copy_d2h(be, h.values, t->node_values + (size_t)b * n, n * sizeof(float));
    be->copy_d2h(be, h.raw, t->raw_values + (size_t)b * n, n * sizeof(float));
    be->copy_d2h(be, h.children_index, t->children_index + (size_t)b * na, na * sizeof(int32_t));
    be->copy_d2h(be, h.logits, t->children_logits + (size_t)b * na, na * sizeof(float));
    be->copy_d2h(be, h.rewards, t->children_rewards + (size_t)b * na, na * sizeof(float));
    return h;
}

static void free_tree(host_tree *h) {
    free(h->visits), free(h->parents), free(h->action_from_parent), free(h->values), free(h->raw);
    free(h->children_index), free(h->logits), free(h->rewards);
}

void mcts_oracle_compare(mcts_oracle *o, mcts_search *s, int b, mcts_oracle_report *r) {
    memset(r, 0, sizeof *r);
    host_tree h = download_tree(s, b);
    int32_t *map = (int32_t *)mz_malloc((size_t)h.N * sizeof(int32_t)), lost = 0;
    s->be->copy_d2h(s->be, map, o->view.map + (size_t)b * h.N, (size_t)h.N * sizeof(int32_t));
    s->be->copy_d2h(s->be, &lost, o->view.lost + b, sizeof lost);
    char *seen = (char *)mz_calloc((size_t)o->n_stored, 1);
    r->nodes_compared = o->n_stored;
    for (int n = 0; n < h.N; n++) {
        if (h.visits[n] == 0) continue; /* slot left unused (max_depth re-evaluation) */
        int st = map[n];
        if (st < 0) {
            r->missing++;
            if (!r->first_problem[0]) snprintf(r->first_problem, sizeof r->first_problem, "node %d is not in the stored tree", n);
            continue;
        }
        seen[st] = 1;
        if (o->evaluation_index[st] != n) {
            r->mismatched_order++;
            if (!r->first_problem[0])
                snprintf(r->first_problem, sizeof r->first_problem, "node %d was created by simulation %d, stored %d", n, n, o->evaluation_index[st]);
        }
        if (o->visit[st] != h.visits[n]) {
            r->mismatched_visits++;
            if (!r->first_problem[0])
                snprintf(r->first_problem, sizeof r->first_problem, "node %d has %d visits, stored %d", n, h.visits[n], o->visit[st]);
        }
        double dv = fabs((double)h.values[n] - o->value_view[st]), dr = fabs((double)h.raw[n] - o->raw_view[st]);
        if (dv > r->max_value_error) r->max_value_error = dv;
        if (dr > r->max_value_error) r->max_value_error = dr;
    }
    for (int st = 0; st < o->n_stored; st++) {
        if (seen[st]) continue;
        r->missing++;
        if (!r->first_problem[0])
            snprintf(r->first_problem, sizeof r->first_problem, "stored node %d (simulation %d) was never created", st, o->evaluation_index[st]);
    }
    if (lost && !r->first_problem[0]) snprintf(r->first_problem, sizeof r->first_problem, "the search left the stored tree");
    free(seen);
    free(map);
    free_tree(&h);
}

static cJSON *node_json(const host_tree *h, int n, int action, float prior, float reward, bool is_root) {
    cJSON *j = cJSON_CreateObject();
    MZ_CHECK(j, "cJSON: out of memory");
    if (!is_root) cJSON_AddNumberToObject(j, "action", action);
    cJSON_AddNumberToObject(j, "evaluation_index", n);
    cJSON_AddNumberToObject(j, "prior", prior);
    cJSON_AddNumberToObject(j, "raw_value_view", h->raw[n]);
    if (!is_root) cJSON_AddNumberToObject(j, "reward", reward);
    cJSON_AddNumberToObject(j, "value_view", h->values[n]);
    cJSON_AddNumberToObject(j, "visit", h->visits[n]);
    cJSON *kids = cJSON_AddArrayToObject(j, "child_stats");
    MZ_CHECK(kids, "cJSON: out of memory");
    float probs[MCTS_MAX_ACTIONS];
    mcts_softmax(h->logits + (size_t)n * h->A, h->A, probs);
    for (int a = 0; a < h->A; a++) {
        int c = h->children_index[(size_t)n * h->A + a];
        cJSON *kid;
        if (c >= 0) {
            kid = node_json(h, c, a, probs[a], h->rewards[(size_t)n * h->A + a], false);
        } else {
            kid = cJSON_CreateObject();
            MZ_CHECK(kid, "cJSON: out of memory");
            cJSON_AddNumberToObject(kid, "action", a);
            cJSON_AddNumberToObject(kid, "prior", probs[a]);
        }
        cJSON_AddItemToArray(kids, kid);
    }
    return j;
}

char *mcts_tree_to_json(mcts_search *s, int b, float discount) {
    host_tree h = download_tree(s, b);
    const mcts_params *p = &s->params;
    cJSON *root = cJSON_CreateObject(), *cfg = cJSON_CreateObject(), *kw = cJSON_CreateObject(), *env = cJSON_CreateObject();
    MZ_CHECK(root && cfg && kw && env, "cJSON: out of memory");
    if (p->policy == MCTS_MUZERO) {
        cJSON_AddStringToObject(root, "algorithm", "muzero");
        cJSON_AddNumberToObject(cfg, "dirichlet_alpha", p->dirichlet_alpha);
        cJSON_AddNumberToObject(cfg, "dirichlet_fraction", p->dirichlet_fraction);
        cJSON_AddNumberToObject(cfg, "pb_c_base", p->pb_c_base);
        cJSON_AddNumberToObject(cfg, "pb_c_init", p->pb_c_init);
        if (p->qtransform == MCTS_Q_MIN_MAX) {
            cJSON_AddStringToObject(cfg, "qtransform", "qtransform_by_min_max");
            cJSON_AddNumberToObject(kw, "min_value", p->qmin);
            cJSON_AddNumberToObject(kw, "max_value", p->qmax);
        } else {
            cJSON_AddStringToObject(cfg, "qtransform", "qtransform_by_parent_and_siblings");
        }
    } else {
        cJSON_AddStringToObject(root, "algorithm", "gumbel_muzero");
        cJSON_AddNumberToObject(cfg, "gumbel_scale", p->gumbel_scale);
        cJSON_AddNumberToObject(cfg, "max_num_considered_actions", p->max_num_considered_actions);
        cJSON_AddStringToObject(cfg, "qtransform", "qtransform_completed_by_mix_value");
        cJSON_AddNumberToObject(kw, "maxvisit_init", p->maxvisit_init);
        cJSON_AddBoolToObject(kw, "rescale_values", p->rescale_values);
        cJSON_AddBoolToObject(kw, "use_mixed_value", p->use_mixed_value);
        cJSON_AddNumberToObject(kw, "value_scale", p->value_scale);
    }
    cJSON_AddItemToObject(cfg, "qtransform_kwargs", kw);
    cJSON_AddItemToObject(root, "algorithm_config", cfg);
    cJSON_AddNumberToObject(env, "discount", discount);
    cJSON_AddItemToObject(root, "env_config", env);
    cJSON_AddItemToObject(root, "tree", node_json(&h, 0, -1, 1.0f, 0.0f, true));
    char *text = cJSON_PrintUnformatted(root);
    MZ_CHECK(text, "cJSON: out of memory");
    cJSON_Delete(root);
    free_tree(&h);
    return text;
}

int mcts_tree_to_dot(mcts_search *s, int b, FILE *f, int max_nodes) {
    host_tree h = download_tree(s, b);
    /* the max_nodes most visited nodes; a parent has at least its child's visits */
    char *shown = (char *)mz_calloc((size_t)h.N, 1);
    for (int k = 0; k < max_nodes && k < h.N; k++) {
        int best = -1;
        for (int n = 0; n < h.N; n++)
            if (!shown[n] && h.visits[n] > 0 && (best < 0 || h.visits[n] > h.visits[best])) best = n;
        if (best < 0) break;
        shown[best] = 1;
    }
    int rc = fprintf(f, "digraph search {\n  node [shape=box, fontname=\"Helvetica\", fontsize=10];\n") < 0;
    for (int n = 0; n < h.N && !rc; n++) {
        if (!shown[n]) continue;
        rc |= fprintf(f, "  n%d [label=\"#%d\\nN=%d\\nV=%.3f\\nv=%.3f\"%s];\n", n, n, h.visits[n], h.values[n], h.raw[n],
                      n == 0 ? ", style=bold" : "") < 0;
        if (n == 0 || !shown[h.parents[n]]) continue;
        int p = h.parents[n], a = h.action_from_parent[n];
        float probs[MCTS_MAX_ACTIONS];
        mcts_softmax(h.logits + (size_t)p * h.A, h.A, probs);
        rc |= fprintf(f, "  n%d -> n%d [label=\"a=%d\\np=%.3f\\nr=%.3f\"];\n", p, n, a, probs[a],
                      h.rewards[(size_t)p * h.A + a]) < 0;
    }
    rc |= fprintf(f, "}\n") < 0;
    free(shown);
    free_tree(&h);
    return rc ? -1 : 0;
}
