#!/usr/bin/env bash
# The command line as a user meets it: exit codes, one-line reasons, the
# README's config reference in sync with the schema.
# usage: tests/test_cli.sh MAZERO_BINARY   (run from the repository root)
set -u
mazero=$1
pass=0
fail=0
out=$(mktemp)
err=$(mktemp)
trap 'rm -f "$out" "$err"' EXIT

# expect CODE "stderr or stdout substring" -- ARGS...
expect() {
    local code=$1 want=$2
    shift 3
    "$mazero" "$@" >"$out" 2>"$err" </dev/null
    local rc=$?
    if [ "$rc" -eq "$code" ] && { [ -z "$want" ] || grep -qF -- "$want" "$out" "$err"; }; then
        pass=$((pass + 1))
        echo "ok   mazero $* -> $rc"
    else
        fail=$((fail + 1))
        echo "FAIL mazero $*: want exit $code and '$want', got exit $rc"
        sed 's/^/     stdout: /' "$out" | head -5
        sed 's/^/     stderr: /' "$err" | head -5
    fi
}

# check NAME CONDITION...: a plain assertion
check() {
    local name=$1
    shift
    if "$@"; then pass=$((pass + 1)); echo "ok   $name"; else fail=$((fail + 1)); echo "FAIL $name"; fi
}

expect 0 "usage: mazero COMMAND" -- --help
expect 2 "usage: mazero COMMAND" --
expect 2 "unknown command 'trian'" -- trian
expect 2 "unknown option '--frobnicate'" -- --frobnicate
for cmd in train eval bench config render search plot wandb-sync version; do
    expect 0 "usage: mazero $cmd" -- "$cmd" --help
done
expect 2 "unknown option '--fast'" -- train configs/default.json --fast
expect 2 "missing CONFIG" -- train
expect 2 "unexpected argument 'extra'" -- config configs/default.json extra
expect 2 "cannot read config: No such file or directory" -- config configs/nope.json
expect 2 "device: expected one of auto, cpu, cuda, cuda:N, got 'tpu'" -- config configs/default.json device=tpu
expect 2 "unknown key 'devcie' (did you mean 'device'?)" -- config configs/default.json devcie=cpu
expect 2 "mcts.num_simulations: expected an integer in [1, 100000], got '0'" -- config configs/default.json mcts.num_simulations=0
expect 0 '"num_simulations":	7' -- config configs/default.json mcts.num_simulations=7
expect 0 "mazero $(sed -n 's/#define MZ_VERSION "\(.*\)"/\1/p' src/cli.h)" -- version
expect 2 "unknown benchmark 'nothing'" -- bench nothing
expect 2 "missing RUN_DIR" -- plot
expect 2 "unknown option '--colour'" -- plot runs --colour
expect 2 "option needs a value: '--metric'" -- plot runs --metric
expect 2 "expected a .png or .svg file name" -- plot runs --out curves.jpg
expect 1 "no run directory (with metrics.jsonl) under the paths given" -- plot /nonexistent/runs
expect 2 "missing RUN_DIR" -- wandb-sync
# no key anywhere: a usage error, and nothing sent
NETRC=/nonexistent HOME=/nonexistent WANDB_API_KEY= expect 2 "no W&B API key" -- wandb-sync /nonexistent/run
WANDB_API_KEY=local-x WANDB_BASE_URL=http://127.0.0.1:9 expect 1 "no wandb/ folder" -- wandb-sync /nonexistent/run
WANDB_MODE=sometimes expect 2 "WANDB_MODE: expected one of online, offline, dryrun, disabled, got 'sometimes'" -- wandb-sync /x

