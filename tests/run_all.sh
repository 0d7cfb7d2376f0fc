#!/usr/bin/env bash
# Runs the unit/parity test binary, the CLI tests and the Python checks
# (MZ_PYTHON_CHECKS=0 leaves those out), then prints one
# combined "N passed, N failed" line; exits non-zero on any failure.
# usage: tests/run_all.sh TEST_BINARY MAZERO_BINARY
set -u
test_bin=$1
mazero=$2
here=$(cd "$(dirname "$0")" && pwd)
log=$(mktemp)
trap 'rm -f "$log"' EXIT
pass=0
fail=0

# stage PREFIX COMMAND...: runs a suite, adds the counts of its last
# "[PREFIX: ]N passed, N failed" line; a missing line or a non-zero exit
# without a counted failure counts as one failure.
stage() {
    local prefix=$1
    shift
    "$@" 2>&1 | tee "$log"
    local rc=${PIPESTATUS[0]}
    local line
    line=$(grep -E "^${prefix}[0-9]+ passed, [0-9]+ failed" "$log" | tail -n 1)
    line=${line#"$prefix"}
    if [ -z "$line" ]; then
        echo "run_all: $1 printed no summary (exit $rc): counted as 1 failure"
        line="0 passed, 1 failed"
    fi
    local p=${line%% passed*} f=${line#*, }
    f=${f%% failed*}
    [ "$rc" -ne 0 ] && [ "$f" -eq 0 ] && f=1
    pass=$((pass + p))
    fail=$((fail + f))
}

stage "" "$test_bin"
echo
echo "== CLI tests ($mazero) =="
stage "cli: " "$here/test_cli.sh" "$mazero"
if [ "${MZ_PYTHON_CHECKS:-1}" != 0 ]; then
    echo
    echo "== Python checks (official readers; each skipped without its package) =="
    stage "python: " "$here/python_checks.sh" "$test_bin"
fi

echo
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
