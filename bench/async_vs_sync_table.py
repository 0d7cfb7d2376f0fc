#!/usr/bin/env python3
"""Tables for bench/async_vs_sync.sh: simple_spread returns of the sync and
async runs under OUT/sync and OUT/async at equal env steps and at equal wall
time, mean over seeds with the 95% confidence interval (Student t).

usage: bench/async_vs_sync_table.py OUT [--steps 25000,50000,...] [--seconds 30,60,...]
"""
import argparse
import glob
import json
import math
import os
import statistics

T95 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306, 9: 2.262}


def runs(root):
    out = []
    for path in sorted(glob.glob(os.path.join(root, "**", "metrics.jsonl"), recursive=True)):
        with open(path) as f:
            out.append([json.loads(line) for line in f if line.strip()])
    return out


def last_at(rows, key, axis, limit):
    """The last value of key at or before axis <= limit (None if none yet)."""
    value = None
    for r in rows:
        if key in r and r[axis] <= limit:
            value = r[key]
    return value


def cell(values):
    values = [v for v in values if v is not None]
    if not values:
        return "-"
    if len(values) == 1:
        return f"{values[0]:.1f}"
    half = T95.get(len(values) - 1, 1.96) * statistics.stdev(values) / math.sqrt(len(values))
    return f"{statistics.mean(values):.1f} ± {half:.1f}"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--steps", default="25000,50000,100000,150000")
    ap.add_argument("--seconds", default="30,60,90,120,150")
    a = ap.parse_args()
    modes = {m: runs(os.path.join(a.out, m)) for m in ("sync", "async")}
    for axis, unit, points in (("env_steps", "env steps", a.steps), ("wall_time", "s of wall time", a.seconds)):
        pts = [float(p) for p in points.split(",")]
        head = [f"{p:g}" for p in pts]
        print(f"\n| mode | metric | " + " | ".join(f"{h} {unit}" for h in head) + " |")
        print("|---|---|" + "---|" * len(pts))
        for mode, rs in modes.items():
            for key, name in (("train_episode_return", "training return (last 100 episodes)"),
                              ("eval_return_search", "greedy with search (32 episodes)")):
                print(f"| {mode} ({len(rs)} seeds) | {name} | "
                      + " | ".join(cell([last_at(r, key, axis, p) for r in rs]) for p in pts) + " |")
    print("\n| mode | env steps | updates | wall s | env steps/s | updates/s |")
    print("|---|---|---|---|---|---|")
    for mode, rs in modes.items():
        for r in rs:
            last = [x for x in r if "wall_time" in x and "step" in x][-1]
            print(f"| {mode} | {last['env_steps']} | {last['step']} | {last['wall_time']:.0f} | "
                  f"{last['env_steps'] / last['wall_time']:.0f} | {last['step'] / last['wall_time']:.1f} |")


if __name__ == "__main__":
    main()
