#!/usr/bin/env python3
"""Learning tables for bench/RESULTS.md from `mazero train` run directories:
for each LABEL=DIR (every metrics.jsonl under DIR is one seed), each metric's
value in the row nearest each column (env steps, or seconds of wall time
with --axis wall_time; "-" past a run's end), mean over seeds with the 95% confidence interval of the
mean (Student t); and the throughput of each run.

usage: bench/learning_table.py LABEL=DIR... [--metrics train_episode_return,eval_return_search]
           [--points 25000,50000] [--axis env_steps|wall_time] [--throughput]
"""
import argparse
import glob
import json
import math
import os
import statistics

T95 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306, 9: 2.262}
NAMES = {"train_episode_return": "training return (last 100 episodes)",
         "eval_return_search": "evaluation with search",
         "eval_return_prior": "evaluation, prior alone",
         "mean_episode_return": "evaluation return"}


def runs(root):
    out = []
    for path in sorted(glob.glob(os.path.join(root, "**", "metrics.jsonl"), recursive=True)):
        with open(path) as f:
            out.append([json.loads(line) for line in f if line.strip()])
    return out


def value_at(rows, key, axis, point):
    """key's value in the row nearest to axis = point (rows are logged every
    few thousand steps, PPO's at multiples of its rollout); None before the
    first row with key or more than 5% past the run's last row."""
    have = [r for r in rows if key in r and axis in r]
    if not have or point > 1.05 * have[-1][axis] or point < have[0][axis] - 0.05 * point:
        return None
    return min(have, key=lambda r: abs(r[axis] - point))[key]


def cell(values):
    values = [v for v in values if v is not None]
    if not values:
        return "-"
    if len(values) == 1:
        return f"{values[0]:.2f}"
    half = T95.get(len(values) - 1, 1.96) * statistics.stdev(values) / math.sqrt(len(values))
    return f"{statistics.mean(values):.2f} ± {half:.2f}"


def label(p, axis):
    if axis == "wall_time":
        return f"{p:g} s"
    return f"{p / 1e6:g}M" if p >= 1e6 else f"{p / 1e3:g}k"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("groups", nargs="+", help="LABEL=DIR")
    ap.add_argument("--metrics", default="train_episode_return,eval_return_search")
    ap.add_argument("--points", default="25000,50000,100000,150000")
    ap.add_argument("--axis", default="env_steps", choices=("env_steps", "wall_time"))
    ap.add_argument("--throughput", action="store_true")
    a = ap.parse_args()
    groups = [(g.rsplit("=", 1)[0], runs(g.rsplit("=", 1)[1])) for g in a.groups]
    pts = [float(p) for p in a.points.split(",")]
    unit = "wall time" if a.axis == "wall_time" else "env steps"
    print(f"| run | metric | " + " | ".join(f"{label(p, a.axis)} {unit}" for p in pts) + " |")
    print("|---|---|" + "---|" * len(pts))
    for name, rs in groups:
        for key in a.metrics.split(","):
            if not any(key in r for run in rs for r in run):
                continue
            print(f"| {name} ({len(rs)} seeds) | {NAMES.get(key, key)} | "
                  + " | ".join(cell([value_at(r, key, a.axis, p) for r in rs]) for p in pts) + " |")
    if a.throughput:
        print("\n| run | env steps | updates | wall s | env steps/s | updates/s |")
        print("|---|---|---|---|---|---|")
        for name, rs in groups:
            for r in rs:
                last = [x for x in r if "wall_time" in x and "step" in x][-1]
                print(f"| {name} | {last['env_steps']} | {last['step']} | {last['wall_time']:.0f} | "
                      f"{last['env_steps'] / last['wall_time']:.0f} | {last['step'] / last['wall_time']:.1f} |")


if __name__ == "__main__":
    main()
