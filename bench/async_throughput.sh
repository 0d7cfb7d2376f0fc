#!/usr/bin/env bash
# Async mode's whole loop on simple_spread (configs/spread_mazero_async.json,
# threads=1 for the learner): env steps/s, updates/s, achieved replay ratio,
# staleness and the waiting shares for 1 and 2 actor threads; then the
# actors alone (replay ratio 0.001: the learner almost never runs) for the
# per-actor cost, and the learner saturated (ratio 64: actors mostly wait).
# Not part of the tests. usage: bench/async_throughput.sh [MAZERO] [ENV_STEPS]
set -euo pipefail
mazero=${1:-./mazero}
steps=${2:-4000}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
common=(configs/spread_mazero_async.json device=cpu threads=1 "total_env_steps=$steps" muzero.min_replay_steps=320
        muzero.eval_episodes=1 muzero.eval_interval_updates=1000000 muzero.checkpoint_interval_updates=0
        log.interval_steps=500 log.console=quiet --quiet)
run() { # name, overrides...
    local name=$1
    shift
    "$mazero" train "${common[@]}" "log.dir=$dir/$name" "$@" >/dev/null
    python3 - "$name" "$dir/$name" <<'PY'
import glob, json, sys
name, root = sys.argv[1], sys.argv[2]
rows = [json.loads(l) for f in glob.glob(root + "/**/metrics.jsonl", recursive=True) for l in open(f)]
train = [r for r in rows if "steps_per_second" in r]
last = train[-1]
log = open(glob.glob(root + "/**/console.log", recursive=True)[0]).read()
summary = [l for l in log.splitlines() if "env steps and" in l][-1]
wall = float(summary.split(" in ")[1].split(" s ")[0])
mean = lambda k: sum(r.get(k, 0) for r in train[1:]) / max(1, len(train) - 1)
print(f"| {name} | {last['env_steps']} | {last['step']} | {wall:.1f} | {last['env_steps']/wall:.0f} | "
      f"{last['step']/wall:.2f} | {last['replay_ratio']:.2f} | {mean('staleness'):.1f} | "
      f"{mean('actor_wait_share'):.2f} | {mean('learner_wait_share'):.2f} |")
PY
}
echo "| run | env steps | updates | wall s | env steps/s | updates/s | achieved ratio | staleness (versions) | actor wait share | learner wait share |"
echo "|---|---|---|---|---|---|---|---|---|---|"
run "1 actor" async.num_actors=1
run "2 actors" async.num_actors=2
run "1 actor, actors alone" async.num_actors=1 async.replay_ratio=0.001
run "2 actors, actors alone" async.num_actors=2 async.replay_ratio=0.001
run "1 actor, learner saturated" async.num_actors=1 async.replay_ratio=64 total_env_steps=800
