/* Pre-LayerNorm transformer block over the agent axis:
 *   res = x + dropout(proj(attention(qkv(LN1(x)))))
 *   out = res + dropout(fc2(GELU(fc1(LN2(res)))))
 * Input and output are [B*N x H] (B samples of N agents). Weights and their
 * gradients share one struct type: bind it to the values or the grads
 * block of the same mz_params. */
#ifndef MZ_NN_TRANSFORMER_H
#define MZ_NN_TRANSFORMER_H

#include <stdbool.h>
#include <stdint.h>

#include "src/nn/params.h"

#ifdef __cplusplus
extern "C" {
#endif

#define MZ_BLOCK_TENSORS 12

typedef struct {
    float *ln1_weight;  /* [H] */
    float *ln1_bias;    /* [H] */
    float *qkv_weight;  /* [3H x H] */
    float *qkv_bias;    /* [3H] */
    float *proj_weight; /* [H x H] */
    float *proj_bias;   /* [H] */
    float *ln2_weight;  /* [H] */
    float *ln2_bias;    /* [H] */
    float *fc1_weight;  /* [F x H] */
    float *fc1_bias;    /* [F] */
    float *fc2_weight;  /* [H x F] */
    float *fc2_bias;    /* [H] */
} mz_block_weights;

typedef struct {
    int max_rows; /* B*N the arena was sized for */
    int N, NH, H, F;
    float dropout;
    /* saved by forward (rows = B*N) */
    float *ln1;       /* [rows x H] */
    float *ln1_mean;  /* [rows] */
    float *ln1_rstd;  /* [rows] */
    float *qkv;       /* [rows x 3H] */
    float *probs;     /* [B x NH x N x N] */
    float *att;       /* [rows x H] */
    float *proj;      /* [rows x H] */
    float *res;       /* [rows x H] */
    float *ln2;       /* [rows x H] */
    float *ln2_mean;  /* [rows] */
    float *ln2_rstd;  /* [rows] */
    float *fc1;       /* [rows x F] */
    float *gelu;      /* [rows x F] */
    float *fc2;       /* [rows x H] */
    float *branch;    /* [rows x H] dropout of either branch, reused */
    float *out;       /* [rows x H] */
    /* backward scratch */
    float *d_res;     /* [rows x H] */
    float *d_h1;      /* [rows x H] */
    float *d_h2;      /* [rows x H] */
    float *d_f1;      /* [rows x F] */
    float *d_f2;      /* [rows x F] */
    float *d_qkv;     /* [rows x 3H] */
    float *d_score;   /* [B x NH x N x N] */
    const float *ones; /* [max_rows] of 1.0, shared */
    uint64_t seed;    /* dropout seed of the last forward */
    bool train;       /* mode of the last forward */
} mz_block_acts;

/* Appends the block's 12 tensor specs, names prefixed ("comm0."). */
void mz_block_specs(mz_tensor_spec *out, const char *prefix, int H, int F);
/* Points w at the block's tensors, first at index `first`, inside `block`. */
void mz_block_bind(mz_block_weights *w, const mz_params *p, float *block, int first);
/* Xavier for the projections, zero biases, unit LayerNorm weights. */
void mz_block_init(mz_backend *be, const mz_block_weights *w, int H, int F, uint64_t seed);
/* Takes the block's activations from `arena` (or counts them when it is
 * measuring); ones is max_rows floats of 1 owned by the caller. */
void mz_block_acts_take(mz_block_acts *a, mz_arena *arena, int max_rows, int N, int NH, int H, int F, float dropout,
                        const float *ones);
/* Forward of B samples; the result is a->out. key_mask [B x N] or NULL. */
void mz_block_forward(mz_backend *be, mz_block_acts *a, const mz_block_weights *w, const float *inp,
                      const float *key_mask, int B, bool train, uint64_t seed);
/* Adds into dinp and into the grads bound in g. */
void mz_block_backward(mz_backend *be, mz_block_acts *a, const mz_block_weights *w, const mz_block_weights *g,
                       float *dinp, const float *dout, const float *inp, int B);

#ifdef __cplusplus
}
#endif

#endif
