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
#   devstack-node     only with DEVSTACK_BENCH_NODE=1 and the real node of `e2e/cluster.sh up`
#                     (KUBECONFIG; hold /work/realnode.lock on a shared host): the operator
#                     started here for a throwaway namespace, then
#                     `devstack dev --runtime kubernetes --load node` (the exec/tar sync into
#                     the pod's emptyDir), read with `kubectl exec cat` (~100-200 ms round trip)
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

# measure CONTAINER [READER...]: prints p50 p90 max in ms over $edits edits; READER (default
# `docker exec CONTAINER`) runs `cat /tmp/out` in the container
measure() {
	local container=$1 i t0 t1 want ms=()
	shift
	local reader=("$@")
	((${#reader[@]})) || reader=(docker exec "$container")
	for ((i = 1; i <= edits; i++)); do
		want="edit-$RANDOM-$i"
		t0=$(date +%s%N)
		echo "$want" >"$work/app/src/msg.txt"
		until [[ "$("${reader[@]}" cat /tmp/out 2>/dev/null)" == "$want" ]]; do
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

[[ "${DEVSTACK_BENCH_NODE:-}" == 1 ]] || { echo "devstack-node: not measured (DEVSTACK_BENCH_NODE=1 with the real node)"; exit 0; }
: "${KUBECONFIG:=$(bash "$root/e2e/cluster.sh" kubeconfig)}"
export KUBECONFIG
kubectl=$(bash "$root/e2e/cluster.sh" kubectl)
(cd "$root" && cargo build -q -p devstack-operator)
ns="dlbench-$RANDOM"
"$devstack" crd | "$kubectl" apply --server-side --force-conflicts -f - >/dev/null
"$kubectl" create namespace "$ns" >/dev/null
"${CARGO_TARGET_DIR:-$root/target}/debug/devstack-operator" --namespace "$ns" --metrics-addr 127.0.0.1:0 >"$work/operator.log" 2>&1 &
operator_pid=$!
t0=$(date +%s%N)
"$devstack" dev stack.yaml --runtime kubernetes --load node --namespace "$ns" >/dev/null 2>"$work/dev.log" &
dev_pid=$!
node_down() {
	kill "$dev_pid" "$operator_pid" 2>/dev/null || true
	wait "$dev_pid" "$operator_pid" 2>/dev/null || true
	"$kubectl" delete namespace "$ns" --wait=false >/dev/null 2>&1 || true
}
until grep -q "devstack dev: watching" "$work/dev.log"; do
	kill -0 "$dev_pid" 2>/dev/null && (( ($(date +%s%N) - t0) < 300000000000 )) || { echo "devstack dev did not start: $(tail -5 "$work/dev.log")" >&2; node_down; exit 1; }
	sleep 0.2
done
echo "devstack dev (kubernetes) apply+pod+initial upload: $(( ($(date +%s%N) - t0) / 1000000 )) ms"
pod=$("$kubectl" get pods -n "$ns" -o name | head -1)
echo "devstack-node edit->visible:     $(measure "$pod" "$kubectl" exec -n "$ns" "$pod" -- || echo "failed: $(tail -3 "$work/dev.log")")"
grep "app: synced" "$work/dev.log" | tail -1 | sed 's/^/devstack dev says: /'
node_down
