/* `mazero train` for algo=mazero mode=sync: the sync loop (actors/sync.h)
 * built from the config's env.*, mcts.* and muzero.* keys, with its outputs
 * through src/runlog.h (progress line, metrics.jsonl, marl-eval
 * metrics.json) and world-model checkpoints (values and AdamW moments) every
 * muzero.checkpoint_interval_updates updates, at the end and on SIGINT or
 * SIGTERM, each with the run's state beside it (sync_save_state) so that
 * `resume=` continues the run exactly. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>

#include "actors/mazero_train.h"
#include "actors/sync.h"
#include "src/clock.h"
#include "src/dist.h"
#include "src/nn/checkpoint.h"
#include "src/runlog.h"

/* peak resident set of this process so far, MiB */
static double peak_rss_mib(void) {
    struct rusage ru;
    MZ_CHECK(getrusage(RUSAGE_SELF, &ru) == 0, "getrusage failed");
    return (double)ru.ru_maxrss / 1024.0;
}

/* Updates the run will do, for the LR and beta schedules when the config
 * leaves them at 0 ("the whole run"). */
static int64_t planned_updates(const mz_config *cfg) {
    int64_t per_phase = cfg->env.num_envs * cfg->muzero.rollout_steps;
    int64_t phases = (cfg->total_env_steps + per_phase - 1) / per_phase;
    int64_t u = phases * cfg->muzero.updates_per_rollout;
    return u > 1 ? u : 1;
}