# environments: scenario errors name the value; render plays and draws
expect 2 "env.scenario '1x4-2ag': rware needs an odd number of shelf columns, got 4" -- config configs/default.json env.name=rware env.scenario=1x4-2ag
expect 2 "env.name: 'smac' is not an environment" -- train configs/default.json env.name=smac
expect 0 "step 3; requested:" -- render configs/default.json env.name=rware env.scenario=tiny-2ag --steps 3
expect 2 "--steps: expected an integer in [0, 100000], got 'many'" -- render configs/default.json --steps many
gif_dir=$(mktemp -d)
gif=$gif_dir/render.gif
expect 0 "wrote $gif" -- render configs/default.json env.name=lbf env.scenario=2s-8x8-2p-2f-coop --steps 4 --quiet --gif "$gif"
check "render wrote an animated GIF" bash -c 'head -c 6 "$1" | grep -q GIF89a' _ "$gif"
check "... readable as an ordinary file (mode 0644 less the umask, not giflib's 0600)" \
    bash -c '[ "$(stat -c %a "$1")" = "$(printf %o $((0644 & ~$(umask))))" ]' _ "$gif"
rm -rf "$gif_dir"

expect 2 "mcts.mode=joint: 10 agents x 5 actions make 9765625 joint actions, above the limit of 512" -- config configs/spread_mazero_sync.json mcts.mode=joint env.scenario=10ag
expect 2 "mcts.mode=sampled: mcts.num_simulations must be 1 to 65534, got 70000" -- config configs/spread_mazero_sync.json mcts.mode=sampled mcts.num_simulations=70000
expect 2 "mcts.os_rho: expected a number in [0, 0.99]" -- config configs/default.json mcts.os_rho=1

# search: a stored mctx tree is reproduced; the tree we write replays itself
tree=$(mktemp --suffix=.json)
expect 0 "reproduced: all 201 nodes with the same visit counts and creation order" -- search --oracle ../shared/fixtures/mctx/gumbel_muzero_tree.json device=cpu --out "$tree"
expect 0 "reproduced: all 51 nodes" -- search --oracle ../shared/fixtures/mctx/muzero_qtransform_tree.json device=cpu
expect 0 "reproduced: all 201 nodes" -- search --oracle "$tree" device=cpu
expect 2 "missing --oracle TREE.json" -- search
rm -f "$tree"

# device=cuda: usable only with a CUDA build on a GPU machine; otherwise exit
# 2 with exactly one line saying why.
"$mazero" train configs/default.json device=cuda >"$out" 2>"$err" </dev/null
rc=$?
if "$mazero" version | grep -q "device 0 usable"; then
    check "train device=cuda with a usable GPU gets past device selection" [ "$rc" -ne 2 ]
else
    check "train device=cuda without a usable GPU exits 2" [ "$rc" -eq 2 ]
    check "... with a one-line reason naming the device ($(cat "$err"))" \
        bash -c '[ "$(wc -l <"$1")" -eq 1 ] && grep -q "^mazero: device cuda: " "$1"' _ "$err"
fi

# MuZero sync trains end to end on a tiny config: run directory, metrics,
# marl-eval JSON, checkpoints; async is refused with a reason
mz_dir=$(mktemp -d)
expect 0 "run finished with exit code 0" -- train configs/climbing_mazero_sync.json device=cpu --quiet \
    total_env_steps=96 muzero.min_replay_steps=16 muzero.batch_size=8 muzero.checkpoint_interval_updates=10 \
    muzero.eval_interval_updates=10 mcts.num_simulations=4 log.console=plain "log.dir=$mz_dir"
expect 0 "device auto -> " -- train configs/chain_mazero_sync.json --quiet total_env_steps=48 mcts.mode=sampled \
    mcts.num_simulations=4 muzero.min_replay_steps=16 muzero.batch_size=8 log.console=plain "log.dir=$mz_dir"
