/* IPPO and MAPPO, feed-forward and recurrent, as Mava's anakin systems
 * (reference marl-envs-and-ppo.md §1): one actor and one critic network shared by every
 * agent, masked categorical policy, GAE, clipped surrogate and value loss,
 * per-minibatch advantage normalisation, Adam (eps 1e-5) with global-norm
 * clipping per network. The whole loop (envs, rollout, GAE, update) runs on
 * the vecenv's backend; only logged scalars come back to the host.
 *
 * The rollout (actors/ppo_rollout.c) and the update (learner/ppo.c) share
 * the mz_ppo state below. */
#ifndef MZ_PPO_H
#define MZ_PPO_H

#include <stdbool.h>
#include <stdint.h>

#include "envs/vecenv.h"
#include "src/config.h"
#include "src/nn/optim.h"
#include "src/nn/params.h"

typedef struct {
    bool centralised_critic; /* MAPPO: the critic reads the env's global state */
    int rollout_length;      /* T */
    int epochs;
    int minibatches;
    float actor_lr, critic_lr;
    bool decay_lr; /* linear to 0 over num_updates */
    float gamma, gae_lambda;
    float clip_eps; /* surrogate and value clip */
    float ent_coef, vf_coef;
    float max_grad_norm; /* per network */
    float adam_eps;
    bool add_agent_id;
    bool bootstrap_truncation; /* false: Mava's (no bootstrap on time limits) */
    bool team_reward;          /* train every agent on the env's team reward (Mava on LBF / RWARE) */
    int hidden;                /* MLP width, two layers */
    bool layer_norm;           /* LayerNorm (offset only) after each hidden dense layer */
    bool recurrent;            /* rec_ippo / rec_mappo: a GRU(hidden) after the first dense layer */
    int64_t num_updates;       /* for the LR decay */
    int eval_envs;             /* largest evaluation vecenv (sizes the actor's activations) */
    uint64_t seed;
} mz_ppo_config;

/* Mava's system/ppo defaults (IPPO; set centralised_critic for MAPPO). */
void mz_ppo_config_default(mz_ppo_config *c);

/* A 3-layer MLP: in -> H -> H -> out, ReLU, orthogonal init (gains sqrt 2,
 * sqrt 2 and head_gain), zero biases. With layer_norm each hidden layer is
 * Dense -> LayerNorm without scale (a learned offset, as Mava's
 * LayerNorm(use_scale=False)) -> ReLU. With recurrent, a GRU(H) sits between
 * the first and the second layer (Mava's rnn network: pre-torso [H], GRU,
 * post-torso [H]; JaxMARL's rec IPPO the same), flax's init: lecun-normal
 * input kernels, orthogonal recurrent kernels, zero biases. Activations
 * live in `arena`. */
typedef struct {
    mz_backend *be;
    int in, hidden, out, max_rows;
    bool layer_norm, recurrent;
    mz_params p;
    /* parameters, pointers into p.values, and their gradients into p.grads */
    float *w1, *b1; /* [H x in], [H] */
    float *w2, *b2; /* [H x H], [H] */
    float *w3, *b3; /* [out x H], [out] */
    float *ln1, *ln2; /* [H] LayerNorm offsets (layer_norm only) */
    float *w_ih, *b_ih, *w_hh, *b_hn; /* GRU (recurrent only): [3H x H], [3H], [3H x H], [H] */
    float *gw1, *gb1, *gw2, *gb2, *gw3, *gb3, *gln1, *gln2, *gw_ih, *gb_ih, *gw_hh, *gb_hn;
    /* activations [max_rows x ...] */
    float *h1, *a1, *h2, *a2; /* dense products (biased only with layer_norm) / post ReLU, [rows x H] */
    float *n1, *n2;           /* the LayerNorm outputs (aliases of h1, h2 without layer_norm) */
    float *mu1, *rs1, *mu2, *rs2; /* [rows] LayerNorm statistics */
    float *ln_scale, *ln_dscale;  /* [H] the fixed scale of 1 and a scratch for its unused gradient */
    float *y;                 /* [rows x out] */
    float *da1, *dh1, *da2, *dh2;
    float *dn1, *dn2; /* d ReLU input (aliases dh1, dh2 without layer_norm) */
    float *ones; /* [max_rows] of 1 */
    /* GRU activations (recurrent only), rows [T x B] step-major: the states
     * after each step, the saved gates and entering states, scratch */
    float *hs, *gates, *hprev, *gh, *dgates, *dhp, *dhs;
    mz_arena arena;
    float *dot; /* one device float for the global norm */
    int64_t step; /* Adam steps taken */
} mz_ppo_mlp;

