#!/bin/sh
# How many seeds of a tiny sync MuZero job reach a known optimum: trains
# seeds 1..N of CONFIG with the overrides and counts those whose last
# evaluation, with search and with the prior alone, is within 1e-3 of
# OPTIMUM (the criterion of tests/test_sync.c). Prints one line a seed and
# the count. The climbing-game and chain tables in RESULTS.md come from it.
#
#   bench/seeds_at_optimum.sh CONFIG OPTIMUM N [key=value ...]
#   bench/seeds_at_optimum.sh configs/climbing_mazero_sync.json 11 24 mcts.rescale_values=true
#
# BIN (default ./mazero) comes from the environment. Needs jq.
set -eu
if [ $# -lt 3 ]; then
    sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
fi
BIN=${BIN:-./mazero}
CONFIG=$1
OPTIMUM=$2
N=$3
shift 3
command -v jq >/dev/null || { echo "seeds_at_optimum.sh: needs jq (apt-get install jq)" >&2; exit 2; }
[ -r "$CONFIG" ] || { echo "seeds_at_optimum.sh: cannot read config '$CONFIG'" >&2; exit 2; }
OUT=$(mktemp -d /tmp/seeds_at_optimum.XXXXXX)
trap 'rm -rf "$OUT"' EXIT
reached=0
seed=1
while [ "$seed" -le "$N" ]; do
    dir="$OUT/$seed"
    if ! "$BIN" train "$CONFIG" seed="$seed" log.dir="$dir" --quiet "$@" >"$OUT/$seed.log" 2>&1; then
        echo "seeds_at_optimum.sh: seed $seed failed:" >&2
        tail -5 "$OUT/$seed.log" >&2
        exit 1
    fi
    metrics=$(find "$dir" -name metrics.jsonl | head -1)
    last=$(grep eval_return_search "$metrics" | tail -1)
    line=$(printf '%s\n' "$last" | jq -r --argjson o "$OPTIMUM" \
        'def dist: (. - $o) | if . < 0 then -. else . end;
         [(if (.eval_return_search | dist) <= 1e-3 and (.eval_return_prior | dist) <= 1e-3 then 1 else 0 end),
          .eval_return_search, .eval_return_prior] | @tsv')
    hit=$(printf '%s' "$line" | cut -f1)
    printf 'seed %d: with search %s, prior alone %s%s\n' "$seed" "$(printf '%s' "$line" | cut -f2)" \
        "$(printf '%s' "$line" | cut -f3)" "$([ "$hit" = 1 ] && echo '' || echo ': not reached')"
    reached=$((reached + hit))
    seed=$((seed + 1))
done
echo "$reached of $N seeds reach $OPTIMUM"