int mz_mazero_sync_config(sync_config *c, const mz_config *cfg, char *err, size_t err_len) {
    memset(c, 0, sizeof *c);
    uint64_t seed = (uint64_t)cfg->seed;
    if (mz_env_params_resolve(&c->env, cfg->env.name, cfg->env.scenario, (int)cfg->env.max_steps, seed, err, err_len) ||
        mz_env_params_stack(&c->env, (int)cfg->env.stack_observations, err, err_len))
        return MZ_EXIT_USAGE;
    if (cfg->muzero.hidden % cfg->muzero.comm_heads != 0 && cfg->muzero.comm_layers > 0) {
        snprintf(err, err_len, "muzero.comm_heads=%lld does not divide muzero.hidden=%lld", (long long)cfg->muzero.comm_heads,
                 (long long)cfg->muzero.hidden);
        return MZ_EXIT_USAGE;
    }
    c->E = (int)cfg->env.num_envs;
    wm_config *w = &c->model;
    w->H = (int)cfg->muzero.hidden, w->F = (int)cfg->muzero.mlp_width, w->head_F = (int)cfg->muzero.head_width, w->P = (int)cfg->muzero.projection;
    w->S = (int)cfg->muzero.support;
    w->comm_layers = (int)cfg->muzero.comm_layers, w->comm_heads = (int)cfg->muzero.comm_heads, w->comm_ff = (int)cfg->muzero.comm_ff;
    w->comm_concat = cfg->muzero.comm_mode == MZ_COMM_CONCAT;
    w->comm_dropout = (float)cfg->muzero.comm_dropout;
    w->policy_smoothing = (float)cfg->muzero.policy_smoothing;
    w->zero_init = cfg->muzero.zero_init;
    w->no_layer_norm = !cfg->muzero.layer_norm;
    w->agent_id = cfg->muzero.agent_id;
    w->coef_reward = (float)cfg->muzero.coef_reward, w->coef_value = (float)cfg->muzero.coef_value;
    w->coef_policy = (float)cfg->muzero.coef_policy, w->coef_consistency = (float)cfg->muzero.coef_consistency;
    w->hidden_grad_scale = (float)cfg->muzero.hidden_grad_scale;
    w->seed = seed;
    mcts_params_default(&c->search, cfg->mcts.policy == MZ_SEARCH_MUZERO ? MCTS_MUZERO : MCTS_GUMBEL_MUZERO,
                        (int)cfg->mcts.num_simulations);
    c->search.seed = seed;
    c->search.value_scale = (float)cfg->mcts.value_scale, c->search.maxvisit_init = (float)cfg->mcts.maxvisit_init;
    c->search.rescale_values = cfg->mcts.rescale_values;
    c->search.max_num_considered_actions = (int)cfg->mcts.considered_actions;
    c->mode = cfg->mcts.mode == MZ_SEARCH_INDEPENDENT ? MCTS_MA_INDEPENDENT : MCTS_MA_JOINT;
    c->joint_limit = (int)cfg->mcts.joint_action_limit;
    c->partner_sample = cfg->mcts.partner == MZ_SEARCH_PARTNER_SAMPLE;
    c->sampled = cfg->mcts.mode == MZ_SEARCH_SAMPLED;
    mcts_sampled_params_from_config(&c->sampled_params, cfg);
    int64_t updates = planned_updates(cfg);
    replay_config *r = &c->replay;
    r->T = (int)cfg->muzero.replay_steps, r->K = (int)cfg->muzero.unroll_steps, r->n_step = (int)cfg->muzero.n_step;
    r->discount = (float)cfg->muzero.discount;
    r->reward_shift = (float)cfg->muzero.reward_shift;
    c->host_replay = !cfg->muzero.replay_on_device;
    r->alpha = (float)cfg->muzero.priority_alpha, r->beta0 = (float)cfg->muzero.priority_beta;
    r->beta_steps = cfg->muzero.priority_beta_updates ? cfg->muzero.priority_beta_updates : updates;
    if (r->T < r->K + r->n_step + 1) {
        snprintf(err, err_len,
                 "muzero.replay_steps=%d must exceed muzero.unroll_steps + muzero.n_step (%d): a window and its "
                 "targets must fit in one environment's ring",
                 r->T, r->K + r->n_step);
        return MZ_EXIT_USAGE;
    }
    c->learner.batch = (int)cfg->muzero.batch_size;
    c->learner.adamw = (mz_adamw_config){0.9f, 0.999f, 1e-8f, (float)cfg->muzero.weight_decay, (float)cfg->muzero.max_grad_norm, 1.0f};
    int64_t decay = cfg->muzero.lr_decay_updates ? cfg->muzero.lr_decay_updates : updates - cfg->muzero.lr_warmup_updates;
    c->target_bootstrap = cfg->muzero.value_bootstrap == MZ_BOOTSTRAP_TARGET;
    c->target_ema = (float)cfg->muzero.target_ema;
    c->target_interval = cfg->muzero.target_update_interval;
    c->awpo = cfg->muzero.awpo;
    c->awpo_alpha = (float)cfg->muzero.awpo_alpha, c->awpo_clip = (float)cfg->muzero.awpo_clip;
    if (c->awpo && !c->sampled) {
        snprintf(err, err_len, "muzero.awpo=true needs mcts.mode=sampled (the search that exports advantages)");
        return MZ_EXIT_USAGE;
    }
    c->learner.lr = (mz_lr_schedule){(float)cfg->muzero.lr, cfg->muzero.lr_warmup_updates, decay > 0 ? decay : 0, (float)cfg->muzero.lr_floor};
    c->env_steps = cfg->total_env_steps;
    c->rollout_steps = (int)cfg->muzero.rollout_steps;
    c->updates = (int)cfg->muzero.updates_per_rollout;
    c->min_ready = cfg->muzero.min_replay_steps;
    double picks = cfg->muzero.reanalyse_fraction * (double)cfg->muzero.rollout_steps * (double)cfg->env.num_envs;
    c->reanalyse = (int)(picks + 0.5);
    if (cfg->muzero.reanalyse_fraction > 0) {
        const char *why = c->host_replay ? "it searches the device replay's steps; set muzero.replay_on_device=true"
                          : c->awpo      ? "AWPO's policy targets are not the search's; set muzero.awpo=false"
                          : c->reanalyse < 1 ? "that rounds to no step per rollout phase"
                          : picks > 1 << 20  ? "that is over 2^20 steps per rollout phase"
                                             : NULL;
        if (why) {
            snprintf(err, err_len, "muzero.reanalyse_fraction=%g (%.1f steps per rollout phase of %lld envs x %lld "
                     "steps): %s", cfg->muzero.reanalyse_fraction, picks, (long long)cfg->env.num_envs,
                     (long long)cfg->muzero.rollout_steps, why);
            return MZ_EXIT_USAGE;
        }
    }
    c->eval_envs = (int)cfg->muzero.eval_episodes;
    c->eval_sample = !cfg->muzero.eval_greedy;
    c->seed = seed;
    return 0;
}

