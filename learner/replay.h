/* Replay of whole trajectories per environment, n-step value targets and
 * prioritised sampling of K-step windows for the world model.
 *
 * ON THE HOST: the ring, the targets and the sampler live in host memory; a
 * sampled batch is a wm_batch that wm_upload() copies to the device. Async
 * mode shares it between threads (learner/shared_replay.h); sync mode uses
 * the device replay (learner/device_replay.h, the same rules on the
 * training device) unless muzero.replay_on_device=false.
 *
 * Layout: environment e keeps its own ring of T steps; step i of env e
 * lives at slot i % T of that env's ring and holds the observation o_i, the
 * joint action a_i taken there, the team reward r_i of that transition, the
 * flags terminated_i / truncated_i of that transition, the search policy and
 * root value at o_i, and (when truncated) the value of the final
 * observation. A window starting at step t of env e reads only steps
 * t .. t+K+n of env e: windows never cross environments (toy_mazero's sync
 * buffer interleaved environments).
 *
 * Value target at a real step i (MuZero n-step):
 *   z_i = sum_{j<m} g^j r_{i+j} + g^m * B
 * where m <= n stops at the first episode end: after a termination B = 0,
 * after a truncation B = the final observation's value, else B = v_{i+n}.
 * Past the episode's end (absorbing): obs zero with mask 0, value 0, reward
 * 0, uniform policy, action 0.
 *
 * A step becomes sampleable ("ready") once everything its window and
 * targets read is stored: K+n more steps of its env, or its episode ended.
 * It then gets the current maximum priority. Sampling: P(i) = p_i^a / sum,
 * weights (M P(i))^-b / max over the batch, M the ready count, b annealed
 * linearly from beta0 to 1 over beta_steps sample calls. The p^a live in a
 * sum tree (learner/sumtree.h): sampling and updates are O(log(E T)). Not
 * thread-safe; learner/shared_replay.h serialises it for async mode. */
#ifndef MZ_LEARNER_REPLAY_H
#define MZ_LEARNER_REPLAY_H

#include <stdint.h>

#include "src/state_file.h"
#include "worldmodel/worldmodel.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    int E, N, O, A;    /* environments, agents, obs features, actions */
    int T;             /* steps kept per environment */
    int K;             /* unroll steps */
    int n_step;        /* n of the value target */
    float discount;
    float alpha, beta0;
    int64_t beta_steps;
    int max_batch;
    uint64_t seed;
    float reward_shift; /* added to every stored reward (reward and value targets); returns are the env's */
} replay_config;

typedef struct replay replay;

replay *replay_create(const replay_config *cfg);
void replay_destroy(replay *r);

/* One step of every environment (host arrays): obs [E][N][O] observed
 * before acting, actions [E][N], rewards [E], terminated/truncated [E]
 * (uint8) of the transition, policy [E][N][A], root_value [E],
 * final_value [E] (read where truncated; may be NULL when nothing is). */
void replay_add(replay *r, const float *obs, const int32_t *actions, const float *rewards, const uint8_t *terminated,
                const uint8_t *truncated, const float *policy, const float *root_value, const float *final_value);

/* One step of environment e alone (obs [N][O], actions [N], policy
 * [N][A]); replay_add is this for every environment. final_value is read
 * only when truncated and not terminated. */
void replay_add_env(replay *r, int e, const float *obs, const int32_t *actions, float reward, int terminated,
                    int truncated, const float *policy, float root_value, float final_value);

int64_t replay_ready(const replay *r); /* sampleable steps */
int64_t replay_steps(const replay *r, int env); /* steps ever added for env */

/* n-step value target of step i of env (i must be stored and ready) */
float replay_value_target(const replay *r, int env, int64_t i);

/* Fills sample b of a batch of B from the window starting at step t of env
 * (t must be ready) and returns the batch buffers. */
const wm_batch *replay_window(replay *r, int env, int64_t t, int b, int B);

/* Draws B windows by priority (B <= max_batch); the returned batch points
 * into the replay's buffers until the next call. env_out/step_out [B] (may
 * be NULL) say where each came from, for replay_update_priorities. */
const wm_batch *replay_sample(replay *r, int B, int *env_out, int64_t *step_out);
void replay_update_priorities(replay *r, int B, const int *env, const int64_t *step, const float *priority);
float replay_max_priority(const replay *r);

/* From now on, sampled batches also keep each target's bootstrap
 * observation (for a target network). */
void replay_keep_bootstrap(replay *r);
/* Of the last sampled batch (after replay_keep_bootstrap), per target [K+1][B]: the
 * observation the target bootstraps from obs [K+1][B][N][O] (zero where
 * none), its weight coef (g^n where the target bootstraps from a stored
 * root value, 0 where the episode ended first: termination, or truncation
 * with its final observation's stored value) and the rest of the target,
 * partial, so that the target is partial + coef * V(obs). values is the
 * batch's own value array, for the learner to rewrite. */
typedef struct {
    const float *obs, *coef, *partial;
    float *values;
} replay_bootstrap;
replay_bootstrap replay_last_bootstrap(replay *r);

/* Everything a resumed run needs (contents, priorities, counters, the
 * sampler's RNG counter), appended to list as host blocks. */
void replay_state_blocks(replay *r, mz_state_block *list, int *n, int max);
/* The ring arrays both replays save under the same names (host or device
 * memory): obs, actions, reward, terminated, truncated, policy,
 * root_value, final_value, priority [E*T slots each], count [E]. */
typedef struct {
    void *obs, *act, *rew, *term, *trunc, *pol, *val, *fval, *prio, *count;
} replay_rings;
void replay_rings_state_blocks(const replay_config *c, const replay_rings *rings, int on_device, mz_state_block *list,
                               int *n, int max);
/* After those blocks were loaded: rebuilds the sampling tree from the priorities. */
void replay_state_loaded(replay *r);
/* When the episodes in flight are lost (an async resume: actors start
 * fresh episodes), each environment's last stored step ends its episode,
 * truncated with final value (root value - reward) / discount, so its
 * target is its own search root value and no window crosses into the new
 * episode; the steps before it become ready. */
void replay_end_episodes(replay *r);

/* Reanalyse: the stored observation [N][O] of step i of env, and new
 * search targets (policy [N][A], root value) for it. */
const float *replay_obs_at(const replay *r, int env, int64_t i);
void replay_set_search(replay *r, int env, int64_t i, const float *policy, float root_value);

/* The sum of prio^alpha over ready steps (the sampling tree's root), and a
 * self-check for tests: the largest error of the tree against the stored
 * priorities (0 when exact; infinity when its positive leaves are not
 * exactly the ready steps). */
double replay_priority_total(const replay *r);
/* Priorities [E*T] by slot e*T + i%T (0 = not ready), for tests. */
void replay_priorities(const replay *r, float *out);
double replay_check_priorities(const replay *r);

#ifdef __cplusplus
}
#endif

#endif
