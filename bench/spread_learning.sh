#!/bin/sh
# Learning on simple_spread (3 agents): sync MuZero (configs/spread_mazero_sync.json)
# and IPPO (configs/ippo_spread.json) for the same seeds at the same env-step
# budget, and the random policy; a table of evaluation returns against env
# steps (mean and sample standard deviation over seeds) and a plot of both
# curves (mazero plot). Not part of `make test`: minutes to hours.
#
#   bench/spread_learning.sh [ENV_STEPS] [OUT_DIR] [key=value ...]
#
# ENV_STEPS (default 40000) is the budget of every run; extra key=value
# overrides go to the MuZero runs only. SEEDS (default "1 2 3"), BIN
# (default ./mazero) and IPPO_STEPS (default ENV_STEPS) come from the
# environment. Needs jq for the table.
set -eu
BIN=${BIN:-./mazero}
STEPS=${1:-40000}
OUT=${2:-bench/results/spread_learning}
[ $# -ge 2 ] && shift 2 || shift $#
SEEDS=${SEEDS:-"1 2 3"}
IPPO_STEPS=${IPPO_STEPS:-$STEPS}
command -v jq >/dev/null || { echo "spread_learning.sh: jq is needed for the table (apt-get install jq)" >&2; exit 2; }
rm -rf "$OUT"
mkdir -p "$OUT"
date -u +"started %Y-%m-%dT%H:%M:%SZ, load average: $(cut -d' ' -f1-3 /proc/loadavg)" | tee "$OUT/machine.txt"

# seeds run side by side, one thread each (JOBS=1 runs them one after another)
run_seed() {
    seed=$1
    shift
    "$BIN" train configs/spread_mazero_sync.json device=cpu threads=1 seed="$seed" total_env_steps="$STEPS" \
        log.dir="$OUT/runs" log.console=quiet --quiet "$@"
    "$BIN" train configs/ippo_spread.json device=cpu threads=1 seed="$seed" total_env_steps="$IPPO_STEPS" \
        log.dir="$OUT/runs" log.console=quiet --quiet
}
for s in $SEEDS; do
    if [ "${JOBS:-0}" = 1 ]; then run_seed "$s" "$@"; else run_seed "$s" "$@" & fi
done
wait
# The random policy: IPPO's initial actor (near-uniform logits) never updated.
"$BIN" train configs/ippo_spread.json device=cpu threads=1 seed=1 total_env_steps=8192 ppo.actor_lr=0 \
    ppo.critic_lr=0 ppo.absolute_episodes=2000 log.dir="$OUT/random" log.console=quiet --quiet
date -u +"finished %Y-%m-%dT%H:%M:%SZ, load average: $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$OUT/machine.txt"

# Evaluation return of each run at each column's env steps: its last
# evaluation at or before that many steps ("-" past the run's budget or
# before its first evaluation).
COLS="0 $((STEPS / 4)) $((STEPS / 2)) $STEPS"
[ "$IPPO_STEPS" -gt "$STEPS" ] && COLS="$COLS $IPPO_STEPS"
row() {
    algo=$1 budget=$2
    printf '| %s |' "$algo"
    for at in $COLS; do
        if [ "$at" -gt "$budget" ]; then printf ' - |'; continue; fi
        vals=""
        for f in "$OUT"/runs/"$algo"/*/*/metrics.jsonl; do
            vals="$vals $(jq -s --argjson at "$at" \
                'map(select(.mean_episode_return != null and .env_steps <= $at)) | last | .mean_episode_return // empty' "$f")"
        done
        printf ' %s |' "$(echo "$vals" | awk '{ n = 0; s = 0; q = 0; for (i = 1; i <= NF; i++) { n++; s += $i; q += $i * $i }
            if (n == 0) { printf "-"; exit } m = s / n; sd = n > 1 ? sqrt((q - n * m * m) / (n - 1)) : 0; printf "%.1f ± %.1f", m, sd }')"
    done
    echo
}
{
    printf '| env steps |'; for at in $COLS; do printf ' %s |' "$at"; done; echo
    printf '|---|'; for at in $COLS; do printf -- '---|'; done; echo
    row mazero "$STEPS"
    row ippo "$IPPO_STEPS"
    printf '| random policy, 2000 episodes: %s |\n' "$(jq -r '.. | objects | select(has("absolute_metrics"))
        | .absolute_metrics.mean_episode_return | add / length | . * 10 | round / 10' "$OUT"/random/ippo/*/*/metrics.json)"
} | tee "$OUT/table.md"
"$BIN" plot "$OUT/runs" --out "$OUT/spread_learning.png"
