#!/usr/bin/env python3
"""CI-optional check: the metrics.json files mazero writes load with the
marl-eval package's own processing (data_process_pipeline, then
create_matrices_for_rliable), after merging the seeds and algorithms of
one environment as marl-eval expects: env -> task -> algo -> seed_N.

usage: check_marl_eval.py FOLDER   (every metrics.json below FOLDER;
needs: pip install id-marl-eval)
"""
import json
import os
import sys

from marl_eval.utils.data_processing_utils import create_matrices_for_rliable, data_process_pipeline


def merge(into, new):
    for k, v in new.items():
        if isinstance(v, dict) and isinstance(into.get(k), dict):
            merge(into[k], v)
        else:
            into[k] = v


def main():
    by_env = {}
    for root, _, files in os.walk(sys.argv[1]):
        if "metrics.json" in files:
            data = json.load(open(os.path.join(root, "metrics.json")))
            merge(by_env.setdefault(next(iter(data)), {}), data)
    checked = 0
    for env, data in sorted(by_env.items()):
        task_runs = [seed for task in data[env].values() for algo in task.values() for seed in algo.values()]
        # only complete runs: every seed with evaluations and the absolute metrics
        if not task_runs or not all("absolute_metrics" in s and "step_0" in s for s in task_runs):
            continue
        processed = data_process_pipeline(data, ["mean_episode_return"])
        for task in processed[env].values():
            for algo in task.values():
                for seed in algo.values():
                    absolute = seed["absolute_metrics"]
                    if "mean_norm_mean_episode_return" not in absolute or "norm_mean_episode_return" not in absolute:
                        sys.exit(f"{env}: normalised metrics missing after processing: {sorted(absolute)}")
        matrices, _ = create_matrices_for_rliable(processed, env, ["mean_episode_return"])
        shape = matrices["mean_norm_mean_episode_return"][next(iter(matrices["mean_norm_mean_episode_return"]))].shape
        n_algos = len(matrices["mean_norm_mean_episode_return"])
        print(f"marl-eval: {env}: {n_algos} algorithms, runs x tasks matrix {shape}: ok")
        checked += 1
    if not checked:
        sys.exit("marl-eval: no complete metrics.json found")


if __name__ == "__main__":
    main()
