#!/usr/bin/env bash
# K5: time to the first successful connection of a dependent, on the harness's real kubelet
# node (operator) and on Docker (`devstack up`). The stack: postgres `db`, redis `cache`, and
# two dependents that loop every 50 ms — `pg_isready` against db, `redis-cli ping` against
# cache — and log their first success with the container's clock (the host's: both runtimes run
# here). Figure: from just before `kubectl apply` / `devstack up` to that logged instant.
#
#   bench/k5.sh [RUNS]          (default 5)
#
# Each run starts cold (a new namespace and claim / `devstack reset`: initdb included). The
# real node is one per host: the Kubernetes side holds `flock $DEVSTACK_REALNODE_LOCK`
# (default /work/realnode.lock) for its whole up -> runs -> down.
set -euo pipefail
# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

runs=${1:-5}
out=$results/k5.jsonl
e2e=$root/e2e/docker.sh
lock=${DEVSTACK_REALNODE_LOCK:-/work/realnode.lock}
"$e2e" up >&2
export DOCKER_HOST=${DOCKER_HOST:-$("$e2e" endpoint)}
images=${DEVSTACK_LOCAL_IMAGES:-$("$e2e" images)}
image_of() { tr ',' '\n' <<<"$images" | sed -n "s/^$1=//p" | head -n1; }
pg_image=$(image_of postgres)
redis_image=$(image_of redis)
overrides=(--image-override "postgres=$pg_image" --image-override "redis=$redis_image")
rust_bins
floor=$(floor_bin)
dir=$work/k5
mkdir -p "$dir"

# stack NAMESPACE (empty: Docker)
stack() {
  cat <<YAML
apiVersion: devstack.dev/v1alpha1
kind: DevStack
metadata: {name: benchk5${1:+, namespace: $1}}
spec:
  services:
    db: {type: postgres, env: {POSTGRES_DB: bench}}
    cache: {type: redis}
    pgclient:
      image: $pg_image
      command: [sh, -c, 'until pg_isready -q -h "\$DB_HOST" -p "\$DB_PORT"; do sleep 0.05; done; echo "first-ok \$(date +%s%N)"; exec sleep infinity']
      dependsOn: [db]
    redisclient:
      image: $redis_image
      command: [sh, -c, 'until [ "\$(redis-cli -u "\$CACHE_URL" --no-auth-warning ping 2>/dev/null)" = PONG ]; do sleep 0.05; done; echo "first-ok \$(date +%s%N)"; exec sleep infinity']
      dependsOn: [cache]
YAML
}

# result SIDE RUN T0 PG_LINE REDIS_LINE
result() {
  local pg=${4##* } redis=${5##* }
  printf '{"bench":"K5","side":"%s","run":%d,"wall_s":%s,"extra":{"postgres_first_ok_s":%s,"redis_first_ok_s":%s}}\n' "$1" "$2" \
    "$(awk -v t="$3" -v a="$pg" -v b="$redis" 'BEGIN { m = (a > b ? a : b); printf "%.3f", (m - t) / 1e9 }')" \
    "$(awk -v t="$3" -v a="$pg" 'BEGIN { printf "%.3f", (a - t) / 1e9 }')" \
    "$(awk -v t="$3" -v a="$redis" 'BEGIN { printf "%.3f", (a - t) / 1e9 }')" >>"$out"
  log "K5 $1 run $2: $(tail -n1 "$out" | grep -o '"wall_s":[0-9.]*')"
}

# first_ok COMMAND...: wait for a "first-ok NS" line in COMMAND's output (the logs).
first_ok() {
  local deadline=$(($(date +%s) + 300)) line
  while (($(date +%s) < deadline)); do
    line=$("$@" 2>/dev/null | grep -m1 '^first-ok ' || true)
    [[ -n $line ]] && { echo "$line"; return 0; }
    sleep 0.2
  done
  die "no first-ok line from: $*"
}

k8s_side() {
  export DEVSTACK_NODE=real
  "$root/e2e/cluster.sh" up >&2 || die "cluster up (real node) failed"
  KUBECONFIG=$("$root/e2e/cluster.sh" kubeconfig)
  export KUBECONFIG
  admin_kc=$KUBECONFIG
  kubectl=$("$root/e2e/cluster.sh" kubectl)
  "$devstack" crd | "$kubectl" apply --server-side -f - >/dev/null
  "$kubectl" wait --for=condition=Established crd/devstacks.devstack.dev --timeout=60s >/dev/null
  start_proxy
  start_operator operator-defaults "${overrides[@]}"
  local i ns t0 pg redis
  for ((i = 1; i <= runs; i++)); do
    ns=bench-k5-$i-$$
    echo "$ns" >"$dir/ns"
    namespaces "$dir/ns"
    stack "$ns" >"$dir/k8s.yaml"
    t0=$(now_ns)
    "$kubectl" apply --server-side -f "$dir/k8s.yaml" >/dev/null
    pg=$(first_ok "$kubectl" -n "$ns" logs deploy/pgclient)
    redis=$(first_ok "$kubectl" -n "$ns" logs deploy/redisclient)
    result "real node (operator)" "$i" "$t0" "$pg" "$redis"
    "$kubectl" delete devstack -n "$ns" benchk5 --wait=true --timeout=120s >/dev/null || true
    "$kubectl" delete namespace "$ns" --wait=false >/dev/null || true
  done
  stop_operator
  stop_proxy
  "$root/e2e/cluster.sh" down >&2
}

k5_docker_cleanup() {
  cd "$dir" || return 0
  "$devstack" reset stack.yaml --yes "${overrides[@]}" >/dev/null 2>&1 || true
}

docker_side() {
  local i t0 pg redis project=benchk5
  cd "$dir"
  stack "" >stack.yaml
  extra_cleanup=k5_docker_cleanup
  for ((i = 1; i <= runs; i++)); do
    "$devstack" reset stack.yaml --yes "${overrides[@]}" >/dev/null 2>&1
    t0=$(now_ns)
    "$devstack" up stack.yaml "${overrides[@]}" >"$dir/up.log" 2>&1 || { tail "$dir/up.log" >&2; die "devstack up failed"; }
    pg=$(first_ok docker logs "$project-pgclient-1")
    redis=$(first_ok docker logs "$project-redisclient-1")
    result "docker (devstack up)" "$i" "$t0" "$pg" "$redis"
  done
  "$devstack" reset stack.yaml --yes "${overrides[@]}" >/dev/null 2>&1
  extra_cleanup=
}

case ${1:-} in
__k8s)
  runs=$2
  k8s_side
  exit 0
  ;;
esac

: >"$out"
docker_side
log "K5: waiting for $lock (the host's real node)"
flock "$lock" "$bench_dir/k5.sh" __k8s "$runs"
echo "K5: time to a dependent's first successful connection (pg_isready / redis-cli ping every 50 ms); $runs cold runs per side; $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"
table --ratio-to "docker (devstack up)" "$out"
