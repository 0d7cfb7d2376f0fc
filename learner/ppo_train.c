/* `mazero train` for algo=ippo|mappo|rec_ippo|rec_mappo (learner/ppo.h): Mava's anakin loop
 * with periodic evaluation on separate environments and the absolute
 * metric, written through src/runlog.h, with the actor, critic and best
 * actor checkpointed periodically, at the end and on SIGINT/SIGTERM; and
 * the run's construction and final evaluation, shared with `mazero eval`. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "envs/env_bodies.h"
#include "learner/ppo.h"
#include "src/dist.h"
#include "src/nn/checkpoint.h"
#include "src/runlog.h"
#include "src/stats.h"
#include "src/clock.h"

static void ppo_config_from(mz_ppo_config *c, const mz_config *cfg) {
    mz_ppo_config_default(c);
    c->centralised_critic = cfg->algo == MZ_ALGO_MAPPO || cfg->algo == MZ_ALGO_REC_MAPPO;
    c->recurrent = cfg->algo == MZ_ALGO_REC_IPPO || cfg->algo == MZ_ALGO_REC_MAPPO;
    c->rollout_length = (int)cfg->ppo.rollout_length;
    c->epochs = (int)cfg->ppo.epochs;
    c->minibatches = (int)cfg->ppo.minibatches;
    c->actor_lr = (float)cfg->ppo.actor_lr;
    c->critic_lr = (float)cfg->ppo.critic_lr;
    c->decay_lr = cfg->ppo.decay_lr;
    c->gamma = (float)cfg->ppo.gamma;
    c->gae_lambda = (float)cfg->ppo.gae_lambda;
    c->clip_eps = (float)cfg->ppo.clip_eps;
    c->ent_coef = (float)cfg->ppo.ent_coef;
    c->vf_coef = (float)cfg->ppo.vf_coef;
    c->max_grad_norm = (float)cfg->ppo.max_grad_norm;
    c->adam_eps = (float)cfg->ppo.adam_eps;
    c->add_agent_id = cfg->ppo.add_agent_id;
    c->bootstrap_truncation = cfg->ppo.bootstrap_truncation;
    c->team_reward = cfg->ppo.team_reward;
    c->layer_norm = cfg->ppo.layer_norm;
    c->hidden = (int)cfg->ppo.hidden;
    c->seed = (uint64_t)cfg->seed;
}

int mz_ppo_run_create(mz_ppo_run *r, const mz_config *cfg, mz_backend *be, char *err, size_t err_len) {
    memset(r, 0, sizeof *r);
    r->seed = (uint64_t)cfg->seed;
    r->eval_greedy = cfg->ppo.eval_greedy;
    if (mz_env_params_resolve(&r->env_params, cfg->env.name, cfg->env.scenario, (int)cfg->env.max_steps, r->seed,
                              err, err_len) != 0 ||
        mz_env_params_stack(&r->env_params, (int)cfg->env.stack_observations, err, err_len) != 0)
        return MZ_EXIT_USAGE;
    mz_env_params eval_ep = r->env_params;
    eval_ep.seed = r->seed ^ 0x5eed5eed5eedull;
    int E = (int)cfg->env.num_envs;
    int eval_E = (int)(cfg->ppo.eval_episodes < E ? cfg->ppo.eval_episodes : E);
    mz_ppo_config pc;
    ppo_config_from(&pc, cfg);
    r->per_update = (int64_t)pc.rollout_length * E;
    r->num_updates = cfg->total_env_steps / r->per_update;
    if (r->num_updates < 1) r->num_updates = 1;
    pc.num_updates = r->num_updates;
    pc.eval_envs = eval_E;
    r->eval_every = r->num_updates / cfg->ppo.num_evaluation;
    if (r->eval_every < 1) r->eval_every = 1;
    r->env = mz_vecenv_create(be, &r->env_params, E);
    r->eval_env = mz_vecenv_create(be, &eval_ep, eval_E);
    if (mz_ppo_init(&r->ppo, r->env, &pc, err, err_len) != 0) {
        mz_ppo_run_destroy(r);
        return MZ_EXIT_USAGE;
    }
    return 0;
}

void mz_ppo_run_destroy(mz_ppo_run *r) {
    mz_ppo_free(&r->ppo);
    if (r->eval_env) mz_vecenv_destroy(r->eval_env);
    if (r->env) mz_vecenv_destroy(r->env);
    memset(r, 0, sizeof *r);
}

float mz_ppo_run_final_evaluation(mz_ppo_run *r, int episodes, double *returns, float *win_rate) {
    return mz_ppo_evaluate(&r->ppo, r->eval_env, episodes, r->eval_greedy, r->seed ^ 0xab5ull, returns, win_rate,
                           NULL);
}

/* checkpoints/actor.safetensors and critic.safetensors (values and Adam
 * moments) and, once an evaluation has chosen one, best_actor.safetensors
 * (values, its step the update it was evaluated at); each written
 * atomically over the last. 0, or 1 after saying why in the run's log. */
