#!/usr/bin/env bash
# OLD METHOD (P1-P3), superseded by bench/k1.sh, k2.sh, k3.sh: kept only to reproduce the figures
# docs/performance.md labels "old method" (single runs, sleep-polled readiness, see issue 21).
# Operator benchmarks P1-P3 (issue 7) on the local control plane with fake nodes only (kwok:
# pods are Ready at once, so these measure the operator, not the images). Prints the figures;
# asserts nothing.
#
#   bench/old/bench-p1-p3.sh [STACKS]    (default 1000)
#
# P1  reconcile-to-Ready of a 10-service stack (4 dependency levels) / the floor: the same
#     rendered objects applied with `kubectl apply --server-side`, one dependency level at a
#     time, waiting for the same readiness (every Deployment of the level 1/1 ready) before the
#     next level.
# P2  STACKS stacks x 5 services (3 levels, one namespace each): seconds from applying the
#     DevStacks (by $DEVSTACK_BENCH_FLOOR_SHARDS kubectl processes) until all are Ready / the
#     same floor for all of them (each level applied across every namespace by
#     $DEVSTACK_BENCH_FLOOR_SHARDS parallel `kubectl apply` processes, default 8), and the
#     operator's peak RSS (VmHWM) and CPU time. The operator is stopped before the floor runs,
#     so the two never share the machine's cores.
# P3  a forced resync of those stacks (operator restart): write requests counted from the API
#     server's apiserver_request_total (verbs POST/PUT/PATCH/APPLY/DELETE on the kinds the
#     operator writes, all clients), from before the restart until every stack was reconciled.
#
# Readiness is polled once a second for both sides with the same `kubectl get` (server-side
# table printing, so a poll costs the same for 10 or 10,000 objects on the client).
#
# The cluster: its own state dir and ports (DEVSTACK_E2E_STATE, default /tmp/devstack-bench;
# DEVSTACK_E2E_PORT_OFFSET, default 9), fake nodes only (DEVSTACK_NODE=kwok), and these scale
# knobs of e2e/cluster.sh (see e2e/kwok.sh), each overridable from the environment:
#   DEVSTACK_KWOK_NODES       1 + 10 x STACKS / 1000 (the operator's and the floor's pods both
#                             stay: 10 x STACKS pods, plus P1's 20)
#   DEVSTACK_KWOK_NODE_PODS   1000
#   DEVSTACK_KUBE_API_QPS / _BURST  5000 / 10000 for kube-controller-manager and kube-scheduler
#                             (what kwokctl sets for "disable QPS limits"): with the defaults
#                             (20/30 and 50/100) every Deployment -> ReplicaSet -> Pod ->
#                             status write queues behind the controller-manager's client rate
#                             limiter, and both sides would measure that limiter.
#   DEVSTACK_KCM_CONCURRENT_SYNCS 10 (deployment/replicaset/endpoint workers; default 5)
#   DEVSTACK_KWOK_PARALLELISM 16 (kwok's stage workers; default 4)
# The API server keeps its defaults (priority and fairness, 400/200 in flight): admin clients
# (the operator, kubectl) are exempt from it, the controllers are not throttled at this load.
# The cluster is started afresh (down, up) and left up; stop it with `e2e/cluster.sh down` and
# the same DEVSTACK_E2E_* variables.
#
# A release build unless DEVSTACK_BENCH_DEBUG=1 (a benchmark of a debug build measures serde's
# debug code). Wall time of each phase goes to stderr.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$root"
stacks=${1:-1000}
export DEVSTACK_E2E_STATE=${DEVSTACK_E2E_STATE:-/tmp/devstack-bench}
export DEVSTACK_E2E_PORT_OFFSET=${DEVSTACK_E2E_PORT_OFFSET:-9}
if [[ ${DEVSTACK_NODE:-kwok} != kwok ]]; then
  echo "bench.sh runs on fake nodes only: unset DEVSTACK_NODE or set it to kwok" >&2
  exit 2
