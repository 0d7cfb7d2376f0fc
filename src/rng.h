/* Counter-based random numbers: Philox4x32-10 (Salmon et al., SC'11).
 *
 * A draw is a pure function of (seed, stream, offset, position), so the CPU
 * backend, the CUDA backend and the emulation build produce the same bits, and
 * a run is reproducible from its seed alone, whatever the thread count.
 *
 *   key     = seed (64 bits)
 *   counter = { position, offset lo, offset hi, stream }
 *
 * `stream` separates purposes (environment resets, root noise, actor id ...),
 * `offset` separates items inside one purpose (element i of a fill, env e at
 * step t ...), and `position` walks the sequence of draws one item needs.
 * Single-source: every function here is HD. */
#ifndef MZ_RNG_H
#define MZ_RNG_H

#include <math.h>
#include <stdint.h>

#include "src/hd.h"

typedef struct {
    uint32_t key[2];
    uint32_t ctr[4];
    uint32_t buf[4];
    int used; /* words of buf already handed out; 4 = empty */
} mz_rng;

#define MZ_PHILOX_M0 0xD2511F53u
#define MZ_PHILOX_M1 0xCD9E8D57u
#define MZ_PHILOX_W0 0x9E3779B9u
#define MZ_PHILOX_W1 0xBB67AE85u

/* out = Philox4x32-10(ctr, key); the Random123 known-answer vectors hold. */
HD static inline void mz_philox4x32_10(uint32_t out[4], const uint32_t ctr_in[4], const uint32_t key_in[2]) {
    uint32_t c0 = ctr_in[0], c1 = ctr_in[1], c2 = ctr_in[2], c3 = ctr_in[3];
    uint32_t k0 = key_in[0], k1 = key_in[1];
    for (int round = 0; round < 10; round++) {
        uint64_t p0 = (uint64_t)MZ_PHILOX_M0 * c0;
        uint64_t p1 = (uint64_t)MZ_PHILOX_M1 * c2;
        uint32_t hi0 = (uint32_t)(p0 >> 32), lo0 = (uint32_t)p0;
        uint32_t hi1 = (uint32_t)(p1 >> 32), lo1 = (uint32_t)p1;
        c0 = hi1 ^ c1 ^ k0;
        c1 = lo1;
        c2 = hi0 ^ c3 ^ k1;
        c3 = lo0;
        k0 += MZ_PHILOX_W0;
        k1 += MZ_PHILOX_W1;
    }
    out[0] = c0; out[1] = c1; out[2] = c2; out[3] = c3;
}

HD static inline void mz_rng_init(mz_rng *r, uint64_t seed, uint32_t stream, uint64_t offset) {
    r->key[0] = (uint32_t)seed;
    r->key[1] = (uint32_t)(seed >> 32);
    r->ctr[0] = 0;
    r->ctr[1] = (uint32_t)offset;
    r->ctr[2] = (uint32_t)(offset >> 32);
    r->ctr[3] = stream;
    r->used = 4;
}

/* The same, starting at block `position` of the sequence: a draw made at step
 * t of something (t = position) without walking the blocks before it. */
HD static inline void mz_rng_init_at(mz_rng *r, uint64_t seed, uint32_t stream, uint64_t offset, uint32_t position) {
    mz_rng_init(r, seed, stream, offset);
    r->ctr[0] = position;
}

HD static inline uint32_t mz_rng_u32(mz_rng *r) {
    if (r->used == 4) {
        mz_philox4x32_10(r->buf, r->ctr, r->key);
        r->ctr[0]++;
        r->used = 0;
    }
    return r->buf[r->used++];
}

/* Uniform in [0, 1): 24 random mantissa bits. */
HD static inline float mz_rng_uniform(mz_rng *r) {
    return (float)(mz_rng_u32(r) >> 8) * (1.0f / 16777216.0f);
}

/* Uniform in [0, 1) with 53 random bits (two draws): for picking among
 * millions of weighted items, where 24 bits would be coarser than one item. */
HD static inline double mz_rng_uniform53(mz_rng *r) {
    uint32_t a = mz_rng_u32(r) >> 5, b = mz_rng_u32(r) >> 6;
    return ((double)a * 67108864.0 + (double)b) * (1.0 / 9007199254740992.0);
}

