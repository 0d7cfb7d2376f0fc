#!/usr/bin/env python3
"""Peer timings for `mazero bench ppo`: JaxMARL's IPPO feed-forward training
loop (its baselines/IPPO recipe, written here from the facts in
shared/reference/marl-envs-and-ppo.md §2) on MPE_simple_spread_v3, 3 agents,
on this machine's CPU, with the settings `mazero bench ppo` uses:

  separate actor and critic MLPs 128-128 ReLU (orthogonal init sqrt 2 /
  0.01 / 1.0, zero biases), E envs x 128 steps per update, GAE (0.99, 0.95),
  4 epochs x 2 minibatches over the per-agent samples, clipped surrogate and
  value loss (0.2), ent 0.01, vf 0.5, one Adam (eps 1e-5) on the summed loss
  after a global-norm clip of 0.5, LR 2.5e-4 annealed linearly, no agent ids.

The whole update (rollout with auto-reset, GAE, epochs) is one jitted
function scanned over K updates, as JaxMARL's make_train scans; compilation
and a warm-up call are excluded. Each thread count runs in a child process
pinned to that many CPUs (os.sched_setaffinity before jax is imported) with
XLA's CPU thread pool sized to match. Env-steps/s = updates x 128 x E / s.

usage: python3 bench/peers/ippo_jaxmarl.py [--json bench/results/ppo_peers.json] [--threads 1,2]
       python3 bench/peers/ippo_jaxmarl.py --learn STEPS [--seeds 3] [--num-envs 64] [--lr 5e-4]
           [--agent-id] [--json bench/results/ppo_parity_jaxmarl.json]

--learn trains instead of timing (learning parity, bench/RESULTS.md): the
same recipe for STEPS env steps per seed (seeds vmapped in one jit), the LR
annealed linearly to 0 over the run, optional one-hot agent ids prepended
to the observations; it writes the mean return of the training episodes
(summed over agents, over each episode, as JaxMARL's MPELogWrapper logs)
finished in each 100k-step window, per seed.
needs: pip install jax flax optax jaxmarl   (CPU is enough)
"""
import argparse
import json
import os
import subprocess
import sys
import time

SIZES = (16, 256, 1024)
T = 128
EPOCHS = 4
MINIBATCHES = 2
HIDDEN = 128
MIN_SECONDS = 1.0


