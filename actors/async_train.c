/* `mazero train` for algo=mazero mode=async: the async run (actors/async.h)
 * built from the same keys as sync mode plus async.*, with the same run
 * outputs, evaluations and checkpoints (actors/mazero_train.c's). The
 * learner loop runs here, in the main thread: it polls for SIGINT/SIGTERM
 * and worker failures at least every ~0.2 s, so a stop is prompt. Exit
 * codes as sync mode: 0, 1 (a worker failed: no checkpoint), 2 (config),
 * 128 + signal (after stopping the actors and saving the model). Every
 * checkpoint has its async_save_state file beside it, so `resume=` goes on
 * from there (counters, learner, replay; new actor episodes). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actors/async.h"
#include "actors/mazero_train.h"
#include "src/runlog.h"
#include "src/clock.h"

int mz_mazero_async_config(async_config *ac, const mz_config *cfg, char *err, size_t err_len) {
    memset(ac, 0, sizeof *ac);
    int rc = mz_mazero_sync_config(&ac->base, cfg, err, err_len);
    if (rc) return rc;
    if (ac->base.reanalyse) {
        snprintf(err, err_len, "muzero.reanalyse_fraction is sync mode's; async mode reanalyses with "
                 "async.num_reanalyse threads and async.reanalyse_fraction");
        return MZ_EXIT_USAGE;
    }
    if (ac->base.target_bootstrap || ac->base.awpo) {
        snprintf(err, err_len, "%s is built for mode=sync only (the async learner and actors do not use it yet)",
                 ac->base.target_bootstrap ? "muzero.value_bootstrap=target" : "muzero.awpo=true");
        return MZ_EXIT_USAGE;
    }
    ac->actors = (int)cfg->async.num_actors;
    ac->segment_length = (int)cfg->async.segment_length;
    ac->publish_interval = (int)cfg->async.publish_interval;
    ac->queue = (int)cfg->async.queue_batches;
    ac->reanalyse = (int)cfg->async.num_reanalyse;
    ac->reanalyse_fraction = cfg->async.reanalyse_fraction;
    ac->reanalyse_batch = (int)cfg->async.reanalyse_batch;
    ac->fail_after_steps = cfg->async.fail_actor_after_steps;
    ac->save_replay = cfg->async.save_replay;
    double sync_ratio = (double)cfg->muzero.updates_per_rollout * (double)cfg->muzero.batch_size /
                        ((double)cfg->muzero.rollout_steps * (double)cfg->env.num_envs);
    ac->replay_ratio = cfg->async.replay_ratio > 0 ? cfg->async.replay_ratio : sync_ratio;
    if (!(ac->replay_ratio > 0)) {
        snprintf(err, err_len,
                 "mode=async needs a positive replay ratio: set async.replay_ratio, or muzero.updates_per_rollout > 0");
        return MZ_EXIT_USAGE;
    }
    if (cfg->async.num_actors > cfg->env.num_envs) {
        snprintf(err, err_len, "async.num_actors=%lld exceeds env.num_envs=%lld (the actors split the environments)",
                 (long long)cfg->async.num_actors, (long long)cfg->env.num_envs);
        return MZ_EXIT_USAGE;
    }
    /* schedules left at 0 span the run: the updates this ratio gives */
    int64_t planned = (int64_t)(ac->replay_ratio * (double)cfg->total_env_steps / (double)cfg->muzero.batch_size);
    if (planned < 1) planned = 1;
    if (!cfg->muzero.priority_beta_updates) ac->base.replay.beta_steps = planned;
    if (!cfg->muzero.lr_decay_updates) {
        int64_t decay = planned - cfg->muzero.lr_warmup_updates;
        ac->base.learner.lr.decay_steps = decay > 0 ? decay : 0;
    }
    return 0;
}