/* checkpoints/<name>.safetensors: the world model with its AdamW moments;
 * <name>.state.safetensors: the rest of the run, for resume */
int mz_mazero_save_checkpoint(mz_runlog *rl, mz_params *params, mz_mazero_state_fn save_state, void *run,
                              const char *name, const char *cfg_json, int64_t updates) {
    char path[1024], err[512];
    snprintf(path, sizeof path, "%s/%s.safetensors", mz_runlog_checkpoint_dir(rl), name);
    if (mz_checkpoint_save(path, params, true, cfg_json, updates, err, sizeof err) != 0) {
        mz_runlog_print(rl, "mazero train: cannot write checkpoint %s: %s", path, err);
        return MZ_EXIT_RUNTIME;
    }
    snprintf(path, sizeof path, "%s/%s.state.safetensors", mz_runlog_checkpoint_dir(rl), name);
    if (save_state(run, path, err, sizeof err) != 0) {
        mz_runlog_print(rl, "mazero train: cannot write the run state %s: %s", path, err);
        return MZ_EXIT_RUNTIME;
    }
    return 0;
}

static int save_sync_state(void *s, const char *path, char *err, size_t err_len) {
    return sync_save_state(s, path, err, err_len);
}
static int load_sync_state(void *s, const char *path, char *err, size_t err_len) {
    return sync_load_state(s, path, err, err_len);
}

static int save_checkpoint(mz_runlog *rl, sync_run *s, const char *name, const char *cfg_json, int64_t updates) {
    return mz_mazero_save_checkpoint(rl, sync_params(s), save_sync_state, s, name, cfg_json, updates);
}

int mz_mazero_run_paths(const char *arg, char *model, char *state, char *run_dir, size_t len, char *err,
                        size_t err_len) {
    struct stat st;
    if (stat(arg, &st) != 0) {
        snprintf(err, err_len, "'%s': no such run directory or checkpoint", arg);
        return MZ_EXIT_USAGE;
    }
    size_t n = strlen(arg);
    while (n > 1 && arg[n - 1] == '/') n--;
    const char *suffix = ".safetensors";
    size_t sl = strlen(suffix);
    int cut;
    if (S_ISDIR(st.st_mode)) {
        cut = snprintf(run_dir, len, "%.*s", (int)n, arg) >= (int)len;
        cut |= snprintf(model, len, "%s/checkpoints/model.safetensors", run_dir) >= (int)len;
        cut |= snprintf(state, len, "%s/checkpoints/model.state.safetensors", run_dir) >= (int)len;
    } else if (n > sl && !strncmp(arg + n - sl, suffix, sl)) {
        cut = snprintf(model, len, "%s", arg) >= (int)len;
        cut |= snprintf(state, len, "%.*s.state.safetensors", (int)(n - sl), arg) >= (int)len;
        /* RUN_DIR/checkpoints/NAME.safetensors */
        cut |= snprintf(run_dir, len, "%s", arg) >= (int)len;
        for (int up = 0; up < 2 && !cut; up++) {
            char *slash = strrchr(run_dir, '/');
            if (slash) *slash = '\0';
            else snprintf(run_dir, len, ".");
        }
    } else {
        snprintf(err, err_len, "'%s' is neither a run directory nor a .safetensors checkpoint", arg);
        return MZ_EXIT_USAGE;
    }
    if (cut) {
        snprintf(err, err_len, "'%s': path too long", arg);
        return MZ_EXIT_USAGE;
    }
    if (stat(model, &st) != 0) {
        snprintf(err, err_len, "'%s': no checkpoint %s", arg, model);
        return MZ_EXIT_USAGE;
    }
    return 0;
}

