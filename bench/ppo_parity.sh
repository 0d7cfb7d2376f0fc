#!/bin/sh
# Learning parity runs for bench/RESULTS.md (long; never part of make test):
# `mazero train` on each config for seeds 0..SEEDS-1 at a fixed env-step
# budget, one after another at nice 10 on one thread; the run directories
# land in OUT/<config>/seed_<s>, and bench/peers/ppo_parity_table.py turns
# their marl-eval metrics.json files into the table.
#
# usage: bench/ppo_parity.sh MAZERO STEPS OUT SEEDS CONFIG... [-- key=value...]
# FIRST_SEED=s starts at seed s (runs of other seeds can go in parallel).
set -eu
[ $# -ge 5 ] || { echo "usage: $0 MAZERO STEPS OUT SEEDS CONFIG... [-- key=value...]" >&2; exit 2; }
bin=$1 steps=$2 out=$3 seeds=$4
shift 4
configs=
while [ $# -gt 0 ] && [ "$1" != "--" ]; do configs="$configs $1"; shift; done
[ $# -gt 0 ] && shift
for cfg in $configs; do
    name=$(basename "$cfg" .json)
    s=${FIRST_SEED:-0}
    while [ "$s" -lt "$((${FIRST_SEED:-0} + seeds))" ]; do
        dir="$out/$name/seed_$s"
        mkdir -p "$dir"
        echo "$(date -u +%H:%M:%S) $name seed $s ($steps env steps)"
        nice -n 10 "$bin" train "$cfg" seed="$s" total_env_steps="$steps" threads=1 log.dir="$dir" \
            log.console=plain --quiet "$@" > "$dir/stdout.log" 2>&1
        tail -n 2 "$dir/stdout.log"
        s=$((s + 1))
    done
done
