#!/usr/bin/env bash
# CI's stand-in for building the image (no Docker engine here): every make
# command the Dockerfile's build stage runs must be one .ci/run runs (same
# targets and variables; -j ignored), and the files the image copies and
# runs must exist. Prints "docker: N passed, N failed".
# usage: docker/check_dockerfile.sh   (from the repository root)
set -u
pass=0
fail=0
check() {
    local name=$1
    shift
    if "$@"; then pass=$((pass + 1)); echo "ok   $name"; else fail=$((fail + 1)); echo "FAIL $name"; fi
}

# The make commands of stdin: each command (split at && ; |) whose first
# word is make, printed as "make" and its other words sorted, -j dropped.
normalise() {
    sed -E 's/^RUN //; s/[[:space:]]#.*$//; s/&&|;|\|/\n/g' | sed -E 's/^[[:space:]]+//' | grep -E '^make( |$)' |
        while read -r -a words; do
            echo "make $(printf '%s\n' "${words[@]:1}" | grep -vE '^-j|^\\$' | sort | tr '\n' ' ')"
        done | sed 's/ *$//' | sort -u
}
docker_makes=$(grep -E '^RUN ' docker/Dockerfile | normalise)
ci_makes=$(grep -vE '^\s*#' .ci/run | normalise)

check "the Dockerfile runs make" [ -n "$docker_makes" ]
while read -r cmd; do
    [ -z "$cmd" ] && continue
    check "Dockerfile '$cmd' is run by .ci/run" grep -qxF -- "$cmd" <<<"$ci_makes"
done <<<"$docker_makes"
check "the image builds with CUDA=1 MPI=1" grep -qE 'make .*CUDA=1.*MPI=1' <<<"$docker_makes"
default=$(sed -nE 's/^CMD \["train", "([^"]+)"\]/\1/p' docker/Dockerfile)
check "the default command trains an existing config ($default)" test -f "$default"
check "the image carries configs/" grep -q '^COPY --from=build /src/configs ./configs' docker/Dockerfile
check "run directories go to the /runs volume" grep -q '^VOLUME /runs' docker/Dockerfile

echo "docker: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
