#!/usr/bin/env bash
# Runs the unit/parity test binary, the CLI tests and the Python checks
# (MZ_PYTHON_CHECKS=0 leaves those out), then prints one
# combined "N passed, N failed" line; exits non-zero on any failure.
# usage: tests/run_all.sh TEST_BINARY MAZERO_BINARY
set -u
test_bin=$1
mazero=$2
here=$(cd "$(dirname "$0")" && pwd)

unit_log=$(mktemp)
trap 'rm -f "$unit_log"' EXIT
"$test_bin" 2>&1 | tee "$unit_log"
unit_rc=${PIPESTATUS[0]}
unit_line=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$unit_log" | tail -n 1)
if [ -z "$unit_line" ]; then
    echo "run_all: $test_bin printed no summary (exit $unit_rc): counted as 1 failure"
    unit_line="0 passed, 1 failed"
fi
unit_pass=${unit_line%% passed*}
unit_fail=${unit_line#*, }; unit_fail=${unit_fail%% failed*}
[ "$unit_rc" -ne 0 ] && [ "$unit_fail" -eq 0 ] && unit_fail=1

echo
echo "== CLI tests ($mazero) =="
cli_log=$(mktemp)
trap 'rm -f "$unit_log" "$cli_log"' EXIT
"$here/test_cli.sh" "$mazero" 2>&1 | tee "$cli_log"
cli_rc=${PIPESTATUS[0]}
cli_line=$(grep -E '^cli: [0-9]+ passed, [0-9]+ failed$' "$cli_log" | tail -n 1)
cli_line=${cli_line#cli: }
[ -z "$cli_line" ] && cli_line="0 passed, 1 failed"
cli_pass=${cli_line%% passed*}
cli_fail=${cli_line#*, }; cli_fail=${cli_fail%% failed*}
[ "$cli_rc" -ne 0 ] && [ "$cli_fail" -eq 0 ] && cli_fail=1

py_pass=0
py_fail=0
if [ "${MZ_PYTHON_CHECKS:-1}" != 0 ]; then
    echo
    echo "== Python checks (official readers; each skipped without its package) =="
    py_log=$(mktemp)
    trap 'rm -f "$unit_log" "$cli_log" "$py_log"' EXIT
    "$here/python_checks.sh" "$test_bin" 2>&1 | tee "$py_log"
    py_rc=${PIPESTATUS[0]}
    py_line=$(grep -E '^python: [0-9]+ passed, [0-9]+ failed' "$py_log" | tail -n 1)
    py_line=${py_line#python: }
    [ -z "$py_line" ] && py_line="0 passed, 1 failed"
    py_pass=${py_line%% passed*}
    py_fail=${py_line#*, }; py_fail=${py_fail%% failed*}
    [ "$py_rc" -ne 0 ] && [ "$py_fail" -eq 0 ] && py_fail=1
fi

echo
pass=$((unit_pass + cli_pass + py_pass))
fail=$((unit_fail + cli_fail + py_fail))
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
