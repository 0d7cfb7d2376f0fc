#!/usr/bin/env bash
# Data-parallel training under mpirun, 2 ranks (make test-mpi): the
# collectives (tests/mpi/dist_check.c, CPU and emulated CUDA/NCCL), PPO and
# sync MuZero trained by 2 ranks with bitwise identical parameters and one
# run directory, a rank killed or a rank signalled ending the job (bounded
# by a timeout; MuZero and PPO save on the signal), a config error ending it
# at once.
# usage: tests/test_mpi.sh MAZERO_BINARY_WITH_MPI DIST_CHECK_BINARY   (from the repository root)
set -u
mazero=$1
dist_check=$2
pass=0
fail=0
tmp=$(mktemp -d)
[ -n "${MZ_KEEP_TMP:-}" ] || trap 'rm -rf "$tmp"' EXIT
# mpirun refuses root without these (CI runs as root); --oversubscribe lets 2
# ranks share fewer cores
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
mpirun=(mpirun --oversubscribe -np 2)
limit=120 # seconds: a hung job fails instead of blocking CI

check() {
    local name=$1
    shift
    if "$@"; then pass=$((pass + 1)); echo "ok   $name [${SECONDS}s]"; else fail=$((fail + 1)); echo "FAIL $name [${SECONDS}s]"; fi
}
show() { sed 's/^/     /' "$1" | tail -n "${2:-15}"; }

if ! command -v mpirun >/dev/null; then
    echo "FAIL mpirun not found (make deps-mpi installs OpenMPI)"
    echo "mpi: 0 passed, 1 failed"
    exit 1
fi

# 1. the collectives and the 2 x B = 1 x 2B equivalence
timeout $limit "${mpirun[@]}" "$dist_check" >"$tmp/check.log" 2>&1
rc=$?
cat "$tmp/check.log"
line=$(grep -E "^dist_check: [0-9]+ passed, [0-9]+ failed" "$tmp/check.log")
p=$(echo "$line" | sed -E 's/^dist_check: ([0-9]+) passed.*/\1/')
f=$(echo "$line" | sed -E 's/.* ([0-9]+) failed/\1/')
if [ -z "$line" ] || [ $rc -ne 0 ] && [ "${f:-0}" -eq 0 ]; then f=$((${f:-0} + 1)); fi
pass=$((pass + ${p:-0}))
fail=$((fail + f))

# every rank's crc32 on the "data-parallel check" lines is the same
identical() {
    local log=$1 what=$2
    grep -q "^data-parallel check: $what parameters crc32 on 2 ranks: \([0-9a-f]*\) \1 (identical)" "$log"
}
one_run_dir() { [ "$(find "$1" -name metrics.jsonl | wc -l)" -eq 1 ]; }

# 2. PPO, 2 ranks x 8 envs, 4 updates
ppo_args=(train configs/ippo_spread.json device=cpu threads=1 --quiet total_env_steps=512 env.num_envs=8
    ppo.rollout_length=16 ppo.hidden=32 ppo.num_evaluation=2 ppo.eval_episodes=4 ppo.absolute_episodes=8
    log.interval_steps=128 log.console=plain)
timeout $limit "${mpirun[@]}" "$mazero" "${ppo_args[@]}" "log.dir=$tmp/ppo" >"$tmp/ppo.log" 2>&1
rc=$?
check "mpirun -np 2 mazero train configs/ippo_spread.json (4 updates) exits 0 ($rc)" [ $rc -eq 0 ] || show "$tmp/ppo.log"
check "... actor parameters bitwise identical on both ranks" identical "$tmp/ppo.log" actor
check "... critic parameters bitwise identical on both ranks" identical "$tmp/ppo.log" critic
check "... one run directory (rank 0's), with checkpoints" one_run_dir "$tmp/ppo"
check "... metrics count both ranks' env steps (1024 at the end)" \
    bash -c 'tail -n 20 "$1" | grep -q "\"env_steps\":1024,"' _ "$(find "$tmp/ppo" -name metrics.jsonl)"
check "... marl-eval holds both ranks' evaluation episodes (2 x 8 absolute)" \
    python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); s=list(d.values())[0]; s=list(s.values())[0]; s=list(s.values())[0]; s=list(s.values())[0]; assert len(s["absolute_metrics"]["mean_episode_return"])==16' \
    "$(find "$tmp/ppo" -name metrics.json)"

# 2b. recurrent PPO is PPO under mpirun too
timeout $limit "${mpirun[@]}" "$mazero" "${ppo_args[@]/ippo_spread/rec_ippo_spread}" "log.dir=$tmp/rec" >"$tmp/rec.log" 2>&1
rc=$?
check "mpirun -np 2 mazero train configs/rec_ippo_spread.json exits 0 ($rc)" [ $rc -eq 0 ] || show "$tmp/rec.log"
check "... trains rec_ippo (actor parameters identical on both ranks, a best actor)" bash -c \
    "$(declare -f identical); identical '$tmp/rec.log' actor && [ -n \"\$(find '$tmp/rec' -path '*rec_ippo*' -name best_actor.safetensors)\" ]"