fi
export DEVSTACK_NODE=kwok
export DEVSTACK_KWOK_NODES=${DEVSTACK_KWOK_NODES:-$((1 + 10 * stacks / 1000))}
export DEVSTACK_KWOK_NODE_PODS=${DEVSTACK_KWOK_NODE_PODS:-1000}
export DEVSTACK_KUBE_API_QPS=${DEVSTACK_KUBE_API_QPS:-5000}
export DEVSTACK_KUBE_API_BURST=${DEVSTACK_KUBE_API_BURST:-10000}
export DEVSTACK_KCM_CONCURRENT_SYNCS=${DEVSTACK_KCM_CONCURRENT_SYNCS:-10}
export DEVSTACK_KWOK_PARALLELISM=${DEVSTACK_KWOK_PARALLELISM:-16}
shards=${DEVSTACK_BENCH_FLOOR_SHARDS:-8}
concurrency=${DEVSTACK_BENCH_CONCURRENCY:-32}
debounce_ms=${DEVSTACK_BENCH_DEBOUNCE_MS:-200}
work=$DEVSTACK_E2E_STATE/bench
rm -rf "$work"
mkdir -p "$work"
log() { echo "[bench] $(date -u +%H:%M:%S) $*" >&2; }
now() { date +%s.%N; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }'; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }
t_start=$(now)

# A fresh cluster every run: a reused one would still hold the previous run's stacks.
e2e/cluster.sh down >&2
e2e/cluster.sh up >&2
export KUBECONFIG
KUBECONFIG=$(e2e/cluster.sh kubeconfig)
kubectl=$(e2e/cluster.sh kubectl)
if [[ -n ${DEVSTACK_BENCH_DEBUG:-} ]]; then profile=debug; else profile=release; fi
build_flags=()
[[ $profile == debug ]] || build_flags=(--release)
cargo build -q "${build_flags[@]}" -p devstack-cli -p devstack-operator
devstack=${CARGO_TARGET_DIR:-$root/target}/$profile/devstack
operator_bin=${CARGO_TARGET_DIR:-$root/target}/$profile/devstack-operator
"$devstack" crd | "$kubectl" apply --server-side -f - >/dev/null
"$kubectl" wait --for=condition=Established crd/devstacks.devstack.dev --timeout=60s >/dev/null
log "cluster: $(cat "$DEVSTACK_E2E_STATE/cluster/settings"), $profile build, operator --concurrency $concurrency --debounce-ms $debounce_ms, floor $shards shards"

operator_pid=
start_operator() {
  "$operator_bin" --metrics-addr 127.0.0.1:0 --log-format json --concurrency "$concurrency" \
    --debounce-ms "$debounce_ms" "$@" >>"$work/operator.log" 2>&1 &
  operator_pid=$!
}
stop_operator() {
  [[ -n $operator_pid ]] || return 0
  kill -TERM "$operator_pid" 2>/dev/null || true
  wait "$operator_pid" 2>/dev/null || true
  operator_pid=
}
trap stop_operator EXIT

# stack_yaml NAME NAMESPACE LEVELS...: a stack whose level i services depend on every level
# i-1 service.
stack_yaml() {
  local name=$1 ns=$2
  shift 2
  echo "apiVersion: devstack.dev/v1alpha1"
  echo "kind: DevStack"
  echo "metadata: {name: $name, namespace: $ns}"
  echo "spec:"
  echo "  services:"
  local level=0 prev="" svc count
  for count in "$@"; do
    local current=""
    for ((i = 0; i < count; i++)); do
      svc="l${level}s$i"
      if [[ -n $prev ]]; then
        echo "    $svc: {image: 'registry.local/app:1', ports: [{name: http, containerPort: 8080}], dependsOn: [${prev%,}]}"
      else
        echo "    $svc: {image: 'registry.local/app:1', ports: [{name: http, containerPort: 8080}]}"
      fi
      current+="$svc,"
    done
    prev=$current
    level=$((level + 1))
  done
}

# namespaces FILE: create them and wait for their default ServiceAccounts (a pod in a
# namespace without one is rejected, and the ReplicaSet would back off).
namespaces() {
  local want
  sed 's/^/apiVersion: v1\nkind: Namespace\nmetadata:\n  name: /; s/$/\n---/' "$1" | "$kubectl" apply --server-side -f - >/dev/null
  want=$(wc -l <"$1")
  until (($(grep -cxFf "$1" <("$kubectl" get serviceaccounts -A --no-headers --field-selector metadata.name=default | awk '{ print $1 }')) >= want)); do
    sleep 1
  done
}

# until_ready COUNT NAMESPACE-REGEX KUBECTL-GET-ARGS...: poll once a second until COUNT objects
# in matching namespaces show ready in the table (`1/1` Deployments, `True` DevStacks in the
# third column of `-A` output).
until_ready() {
  local want=$1 ns=$2 have deadline=$(($(date +%s) + 3600))
  shift 2
  while :; do
    have=$("$kubectl" get "$@" -A --no-headers 2>/dev/null |
      awk -v ns="$ns" '$1 ~ ns && ($3 == "1/1" || $3 == "True")' | wc -l)
    ((have >= want)) && return 0
    (($(date +%s) < deadline)) || {
      log "timed out: $have of $want ready ($*)"
      return 1
    }
    sleep 1
  done
}