/* Uniform in (0, 1): never 0 or 1, so log() of it is finite. */
HD static inline float mz_rng_uniform_open(mz_rng *r) {
    return ((float)(mz_rng_u32(r) >> 8) + 0.5f) * (1.0f / 16777216.0f);
}

/* Standard normal by Box-Muller (one of the pair; the other is discarded so
 * that every normal costs the same draws and stays addressable). */
HD static inline float mz_rng_normal(mz_rng *r) {
    float u1 = mz_rng_uniform_open(r);
    float u2 = mz_rng_uniform(r);
    return sqrtf(-2.0f * logf(u1)) * cosf(6.28318530717958647692f * u2);
}

/* Standard Gumbel: -log(-log(U)). */
HD static inline float mz_rng_gumbel(mz_rng *r) {
    return -logf(-logf(mz_rng_uniform_open(r)));
}

/* log of a Gamma(alpha, 1) draw, Marsaglia-Tsang (2000). For alpha < 1 it
 * boosts: G(a) = G(a+1) * U^(1/a), kept in log space because U^(1/a)
 * underflows for the small alphas used as Dirichlet root noise. */
HD static inline float mz_rng_log_gamma(mz_rng *r, float alpha) {
    float boost = 0.0f;
    if (alpha < 1.0f) {
        boost = logf(mz_rng_uniform_open(r)) / alpha;
        alpha += 1.0f;
    }
    float d = alpha - 1.0f / 3.0f;
    float c = 1.0f / sqrtf(9.0f * d);
    for (;;) {
        float x = mz_rng_normal(r);
        float v = 1.0f + c * x;
        if (v <= 0.0f) continue;
        v = v * v * v;
        float u = mz_rng_uniform_open(r);
        if (u < 1.0f - 0.0331f * x * x * x * x) return logf(d * v) + boost;
        if (logf(u) < 0.5f * x * x + d * (1.0f - v + logf(v))) return logf(d * v) + boost;
    }
}

HD static inline float mz_rng_gamma(mz_rng *r, float alpha) {
    return expf(mz_rng_log_gamma(r, alpha));
}

/* out[0..K) ~ Dirichlet(alpha, ..., alpha), normalised from log-gammas so a
 * row never sums to zero. */
HD static inline void mz_rng_dirichlet(mz_rng *r, float *out, int K, float alpha) {
    float maxlog = -INFINITY;
    for (int k = 0; k < K; k++) {
        out[k] = mz_rng_log_gamma(r, alpha);
        if (out[k] > maxlog) maxlog = out[k];
    }
    float sum = 0.0f;
    for (int k = 0; k < K; k++) {
        out[k] = expf(out[k] - maxlog);
        sum += out[k];
    }
    for (int k = 0; k < K; k++) out[k] /= sum;
}

/* Index drawn with probability weights[i] / sum(weights); weights >= 0 and
 * not all zero. Inverse CDF with one uniform. */
HD static inline int mz_rng_categorical(mz_rng *r, const float *weights, int n) {
    float total = 0.0f;
    for (int i = 0; i < n; i++) total += weights[i];
    float target = mz_rng_uniform(r) * total;
    float acc = 0.0f;
    int last = 0;
    for (int i = 0; i < n; i++) {
        if (weights[i] <= 0.0f) continue;
        acc += weights[i];
        last = i;
        if (target < acc) return i;
    }
    return last; /* rounding left target == total */
}

/* The seed of rank `rank` of a data-parallel job (src/dist.h), from which
 * all its streams follow: rank 0 keeps `seed` (a one-rank job is the
 * single-process run), rank r > 0 takes the 64 bits of Philox block r of
 * the reserved stream below, so ranks draw independent streams of the same
 * generator. */
#define MZ_STREAM_RANK_SEED 0x7fff0001u
HD static inline uint64_t mz_rng_rank_seed(uint64_t seed, int rank) {
    if (rank == 0) return seed;
    mz_rng r;
    mz_rng_init(&r, seed, MZ_STREAM_RANK_SEED, (uint64_t)rank);
    uint64_t lo = mz_rng_u32(&r);
    return lo | ((uint64_t)mz_rng_u32(&r) << 32);
}

#endif