/* Evaluation with search (its returns go to metrics.json) and with the
 * prior alone, each over eval_episodes greedy episodes. */
static void evaluate(mz_runlog *rl, sync_run *s, double *returns, int n, int64_t updates, int64_t env_steps) {
    double prior = sync_evaluate(s, 0, NULL);
    double search = sync_evaluate(s, 1, returns);
    mz_runlog_eval(rl, updates, env_steps, returns, n);
    mz_metric m[2] = {{"eval_return_search", search}, {"eval_return_prior", prior}};
    mz_runlog_row(rl, updates, env_steps, m, 2);
}

sync_run *mz_mazero_sync_create(const mz_config *cfg, mz_backend *be, const char *who, sync_config *c, int *rc) {
    char err[1024];
    *rc = mz_mazero_sync_config(c, cfg, err, sizeof err);
    sync_run *s = *rc ? NULL : sync_create(be, c, err, sizeof err);
    if (!s) {
        fprintf(stderr, "mazero %s: %s\n", who, err);
        if (!*rc) *rc = MZ_EXIT_USAGE;
    }
    return s;
}

int mz_mazero_learner_metrics(mz_metric *m, const learner_stats *st) {
    int n = 0;
    m[n++] = (mz_metric){"loss", st->loss.total};
    m[n++] = (mz_metric){"reward_loss", st->loss.reward};
    m[n++] = (mz_metric){"value_loss", st->loss.value};
    m[n++] = (mz_metric){"policy_loss", st->loss.policy};
    m[n++] = (mz_metric){"consistency_loss", st->loss.consistency};
    m[n++] = (mz_metric){"value_error", st->loss.value_error};
    m[n++] = (mz_metric){"reward_error", st->loss.reward_error};
    m[n++] = (mz_metric){"grad_norm", st->grad_norm};
    m[n++] = (mz_metric){"learning_rate", st->lr};
    m[n++] = (mz_metric){"mean_priority", st->mean_priority};
    return n;
}

void mz_mazero_evaluate(mz_runlog *rl, sync_run *s, double *returns, int n, int64_t updates, int64_t env_steps) {
    evaluate(rl, s, returns, n, updates, env_steps);
}

int mz_mazero_train(const mz_config *cfg, mz_backend *be, const char *device_line) {
    return mz_mazero_train_from(cfg, be, device_line, NULL);
}

int mz_mazero_resume(const char *resume, mz_params *params, mz_mazero_state_fn load_state, void *run, char *run_dir,
                     size_t len) {
    char model[1024], state[1024], err[1024];
    int rc = mz_mazero_run_paths(resume, model, state, run_dir, len, err, sizeof err);
    if (rc == 0 && mz_checkpoint_load(model, params, true, NULL, NULL, err, sizeof err) != 0) rc = MZ_EXIT_USAGE;
    if (rc == 0 && load_state(run, state, err, sizeof err) != 0) rc = MZ_EXIT_USAGE;
    if (rc) fprintf(stderr, "mazero train: resume=%s: %s\n", resume, err);
    return rc;
}