void mz_ppo_mlp_init(mz_ppo_mlp *m, mz_backend *be, int in, int hidden, int out, int max_rows, float head_gain,
                     bool layer_norm, bool recurrent, uint64_t seed, uint32_t stream);
void mz_ppo_mlp_free(mz_ppo_mlp *m);
/* m->y [rows x out] from inp [rows x in] (feed-forward networks) */
void mz_ppo_mlp_forward(mz_ppo_mlp *m, const float *inp, int rows);
/* Adds the parameter gradients of d loss / d y (after a forward on inp). */
void mz_ppo_mlp_backward(mz_ppo_mlp *m, const float *inp, const float *dy, int rows);
/* Either kind over T steps of B rows, inp [T x B x in] step-major: the GRU
 * starts from h0 [B x H] and keep [T x B] (0 zeroes a row's state before
 * that step: an episode starts) may be NULL (all 1); m->hs holds the states
 * after each step. A feed-forward network ignores h0 and keep. */
void mz_ppo_mlp_forward_seq(mz_ppo_mlp *m, const float *inp, int T, int B, const float *h0, const float *keep);
/* Backward through time of the last forward_seq (no gradient into h0). */
void mz_ppo_mlp_backward_seq(mz_ppo_mlp *m, const float *inp, const float *dy, int T, int B, const float *keep);
/* Orthogonal matrix [rows x cols] scaled by gain, into host memory: QR of a
 * normal draw by modified Gram-Schmidt (the larger side is orthonormal). */
void mz_ppo_orthogonal(float *w, int rows, int cols, float gain, uint64_t seed, uint32_t stream);

typedef struct {
    float actor_loss, value_loss, entropy, clip_frac; /* means over the update's minibatches */
    float actor_grad_norm, critic_grad_norm;
    float lr;
} mz_ppo_update_stats;

typedef void (*mz_ppo_frame_fn)(void *ctx, const mz_env_params *p, const void *state);

typedef struct {
    mz_backend *be;
    mz_ppo_config cfg;
    mz_vecenv *env; /* not owned */
    int E, N, O, S, A, T, In, Ic; /* In: actor input width, Ic: critic input width */
    int64_t EN, samples, mb_samples; /* E*N; T*E; T*E / minibatches */
    mz_ppo_mlp actor, critic;
    /* rollout [T][E*N][...] unless noted */
    float *obs_in;  /* [T][EN][In] actor inputs */
    float *cobs_in; /* [T][EN][Ic] critic inputs (MAPPO; IPPO uses obs_in) */
    uint8_t *avail; /* [T][EN][A] */
    int32_t *actions;
    float *logp, *value, *reward, *final_value, *adv, *target;
    uint8_t *terminated, *truncated; /* [T][E] */
    float *last_value;               /* [EN] */
    float *fin_in;                   /* [EN][Ic] the final observations' critic input */
    /* update */
    float *keys;   /* [T*E] shuffle keys */
    int32_t *perm; /* [T*E] */
    float *mb_in, *mb_cin, *mb_logp, *mb_vold, *mb_adv, *mb_target, *mb_sq;
    uint8_t *mb_avail;
    int32_t *mb_act;
    float *dlogits, *dvalue, *aloss, *vloss, *astats;
    float *acc;      /* [E x 4] finished-episode sums since the last read */
    float *eval_acc; /* [eval_envs x 4] */
    float *eval_in;  /* [eval_envs * N][In] */
    float *host_acc; /* host [max(E, eval_envs) x 4] */
    /* recurrent only: GRU states [EN x H] of the actor and critic, now and
     * at the rollout's start (the update replays from there); keep [T][EN]
     * the reset mask of each step, next_keep [EN] that of the next step;
     * the minibatch's states and mask; the env shuffle */
    float *h_actor, *h_critic, *h_actor0, *h_critic0, *keep, *next_keep;
    float *mb_h_actor, *mb_h_critic, *mb_keep, *env_keys, *eval_h, *eval_keep;
    int32_t *env_perm, *seq_perm;
    int64_t updates, env_steps, action_draws;
    /* mz_ppo_evaluate calls eval_frame (when set) with evaluation env 0's
     * state (host bytes) before each step of its first episode: render */
    mz_ppo_frame_fn eval_frame;
    void *eval_frame_ctx;
} mz_ppo;

