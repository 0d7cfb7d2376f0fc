#!/bin/sh
# simple_spread learning in async mode next to sync mode (bench/RESULTS.md,
# issue #9): configs/spread_mazero_sync.json (one thread) and
# configs/spread_mazero_async.json (ASYNC_ACTORS actor threads plus the
# learner's thread; the same model, search, batch and replay ratio) for the
# same seeds and env-step budget; then bench/learning_table.py prints the
# returns at equal env steps and at equal wall time, and mazero plot draws
# both curves. Sync seeds run two at a time (one core each), async runs alone
# (it uses both cores). Not part of `make test`: about 15 minutes idle.
#
#   bench/async_vs_sync.sh [ENV_STEPS] [OUT_DIR]
#
# SEEDS (default "0 1 2"), BIN (default ./mazero), ASYNC_ACTORS (default 1)
# come from the environment.
set -eu
BIN=${BIN:-./mazero}
STEPS=${1:-150000}
OUT=${2:-bench/results/async_vs_sync}
SEEDS=${SEEDS:-"0 1 2"}
ACTORS=${ASYNC_ACTORS:-1}
rm -rf "$OUT"
mkdir -p "$OUT"
date -u +"started %Y-%m-%dT%H:%M:%SZ, load average: $(cut -d' ' -f1-3 /proc/loadavg)" | tee "$OUT/machine.txt"
common="device=cpu threads=1 total_env_steps=$STEPS muzero.eval_interval_updates=1000 log.console=quiet --quiet"
n=0
for s in $SEEDS; do
    # shellcheck disable=SC2086
    "$BIN" train configs/spread_mazero_sync.json seed="$s" log.dir="$OUT/sync" $common &
    n=$((n + 1))
    [ $((n % 2)) -eq 0 ] && wait
done
wait
for s in $SEEDS; do
    # shellcheck disable=SC2086
    "$BIN" train configs/spread_mazero_async.json seed="$s" async.num_actors="$ACTORS" log.dir="$OUT/async" $common
done
date -u +"finished %Y-%m-%dT%H:%M:%SZ, load average: $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$OUT/machine.txt"
table="$(dirname "$0")/learning_table.py"
{
    python3 "$table" sync="$OUT/sync" async="$OUT/async" --points 25000,50000,100000,150000 --throughput
    echo
    python3 "$table" sync="$OUT/sync" async="$OUT/async" --axis wall_time --points 30,60,90,120,150
} | tee "$OUT/table.md"
"$BIN" plot "$OUT/sync" "$OUT/async" --metric train_episode_return --out "$OUT/async_vs_sync.png"