def child(threads, sizes, learn=None):
    cpus = sorted(os.sched_getaffinity(0))[:threads]
    os.sched_setaffinity(0, cpus)
    os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") +
                               f" --xla_cpu_multi_thread_eigen={'true' if threads > 1 else 'false'}"
                               f" intra_op_parallelism_threads={threads}")
    import jax
    import jax.numpy as jnp
    import flax.linen as nn
    import optax
    from jaxmarl import make

    jax.config.update("jax_platform_name", "cpu")
    env = make("MPE_simple_spread_v3", num_agents=3, num_landmarks=3)
    agents = env.agents
    N = env.num_agents
    A = env.action_space(agents[0]).n
    O = env.observation_space(agents[0]).shape[0]

    def dense(k, gain):
        return nn.Dense(k, kernel_init=nn.initializers.orthogonal(gain), bias_init=nn.initializers.zeros)

    class ActorCritic(nn.Module):
        @nn.compact
        def __call__(self, x):
            a = nn.relu(dense(HIDDEN, 2 ** 0.5)(x))
            a = nn.relu(dense(HIDDEN, 2 ** 0.5)(a))
            logits = dense(A, 0.01)(a)
            c = nn.relu(dense(HIDDEN, 2 ** 0.5)(x))
            c = nn.relu(dense(HIDDEN, 2 ** 0.5)(c))
            return logits, jnp.squeeze(dense(1, 1.0)(c), -1)

    def log_softmax(logits):
        return logits - jax.nn.logsumexp(logits, axis=-1, keepdims=True)

    rows = []
    if learn:
        sizes = [learn.num_envs]
    for E in sizes:
        B = N * E  # per-agent rows per step
        num_updates = learn.steps // (T * E) if learn else 1000
        lr0 = learn.lr if learn else 2.5e-4
        ids = jnp.repeat(jnp.eye(N), E, axis=0) if learn and learn.agent_id else None
        net = ActorCritic()
        sched = lambda c: lr0 * (1.0 - (c // (EPOCHS * MINIBATCHES)) / num_updates)
        tx = optax.chain(optax.clip_by_global_norm(0.5), optax.adam(sched, eps=1e-5))

        def to_rows(d):  # dict of agent -> [E, ...] to [N*E, ...], agent-major
            return jnp.concatenate([d[a] for a in agents], axis=0)

        def obs_rows(d):
            x = to_rows(d)
            return x if ids is None else jnp.concatenate([ids, x], axis=1)

        def update(carry, _):
            params, opt_state, env_state, obs, key, ep_ret, ret_sum, ret_count = carry

            def step(c, _):
                env_state, obs, key, ep_ret, ret_sum, ret_count = c
                key, k_act, k_env = jax.random.split(key, 3)
                logits, value = net.apply(params, obs)
                act = jax.random.categorical(k_act, logits)
                logp = jnp.take_along_axis(log_softmax(logits), act[:, None], 1)[:, 0]
                acts = {a: act[i * E:(i + 1) * E] for i, a in enumerate(agents)}
                nobs, env_state, rew, done, _ = jax.vmap(env.step)(jax.random.split(k_env, E), env_state, acts)
                tr = (obs, act, logp, value, to_rows(rew), to_rows(done).astype(jnp.float32))
                ep_ret = ep_ret + sum(rew[a] for a in agents)
                fin = done["__all__"].astype(jnp.float32)
                ret_sum = ret_sum + (fin * ep_ret).sum()
                ret_count = ret_count + fin.sum()
                ep_ret = ep_ret * (1.0 - fin)
                return (env_state, obs_rows(nobs), key, ep_ret, ret_sum, ret_count), tr

            (env_state, obs, key, ep_ret, ret_sum, ret_count), (b_obs, b_act, b_logp, b_val, b_rew, b_done) = \
                jax.lax.scan(step, (env_state, obs, key, ep_ret, ret_sum, ret_count), None, length=T)
            _, last_val = net.apply(params, obs)

            def gae_step(c, x):
                gae, next_val = c
                done, val, rew = x
                delta = rew + 0.99 * next_val * (1 - done) - val
                gae = delta + 0.99 * 0.95 * (1 - done) * gae
                return (gae, val), gae

            _, adv = jax.lax.scan(gae_step, (jnp.zeros_like(last_val), last_val), (b_done, b_val, b_rew),
                                  reverse=True)
            targets = adv + b_val

            def loss_fn(p, mb):
                o, a, lp_old, v_old, ad, tg = mb
                logits, v = net.apply(p, o)
                lsm = log_softmax(logits)
                lp = jnp.take_along_axis(lsm, a[:, None], 1)[:, 0]
                v_clip = v_old + jnp.clip(v - v_old, -0.2, 0.2)
                v_loss = 0.5 * jnp.maximum(jnp.square(v - tg), jnp.square(v_clip - tg)).mean()
                ratio = jnp.exp(lp - lp_old)
                ad = (ad - ad.mean()) / (ad.std() + 1e-8)
                a_loss = -jnp.minimum(ratio * ad, jnp.clip(ratio, 0.8, 1.2) * ad).mean()
                ent = -(jnp.exp(lsm) * lsm).sum(-1).mean()
                return a_loss + 0.5 * v_loss - 0.01 * ent

            def epoch(c, _):
                params, opt_state, key = c
                key, k_perm = jax.random.split(key)
                batch = (b_obs, b_act, b_logp, b_val, adv, targets)
                batch = jax.tree_util.tree_map(lambda x: x.reshape((T * B,) + x.shape[2:]), batch)
                perm = jax.random.permutation(k_perm, T * B)
                batch = jax.tree_util.tree_map(
                    lambda x: jnp.take(x, perm, 0).reshape((MINIBATCHES, -1) + x.shape[1:]), batch)

                def minibatch(c, mb):
                    params, opt_state = c
                    grads = jax.grad(loss_fn)(params, mb)
                    upd, opt_state = tx.update(grads, opt_state, params)
                    return (optax.apply_updates(params, upd), opt_state), None

                (params, opt_state), _ = jax.lax.scan(minibatch, (params, opt_state), batch)
                return (params, opt_state, key), None

            (params, opt_state, key), _ = jax.lax.scan(epoch, (params, opt_state, key), None, length=EPOCHS)
            return (params, opt_state, env_state, obs, key, ep_ret, ret_sum, ret_count), None

        def init(key):
            key, k_init, k_reset = jax.random.split(key, 3)
            params = net.init(k_init, jnp.zeros((1, O + (N if ids is not None else 0))))
            obs, env_state = jax.vmap(env.reset)(jax.random.split(k_reset, E))
            return (params, tx.init(params), env_state, obs_rows(obs), key, jnp.zeros(E), jnp.zeros(()), jnp.zeros(()))

        if learn:
            rows = learn_runs(jax, jnp, init, update, learn, T * E, num_updates)
            break

        k_updates = max(1, 8192 // (T * E) * 2) if E < 256 else 1

        @jax.jit
        def run(carry):
            carry, _ = jax.lax.scan(update, carry, None, length=k_updates)
            return carry

        carry = init(jax.random.PRNGKey(0))
        carry = jax.block_until_ready(run(carry))  # compile + warm-up
        calls, start = 0, time.perf_counter()
        while True:
            carry = jax.block_until_ready(run(carry))
            calls += 1
            elapsed = time.perf_counter() - start
            if elapsed >= MIN_SECONDS and calls * k_updates >= 2:
                break
        rate = calls * k_updates * T * E / elapsed
        rows.append({"system": "JaxMARL IPPO", "env": "mpe_simple_spread", "scenario": "3ag", "num_envs": E,
                     "threads": threads, "updates": calls * k_updates, "steps_per_second": rate})
        print(f"JaxMARL IPPO FF simple_spread 3ag E={E} threads={threads}: {rate:.4g} env-steps/s "
              f"({calls * k_updates} updates in {elapsed:.2f} s)", file=sys.stderr, flush=True)
    if learn:
        return rows
    print(json.dumps({"jax": jax.__version__, "rows": rows}))


def learn_runs(jax, jnp, init, update, learn, per_update, num_updates):
    """Seeds vmapped; updates scanned in chunks of one 100k-step window."""
    window = max(1, 100000 // per_update)
    carry = jax.vmap(init)(jax.random.split(jax.random.PRNGKey(learn.seed0), learn.seeds))

    @jax.jit
    def chunk(carry):
        carry = carry[:6] + (jnp.zeros_like(carry[6]), jnp.zeros_like(carry[7]))
        carry, _ = jax.lax.scan(jax.vmap(lambda c, x: update(c, x), in_axes=(0, None)), carry, None, length=window)
        return carry

    rows, done, start = [], 0, time.perf_counter()
    while done + window <= num_updates:
        carry = jax.block_until_ready(chunk(carry))
        done += window
        means = (carry[6] / jnp.maximum(carry[7], 1.0)).tolist()
        rows.append({"env_steps": done * per_update, "mean_episode_return": means,
                     "wall_time": time.perf_counter() - start})
        print(f"{done * per_update} env steps, {rows[-1]['wall_time']:.0f} s: "
              + " ".join(f"{m:.2f}" for m in means), file=sys.stderr, flush=True)
    return rows


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--json", default="bench/results/ppo_peers.json")
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--sizes", default=",".join(str(s) for s in SIZES))
    ap.add_argument("--child", type=int, default=0, help=argparse.SUPPRESS)
    ap.add_argument("--learn", type=int, default=0, metavar="STEPS")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--seed0", type=int, default=0)
    ap.add_argument("--num-envs", type=int, default=64)
    ap.add_argument("--lr", type=float, default=5e-4)
    ap.add_argument("--agent-id", action="store_true")
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    if args.learn:
        args.steps = args.learn
        rows = child(1, sizes, learn=args)
        os.makedirs(os.path.dirname(args.json) or ".", exist_ok=True)
        with open(args.json, "w") as f:
            json.dump({"system": "JaxMARL IPPO FF", "args": vars(args), "rows": rows}, f, indent=1)
        print(f"wrote {args.json}")
        return
    if args.child:
        child(args.child, sizes)
        return
    rows, jax_version = [], None
    for t in (int(x) for x in args.threads.split(",")):
        out = subprocess.run([sys.executable, __file__, "--child", str(t), "--sizes", args.sizes],
                             stdout=subprocess.PIPE, check=True, text=True)
        res = json.loads(out.stdout.strip().splitlines()[-1])
        rows += res["rows"]
        jax_version = res["jax"]
    os.makedirs(os.path.dirname(args.json) or ".", exist_ok=True)
    with open(args.json, "w") as f:
        json.dump({"jax": jax_version, "rows": rows}, f, indent=1)
    print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