/* Sizes every buffer for `env` (reset here). Returns 0, or 2 with a message
 * when T*E (recurrent: E, minibatches split environments, not time) does
 * not split into the minibatches. */
int mz_ppo_init(mz_ppo *p, mz_vecenv *env, const mz_ppo_config *cfg, char *err, size_t err_len);
void mz_ppo_free(mz_ppo *p);

/* actors/ppo_rollout.c: T steps of every env with the current actor, the
 * values, and GAE into p->adv / p->target. */
void mz_ppo_rollout(mz_ppo *p);
/* learner/ppo.c: epochs x minibatches of clipped PPO on the last rollout. */
void mz_ppo_update(mz_ppo *p, mz_ppo_update_stats *st);
/* Finished training episodes since the last call: mean return, length, win
 * rate (count 0 when none finished). */
void mz_ppo_episodes(mz_ppo *p, float *mean_return, float *mean_length, float *win_rate, int *count);

/* Mava's evaluator on a separate vecenv `ev`: for each of ceil(episodes /
 * ev->E) loops, reset (a fresh seed per loop), run max_steps steps and take
 * each env's first finished episode. Returns the mean return of `episodes`
 * episodes; each episode's return, the win rate and mean length through
 * the pointers (each may be NULL; returns holds `episodes`). */
float mz_ppo_evaluate(mz_ppo *p, mz_vecenv *ev, int episodes, bool greedy, uint64_t seed, double *returns,
                      float *win_rate, float *mean_length);

/* A run as `mazero train` builds it from a config (learner/ppo_train.c),
 * shared with `mazero eval` so that both play the same environments with
 * the same actor. */
typedef struct {
    mz_env_params env_params; /* the training envs' */
    mz_vecenv *env;           /* env.num_envs training envs */
    mz_vecenv *eval_env;      /* min(ppo.eval_episodes, env.num_envs) evaluation envs, their own seed */
    mz_ppo ppo;
    int64_t num_updates, per_update, eval_every;
    bool eval_greedy; /* ppo.eval_greedy */
    uint64_t seed;
} mz_ppo_run;

/* 0, or 2 with a reason naming the key at fault. */
int mz_ppo_run_create(mz_ppo_run *r, const mz_config *cfg, mz_backend *be, char *err, size_t err_len);
void mz_ppo_run_destroy(mz_ppo_run *r);
/* The final evaluation (the absolute metric's, and `mazero eval`'s): the
 * current actor over `episodes` episodes on the evaluation envs with a
 * fixed seed; as mz_ppo_evaluate. */
float mz_ppo_run_final_evaluation(mz_ppo_run *r, int episodes, double *returns, float *win_rate);

/* `mazero train` for algo=ippo|mappo|rec_ippo|rec_mappo: the config's env and ppo.* keys,
 * periodic evaluation, the absolute metric, everything through src/runlog.h;
 * checkpoints every ppo.checkpoint_interval_updates, at the end and on
 * SIGINT/SIGTERM (then exit 128 + signal). Returns the process exit code. */
int mz_ppo_train(const mz_config *cfg, mz_backend *be, const char *device_line);

/* actors/ppo_eval.c. The actor checkpoint of a PPO run directory (its
 * config.json names algo ippo|mappo|rec_ippo|rec_mappo):
 * checkpoints/best_actor.safetensors, else actor.safetensors, into actor
 * and the run directory into run_dir (len bytes each). 0; 2 with a reason
 * in err when neither exists; -1 when arg is not a PPO run directory. */
int mz_ppo_run_paths(const char *arg, char *actor, char *run_dir, size_t len, char *err, size_t err_len);
/* `mazero eval` for the PPO algos: loads the actor of actor_path into the
 * run cfg describes, plays `episodes` episodes (0: ppo.eval_episodes) as
 * the absolute metric does, prints the mean return with its 95% CI and the
 * win rate where the env defines one, and writes evaluation env 0's first
 * episode as a GIF when gif_path is not NULL. Returns the exit status. */
int mz_ppo_eval(const mz_config *cfg, mz_backend *be, const char *actor_path, int episodes, const char *gif_path);

#endif