static int save_checkpoints(mz_runlog *rl, mz_ppo *p, float *best, int64_t best_update, const char *cfg_json) {
    mz_params best_actor = p->actor.p;
    best_actor.values = best;
    const struct {
        const char *name;
        const mz_params *params;
        bool with_optimizer;
        int64_t step;
    } files[3] = {{"actor.safetensors", &p->actor.p, true, p->updates},
                  {"critic.safetensors", &p->critic.p, true, p->updates},
                  {"best_actor.safetensors", &best_actor, false, best_update}};
    for (int k = 0; k < (best_update >= 0 ? 3 : 2); k++) {
        char path[1024], err[512];
        snprintf(path, sizeof path, "%s/%s", mz_runlog_checkpoint_dir(rl), files[k].name);
        if (mz_checkpoint_save(path, files[k].params, files[k].with_optimizer, cfg_json, files[k].step, err,
                               sizeof err) != 0) {
            mz_runlog_print(rl, "mazero train: cannot write checkpoint %s: %s", path, err);
            return MZ_EXIT_RUNTIME;
        }
    }
    return 0;
}

int mz_ppo_train(const mz_config *cfg, mz_backend *be, const char *device_line) {
    char err[512];
    mz_ppo_run run;
    if (mz_ppo_run_create(&run, cfg, be, err, sizeof err) != 0) {
        fprintf(stderr, "mazero train: %s\n", err);
        return MZ_EXIT_USAGE;
    }
    mz_ppo *p = &run.ppo;
    const int64_t num_updates = run.num_updates, eval_every = run.eval_every;
    const int64_t ckpt_every = cfg->ppo.checkpoint_interval_updates;
    mz_dist_broadcast_params(&p->actor.p); /* data-parallel: every rank starts from rank 0's networks */
    mz_dist_broadcast_params(&p->critic.p);
    int exit_code = 0;
    mz_runlog *rl = mz_runlog_open(cfg, &exit_code, err, sizeof err);
    if (!rl) {
        fprintf(stderr, "mazero train: %s\n", err);
        mz_ppo_run_destroy(&run);
        return exit_code;
    }
    exit_code = 0;
    mz_runlog_print(rl, "%s on %s %s, %s: %lld updates of %lld env steps, evaluation every %lld updates",
                    mz_config_enum_name("algo", cfg->algo), cfg->env.name, cfg->env.scenario, device_line,
                    (long long)num_updates, (long long)run.per_update, (long long)eval_every);

    int n_abs = (int)cfg->ppo.absolute_episodes, n_eval = (int)cfg->ppo.eval_episodes;
    int n_ret = n_abs > n_eval ? n_abs : n_eval;
    double *returns = (double *)malloc((size_t)(n_ret > 0 ? n_ret : 1) * sizeof(double));
    size_t pbytes = (size_t)p->actor.p.total * sizeof(float);
    float *best = (float *)be->alloc(be, pbytes), *keep = (float *)be->alloc(be, pbytes);
    char *cfg_json = mz_config_to_json(cfg);
    MZ_CHECK(returns != NULL && cfg_json != NULL, "mazero train: out of host memory");
    be->copy_d2d(be, best, p->actor.p.values, pbytes);
    double best_return = -INFINITY;
    int64_t best_update = -1; /* none evaluated yet */
    int64_t next_log = cfg->log.interval_steps;
    double t0 = mz_clock_seconds(), t_last = t0;
    int64_t steps_last = 0;
    mz_ppo_update_stats st = {0};
    for (int64_t u = 0; u < num_updates; u++) {
        if (mz_runlog_stop_requested()) {
            exit_code = 128 + mz_runlog_stop_signal();
            break;
        }
        mz_ppo_rollout(p);
        mz_ppo_update(p, &st);
        if (p->env_steps >= next_log || u == num_updates - 1) {
            while (next_log <= p->env_steps) next_log += cfg->log.interval_steps;
            float ret, len, win;
            int count;
            mz_ppo_episodes(p, &ret, &len, &win, &count);
            double t = mz_clock_seconds();
            double sps = (double)(p->env_steps - steps_last) / (t - t_last > 1e-9 ? t - t_last : 1e-9);
            t_last = t;
            steps_last = p->env_steps;
            mz_metric m[12];
            int n = 0;
            m[n++] = (mz_metric){"actor_loss", st.actor_loss};
            m[n++] = (mz_metric){"value_loss", st.value_loss};
            m[n++] = (mz_metric){"entropy", st.entropy};
            m[n++] = (mz_metric){"clip_fraction", st.clip_frac};
            m[n++] = (mz_metric){"actor_grad_norm", st.actor_grad_norm};
            m[n++] = (mz_metric){"critic_grad_norm", st.critic_grad_norm};
            m[n++] = (mz_metric){"learning_rate", st.lr};
            m[n++] = (mz_metric){"steps_per_second", sps};
            if (count > 0) {
                m[n++] = (mz_metric){"train_episode_return", ret};
                m[n++] = (mz_metric){"train_episode_length", len};
                m[n++] = (mz_metric){"train_win_rate", win};
            }
            mz_runlog_row(rl, p->updates, p->env_steps, m, n);
        }
        if ((u + 1) % eval_every == 0 && n_eval > 0) {
            float win, len;
            float mean = mz_ppo_evaluate(p, run.eval_env, n_eval, cfg->ppo.eval_greedy, run.seed + (uint64_t)u,
                                         returns, &win, &len);
            mz_dist_host_allreduce_mean(&mean, 1); /* data-parallel: every rank keeps the same best actor */
            mz_runlog_eval(rl, p->updates, p->env_steps, returns, n_eval);
            if (env_defines_win(&run.env_params)) mz_runlog_eval_add(rl, "win_rate", 100.0 * win); /* Mava: percent */
            mz_metric m[2] = {{"eval_win_rate", win}, {"eval_episode_length", len}};
            mz_runlog_row(rl, p->updates, p->env_steps, m, 2);
            if (mean >= best_return) { /* ties go to the later parameters, as Mava */
                best_return = mean;
                best_update = p->updates;
                be->copy_d2d(be, best, p->actor.p.values, pbytes);
            }
        }
        /* periodic checkpoints (the same files, rewritten): a crash loses at
         * most ckpt_every updates. A failure ends the run with exit 1 but
         * not the loop, which stays in step with the other ranks. */
        if (ckpt_every > 0 && (u + 1) % ckpt_every == 0 && u + 1 < num_updates &&
            save_checkpoints(rl, p, best, best_update, cfg_json) != 0)
            exit_code = MZ_EXIT_RUNTIME;
    }
    if (exit_code == 0 && (mz_dist_check_params("actor", &p->actor.p) | mz_dist_check_params("critic", &p->critic.p)))
        exit_code = MZ_EXIT_RUNTIME;
    /* the final or interrupted networks, before the absolute metric so that
     * a second Ctrl-C there loses nothing */
    if (exit_code != MZ_EXIT_RUNTIME) {
        int saved = save_checkpoints(rl, p, best, best_update, cfg_json);
        if (saved && exit_code == 0) exit_code = saved;
        if (exit_code > 128)
            mz_runlog_print(rl, "stopped by a signal after %lld updates: saved the actor, critic%s in %s",
                            (long long)p->updates, best_update >= 0 ? " and best actor" : "",
                            mz_runlog_checkpoint_dir(rl));
    }
    if (exit_code == 0 && n_abs > 0) {
        be->copy_d2d(be, keep, p->actor.p.values, pbytes);
        be->copy_d2d(be, p->actor.p.values, best, pbytes);
        float win;
        mz_ppo_run_final_evaluation(&run, n_abs, returns, &win);
        mz_runlog_eval_absolute(rl, returns, n_abs);
        if (env_defines_win(&run.env_params)) mz_runlog_eval_add(rl, "win_rate", 100.0 * win);
        double mean, ci_half;
        mz_mean_ci95(returns, n_abs, &mean, &ci_half);
        char win_text[64] = ""; /* only where the env defines a win (RWARE and spread do not) */
        if (env_defines_win(&run.env_params)) snprintf(win_text, sizeof win_text, ", win rate %.3f", win);
        mz_runlog_print(rl,
                        "absolute metric: mean return %.4f ± %.4f (95%% CI) over %d episodes (best evaluation %.4f)%s",
                        mean, ci_half, n_abs, best_return, win_text);
        be->copy_d2d(be, p->actor.p.values, keep, pbytes);
    }
    free(cfg_json);
    mz_runlog_print(rl, "%lld env steps in %.1f s (%.0f steps/s)", (long long)p->env_steps, mz_clock_seconds() - t0,
                    (double)p->env_steps / (mz_clock_seconds() - t0));
    be->free(be, best);
    be->free(be, keep);
    free(returns);
    mz_ppo_run_destroy(&run);
    int rc = mz_runlog_close(rl, exit_code);
    return exit_code ? exit_code : rc;
}
