/* The sync mode's replay on the backend's device: the same trajectories,
 * n-step targets, absorbing states and prioritised sampling as the host
 * replay (learner/replay.h), with nothing crossing to the host but a few
 * scalars per call. Steps are stored from device arrays (the env's and the
 * search's outputs), windows are gathered straight into the world model's
 * device batch (wm_device_batch), and new priorities are written back by a
 * kernel.
 *
 * Differences from the host replay, by design:
 * - Sampling draws a 53-bit uniform and binary-searches the running sums
 *   of pa = prio^alpha over all E*T slots instead of walking a sum tree.
 *   The running sums are in double, blocked (drp_block_sums, one serial
 *   pass over the block sums, drp_block_scan), so every backend gets the
 *   same sums and a small priority is not rounded away next to millions
 *   of others; O(E*T) per batch, a few MB of reads on a GPU. The draws
 *   differ from the host replay's.
 * - prio^alpha is the backend's powf (a GPU's is not the host's last bit);
 *   every pa is computed on the device, so a resume rebuilds the same bits.
 * Value targets, windows, readiness, eviction and the last-write-wins rule
 * for duplicate samples are the host replay's, bit for bit on the CPU and
 * under emulation (on a GPU nvcc contracts a*b+c into FMAs, so the targets'
 * last bit may differ). Both replays save the same state blocks, so a run
 * saved with one resumes with the other. The bodies are
 * learner/device_replay_kernels.h. Not thread-safe (one sync loop). */
#ifndef MZ_LEARNER_DEVICE_REPLAY_H
#define MZ_LEARNER_DEVICE_REPLAY_H

#include <stdint.h>

#include "learner/replay.h"
#include "src/backend.h"
#include "src/state_file.h"
#include "worldmodel/worldmodel.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct device_replay device_replay;

/* The host replay's config (E*T below 2^31). */
device_replay *device_replay_create(mz_backend *be, const replay_config *cfg);
void device_replay_destroy(device_replay *r);

/* One step of every environment, all device arrays: obs [E][N][O] observed
 * before acting, avail [E][N][A] its legal actions (read only after
 * device_replay_keep_reanalyse; may be NULL before), actions [E][N],
 * rewards [E], terminated/truncated [E] (uint8), policy [E][N][A],
 * root_value [E], final_value [E] (read where truncated and not
 * terminated). */
void device_replay_add(device_replay *r, const float *obs, const uint8_t *avail, const int32_t *actions,
                       const float *rewards, const uint8_t *terminated, const uint8_t *truncated, const float *policy,
                       const float *root_value, const float *final_value);

int64_t device_replay_ready(device_replay *r);            /* sampleable steps (a device pass, one copy) */
int64_t device_replay_steps(const device_replay *r, int env); /* steps ever added for env */
float device_replay_max_priority(const device_replay *r);

/* Draws B windows by priority into out (the model's device buffers, laid
 * out for B), importance weights normalised to a maximum of 1. */
void device_replay_sample(device_replay *r, int B, const wm_device_batch *out);
/* The windows starting at step[b] of env[b] (host arrays; each step ready),
 * weights 1: what the tests compare with the host replay. */
void device_replay_windows(device_replay *r, int B, const int *env, const int64_t *step, const wm_device_batch *out);
/* New priorities [B] (host) of the last windows. */
void device_replay_update_priorities(device_replay *r, int B, const float *priority);
/* Where the last windows came from (host copies, [B] each). */
void device_replay_last_windows(device_replay *r, int B, int *env, int64_t *step);

/* From now on windows also keep each target's bootstrap observation (for a
 * target network), as replay_keep_bootstrap; the device arrays of the last
 * windows: obs [K+1][B][N][O] (zero where none), coef and partial [K+1][B]. */
void device_replay_keep_bootstrap(device_replay *r);
typedef struct {
    const float *obs, *coef, *partial;
} device_replay_bootstrap;
device_replay_bootstrap device_replay_last_bootstrap(device_replay *r);
/* With the target network's values boot_value [rows] of those observations
 * (rows = (K+1) B), the targets in value [rows] (the model's device batch)
 * that bootstrap from a value become partial + coef * boot_value; sel,
 * shift and is_boot [rows] get each row's boot value, |new - old| and 1
 * (0 where the target does not bootstrap) for the logged means. */
void device_replay_rewrite_targets(device_replay *r, int rows, float *value, float *sel, float *shift, float *is_boot,
                                   const float *boot_value);

/* Reanalyse (sync mode): new search results for stored steps. Call
 * device_replay_keep_reanalyse once before the first step: from then on
 * each step's legal-action masks are kept too (a state block of their own).
 * device_replay_pick draws R <= max_picks stored steps, each a uniform env
 * and a uniform step of its ring (counter-based draws at `counter`, which
 * the caller never repeats), into obs [R][N][O] and avail [R][N][A]
 * (device arrays); device_replay_refresh then writes the search's policy
 * [R][N][A] and root value [R] over those steps' stored ones, before the
 * next add. Priorities are left as they are: the next sample of a window
 * sets them from its new targets. device_replay_last_picks: the picked
 * slots e*T + i%T (host [R], for tests). */
void device_replay_keep_reanalyse(device_replay *r, int max_picks);
void device_replay_pick(device_replay *r, int R, uint64_t counter, float *obs, uint8_t *avail);
void device_replay_refresh(device_replay *r, int R, const float *policy, const float *root_value);
void device_replay_last_picks(device_replay *r, int R, int32_t *slot);

/* Host copies for tests: priorities [E*T] (0 = not ready) by slot e*T + i%T. */
void device_replay_priorities(device_replay *r, float *out);

/* Everything a resumed run needs (device blocks and host counters). */
void device_replay_state_blocks(device_replay *r, mz_state_block *list, int *n, int max);
/* After those blocks were loaded: the host's copy of the step counts. */
void device_replay_state_loaded(device_replay *r);

#ifdef __cplusplus
}
#endif

#endif
