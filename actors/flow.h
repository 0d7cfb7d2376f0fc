/* Flow control of async mode: a target replay ratio rho (learner samples
 * per environment step) held with backpressure both ways.
 *
 *   learner: may start update u+1 while u B < rho S   (S: env steps pushed)
 *   actors:  may reserve s more steps while R + s <= u B / rho + slack
 *            (R: env steps reserved, pushed or being played)
 *
 * so at any time rho S - rho slack - rho s_max <= u B <= rho S + B: the
 * achieved ratio u B / S tends to rho, off by at most (rho slack + B) / S.
 * The slack must cover the warm-up (the learner waits for min_replay_steps
 * ready steps) plus every env's K + n steps that are stored but not yet
 * ready, or actors and learner would wait on each other.
 *
 * Reanalyse workers may refresh `reanalyse_fraction` targets per env step.
 * Every wait has a stop condition (mz_flow_stop) and a timeout. */
#ifndef MZ_ACTORS_FLOW_H
#define MZ_ACTORS_FLOW_H

#include <stdint.h>

typedef struct {
    double ratio;              /* rho > 0 */
    int batch;                 /* B */
    int64_t slack;             /* env steps actors may run ahead */
    int64_t budget;            /* env steps of the whole run */
    int actors;                /* producers; the learner finishes after all of them */
    double reanalyse_fraction; /* refreshed targets per env step */
} mz_flow_config;

typedef struct {
    int64_t env_steps, reserved, updates, reanalysed;
    int actors_done;
    double actor_wait_seconds;   /* summed over actors */
    double learner_wait_seconds;
} mz_flow_stats;

typedef struct mz_flow mz_flow;

mz_flow *mz_flow_create(const mz_flow_config *cfg);
void mz_flow_destroy(mz_flow *f);

/* Actor: steps per env granted for its next segment of `envs` envs, at most
 * `steps_per_env`; waits while ahead of the learner. 0 once the budget is
 * reserved or the flow stopped. */
int mz_flow_actor_reserve(mz_flow *f, int envs, int steps_per_env);
void mz_flow_actor_pushed(mz_flow *f, int64_t env_steps);
void mz_flow_actor_finished(mz_flow *f);

/* Learner: 1 when one more update may start, 0 after timeout_seconds without
 * permission, -1 once every actor finished and the ratio is met, or the
 * flow stopped. */
int mz_flow_learner_wait(mz_flow *f, double timeout_seconds);
void mz_flow_learner_done(mz_flow *f);

/* Reanalyse: waits until n more refreshed targets fit the fraction; 0 when
 * stopped. */
int mz_flow_reanalyse_reserve(mz_flow *f, int64_t n);

/* A resumed run's counters, before any actor or learner call: env steps
 * pushed (and reserved), updates and refreshed targets so far. */
void mz_flow_resume(mz_flow *f, int64_t env_steps, int64_t updates, int64_t reanalysed);

void mz_flow_stop(mz_flow *f);
int mz_flow_stopped(mz_flow *f);
void mz_flow_stats_get(mz_flow *f, mz_flow_stats *out);

/* now + seconds on CLOCK_REALTIME, for pthread_cond_timedwait */
struct timespec mz_deadline_after(double seconds);

#endif
