/* The PPO rollout (learner/ppo.h): T steps of every environment with the
 * current actor, the critic's values (and, for time-limit truncation, the
 * value of the final observation), then GAE. Recurrent networks carry their
 * GRU states across steps and rollouts, zeroed where an episode starts.
 * Everything stays on the backend; nothing is allocated. */
#include "learner/ppo.h"

#include "learner/ppo_kernels.h"
#include "learner/ppo_ops.h"
#include "src/nn/nn.h"

/* The critic's input of the env's current (or, with final, its ended
 * episode's last) observation into `dst` [EN][Ic]. */
static void critic_input(mz_ppo *p, float *dst, bool final) {
    mz_vecenv *v = p->env;
    if (p->cfg.centralised_critic)
        mz_agent_input(p->be, dst, final ? v->buf.final_obs : v->buf.global_state, p->EN, p->N, p->O, 0, 1, final,
                       p->S);
    else
        mz_agent_input(p->be, dst, final ? v->buf.final_obs : v->buf.obs, p->EN, p->N, p->O, p->cfg.add_agent_id, 0, 0,
                       0);
}

/* One step of `m` on EN rows from state h (NULL: feed-forward) with reset
 * mask keep; with commit, h becomes the new state. */
static void net_step(mz_ppo *p, mz_ppo_mlp *m, const float *in, float *h, const float *keep, bool commit) {
    mz_ppo_mlp_forward_seq(m, in, 1, (int)p->EN, h, keep);
    if (h && commit) p->be->copy_d2d(p->be, h, m->hs, (size_t)p->EN * p->cfg.hidden * sizeof(float));
}

void mz_ppo_rollout(mz_ppo *p) {
    mz_backend *be = p->be;
    mz_vecenv *v = p->env;
    const mz_ppo_config *c = &p->cfg;
    int64_t EN = p->EN, E = p->E;
    size_t fEN = (size_t)EN * sizeof(float);
    if (c->recurrent) {
        size_t state = (size_t)EN * c->hidden * sizeof(float);
        be->copy_d2d(be, p->h_actor0, p->h_actor, state);
        be->copy_d2d(be, p->h_critic0, p->h_critic, state);
    }
    for (int t = 0; t < p->T; t++) {
        float *keep = NULL;
        if (c->recurrent) {
            keep = p->keep + (int64_t)t * EN;
            be->copy_d2d(be, keep, p->next_keep, fEN);
        }
        float *in = p->obs_in + (int64_t)t * EN * p->In;
        float *cin = c->centralised_critic ? p->cobs_in + (int64_t)t * EN * p->Ic : in;
        mz_agent_input(be, in, v->buf.obs, EN, p->N, p->O, c->add_agent_id, 0, 0, 0);
        if (c->centralised_critic) critic_input(p, cin, false);
        be->copy_d2d(be, p->avail + (int64_t)t * EN * p->A, v->buf.avail, (size_t)(EN * p->A));

        net_step(p, &p->actor, in, p->h_actor, keep, true);
        mz_masked_sample(be, v->buf.actions, p->logp + (int64_t)t * EN, p->actor.y, v->buf.avail, EN, p->A, 0, c->seed,
                         MZ_STREAM_PPO_ACTION, (uint64_t)p->action_draws);
        p->action_draws += EN;
        be->copy_d2d(be, p->actions + (int64_t)t * EN, v->buf.actions, (size_t)EN * sizeof(int32_t));
        net_step(p, &p->critic, cin, p->h_critic, keep, true);
        be->copy_d2d(be, p->value + (int64_t)t * EN, p->critic.y, fEN);

        mz_vecenv_step(v);
        if (c->recurrent) mz_ppo_keep(be, p->next_keep, v->buf.terminated, v->buf.truncated, EN, p->N);
        if (c->team_reward)
            mz_ppo_repeat(be, p->reward + (int64_t)t * EN, v->buf.reward, EN, p->N);
        else
            be->copy_d2d(be, p->reward + (int64_t)t * EN, v->buf.agent_reward, fEN);
        be->copy_d2d(be, p->terminated + (int64_t)t * E, v->buf.terminated, (size_t)E);
        be->copy_d2d(be, p->truncated + (int64_t)t * E, v->buf.truncated, (size_t)E);
        if (c->bootstrap_truncation) {
            /* V(final observation) for every env; GAE reads it only where truncated */
            critic_input(p, p->fin_in, true);
            net_step(p, &p->critic, p->fin_in, p->h_critic, NULL, false); /* the state after this step, no reset */
            be->copy_d2d(be, p->final_value + (int64_t)t * EN, p->critic.y, fEN);
        }
        mz_ppo_episode_acc(be, p->acc, v->buf.terminated, v->buf.truncated, v->buf.done_return, v->buf.done_length,
                           v->buf.done_won, p->E, 0);
        p->env_steps += E;
    }
    critic_input(p, p->fin_in, false);
    net_step(p, &p->critic, p->fin_in, p->h_critic, p->next_keep, false);
    be->copy_d2d(be, p->last_value, p->critic.y, fEN);
    mz_ppo_gae(be, p->adv, p->target, p->value, p->reward, p->terminated, p->truncated, p->final_value,
               p->last_value, p->T, p->E, p->N, c->gamma, c->gae_lambda, c->bootstrap_truncation);
}
