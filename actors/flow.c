/* Flow control: see flow.h. */
#include "actors/flow.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#include "src/check.h"
#include "src/clock.h"

struct mz_flow {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    mz_flow_config c;
    mz_flow_stats st;
    int stop;
};

#define LOCK(f) MZ_CHECK(pthread_mutex_lock(&(f)->mu) == 0, "flow: mutex lock failed")
#define UNLOCK(f) MZ_CHECK(pthread_mutex_unlock(&(f)->mu) == 0, "flow: mutex unlock failed")
#define WAKE(f) MZ_CHECK(pthread_cond_broadcast(&(f)->cv) == 0, "flow: condition broadcast failed")

/* Waits are bounded so a missed wake-up costs at most this long. */
#define POLL_SECONDS 0.05

struct timespec mz_deadline_after(double seconds) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    long long ns = (long long)ts.tv_nsec + (long long)(seconds * 1e9);
    ts.tv_sec += (time_t)(ns / 1000000000LL);
    ts.tv_nsec = (long)(ns % 1000000000LL);
    return ts;
}

static void timed_wait(mz_flow *f, double seconds) {
    struct timespec until = mz_deadline_after(seconds);
    int rc = pthread_cond_timedwait(&f->cv, &f->mu, &until);
    MZ_CHECK(rc == 0 || rc == ETIMEDOUT, "flow: condition wait failed (%d)", rc);
}

mz_flow *mz_flow_create(const mz_flow_config *cfg) {
    MZ_CHECK(cfg->ratio > 0.0 && cfg->batch >= 1 && cfg->slack >= 0 && cfg->actors >= 1,
             "flow: ratio %g, batch %d, slack %lld, actors %d", cfg->ratio, cfg->batch, (long long)cfg->slack,
             cfg->actors);
    mz_flow *f = mz_calloc(1, sizeof *f);
    MZ_CHECK(pthread_mutex_init(&f->mu, NULL) == 0, "flow: mutex init failed");
    MZ_CHECK(pthread_cond_init(&f->cv, NULL) == 0, "flow: condition init failed");
    f->c = *cfg;
    return f;
}

void mz_flow_destroy(mz_flow *f) {
    if (!f) return;
    pthread_cond_destroy(&f->cv);
    pthread_mutex_destroy(&f->mu);
    free(f);
}

/* env steps the actors may have reserved given the learner's progress */
static double actor_allowance(const mz_flow *f) {
    return (double)f->st.updates * f->c.batch / f->c.ratio + (double)f->c.slack;
}

int mz_flow_actor_reserve(mz_flow *f, int envs, int steps_per_env) {
    LOCK(f);
    int granted = 0;
    double t0 = mz_clock_seconds();
    for (;;) {
        int64_t left = f->c.budget - f->st.reserved;
        if (f->stop || left <= 0) break;
        int steps = steps_per_env;
        if ((int64_t)steps * envs > left) steps = (int)((left + envs - 1) / envs);
        if ((double)(f->st.reserved + (int64_t)steps * envs) <= actor_allowance(f)) {
            f->st.reserved += (int64_t)steps * envs;
            granted = steps;
            break;
        }
        timed_wait(f, POLL_SECONDS);
    }
    f->st.actor_wait_seconds += mz_clock_seconds() - t0;
    UNLOCK(f);
    return granted;
}

void mz_flow_actor_pushed(mz_flow *f, int64_t env_steps) {
    LOCK(f);
    f->st.env_steps += env_steps;
    WAKE(f);
    UNLOCK(f);
}

void mz_flow_actor_finished(mz_flow *f) {
    LOCK(f);
    f->st.actors_done++;
    WAKE(f);
    UNLOCK(f);
}

int mz_flow_learner_wait(mz_flow *f, double timeout_seconds) {
    LOCK(f);
    double t0 = mz_clock_seconds(), end = t0 + timeout_seconds;
    int r = 0;
    for (;;) {
        if (f->stop) {
            r = -1;
            break;
        }
        if ((double)f->st.updates * f->c.batch < f->c.ratio * (double)f->st.env_steps) {
            r = 1;
            break;
        }
        if (f->st.actors_done >= f->c.actors) {
            r = -1;
            break;
        }
        double now = mz_clock_seconds();
        if (now >= end) break;
        timed_wait(f, end - now < POLL_SECONDS ? end - now : POLL_SECONDS);
    }
    f->st.learner_wait_seconds += mz_clock_seconds() - t0;
    UNLOCK(f);
    return r;
}

void mz_flow_learner_done(mz_flow *f) {
    LOCK(f);
    f->st.updates++;
    WAKE(f);
    UNLOCK(f);
}

int mz_flow_reanalyse_reserve(mz_flow *f, int64_t n) {
    LOCK(f);
    int ok = 0;
    for (;;) {
        if (f->stop) break;
        if ((double)(f->st.reanalysed + n) <= f->c.reanalyse_fraction * (double)f->st.env_steps) {
            f->st.reanalysed += n;
            ok = 1;
            break;
        }
        timed_wait(f, POLL_SECONDS);
    }
    UNLOCK(f);
    return ok;
}

void mz_flow_resume(mz_flow *f, int64_t env_steps, int64_t updates, int64_t reanalysed) {
    LOCK(f);
    MZ_CHECK(f->st.reserved == 0 && f->st.updates == 0, "flow: resumed after it started");
    f->st.env_steps = f->st.reserved = env_steps;
    f->st.updates = updates;
    f->st.reanalysed = reanalysed;
    UNLOCK(f);
}

void mz_flow_stop(mz_flow *f) {
    LOCK(f);
    f->stop = 1;
    WAKE(f);
    UNLOCK(f);
}

int mz_flow_stopped(mz_flow *f) {
    LOCK(f);
    int s = f->stop;
    UNLOCK(f);
    return s;
}

void mz_flow_stats_get(mz_flow *f, mz_flow_stats *out) {
    LOCK(f);
    *out = f->st;
    UNLOCK(f);
}
