#!/usr/bin/env bash
# Dev loop: edit → visible in the running container, and the build of an unchanged context.
#
#   bench/dev-loop.sh [EDITS]      (default 20)
#
# One tiny app (FROM the local redis image of e2e/docker.sh: a Debian userland with sh) that
# copies /app/src/msg.txt to /tmp/out every 20 ms. Sides, one after the other on the engine
# of e2e/docker.sh (DOCKER_HOST):
#   devstack-docker   `devstack up`; `sync` is a bind mount
#   compose-watch     `docker compose watch` on a compose file with develop.watch (action sync)
#                     over the same app (its own image, built by compose)
# Each side: EDITS edits of msg.txt, each timed from the write until `docker exec cat /tmp/out`
# shows it (so the figures include one docker exec round trip, ~50 ms here); p50 / p90 / max.
# Then: `devstack up` of the unchanged stack, timed (no rebuild: the content tag exists).
# The real-node side (devstack apply + the exec/tar sync of `devstack dev`) is not measured:
# `devstack dev` on Kubernetes is not implemented yet (docs/dev-loop.md).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
edits=${1:-20}
: "${DOCKER_HOST:=$(bash "$root/e2e/docker.sh" endpoint)}"
export DOCKER_HOST
base=$(bash "$root/e2e/docker.sh" images | sed -n 's/^redis=//p' | head -1)
[[ -n "$base" ]] || { echo "no local redis image: DEVSTACK_IMAGES=redis e2e/docker.sh up" >&2; exit 1; }
devstack=${DEVSTACK_BIN:-}
if [[ -z "$devstack" ]]; then
	(cd "$root" && cargo build -q -p devstack-cli)
	devstack="${CARGO_TARGET_DIR:-$root/target}/debug/devstack"
fi
work=$(mktemp -d)
trap 'cd "$work" && { "$devstack" down stack.yaml >/dev/null 2>&1 || true; docker compose -p dlbenchc -f compose.yaml down >/dev/null 2>&1 || true; }; rm -rf "$work"' EXIT
mkdir -p "$work/app/src"
printf 'FROM %s\nUSER root\nCOPY . /app\n' "$base" >"$work/app/Dockerfile"
echo v0 >"$work/app/src/msg.txt"
loop='while true; do cat /app/src/msg.txt > /tmp/out.new 2>/dev/null; mv /tmp/out.new /tmp/out; sleep 0.02; done'
cat >"$work/stack.yaml" <<YAML
apiVersion: devstack.dev/v1alpha1
kind: DevStack
metadata: {name: dlbench}
spec:
  services:
    app:
      build: {context: ./app}
      command: [sh, -c, '$loop']
      sync: [{source: ./app/src, target: /app/src}]
YAML
cat >"$work/compose.yaml" <<YAML
services:
  app:
    build: {context: ./app}
    entrypoint: [sh, -c, '$loop']
    develop:
      watch:
        - {action: sync, path: ./app/src, target: /app/src}
YAML

# measure CONTAINER: prints p50 p90 max in ms over $edits edits
measure() {
	local container=$1 i t0 t1 want ms=()
	for ((i = 1; i <= edits; i++)); do
		want="edit-$RANDOM-$i"
		t0=$(date +%s%N)
		echo "$want" >"$work/app/src/msg.txt"
		until [[ "$(docker exec "$container" cat /tmp/out 2>/dev/null)" == "$want" ]]; do
			(( ($(date +%s%N) - t0) < 10000000000 )) || { echo "edit $i never arrived in $container" >&2; return 1; }
		done
		t1=$(date +%s%N)
		ms+=($(( (t1 - t0) / 1000000 )))
		sleep 0.2
	done
	printf '%s\n' "${ms[@]}" | sort -n | awk '{a[NR]=$1} END {printf "p50 %d ms  p90 %d ms  max %d ms\n", a[int((NR+1)*0.5)], a[int(NR*0.9+0.5)], a[NR]}'
}

cd "$work"
t0=$(date +%s%N)
"$devstack" up stack.yaml --timeout 300 >/dev/null 2>&1
echo "devstack up (cold build):        $(( ($(date +%s%N) - t0) / 1000000 )) ms"
t0=$(date +%s%N)
"$devstack" up stack.yaml --timeout 300 >/dev/null 2>&1
echo "devstack up (unchanged context): $(( ($(date +%s%N) - t0) / 1000000 )) ms (hash + image inspect + converge, no rebuild)"
t0=$(date +%s%N)
"$devstack" render compose stack.yaml >/dev/null
echo "content tag of the context (render): $(( ($(date +%s%N) - t0) / 1000000 )) ms"
echo "devstack-docker edit->visible:   $(measure dlbench-app-1)"
"$devstack" down stack.yaml >/dev/null 2>&1

docker compose -p dlbenchc -f compose.yaml up -d --build >/dev/null 2>&1
docker compose -p dlbenchc -f compose.yaml watch --no-up >"$work/watch.log" 2>&1 &
watch_pid=$!
sleep 3
echo "compose-watch edit->visible:     $(measure dlbenchc-app-1 || echo "failed: $(tail -3 "$work/watch.log")")"
kill "$watch_pid" 2>/dev/null || true
wait "$watch_pid" 2>/dev/null || true
