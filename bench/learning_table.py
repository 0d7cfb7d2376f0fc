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
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "peers"))
from ppo_parity_table import ci  # noqa: E402  (mean ± Student-t 95% half-width, one definition)

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
    return ci(values) if values else "-"


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