static void log_row(mz_runlog *rl, const async_result *r, const async_result *prev, double dt, int batch, int actors,
                    int64_t ready) {
    mz_metric m[24];
    int n = 0;
    double steps = (double)(r->env_steps - prev->env_steps), updates = (double)(r->updates - prev->updates);
    m[n++] = (mz_metric){"steps_per_second", steps / dt};
    m[n++] = (mz_metric){"updates_per_second", updates / dt};
    m[n++] = (mz_metric){"replay_ratio", r->env_steps ? (double)r->updates * batch / (double)r->env_steps : 0.0};
    m[n++] = (mz_metric){"staleness", r->staleness};
    m[n++] = (mz_metric){"param_version", (double)r->version};
    m[n++] = (mz_metric){"actor_wait_share", (r->flow.actor_wait_seconds - prev->flow.actor_wait_seconds) / (dt * actors)};
    m[n++] = (mz_metric){"learner_wait_share", (r->flow.learner_wait_seconds - prev->flow.learner_wait_seconds +
                                                 r->batch_wait_seconds - prev->batch_wait_seconds) / dt};
    m[n++] = (mz_metric){"replay_ready", (double)ready};
    m[n++] = (mz_metric){"reanalysed", (double)r->flow.reanalysed};
    if (r->updates > 0) n += mz_mazero_learner_metrics(m + n, &r->last);
    if (r->episodes > 0) m[n++] = (mz_metric){"train_episode_return", r->train_return};
    mz_runlog_row(rl, r->updates, r->env_steps, m, n);
}

static int save_async_state(void *a, const char *path, char *err, size_t err_len) {
    return async_save_state(a, path, err, err_len);
}
static int load_async_state(void *a, const char *path, char *err, size_t err_len) {
    return async_load_state(a, path, err, err_len);
}

