/* See play_search.h. */
#include "actors/play_search.h"

int play_search_create(play_search *out, mz_backend *be, const sync_config *c, const mcts_params *params,
                       const mcts_sampled_params *sampled_params, int E, char *err, size_t err_len) {
    out->ma = NULL, out->sampled = NULL;
    if (c->sampled) out->sampled = mcts_sampled_create(be, sampled_params, E, c->env.N, c->env.A, err, err_len);
    else
        out->ma = mcts_ma_create(be, params, c->mode, E, c->env.N, c->env.A, c->joint_limit, c->partner_sample, err,
                                 err_len);
    return out->ma || out->sampled ? 0 : -1;
}

int play_search_trees(const sync_config *c, int E) {
    return !c->sampled && c->mode == MCTS_MA_INDEPENDENT ? E * c->env.N : E;
}

void play_search_destroy(play_search *p) {
    mcts_ma_destroy(p->ma);
    mcts_sampled_destroy(p->sampled);
    p->ma = NULL, p->sampled = NULL;
}

void play_search_set_avail(const play_search *p, const uint8_t *avail) {
    if (p->sampled) mcts_sampled_set_avail(p->sampled, avail);
    else mcts_ma_set_avail(p->ma, avail);
}

void play_search_run(const play_search *p, const mcts_ma_model *mm) {
    if (p->sampled) mcts_sampled_run(p->sampled, mm);
    else mcts_ma_run(p->ma, mm);
}

const int32_t *play_search_actions(const play_search *p) {
    return p->sampled ? mcts_sampled_actions(p->sampled) : mcts_ma_actions(p->ma);
}
const float *play_search_policy(const play_search *p) {
    return p->sampled ? mcts_sampled_policy(p->sampled) : mcts_ma_policy(p->ma);
}
const float *play_search_root_value(const play_search *p) {
    return p->sampled ? mcts_sampled_root_value(p->sampled) : mcts_ma_root_value(p->ma);
}

void play_search_state_blocks(const play_search *p, const char *prefix, mz_state_block *list, int *n, int max) {
    if (p->sampled) mcts_sampled_state_blocks(p->sampled, prefix, list, n, max);
    else if (p->ma) mcts_ma_state_blocks(p->ma, prefix, list, n, max);
}
