#!/usr/bin/env bash
# The checks that need Python packages from PyPI: the official readers of
# what mazero writes. Each runs when python3 has its package and says
# plainly when it is skipped. The C tests run once with MZ_TEST_KEEP_DIR so
# that their outputs stay for the checks to read.
#   wandb        `wandb sync` reads our offline .wandb file and uploads it
#                (to a recording server on 127.0.0.1)
#   id-marl-eval our metrics.json through marl-eval's processing
#   flashbax     tools/npy_to_vault.py round trip of a recording
# usage: tests/python_checks.sh TEST_BINARY   (from the repository root)
set -u
test_bin=$1
pass=0
fail=0
skip=0
keep=$(mktemp -d)
trap 'rm -rf "$keep"' EXIT

have() { command -v python3 >/dev/null && python3 -c "import $1" >/dev/null 2>&1; }

run_check() {
    local name=$1
    shift
    if "$@" >"$keep/out.txt" 2>&1; then
        pass=$((pass + 1))
        echo "ok   $name: $(tail -n 1 "$keep/out.txt")"
    else
        fail=$((fail + 1))
        echo "FAIL $name"
        tail -n 15 "$keep/out.txt" | sed 's/^/     /'
    fi
}

skipped() {
    skip=$((skip + 1))
    echo "skip $1: python3 has no '$2' (pip install $3)"
}

if have wandb || have marl_eval || have flashbax; then
    if ! MZ_TEST_KEEP_DIR="$keep" "$test_bin" runlog wandb trajectory plot >"$keep/c-tests.txt" 2>&1; then
        echo "FAIL the C tests that leave outputs for these checks:"
        tail -n 20 "$keep/c-tests.txt" | sed 's/^/     /'
        fail=$((fail + 1))
    fi
fi

if have wandb; then
    offline=$(find "$keep" -type d -name 'offline-run-*-off12345' | head -n 1)
    run_check "official wandb reads our .wandb file (wandb sync)" \
        timeout 300 python3 tests/python/check_wandb_sync.py "$offline" 31
else
    skipped "official wandb reads our .wandb file" wandb wandb
fi

if have marl_eval; then
    run_check "marl-eval loads our metrics.json" timeout 300 python3 tests/python/check_marl_eval.py "$keep"
else
    skipped "marl-eval loads our metrics.json" marl_eval id-marl-eval
fi

if have flashbax; then
    recording=$(dirname "$(find "$keep" -name recording.json | head -n 1)")
    run_check "npy_to_vault.py -> Flashbax Vault round trip" \
        timeout 300 python3 tests/python/check_vault_round_trip.py "$recording" "$keep/vaults"
else
    skipped "npy_to_vault.py -> Flashbax Vault round trip" flashbax flashbax
fi

echo "python: $pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