# apply_parallel KUBECTL-ARGS... -- FILE...: one `kubectl apply --server-side` per file, all at
# once; waits for exactly those (a bare `wait` would also wait for the operator).
apply_parallel() {
  local args=() pids=() pid rc=0 k
  while [[ $1 != -- ]]; do
    args+=("$1")
    shift
  done
  shift
  for k in "$@"; do
    "$kubectl" apply --server-side "${args[@]}" -f "$k" >/dev/null &
    pids+=($!)
  done
  for pid in "${pids[@]}"; do wait "$pid" || rc=1; done
  return "$rc"
}

# floor NAMESPACES_FILE NAMESPACE-REGEX STACK_FILE LEVELS...: kubectl apply --server-side level
# by level, each level across every namespace by up to $shards processes, then wait for its
# Deployments.
floor() {
  local namespaces=$1 ns_regex=$2 file=$3
  shift 3
  local rendered=$work/floor-rendered.yaml nns k
  nns=$(wc -l <"$namespaces")
  "$devstack" render k8s "$file" --include-secrets >"$rendered"
  rm -f "$work"/floor-shard-*.yaml
  # One copy of the rendered objects per namespace (namespace set in each object), namespaces
  # dealt round-robin to the shards.
  awk -v shards="$shards" -v dir="$work" '
    NR == FNR { doc[++n] = $0; next }
    { out = sprintf("%s/floor-shard-%d.yaml", dir, (FNR - 1) % shards)
      for (i = 1; i <= n; i++) {
        print doc[i] > out
        if (doc[i] == "metadata:") print "  namespace: " $0 > out
      }
      print "---" > out }' "$rendered" "$namespaces"
  local t0 level=0 sel count
  t0=$(now)
  apply_parallel -l '!devstack.dev/service' -- "$work"/floor-shard-*.yaml
  for count in "$@"; do
    sel="devstack.dev/service in ($(for ((i = 0; i < count; i++)); do printf 'l%ds%d,' "$level" "$i"; done | sed 's/,$//'))"
    apply_parallel -l "$sel" -- "$work"/floor-shard-*.yaml
    until_ready $((nns * count)) "$ns_regex" deployments -l "$sel"
    level=$((level + 1))
  done
  secs "$t0" "$(now)"
}

writes() {
  "$kubectl" get --raw /metrics | awk '
    /^apiserver_request_total/ && /verb="(POST|PUT|PATCH|APPLY|DELETE|DELETECOLLECTION)"/ &&
    /resource="(secrets|services|deployments|statefulsets|networkpolicies|devstacks|events|persistentvolumeclaims)"/ { s += $NF }
    END { printf "%d", s }'
}

# requests [SNAPSHOT]: every request the API server answered so far (all clients); with
# SNAPSHOT, also keep the counts per verb/resource/subresource there.
requests() {
  "$kubectl" get --raw /metrics | awk -v out="${1:-/dev/null}" '/^apiserver_request_total/ {
      s += $NF
      match($0, /resource="[^"]*"/); r = substr($0, RSTART + 10, RLENGTH - 11)
      match($0, /subresource="[^"]*"/); sub_ = RSTART ? "/" substr($0, RSTART + 13, RLENGTH - 14) : ""
      match($0, /verb="[^"]*"/); v = substr($0, RSTART + 6, RLENGTH - 7)
      c[v " " r sub_] += $NF }
    END { for (k in c) print k, c[k] > out; printf "%d", s }'
}

# request_breakdown BEFORE AFTER: the verb/resource pairs that grew most between two snapshots.
request_breakdown() {
  awk 'NR == FNR { b[$1 " " $2] = $3; next } { d = $3 - b[$1 " " $2]; if (d > 0) print d, $1, $2 }' "$1" "$2" |
    sort -rn | head -12 | awk '{ printf "%s %s %s; ", $2, $3, $1 }'
}

# cpu_seconds PID: user + system CPU time of a process.
cpu_seconds() {
  awk -v hz="$(getconf CLK_TCK)" '{ printf "%.1f", ($14 + $15) / hz }' "/proc/$1/stat"
}