run_dir=$(ls -d "$mz_dir"/mazero/climbing-default/*/)
check "mazero run wrote metrics.jsonl with losses and both evaluations" \
    bash -c 'grep -q "\"loss\"" "$1/metrics.jsonl" && grep -q "\"eval_return_prior\"" "$1/metrics.jsonl"' _ "$run_dir"
check "mazero run wrote a marl-eval metrics.json" grep -q '"mean_episode_return"' "$run_dir/metrics.json"
check "mazero run wrote periodic and final checkpoints" \
    test -s "$run_dir/checkpoints/model.safetensors" -a -s "$run_dir/checkpoints/model-00000010.safetensors"
# every MuZero config trains a few steps (tiny sizes), with the target network and AWPO switches
for cfg in spread_mazero_sync spread_mazero_sync_independent spread_mazero_sync_sampled lbf_mazero_sync rware_mazero_sync; do
    expect 0 "run finished with exit code 0" -- train configs/$cfg.json device=cpu threads=1 --quiet total_env_steps=128 \
        env.num_envs=4 env.max_steps=16 muzero.min_replay_steps=32 muzero.batch_size=8 mcts.num_simulations=4 \
        muzero.eval_episodes=2 log.console=plain "log.dir=$mz_dir/smoke"
done
expect 0 "run finished with exit code 0" -- train configs/spread_mazero_sync_sampled.json device=cpu threads=1 --quiet \
    total_env_steps=128 env.num_envs=4 env.max_steps=16 muzero.min_replay_steps=32 muzero.batch_size=8 \
    mcts.num_simulations=4 muzero.eval_episodes=2 muzero.awpo=true muzero.value_bootstrap=target muzero.target_ema=0.01 \
    log.console=plain "log.dir=$mz_dir/smoke"
check "AWPO and target-network scalars in metrics.jsonl" bash -c \
    'grep -q "\"awpo_weight_max\"" "$1"/mazero/*/*/metrics.jsonl && grep -q "\"target_bootstrap_shift\"" "$1"/mazero/*/*/metrics.jsonl' \
    _ "$mz_dir/smoke"
expect 2 "muzero.awpo=true needs mcts.mode=sampled" -- train configs/chain_mazero_sync.json device=cpu --quiet \
    muzero.awpo=true "log.dir=$mz_dir/smoke"
# sync reanalyse: searched again on the device replay; it needs the device replay and is sync mode's
expect 0 "reanalyse" -- train configs/spread_mazero_sync.json device=cpu threads=1 total_env_steps=128 env.num_envs=4 \
    env.max_steps=16 muzero.min_replay_steps=32 muzero.batch_size=8 mcts.num_simulations=4 muzero.eval_episodes=2 \
    muzero.reanalyse_fraction=2 log.console=plain "log.dir=$mz_dir/reanalyse"
check "reanalyse time share and count in metrics.jsonl" bash -c \
    'grep -q "\"time_share_reanalyse\"" "$1"/mazero/*/*/metrics.jsonl &&
     grep -q "\"reanalysed\":[1-9]" "$1"/mazero/*/*/metrics.jsonl' _ "$mz_dir/reanalyse"
expect 2 "set muzero.replay_on_device=true" -- train configs/chain_mazero_sync.json \
    device=cpu --quiet muzero.reanalyse_fraction=1 muzero.replay_on_device=false "log.dir=$mz_dir/smoke"
expect 2 "muzero.reanalyse_fraction is sync mode's" -- train configs/chain_mazero_async.json device=cpu --quiet \
    muzero.reanalyse_fraction=1 "log.dir=$mz_dir"
# resume: the run goes on in its own directory, metrics appended; eval of the result
resume_dir=$(mktemp -d)
"$mazero" train configs/chain_mazero_sync.json device=cpu --quiet total_env_steps=96 muzero.min_replay_steps=16 \
    muzero.batch_size=8 mcts.num_simulations=4 log.console=quiet "log.dir=$resume_dir" >/dev/null 2>&1
resumed=$(ls -d "$resume_dir"/mazero/chain-n2-l5/*/)
rows_before=$(wc -l <"$resumed/metrics.jsonl")
check "mazero train wrote the run state beside the final checkpoint" test -s "$resumed/checkpoints/model.state.safetensors"
expect 0 "resumed from $resumed at 96 env steps" -- train "resume=$resumed" total_env_steps=192 --quiet log.console=plain
check "resume appended to metrics.jsonl ($rows_before rows before)" \
    bash -c '[ "$(wc -l <"$1/metrics.jsonl")" -gt "$2" ] && grep -q "\"env_steps\":192" "$1/metrics.jsonl"' _ "$resumed" "$rows_before"
check "resume kept one run directory" test "$(ls "$resume_dir"/mazero/chain-n2-l5 | wc -l)" -eq 1
expect 2 "no such run directory or checkpoint" -- train "resume=$resume_dir/none" --quiet
expect 2 "block 'replay.obs'" -- train "resume=$resumed" --quiet muzero.replay_steps=128
expect 0 "with search  mean return" -- eval "$resumed" episodes=3 render=gif device=cpu
check "mazero eval render=gif wrote an episode GIF" bash -c 'head -c 6 "$1/eval.gif" | grep -q GIF8' _ "$resumed"
expect 0 "prior only   mean return" -- eval "$resumed/checkpoints/model.safetensors" episodes=2
expect 0 "win rate" -- eval "$resumed" episodes=2
expect 2 "missing RUN_DIR or CHECKPOINT" -- eval
expect 2 "render: expected gif or a FILE.gif" -- eval "$resumed" render=png
expect 2 "not an async run's state file (kind 'sync')" -- train "resume=$resumed" --quiet mode=async
rm -rf "$resume_dir"
expect 2 "muzero.awpo=true is built for mode=sync only" -- train configs/chain_mazero_async.json device=cpu --quiet \
    mcts.mode=sampled muzero.awpo=true "log.dir=$mz_dir"
# async mode: trains end to end with actor and learner rates on the progress line; bad async settings
# are exit-2 errors; an actor failure is exit 1 with its reason
expect 0 "updates/s" -- train configs/chain_mazero_async.json device=cpu --quiet total_env_steps=400 \
    log.console=plain "log.dir=$mz_dir/async"
check "async run logged the achieved replay ratio and staleness" \
    bash -c 'grep -q "\"replay_ratio\"" "$1"/async/*/*/*/metrics.jsonl && grep -q "\"staleness\"" "$1"/async/*/*/*/metrics.jsonl' \
    _ "$mz_dir"
# async resume: counters and replay go on in the same run directory
async_run=$(ls -d "$mz_dir"/async/mazero/*/*/)
check "async run wrote its state beside the final checkpoint" test -s "$async_run/checkpoints/model.state.safetensors"
expect 0 "at 400 env steps, 50 updates, " -- train "resume=$async_run" total_env_steps=800 \
    --quiet log.console=plain
check "async resume appended to metrics.jsonl in one run directory" \
    bash -c 'grep -q "\"env_steps\":800" "$1/metrics.jsonl" && [ "$(ls "$1/.." | wc -l)" -eq 1 ]' _ "$async_run"
expect 2 "async.num_actors=9 exceeds env.num_envs=8" -- train configs/chain_mazero_async.json device=cpu --quiet \
    async.num_actors=9 "log.dir=$mz_dir"
expect 2 "muzero.min_replay_steps=5000 exceeds the" -- train configs/chain_mazero_async.json device=cpu --quiet \
    muzero.min_replay_steps=5000 "log.dir=$mz_dir"
expect 1 "actor 0: injected failure after" -- train configs/chain_mazero_async.json device=cpu --quiet \
    async.fail_actor_after_steps=20 total_env_steps=100000 "log.dir=$mz_dir"
expect 2 "muzero.replay_steps=8 must exceed" -- train configs/chain_mazero_sync.json device=cpu --quiet \
    muzero.replay_steps=8 "log.dir=$mz_dir"
# SIGTERM mid-run: the model is saved and the exit code is 128 + 15
"$mazero" train configs/spread_mazero_sync.json device=cpu threads=1 --quiet log.console=quiet "log.dir=$mz_dir/term" \
    >"$out" 2>"$err" </dev/null &
train_pid=$!
# a non-empty metrics.jsonl: the first evaluation row, written after the run installed its signal handler
for _ in $(seq 200); do
    for f in "$mz_dir"/term/*/*/*/metrics.jsonl; do [ -s "$f" ] && break 2; done
    sleep 0.1
done
kill -TERM "$train_pid"
wait "$train_pid"
rc=$?
check "train stopped by SIGTERM exits 143 ($rc)" [ "$rc" -eq 143 ]
check "... after saving checkpoints/model.safetensors" bash -c 'test -s "$1"/term/*/*/*/checkpoints/model.safetensors' _ "$mz_dir"
rm -rf "$mz_dir"

# IPPO / MAPPO (and their recurrent forms) train end to end: run directory, metrics, marl-eval JSON with the absolute metric
ppo_dir=$(mktemp -d)
for cfg in ippo_spread mappo_spread ippo_lbf mappo_rware_tiny2 rec_ippo_spread rec_mappo_spread; do
    expect 0 "absolute metric: mean return" -- train configs/$cfg.json device=cpu --quiet total_env_steps=512 \
        env.num_envs=4 ppo.rollout_length=16 ppo.hidden=16 ppo.num_evaluation=2 ppo.eval_episodes=4 \
        ppo.absolute_episodes=8 env.max_steps=20 log.interval_steps=64 log.console=plain "log.dir=$ppo_dir"
done
check "ppo runs wrote metrics.json with absolute_metrics" \
    test "$(grep -l absolute_metrics "$ppo_dir"/*/*/*/metrics.json | wc -l)" -eq 6
check "LBF's marl-eval JSON has Mava's win_rate (spread's, which defines no win, has none)" \
    bash -c 'grep -q "\"win_rate\"" "$1"/ippo/lbf-*/*/metrics.json && ! grep -q "\"win_rate\"" "$1"/ippo/mpe_*/*/metrics.json' _ "$ppo_dir"
check "rec_mappo's marl-eval JSON names the algorithm rec_mappo" \
    grep -q '"rec_mappo"' "$ppo_dir"/rec_mappo/mpe_simple_spread-3ag/*/metrics.json
check "ppo runs wrote actor, critic and best-actor checkpoints" \
    test "$(ls "$ppo_dir"/*/*/*/checkpoints/*actor.safetensors "$ppo_dir"/*/*/*/checkpoints/critic.safetensors | wc -l)" -eq 18
check "ppo metrics.jsonl has losses" grep -q '"actor_loss"' "$ppo_dir"/ippo/mpe_simple_spread-3ag/*/metrics.jsonl
expect 2 "ppo.minibatches=3 does not divide" -- train configs/ippo_spread.json device=cpu --quiet \
    ppo.minibatches=3 env.num_envs=4 ppo.rollout_length=16 "log.dir=$ppo_dir"
# mazero eval of a PPO run: the best actor replays the run's absolute metric (8 episodes), feed-forward
# and recurrent (the GRU state carried through each episode); win rate where the env has one
for algo in ippo rec_ippo; do
    run=$(ls -d "$ppo_dir"/$algo/mpe_simple_spread-3ag/*/)
    absolute=$(sed -n 's/.*absolute metric: \(mean return [^(]*\)(95% CI).*/\1/p' "$run/console.log")
    expect 0 "actor        $absolute(95% CI, 8 episodes)" -- eval "$run" episodes=8 device=cpu
done
ippo_run=$(ls -d "$ppo_dir"/ippo/mpe_simple_spread-3ag/*/)
expect 0 "best_actor.safetensors" -- eval "$ippo_run"
expect 0 ", win rate " -- eval "$(ls -d "$ppo_dir"/ippo/lbf-*/*/)" episodes=4 greedy=true
expect 0 "3 greedy episodes" -- eval "$ippo_run/checkpoints/actor.safetensors" episodes=3 greedy=true render=gif
check "mazero eval render=gif of a PPO run wrote an episode GIF" bash -c 'head -c 6 "$1/eval.gif" | grep -q GIF8' _ "$ippo_run"
expect 2 "greedy: expected true or false, got 'maybe'" -- eval "$ippo_run" greedy=maybe
expect 2 "episodes: expected an integer in [1, 65536], got '0'" -- eval "$ippo_run" episodes=0
mkdir -p "$ppo_dir/bare/checkpoints" && cp "$ippo_run/config.json" "$ppo_dir/bare/"
expect 2 "no checkpoint $ppo_dir/bare/checkpoints/actor.safetensors" -- eval "$ppo_dir/bare"
# Ctrl-C mid-run (no periodic checkpoint): exit 130 with loadable actor, critic and best actor
# DIR ARGS...: a PPO run under timeout in the background until its first metrics row; $train_pid is
# the timeout, $mazero_pid mazero itself (signal it, not the timeout, which would also signal its
# process group: a second SIGINT kills mazero before it has saved)
run_until_metrics() {
    local dir=$1
    shift
    timeout 300 "$mazero" train configs/ippo_spread.json device=cpu threads=1 --quiet env.num_envs=4 \
        ppo.rollout_length=16 ppo.hidden=32 total_env_steps=100000000 log.interval_steps=64 log.console=quiet \
        "log.dir=$dir" "$@" >"$out" 2>"$err" </dev/null &
    train_pid=$!
    for _ in $(seq 1200); do # 2 minutes on a loaded machine
        [ -n "$(find "$dir" -name metrics.jsonl -size +0 2>/dev/null)" ] || ! kill -0 $train_pid 2>/dev/null && break
        sleep 0.1
    done
    mazero_pid=$(pgrep -P "$train_pid")
}
run_until_metrics "$ppo_dir/int" ppo.num_evaluation=1000000 ppo.eval_episodes=4 ppo.checkpoint_interval_updates=0
kill -INT "$mazero_pid"
wait "$train_pid"
rc=$?
check "PPO train stopped by SIGINT exits 130 ($rc)" [ "$rc" -eq 130 ]
int_run=$(ls -d "$ppo_dir"/int/ippo/*/*/)
check "... after saving actor, critic and best_actor.safetensors" \
    bash -c 'cd "$1/checkpoints" && test -s actor.safetensors && test -s critic.safetensors && test -s best_actor.safetensors' \
    _ "$int_run"
expect 0 "actor        mean return" -- eval "$int_run/checkpoints/actor.safetensors" episodes=2
expect 0 "best_actor.safetensors" -- eval "$int_run" episodes=2
# the critic file parses (every tensor checked) and holds the critic: its head has one output, not the actor's 5
expect 2 "tensor 'head.weight' has shape [1, 32], the model needs [5, 32]" -- eval "$int_run/checkpoints/critic.safetensors"
# a crash (SIGKILL) keeps the last periodic checkpoint (every 2 updates)
run_until_metrics "$ppo_dir/kill" ppo.checkpoint_interval_updates=2
for _ in $(seq 1200); do [ -n "$(find "$ppo_dir/kill" -name critic.safetensors)" ] && break; sleep 0.1; done
kill -KILL "$mazero_pid"
wait "$train_pid" 2>/dev/null
expect 0 "actor        mean return" -- eval "$(ls -d "$ppo_dir"/kill/ippo/*/*/)checkpoints/actor.safetensors" episodes=2
check "... saved at an even update" grep -qE "actor.safetensors \([0-9]*[02468] updates\)" "$out"
rm -rf "$ppo_dir"

# the resolved config is itself a valid config that resolves to the same
"$mazero" config configs/default.json seed=5 mode=async >"$out" 2>/dev/null
resolved=$(mktemp --suffix=.json)
cp "$out" "$resolved"
"$mazero" config "$resolved" >"$err" 2>&1
check "resolved config round-trips" cmp -s "$out" "$err"
rm -f "$resolved"

# README's config reference is the schema's own output
"$mazero" config --schema --markdown >"$out"
sed -n '/<!-- schema:begin -->/,/<!-- schema:end -->/p' README.md | sed '1d;$d' >"$err"
check "README config reference matches 'mazero config --schema --markdown'" cmp -s "$out" "$err"

echo "cli: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