# 3. sync MuZero, the chain config, 2 ranks
timeout $limit "${mpirun[@]}" "$mazero" train configs/chain_mazero_sync.json device=cpu --quiet total_env_steps=480 \
    log.console=plain "log.dir=$tmp/mz" >"$tmp/mz.log" 2>&1
rc=$?
check "mpirun -np 2 mazero train configs/chain_mazero_sync.json (sync MuZero) exits 0 ($rc)" [ $rc -eq 0 ] || show "$tmp/mz.log"
check "... world-model parameters bitwise identical on both ranks" identical "$tmp/mz.log" "world model"
check "... one run directory with the final checkpoint" \
    bash -c 'one() { [ "$(find "$1" -name metrics.jsonl | wc -l)" -eq 1 ]; }; one "$1" && test -s "$(find "$1" -name model.safetensors)"' _ "$tmp/mz"
check "... the learner updated (a loss row)" bash -c 'grep -q "\"loss\"" "$(find "$1" -name metrics.jsonl)"' _ "$tmp/mz"

# A background job under timeout; ranks PIDS: the rank processes (children
# of mpirun, the child of timeout) once its run has written a metrics row.
start_job() {
    local dir=$1
    shift
    timeout $limit "${mpirun[@]}" "$mazero" "$@" "log.dir=$dir" >"$dir.log" 2>&1 &
    job=$!
    for _ in $(seq 300); do
        [ -n "$(find "$dir" -name metrics.jsonl -size +0 2>/dev/null)" ] || ! kill -0 $job 2>/dev/null && break
        sleep 0.1
    done
    ranks=$(pgrep -P "$(pgrep -P $job | head -n 1)" | sort -n)
}

# 4. killing one rank ends the job with an error, not a hang
start_job "$tmp/kill" train configs/ippo_spread.json device=cpu threads=1 --quiet env.num_envs=8 \
    ppo.rollout_length=16 ppo.hidden=32 total_env_steps=100000000 log.interval_steps=128 log.console=quiet
check "rank processes found under mpirun ($(echo $ranks | wc -w))" [ "$(echo $ranks | wc -w)" -eq 2 ]
t0=$(date +%s)
kill -KILL $(echo "$ranks" | tail -n 1)
wait $job
rc=$?
took=$(($(date +%s) - t0))
check "kill -9 of one rank: the job exits non-zero ($rc, 124 = timeout) in ${took}s (limit ${limit}s)" \
    bash -c "[ -n '$ranks' ] && [ $rc -ne 0 ] && [ $rc -ne 124 ]" || show "$tmp/kill.log"
alive() { for p in $ranks; do kill -0 "$p" 2>/dev/null && return 0; done; return 1; }
for _ in $(seq 50); do alive || break; sleep 0.1; done
check "... and no rank is left running 5 s later" bash -c "! { $(declare -f alive); ranks='$ranks'; alive; }"

# 5. SIGTERM to one rank: the ranks agree to stop; rank 0 saves the model
# (sigterm_rank1 DIR "CHECKPOINTS" ARGS...: the job of ARGS, signalled once under way)
sigterm_rank1() {
    local dir=$1 files=$2
    shift 2
    start_job "$dir" "$@"
    kill -TERM $(echo "$ranks" | tail -n 1)
    wait $job
    local rc=$?
    check "SIGTERM to rank 1 only ($2): the job stops with exit 143 ($rc)" [ $rc -eq 143 ] || show "$dir.log"
    check "... after rank 0 saved checkpoints/{$files}" \
        bash -c 'for f in $2; do test -s "$(find "$1" -name "$f")" || exit 1; done' _ "$dir" "$files"
}
sigterm_rank1 "$tmp/term" "model.safetensors" train configs/chain_mazero_sync.json device=cpu --quiet \
    total_env_steps=100000000 log.console=quiet
sigterm_rank1 "$tmp/ppoterm" "actor.safetensors critic.safetensors" train configs/ippo_spread.json device=cpu \
    threads=1 --quiet env.num_envs=8 ppo.rollout_length=16 ppo.hidden=32 total_env_steps=100000000 \
    log.interval_steps=128 log.console=quiet ppo.checkpoint_interval_updates=0

# 6. mpirun -np 1 is the single-process run (no MPI job, exits 0)
timeout $limit mpirun -np 1 "$mazero" train configs/chain_mazero_sync.json device=cpu --quiet total_env_steps=96 \
    log.console=quiet "log.dir=$tmp/np1" >"$tmp/np1.log" 2>&1
rc=$?
check "mpirun -np 1 mazero train: the single-process run, exit 0 ($rc)" \
    bash -c "[ $rc -eq 0 ] && ! grep -q 'data-parallel' '$tmp/np1.log'" || show "$tmp/np1.log"

# 7. a config error on every rank ends the job at once
timeout $limit "${mpirun[@]}" "$mazero" train configs/chain_mazero_sync.json devcie=cpu >"$tmp/bad.log" 2>&1
rc=$?
check "a config error under mpirun exits non-zero ($rc), naming the key" \
    bash -c "[ $rc -ne 0 ] && [ $rc -ne 124 ] && grep -q \"unknown key 'devcie'\" \"\$1\"" _ "$tmp/bad.log"

echo "mpi: $pass passed, $fail failed"
[ $fail -eq 0 ]