# ---- P1 ----
p1_levels=(3 3 2 2)
echo bench-p1-op >"$work/p1-op-namespaces"
echo bench-p1-floor >"$work/p1-namespaces"
namespaces "$work/p1-op-namespaces"
namespaces "$work/p1-namespaces"
stack_yaml p1 bench-p1-op "${p1_levels[@]}" >"$work/p1-op.yaml"
stack_yaml p1 placeholder "${p1_levels[@]}" | sed '/namespace:/s/, namespace: placeholder//' >"$work/p1-floor.yaml"
start_operator --namespace bench-p1-op
sleep 2
t0=$(now)
"$kubectl" apply --server-side -f "$work/p1-op.yaml" >/dev/null
until_ready 1 '^bench-p1-op$' devstacks
p1_op=$(secs "$t0" "$(now)")
stop_operator
p1_floor=$(floor "$work/p1-namespaces" '^bench-p1-floor$' "$work/p1-floor.yaml" "${p1_levels[@]}")
echo "P1 10-service stack: operator ${p1_op}s, floor ${p1_floor}s, ratio $(ratio "$p1_op" "$p1_floor") (target <= 1.1)"

# ---- P2 ----
p2_levels=(2 2 1)
# The DevStacks go in like the floor's objects: dealt round-robin to $shards files, applied by
# as many kubectl processes at once.
rm -f "$work"/p2-op-*.yaml
for ((n = 0; n < stacks; n++)); do
  echo "bench-p2-op-$n"
  { echo "---"; stack_yaml s "bench-p2-op-$n" "${p2_levels[@]}"; } >>"$work/p2-op-$((n % shards)).yaml"
done >"$work/p2-op-namespaces"
for ((n = 0; n < stacks; n++)); do echo "bench-p2-floor-$n"; done >"$work/p2-floor-namespaces"
stack_yaml s placeholder "${p2_levels[@]}" | sed '/namespace:/s/, namespace: placeholder//' >"$work/p2-floor.yaml"
t=$(now)
namespaces "$work/p2-op-namespaces"
namespaces "$work/p2-floor-namespaces"
log "P2: $((2 * stacks)) namespaces ready in $(secs "$t" "$(now)")s"
start_operator
sleep 2
requests_before=$(requests "$work/requests-op-0")
t0=$(now)
apply_parallel -- "$work"/p2-op-[0-9]*.yaml
log "P2: $stacks DevStacks applied after $(secs "$t0" "$(now)")s"
until_ready "$stacks" '^bench-p2-op-' devstacks
p2_op=$(secs "$t0" "$(now)")
p2_op_requests=$(($(requests "$work/requests-op-1") - requests_before))
p2_rss=$(awk '/VmHWM/ { printf "%.1f", $2 / 1024 }' "/proc/$operator_pid/status")
p2_cpu=$(cpu_seconds "$operator_pid")
log "P2: operator done in ${p2_op}s (RSS ${p2_rss} MiB, CPU ${p2_cpu}s, $p2_op_requests API requests)"
log "P2: operator run requests: $(request_breakdown "$work/requests-op-0" "$work/requests-op-1")"
stop_operator
requests_before=$(requests "$work/requests-floor-0")
p2_floor=$(floor "$work/p2-floor-namespaces" '^bench-p2-floor-' "$work/p2-floor.yaml" "${p2_levels[@]}")
p2_floor_requests=$(($(requests "$work/requests-floor-1") - requests_before))
log "P2: floor run requests: $(request_breakdown "$work/requests-floor-0" "$work/requests-floor-1")"
echo "P2 $stacks stacks x 5 services: operator ${p2_op}s, floor ${p2_floor}s, ratio $(ratio "$p2_op" "$p2_floor") (target <= 1.2), operator peak RSS ${p2_rss} MiB (target < 100), operator CPU ${p2_cpu}s; API requests (all clients) operator run $p2_op_requests, floor run $p2_floor_requests"

# ---- P3 ----
sleep 3
before=$(writes)
t0=$(now)
start_operator
# Every stack is reconciled once after a start; wait until the reconcile counter covers them.
port=
for _ in $(seq 3600); do
  sleep 1
  port=${port:-$(grep -o '"addr":"127.0.0.1:[0-9]*"' "$work/operator.log" | tail -1 | grep -o '[0-9]*"$' | tr -d '"')}
  [[ -n $port ]] || continue
  done_count=$(curl -s "127.0.0.1:$port/metrics" | awk '/^devstack_reconciles_total/ { s += $2 } END { print int(s) }')
  ((${done_count:-0} >= stacks + 1)) && break
done
p3_secs=$(secs "$t0" "$(now)")
sleep 3
after=$(writes)
echo "P3 forced resync of $((stacks + 1)) stacks: $((after - before)) write requests (target 0), ${done_count:-0} reconciles in ${p3_secs}s"
log "total wall time $(secs "$t_start" "$(now)")s"
