/* The multi-agent MuZero world model (MAZero / toy_mazero family), built
 * only from the NN core (src/nn): nothing here calls BLAS or CUDA.
 *
 *   representation  h_i = minmax(MLP(LayerNorm(o_i)))          per agent, shared
 *                   (o_i = [onehot i, o_i] with agent ids)
 *   communication   c   = blocks(Linear([h_i, onehot a_i]))    across agents, or off
 *   dynamics        h'_i = minmax(MLP(d_i) + h_i), d_i = [h_i, a_i, c_i] (concat)
 *                                                     or c_i (replace)
 *   reward          R(h'_1..N, a_1..N)  categorical over -S..S of h(r)   centralised
 *   value           V(h_1..N)           categorical over -S..S of h(v)   centralised
 *   policy          P(h_i) -> A logits                                   per agent
 *   projection      proj(h_i), predictor pred(proj(h_i))  (consistency)
 *
 * Every MLP is Linear -> LayerNorm -> ReLU -> Linear (toy_mazero's block
 * with one hidden layer). Rows are samples x agents: [B*N x features], which
 * read as [B x N*features] for the centralised heads.
 *
 * Training: wm_upload() stages a batch of K-step windows (host memory, see
 * wm_batch) to the device, or the device replay writes it there
 * (wm_device_batch_buffers, wm_device_batch_ready), wm_forward_loss() unrolls K steps from the
 * representation of the first observation and returns the losses,
 * wm_backward() adds the gradient of the total loss into the grads block.
 * Loss (MuZero / EfficientZero / MAZero):
 *   L = sum_k s_k w_b [ c_r CE(reward_k) + c_v CE(value_k) + c_p mean_i CE(policy_k,i)
 *                       + c_c m_k,b mean_i -cos(pred(proj(h_k,i)), sg(proj(rep(o_k,i)))) ] / B
 * with s_0 = 1, s_k = 1/K for k >= 1, policy targets mixed with eps uniform
 * (wm_config.policy_smoothing), importance weights w_b, obs masks
 * m_k,b (consistency only where the real future observation exists), and
 * half the gradient passed through the hidden state between steps.
 *
 * Search: wm_search_bind() gives an mcts_ma_model; the hidden states of
 * every (tree, node) stay on the device. */
#ifndef MZ_WORLDMODEL_H
#define MZ_WORLDMODEL_H

#include <stdint.h>

#include "mcts/multiagent.h"
#include "src/nn/params.h"
#include "src/nn/transformer.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    int N, O, A;         /* agents, observation features, actions per agent */
    int H;               /* hidden state per agent */
    int F;               /* hidden width of representation and dynamics MLPs */
    int head_F;          /* hidden width of reward, value, policy, predictor */
    int P;               /* projection width */
    int S;               /* categorical support -S..S (2S+1 bins) for value and reward */
    int comm_layers;     /* transformer blocks across agents; 0: no communication */
    int comm_heads;      /* attention heads (divides H) */
    int comm_ff;         /* feed-forward width of a block */
    int comm_concat;     /* 1: dynamics input [h, a, c] (MAZero); 0: c alone (toy_mazero) */
    float comm_dropout;  /* dropout in the communication blocks while training (MAZero 0.1); never in search */
    int zero_init;       /* 1: reward, value and policy output layers start at zero */
    int no_layer_norm;   /* 1: no LayerNorm on the observation nor inside the MLPs (Linear -> ReLU -> Linear):
                          * a LayerNorm right after the first Linear makes the representation blind to the
                          * observation's scale, which carries MPE's distances */
    int agent_id;        /* 1: the representation reads [onehot(agent), obs] (O + N features): shared weights
                          * can then tell symmetric agents apart (IPPO's add_agent_id) */
    int K;               /* unroll steps */
    int max_batch;       /* training batch B */
    int max_trees;       /* search: trees per call */
    int max_nodes;       /* search: nodes per tree (num_simulations + 1) */
    int max_envs;        /* search: environments per root call */
    float discount;      /* gamma reported to the search */
    float coef_reward, coef_value, coef_policy, coef_consistency;
    float policy_smoothing; /* policy target (1 - eps) search policy + eps uniform over the A actions */
    float hidden_grad_scale; /* gradient passed to the previous hidden state (MuZero: 0.5; 1 = exact) */
    uint64_t seed;
} wm_config;

/* One MLP: Linear(C->F) -> LayerNorm(F) -> ReLU -> Linear(F->OC), or without
 * the LayerNorm (wm_config.no_layer_norm). Bound to
 * the values or to the grads block. */
typedef struct {
    float *w1;   /* [F x C] */
    float *b1;   /* [F] */
    float *lnw;  /* [F] */
    float *lnb;  /* [F] */
    float *w2;   /* [OC x F] */
    float *b2;   /* [OC] */
    int layer_norm; /* 0: the LayerNorm is skipped (its parameters stay, unused) */
} wm_mlp;

