#!/usr/bin/env python3
"""Peer timings for `mazero bench mcts`: mctx's muzero_policy and
gumbel_muzero_policy, jitted on JAX's CPU backend, with the same kind of
table model (embedding = state id; a gather per expansion) and the same
shapes. Compilation is excluded. Writes rows that `mazero bench mcts --peers
FILE` shows next to ours.

usage: python3 bench/peers/mcts_mctx.py [--json bench/results/mcts_peers.json]
needs: pip install jax mctx
"""
import argparse
import json
import os
import time

import jax
import jax.numpy as jnp
import mctx
import numpy as np

jax.config.update("jax_platform_name", "cpu")
SHAPES = [(1, 18, 50), (64, 18, 50), (1024, 18, 50), (4096, 18, 50), (1024, 5, 50), (1024, 125, 50),
          (1024, 18, 16), (1024, 18, 200)]
M = 64


def rate(policy, B, A, S, min_seconds=1.0):
    rng = np.random.default_rng(9)
    logits = jnp.asarray(rng.normal(size=(M, A)).astype(np.float32))
    reward = jnp.asarray((0.1 * rng.normal(size=(M, A))).astype(np.float32))
    nxt = jnp.asarray(rng.integers(0, M, size=(M, A)).astype(np.int32))
    value = jnp.asarray((0.01 * (np.arange(M) % 17)).astype(np.float32))

    def recurrent_fn(params, key, action, embedding):
        n = nxt[embedding, action]
        return mctx.RecurrentFnOutput(reward=reward[embedding, action], discount=jnp.full(action.shape, 0.99),
                                      prior_logits=logits[n], value=value[n]), n

    roots = jnp.arange(B, dtype=jnp.int32) % M
    root = mctx.RootFnOutput(prior_logits=logits[roots], value=value[roots], embedding=roots)
    fn = mctx.muzero_policy if policy == "muzero" else mctx.gumbel_muzero_policy

    @jax.jit
    def search(key):
        return fn(params=None, rng_key=key, root=root, recurrent_fn=recurrent_fn, num_simulations=S).action

    key = jax.random.PRNGKey(0)
    jax.block_until_ready(search(key))
    runs, start = 0, time.perf_counter()
    while time.perf_counter() - start < min_seconds:
        key, sub = jax.random.split(key)
        jax.block_until_ready(search(sub))
        runs += 1
    return runs * B * S / (time.perf_counter() - start)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--json", default="bench/results/mcts_peers.json")
    args = ap.parse_args()
    rows = []
    for policy in ("muzero", "gumbel_muzero"):
        for B, A, S in SHAPES:
            r = rate(policy, B, A, S)
            rows.append({"system": "mctx", "policy": policy, "B": B, "A": A, "S": S, "simulations_per_second": r})
            print(f"mctx {policy} B={B} A={A} S={S}: {r:.4g} simulations/s", flush=True)
    os.makedirs(os.path.dirname(args.json) or ".", exist_ok=True)
    import importlib.metadata as md
    with open(args.json, "w") as f:
        json.dump({"jax": jax.__version__, "mctx": md.version("mctx"), "rows": rows}, f, indent=1)
    print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
