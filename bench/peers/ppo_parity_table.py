#!/usr/bin/env python3
"""The learning-parity table of bench/RESULTS.md from the runs of
bench/ppo_parity.sh (ours) and `bench/peers/ippo_jaxmarl.py --learn` (JaxMARL).

For each system and each fixed env-step count it prints the mean over seeds
and the 95% confidence interval of the mean (Student t, n - 1 degrees of
freedom) of:
  - train: the mean return of the training episodes finished in the
    ~100k-step window ending nearest the step count (both sides log this);
  - eval (ours only): Mava's periodic evaluation (32 sampled episodes on
    separate envs) nearest the step count, and the absolute metric (the best
    evaluated actor on 320 episodes) at the end.
Returns are per episode, summed over agents and steps (JaxMARL's
MPELogWrapper convention).

usage: python3 bench/peers/ppo_parity_table.py --ours OUT/<config> [--ours ...] [--peer JSON|LOG ...]
           [--steps 200000,500000,1000000]
"""
import argparse
import glob
import json
import math
import os
import statistics

T975 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306, 9: 2.262}


def ci(xs):
    if not xs:
        return "n/a"
    m = statistics.mean(xs)
    if len(xs) < 2:
        return f"{m:.2f} (n=1)"
    h = T975.get(len(xs) - 1, 1.96) * statistics.stdev(xs) / math.sqrt(len(xs))
    return f"{m:.2f} ± {h:.2f}"


def nearest(rows, step, key="env_steps"):
    return min(rows, key=lambda r: abs(r[key] - step)) if rows else None


def ours(config_dir, steps):
    train = {s: [] for s in steps}
    ev = {s: [] for s in steps}
    absolute, name, budget = [], os.path.basename(config_dir.rstrip("/")), 0
    for seed_dir in sorted(glob.glob(os.path.join(config_dir, "seed_*"))):
        runs = glob.glob(os.path.join(seed_dir, "*", "*", "*", "metrics.jsonl"))
        if not runs:
            continue
        run = os.path.dirname(sorted(runs)[-1])
        rows = [json.loads(line) for line in open(os.path.join(run, "metrics.jsonl"))]
        tr = [r for r in rows if "train_episode_return" in r]
        reached = max((r["env_steps"] for r in rows), default=0)  # a run still going counts up to here
        budget = max(budget, reached)
        try:
            mj = json.load(open(os.path.join(run, "metrics.json")))
        except (OSError, ValueError):
            mj = None
        evals = []
        if mj:
            seeds = next(iter(next(iter(next(iter(mj.values())).values())).values()))
            res = next(iter(seeds.values()))
            for k, v in res.items():
                if k.startswith("step_"):
                    evals.append({"env_steps": v["step_count"], "r": statistics.mean(v["mean_episode_return"])})
            if "absolute_metrics" in res:
                absolute.append(statistics.mean(res["absolute_metrics"]["mean_episode_return"]))
        for s in steps:
            if s > reached * 1.05:
                continue
            t = nearest(tr, s)
            if t:
                train[s].append(t["train_episode_return"])
            e = nearest(evals, s)
            if e:
                ev[s].append(e["r"])
    return name, train, ev, absolute


def peer(path, steps):
    if path.endswith(".json"):
        d = json.load(open(path))
    else:  # the --learn run's stderr, for a run still going: "N env steps, T s: r1 r2 ..."
        d = {"system": "JaxMARL IPPO FF", "rows": []}
        for line in open(path):
            head, sep, tail = line.partition(" s: ")
            if sep and " env steps, " in head:
                d["rows"].append({"env_steps": int(head.split()[0]),
                                  "mean_episode_return": [float(x) for x in tail.split()]})
    rows = d["rows"]
    n = len(rows[0]["mean_episode_return"]) if rows else 0
    train = {s: [] for s in steps}
    for s in steps:
        if not rows or s > rows[-1]["env_steps"] * 1.05:
            continue
        r = nearest(rows, s)
        train[s] = list(r["mean_episode_return"][:n])
    return d.get("system", "peer"), train


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ours", action="append", default=[])
    ap.add_argument("--peer", action="append", default=[])
    ap.add_argument("--steps", default="200000,500000,1000000")
    a = ap.parse_args()
    steps = [int(s) for s in a.steps.split(",")]
    head = "| system | metric | " + " | ".join(f"{s / 1e6:g}M" for s in steps) + " | absolute (320 ep.) |"
    print(head)
    print("|" + "---|" * (len(steps) + 3))
    for d in a.ours:
        name, train, ev, absolute = ours(d, steps)
        n = max(len(v) for v in train.values())
        print(f"| mazero {name} ({n} seeds) | train | " + " | ".join(ci(train[s]) for s in steps) + " | |")
        print(f"| mazero {name} | eval (32 ep.) | " + " | ".join(ci(ev[s]) for s in steps) + f" | {ci(absolute)} |")
    for p in a.peer:
        name, train = peer(p, steps)
        n = max(len(v) for v in train.values())
        print(f"| {name} ({n} seeds) | train | " + " | ".join(ci(train[s]) for s in steps) + " | |")


if __name__ == "__main__":
    main()