typedef struct {
    float *rep_lnw, *rep_lnb; /* [In] input LayerNorm (In = wm_rep_inputs) */
    wm_mlp rep;               /* In -> F -> H */
    float *comm_in_w;         /* [H x (H+A)] */
    float *comm_in_b;         /* [H] */
    mz_block_weights comm[8]; /* comm_layers blocks over H */
    wm_mlp dyn;               /* Din -> F -> H */
    wm_mlp reward;            /* N(H+A) -> head_F -> 2S+1 */
    wm_mlp value;             /* N H -> head_F -> 2S+1 */
    wm_mlp policy;            /* H -> head_F -> A */
    wm_mlp proj;              /* H -> P -> P */
    wm_mlp pred;              /* P -> head_F -> P */
} wm_weights;

/* Saved activations of one MLP over `rows` rows. */
typedef struct {
    float *h1, *ln, *mean, *rstd, *act, *out;
} wm_mlp_acts;

/* One unroll step's activations (rows R = B*N). */
typedef struct {
    float *h;          /* [R x H] hidden state after min-max */
    float *hraw;       /* [R x H] before min-max (step 0: representation output) */
    float *onehot;     /* [R x A] action taken from the previous state (k >= 1) */
    float *x;          /* [R x (H+A)] [h_prev, onehot] */
    float *comm_in;    /* [R x H] */
    mz_block_acts comm[8];
    float *din;        /* [R x Din] dynamics input */
    float *dsum;       /* [R x H] dyn.out + h_prev */
    wm_mlp_acts dyn, reward, value, policy, proj, pred, tproj;
    float *rin;        /* [R x (H+A)] [h, onehot] */
    float *rep_in;     /* [R x In] [onehot(agent), obs] with agent ids, else unused */
    float *rep_ln, *rep_mean, *rep_rstd; /* [R x In], [R], [R]: step 0 / target representation */
    wm_mlp_acts rep;   /* step 0: representation; k >= 1: target representation of obs k */
    float *th;         /* [R x H] target hidden state (k >= 1) */
    /* losses, per row */
    float *l_policy;   /* [R] */
    float *l_value;    /* [B] */
    float *l_reward;   /* [B] */
    float *l_cons;     /* [R] */
    float *t_value;    /* [B x (2S+1)] two-hot of h(z) */
    float *t_reward;   /* [B x (2S+1)] */
    float *zh;         /* [B] h-transformed scalar target */
} wm_step_acts;

/* A batch of K-step windows in host memory, as the replay gives them. */
typedef struct {
    int B;
    const float *obs;       /* [K+1][B][N][O] observations o_t .. o_t+K */
    const int32_t *actions; /* [K][B][N] actions a_t .. a_t+K-1 */
    const float *policy;    /* [K+1][B][N][A] search policy targets */
    const float *value;     /* [K+1][B] n-step value targets */
    const float *reward;    /* [K][B] reward of the transition k -> k+1 */
    const float *obs_mask;  /* [K+1][B] 1 where o_t+k is a real observation of the window's episode */
    const float *weight;    /* [B] importance-sampling weights */
} wm_batch;

/* The same batch on the device, written there by the device replay
 * (learner/device_replay.h) into the model's own buffers, laid out for the
 * B then given to wm_device_batch_ready. */
typedef struct {
    float *obs;       /* [K+1][B][N][O] */
    int32_t *actions; /* [K][B][N] */
    float *policy;    /* [K+1][B][N][A] */
    float *value;     /* [K+1][B] */
    float *reward;    /* [K][B] */
    float *obs_mask;  /* [K+1][B] */
    float *weight;    /* [B] */
} wm_device_batch;

typedef struct {
    float total, reward, value, policy, consistency; /* weighted as in the total */
    float value_error;  /* mean |v_0 - z_0| over the batch */
    float reward_error; /* mean |r_1 - u_1| over the batch */
} wm_losses;

typedef struct wm_model wm_model;

/* Builds the model (parameters initialised from cfg->seed) and its arenas.
 * NULL and a reason when the configuration is invalid. */
wm_model *wm_create(mz_backend *be, const wm_config *cfg, char *err, size_t err_len);
void wm_destroy(wm_model *m);
mz_params *wm_params(wm_model *m);
const wm_config *wm_get_config(const wm_model *m);
/* The dropout masks of the next training forward (comm_dropout > 0) are
 * drawn from the model's seed and `update`: the learner passes its update
 * counter, so a resumed run draws the masks an uninterrupted one would, and
 * forward and backward of one update share them. */
void wm_set_dropout_update(wm_model *m, uint64_t update);
/* Features the representation reads per agent: O, plus N with agent ids. */
int wm_rep_inputs(const wm_config *c);
/* (Re)initialises every parameter from seed. */
void wm_init_params(wm_model *m, uint64_t seed);

/* Training. */
void wm_upload(wm_model *m, const wm_batch *batch);
/* Or: fill the device buffers (max_batch windows at most), then say how many. */
wm_device_batch wm_device_batch_buffers(wm_model *m);
void wm_device_batch_ready(wm_model *m, int B);
void wm_forward_loss(wm_model *m, wm_losses *out);
void wm_backward(wm_model *m); /* adds into wm_params(m)->grads */
/* host [B]: |v_0 - z_0| of the last forward (new priorities) */
const float *wm_priorities(const wm_model *m);

/* Search: the model of E environments' current observations obs [E][N][O]
 * (device). Trees b of a call with B trees belong to environment b / (B/E). */
void wm_search_set_obs(wm_model *m, const float *obs_dev, int E);
mcts_ma_model wm_search_model(wm_model *m);

#ifdef __cplusplus
}
#endif

#endif