int mz_mazero_train_from(const mz_config *cfg, mz_backend *be, const char *device_line, const char *resume) {
    char err[1024];
    if (cfg->mode == MZ_MODE_ASYNC) return mz_mazero_train_async(cfg, be, device_line, resume);
    sync_config sc;
    int exit_code = 0;
    sync_run *s = mz_mazero_sync_create(cfg, be, "train", &sc, &exit_code);
    if (!s) return exit_code;
    char run_dir[1024];
    if (resume && (exit_code = mz_mazero_resume(resume, sync_params(s), load_sync_state, s, run_dir, sizeof run_dir))) {
        sync_destroy(s);
        return exit_code;
    }
    mz_dist_broadcast_params(sync_params(s)); /* data-parallel: every rank starts from rank 0's model */
    mz_runlog *rl = resume ? mz_runlog_reopen(cfg, run_dir, &exit_code, err, sizeof err)
                           : mz_runlog_open(cfg, &exit_code, err, sizeof err);
    if (!rl) {
        fprintf(stderr, "mazero train: %s\n", err);
        sync_destroy(s);
        return exit_code;
    }
    exit_code = 0;
    char mode_name[32], policy_name[32]; /* mz_config_enum_name returns one static buffer */
    snprintf(mode_name, sizeof mode_name, "%s", mz_config_enum_name("mcts.mode", cfg->mcts.mode));
    snprintf(policy_name, sizeof policy_name, "%s", mz_config_enum_name("mcts.policy", cfg->mcts.policy));
    mz_runlog_print(rl,
                    "mazero sync on %s %s, %s: %d envs, %s search (%s, %lld simulations), %lld parameters, "
                    "%lld env steps, about %lld updates of batch %lld",
                    cfg->env.name, cfg->env.scenario, device_line, sc.E, mode_name,
                    policy_name, (long long)cfg->mcts.num_simulations,
                    (long long)sync_params(s)->total, (long long)cfg->total_env_steps,
                    (long long)planned_updates(cfg), (long long)cfg->muzero.batch_size);
    int n_eval = sc.eval_envs;
    double *returns = (double *)malloc((size_t)n_eval * sizeof(double));
    char *cfg_json = mz_config_to_json(cfg);
    MZ_CHECK(returns && cfg_json, "mazero train: out of host memory");

    sync_result r;
    memset(&r, 0, sizeof r);
    sync_position(s, &r);
    if (resume)
        mz_runlog_print(rl, "resumed from %s at %lld env steps, %lld updates", resume, (long long)r.env_steps,
                        (long long)r.updates);
    else
        evaluate(rl, s, returns, n_eval, 0, 0); /* the untrained model: the curve's start */
    const int64_t eval_every = cfg->muzero.eval_interval_updates;
    const int64_t ckpt_every = cfg->muzero.checkpoint_interval_updates;
    int64_t next_log = cfg->log.interval_steps, next_eval = eval_every, next_ckpt = ckpt_every;
    while (next_log <= r.env_steps) next_log += cfg->log.interval_steps;
    while (next_eval <= r.updates) next_eval += eval_every;
    while (ckpt_every > 0 && next_ckpt <= r.updates) next_ckpt += ckpt_every;
    double t0 = mz_clock_seconds(), t_last = t0;
    int64_t steps_last = r.env_steps, updates_last = r.updates;
    while (exit_code == 0) {
        if (mz_runlog_stop_requested()) {
            exit_code = 128 + mz_runlog_stop_signal();
            break;
        }
        if (!sync_iterate(s, &r)) break;
        int done = r.env_steps >= cfg->total_env_steps;
        if (r.env_steps >= next_log || done) {
            while (next_log <= r.env_steps) next_log += cfg->log.interval_steps;
            double t = mz_clock_seconds(), dt = t - t_last > 1e-9 ? t - t_last : 1e-9;
            mz_metric m[32];
            int n = 0;
            m[n++] = (mz_metric){"steps_per_second", (double)(r.env_steps - steps_last) / dt};
            m[n++] = (mz_metric){"updates_per_second", (double)(r.updates - updates_last) / dt};
            if (r.updates > 0) n += mz_mazero_learner_metrics(m + n, &r.last);
            if (r.updates > 0 && sc.awpo) {
                m[n++] = (mz_metric){"awpo_advantage_std", r.awpo.adv_std};
                m[n++] = (mz_metric){"awpo_weight_mean", r.awpo.weight_mean};
                m[n++] = (mz_metric){"awpo_weight_max", r.awpo.weight_max};
            }
            if (r.updates > 0 && sc.target_bootstrap) {
                m[n++] = (mz_metric){"target_value", r.last.target_value};
                m[n++] = (mz_metric){"target_bootstrap_shift", r.last.bootstrap_shift};
            }
            if (r.episodes > 0) m[n++] = (mz_metric){"train_episode_return", r.train_return};
            const sync_timers *tm = &r.time;
            double total = tm->total > 1e-9 ? tm->total : 1e-9; /* shares of the loop's time so far */
            m[n++] = (mz_metric){"time_share_env", tm->env / total};
            m[n++] = (mz_metric){"time_share_search", tm->search / total};
            m[n++] = (mz_metric){"time_share_model_forward", tm->model_forward / total};
            m[n++] = (mz_metric){"time_share_replay", tm->replay / total};
            m[n++] = (mz_metric){"time_share_train_forward", tm->train_forward / total};
            m[n++] = (mz_metric){"time_share_train_backward", tm->train_backward / total};
            if (sc.reanalyse) {
                m[n++] = (mz_metric){"time_share_reanalyse", tm->reanalyse / total};
                m[n++] = (mz_metric){"reanalysed", (double)r.reanalysed};
            }
            m[n++] = (mz_metric){"peak_rss_mib", peak_rss_mib()};
            mz_runlog_row(rl, r.updates, r.env_steps, m, n);
            t_last = t, steps_last = r.env_steps, updates_last = r.updates;
        }
        if (r.updates >= next_eval && !done) {
            while (next_eval <= r.updates) next_eval += eval_every;
            evaluate(rl, s, returns, n_eval, r.updates, r.env_steps);
        }
        if (ckpt_every > 0 && r.updates >= next_ckpt && !done) {
            while (next_ckpt <= r.updates) next_ckpt += ckpt_every;
            char name[64];
            snprintf(name, sizeof name, "model-%08lld", (long long)r.updates);
            exit_code = save_checkpoint(rl, s, name, cfg_json, r.updates);
        }
    }
    if (exit_code == 0) evaluate(rl, s, returns, n_eval, r.updates, r.env_steps);
    if (exit_code == 0 && mz_dist_check_params("world model", sync_params(s))) exit_code = MZ_EXIT_RUNTIME;
    /* the final (or interrupted) model, so a stopped run keeps its work */
    if (exit_code != MZ_EXIT_RUNTIME) {
        int saved = save_checkpoint(rl, s, "model", cfg_json, r.updates);
        if (saved && exit_code == 0) exit_code = saved;
    }
    double wall = mz_clock_seconds() - t0;
    mz_runlog_print(rl, "%lld env steps and %lld updates in %.1f s (%.0f env steps/s, %.1f updates/s)%s",
                    (long long)r.env_steps, (long long)r.updates, wall, (double)r.env_steps / (wall > 0 ? wall : 1),
                    (double)r.updates / (wall > 0 ? wall : 1), exit_code > 128 ? "; stopped by a signal" : "");
    const sync_timers *tm = &r.time;
    double loop = tm->total > 1e-9 ? tm->total : 1e-9;
    mz_runlog_print(rl,
                    "loop %.1f s (evaluation apart): env %.1f%%, search %.1f%%, model forward in search %.1f%%, "
                    "replay %.1f%%, train forward %.1f%%, train backward+AdamW %.1f%%, reanalyse %.1f%%; "
                    "peak RSS %.0f MiB",
                    tm->total, 100 * tm->env / loop, 100 * tm->search / loop, 100 * tm->model_forward / loop,
                    100 * tm->replay / loop, 100 * tm->train_forward / loop, 100 * tm->train_backward / loop,
                    100 * tm->reanalyse / loop, peak_rss_mib());
    free(cfg_json);
    free(returns);
    sync_destroy(s);
    int close_rc = mz_runlog_close(rl, exit_code);
    return exit_code ? exit_code : close_rc;
}