int mz_mazero_train_async(const mz_config *cfg, mz_backend *be, const char *device_line, const char *resume) {
    char err[1024];
    async_config ac;
    int rc = mz_mazero_async_config(&ac, cfg, err, sizeof err);
    if (rc) {
        fprintf(stderr, "mazero train: %s\n", err);
        return rc;
    }
    async_run *a = async_create(be, &ac, err, sizeof err);
    if (!a) {
        fprintf(stderr, "mazero train: %s\n", err);
        return MZ_EXIT_USAGE;
    }
    int exit_code = 0;
    char run_dir[1024];
    if (resume && (exit_code = mz_mazero_resume(resume, async_params(a), load_async_state, a, run_dir, sizeof run_dir))) {
        async_destroy(a);
        return exit_code;
    }
    mz_runlog *rl = resume ? mz_runlog_reopen(cfg, run_dir, &exit_code, err, sizeof err)
                           : mz_runlog_open(cfg, &exit_code, err, sizeof err);
    if (!rl) {
        fprintf(stderr, "mazero train: %s\n", err);
        async_destroy(a);
        return exit_code;
    }
    exit_code = 0;
    int B = ac.base.learner.batch;
    mz_runlog_print(rl,
                    "mazero async on %s %s, learner on %s: %lld actor threads over %lld envs (segments of %d steps), "
                    "%d reanalyse threads, replay ratio %.3g (about %.0f updates of batch %d over %lld env steps), "
                    "parameters published every %d updates, %lld parameters",
                    cfg->env.name, cfg->env.scenario, device_line, (long long)cfg->async.num_actors,
                    (long long)cfg->env.num_envs, ac.segment_length, ac.reanalyse, ac.replay_ratio,
                    ac.replay_ratio * (double)cfg->total_env_steps / B, B, (long long)cfg->total_env_steps,
                    ac.publish_interval, (long long)async_params(a)->total);
    sync_run *side = async_sync_side(a);
    int n_eval = ac.base.eval_envs;
    double *returns = malloc((size_t)n_eval * sizeof(double));
    char *cfg_json = mz_config_to_json(cfg);
    MZ_CHECK(returns && cfg_json, "mazero train: out of host memory");
    async_result r, prev;
    memset(&r, 0, sizeof r);
    async_position(a, &r);
    const async_result start = r;
    prev = r;
    if (resume) {
        shared_replay_stats rs;
        async_replay_stats(a, &rs);
        mz_runlog_print(rl, "resumed from %s at %lld env steps, %lld updates, %lld ready replay steps", resume,
                        (long long)r.env_steps, (long long)r.updates, (long long)rs.ready);
    } else {
        mz_mazero_evaluate(rl, side, returns, n_eval, 0, 0); /* the untrained model: the curve's start */
    }

    const int64_t eval_every = cfg->muzero.eval_interval_updates, ckpt_every = cfg->muzero.checkpoint_interval_updates;
    int64_t next_log = cfg->log.interval_steps, next_eval = eval_every, next_ckpt = ckpt_every;
    while (next_log <= r.env_steps) next_log += cfg->log.interval_steps;
    while (next_eval <= r.updates) next_eval += eval_every;
    while (ckpt_every > 0 && next_ckpt <= r.updates) next_ckpt += ckpt_every;
    double t0 = mz_clock_seconds(), t_last = t0;
    async_start(a);
    for (;;) {
        if (mz_runlog_stop_requested()) {
            exit_code = 128 + mz_runlog_stop_signal();
            break;
        }
        int st = async_step(a, &r);
        if (st < 0) {
            fprintf(stderr, "mazero train: %s\n", async_error(a)); /* also with --quiet */
            mz_runlog_print(rl, "mazero train: %s", async_error(a));
            exit_code = MZ_EXIT_RUNTIME;
            break;
        }
        int done = st == 0;
        if (r.env_steps >= next_log || done) {
            while (next_log <= r.env_steps) next_log += cfg->log.interval_steps;
            double t = mz_clock_seconds(), dt = t - t_last > 1e-9 ? t - t_last : 1e-9;
            shared_replay_stats rs;
            async_replay_stats(a, &rs);
            log_row(rl, &r, &prev, dt, B, ac.actors, rs.ready);
            t_last = t, prev = r;
        }
        if (done) break;
        if (r.updates >= next_eval) {
            while (next_eval <= r.updates) next_eval += eval_every;
            mz_mazero_evaluate(rl, side, returns, n_eval, r.updates, r.env_steps);
        }
        if (ckpt_every > 0 && r.updates >= next_ckpt) {
            while (next_ckpt <= r.updates) next_ckpt += ckpt_every;
            char name[64];
            snprintf(name, sizeof name, "model-%08lld", (long long)r.updates);
            exit_code = mz_mazero_save_checkpoint(rl, async_params(a), save_async_state, a, name, cfg_json, r.updates);
            if (exit_code) break;
        }
    }
    double t_stop = mz_clock_seconds();
    async_stop(a); /* actors push their current segment and exit */
    double stop_seconds = mz_clock_seconds() - t_stop;
    if (exit_code == 0) mz_mazero_evaluate(rl, side, returns, n_eval, r.updates, r.env_steps);
    if (exit_code != MZ_EXIT_RUNTIME) { /* the final (or interrupted) model, so a stopped run keeps its work */
        int saved = mz_mazero_save_checkpoint(rl, async_params(a), save_async_state, a, "model", cfg_json, r.updates);
        if (saved && exit_code == 0) exit_code = saved;
    }
    shared_replay_stats rs;
    async_replay_stats(a, &rs);
    double wall = mz_clock_seconds() - t0;
    mz_runlog_print(rl,
                    "%lld env steps and %lld updates in %.1f s (%.0f env steps/s, %.1f updates/s), replay ratio %.3f "
                    "(target %.3f), staleness %.1f versions, %lld targets reanalysed, actors stopped in %.2f s%s",
                    (long long)r.env_steps, (long long)r.updates, wall,
                    (double)(r.env_steps - start.env_steps) / (wall > 0 ? wall : 1), /* this process's rates */
                    (double)(r.updates - start.updates) / (wall > 0 ? wall : 1),
                    r.env_steps ? (double)r.updates * B / (double)r.env_steps : 0.0, ac.replay_ratio, r.staleness,
                    (long long)rs.refreshed, stop_seconds, exit_code > 128 ? "; stopped by a signal" : "");
    free(cfg_json);
    free(returns);
    async_destroy(a);
    int close_rc = mz_runlog_close(rl, exit_code);
    return exit_code ? exit_code : close_rc;
}
