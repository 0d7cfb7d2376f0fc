#!/usr/bin/env python3
"""Peer timings for `mazero bench env`: JaxMARL's MPE_simple_spread_v3 and
Jumanji's LevelBasedForaging / RobotWarehouse on this machine's CPU, jitted
and vmapped over E environments, stepped 100 times inside one lax.scan with
auto-reset (as an Anakin-style trainer runs them), with random actions drawn
inside the scan. Compilation is excluded. Writes JSON rows that
`mazero bench env --peers FILE` shows next to ours.

usage: python3 bench/peers/env_jaxmarl.py [--json bench/results/env_peers.json]
needs: pip install jax jaxmarl jumanji   (CPU is enough)
"""
import argparse
import json
import os
import time

import jax
import jax.numpy as jnp

jax.config.update("jax_platform_name", "cpu")
SIZES = (1, 64, 4096)
SCAN = 100


def time_rollout(rollout, state, key, num_envs, min_seconds=1.0):
    state, key = jax.block_until_ready(rollout(state, key))  # compile + warm-up
    runs, start = 0, time.perf_counter()
    while time.perf_counter() - start < min_seconds:
        state, key = jax.block_until_ready(rollout(state, key))
        runs += 1
    return runs * SCAN * num_envs / (time.perf_counter() - start)


def spread_rows():
    from jaxmarl import make

    env = make("MPE_simple_spread_v3", num_agents=3, num_landmarks=3)
    rows = []
    for E in SIZES:
        def step_one(state, key):
            k_act, k_step = jax.random.split(key)
            acts = jax.random.randint(k_act, (env.num_agents,), 0, 5)
            _, state, _, _, _ = env.step(k_step, state, {a: acts[i] for i, a in enumerate(env.agents)})
            return state

        @jax.jit
        def rollout(states, key):
            def body(carry, _):
                states, key = carry
                key, sub = jax.random.split(key)
                states = jax.vmap(step_one)(states, jax.random.split(sub, E))
                return (states, key), None
            (states, key), _ = jax.lax.scan(body, (states, key), None, length=SCAN)
            return states, key

        _, states = jax.vmap(env.reset)(jax.random.split(jax.random.PRNGKey(0), E))
        rate = time_rollout(rollout, states, jax.random.PRNGKey(1), E)
        rows.append({"system": "JaxMARL", "env": "mpe_simple_spread", "scenario": "3ag", "num_envs": E,
                     "steps_per_second": rate})
        print(f"JaxMARL simple_spread 3ag E={E}: {rate:.4g} env-steps/s", flush=True)
    return rows


def jumanji_rows(name, scenario, env, num_actions):
    from jumanji.wrappers import AutoResetWrapper

    env = AutoResetWrapper(env)
    n = env.num_agents
    rows = []
    for E in SIZES:
        def step_one(state, key):
            acts = jax.random.randint(key, (n,), 0, num_actions)
            state, _ = env.step(state, acts)
            return state

        @jax.jit
        def rollout(states, key):
            def body(carry, _):
                states, key = carry
                key, sub = jax.random.split(key)
                states = jax.vmap(step_one)(states, jax.random.split(sub, E))
                return (states, key), None
            (states, key), _ = jax.lax.scan(body, (states, key), None, length=SCAN)
            return states, key

        states, _ = jax.vmap(env.reset)(jax.random.split(jax.random.PRNGKey(0), E))
        rate = time_rollout(rollout, states, jax.random.PRNGKey(1), E)
        rows.append({"system": "Jumanji", "env": name, "scenario": scenario, "num_envs": E,
                     "steps_per_second": rate})
        print(f"Jumanji {name} {scenario} E={E}: {rate:.4g} env-steps/s", flush=True)
    return rows


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--json", default="bench/results/env_peers.json")
    args = ap.parse_args()
    from jumanji.environments.routing.lbf import LevelBasedForaging
    from jumanji.environments.routing.lbf.generator import RandomGenerator as LbfGen
    from jumanji.environments.routing.robot_warehouse import RobotWarehouse
    from jumanji.environments.routing.robot_warehouse.generator import RandomGenerator as RwareGen

    rows = spread_rows()
    rows += jumanji_rows("lbf", "2s-8x8-2p-2f-coop", LevelBasedForaging(
        generator=LbfGen(grid_size=8, fov=2, num_agents=2, num_food=2, force_coop=True), time_limit=100), 6)
    rows += jumanji_rows("rware", "tiny-2ag", RobotWarehouse(
        generator=RwareGen(shelf_rows=1, shelf_columns=3, column_height=8, num_agents=2, sensor_range=1,
                           request_queue_size=2), time_limit=500), 5)
    os.makedirs(os.path.dirname(args.json) or ".", exist_ok=True)
    with open(args.json, "w") as f:
        json.dump({"cpu_devices": str(jax.devices()), "jax": jax.__version__, "rows": rows}, f, indent=1)
    print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
