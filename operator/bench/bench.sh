#!/usr/bin/env bash
# Operator benchmarks P1-P3 (issue 7) on the local control plane (kwok: pods are Ready at
# once, so these measure the operator, not the images). Prints the figures; asserts nothing.
#
#   operator/bench/bench.sh [STACKS]      (default 1000)
#
# P1  reconcile-to-Ready of a 10-service stack (4 dependency levels) / the floor: the same
#     rendered objects applied with `kubectl apply --server-side`, one dependency level at a
#     time, waiting for the same readiness before the next level.
# P2  STACKS stacks x 5 services (one namespace each): seconds until all are Ready / the same
#     floor for all of them (levels applied across every namespace at once), and the
#     operator's peak RSS (VmHWM).
# P3  a forced resync of those stacks (operator restart): write requests counted from the API
#     server's apiserver_request_total (verbs POST/PUT/PATCH/APPLY/DELETE on the kinds the
#     operator writes).
#
# A debug build unless DEVSTACK_BENCH_RELEASE=1.
# The harness has ONE kwok node (110 pods): STACKS above ~8 needs more fake nodes (not done:
# e2e/cluster.sh has no option for that yet), otherwise pods stay Pending.
# Uses its own cluster state (DEVSTACK_E2E_STATE, default /tmp/devstack-bench) and port offset
# (DEVSTACK_E2E_PORT_OFFSET, default 9); the cluster is left up (`e2e/cluster.sh down` with the
# same variables stops it).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$root"
stacks=${1:-1000}
export DEVSTACK_E2E_STATE=${DEVSTACK_E2E_STATE:-/tmp/devstack-bench}
export DEVSTACK_E2E_PORT_OFFSET=${DEVSTACK_E2E_PORT_OFFSET:-9}
work=$DEVSTACK_E2E_STATE/bench
mkdir -p "$work"
log() { echo "[bench] $*" >&2; }
now() { date +%s.%N; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }'; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }

e2e/cluster.sh up >&2
export KUBECONFIG
KUBECONFIG=$(e2e/cluster.sh kubeconfig)
kubectl=$(e2e/cluster.sh kubectl)
cargo build -q ${DEVSTACK_BENCH_RELEASE:+--release} -p devstack-cli -p devstack-operator
profile=${DEVSTACK_BENCH_RELEASE:+release}
devstack=$root/target/${profile:-debug}/devstack
operator_bin=$root/target/${profile:-debug}/devstack-operator
"$devstack" crd | "$kubectl" apply --server-side -f - >/dev/null
"$kubectl" wait --for=condition=Established crd/devstacks.devstack.dev --timeout=60s >/dev/null

operator_pid=
start_operator() {
  "$operator_bin" --metrics-addr 127.0.0.1:0 --log-format json --concurrency 32 "$@" >>"$work/operator.log" 2>&1 &
  operator_pid=$!
}
stop_operator() {
  [[ -n $operator_pid ]] || return 0
  kill -TERM "$operator_pid" 2>/dev/null || true
  wait "$operator_pid" 2>/dev/null || true
  operator_pid=
}
trap stop_operator EXIT

# stack NAME LEVELS...: a stack whose level i services depend on every level i-1 service.
stack_yaml() {
  local name=$1 ns=$2; shift 2
  echo "apiVersion: devstack.dev/v1alpha1"
  echo "kind: DevStack"
  echo "metadata: {name: $name, namespace: $ns}"
  echo "spec:"
  echo "  services:"
  local level=0 prev="" svc
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

# floor NAMESPACES_FILE STACK_FILE LEVELS...: kubectl apply --server-side level by level.
floor() {
  local namespaces=$1 file=$2; shift 2
  local rendered=$work/floor-rendered.yaml
  "$devstack" render k8s "$file" --include-secrets >"$rendered"
  local t0 level=0 sel ns
  t0=$(now)
  while read -r ns; do
    "$kubectl" apply --server-side -n "$ns" -f "$rendered" -l '!devstack.dev/service' >/dev/null &
  done <"$namespaces"
  wait
  for count in "$@"; do
    sel="devstack.dev/service in ($(for ((i = 0; i < count; i++)); do printf 'l%ds%d,' "$level" "$i"; done | sed 's/,$//'))"
    while read -r ns; do
      "$kubectl" apply --server-side -n "$ns" -f "$rendered" -l "$sel" >/dev/null &
    done <"$namespaces"
    wait
    while read -r ns; do
      "$kubectl" wait -n "$ns" --for=condition=Available deployment -l "$sel" --timeout=600s >/dev/null &
    done <"$namespaces"
    wait
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

# ---- P1 ----
p1_levels=(3 3 2 2)
"$kubectl" create namespace bench-p1-op --dry-run=client -o yaml | "$kubectl" apply -f - >/dev/null
"$kubectl" create namespace bench-p1-floor --dry-run=client -o yaml | "$kubectl" apply -f - >/dev/null
stack_yaml p1 bench-p1-op "${p1_levels[@]}" >"$work/p1-op.yaml"
stack_yaml p1 bench-p1-floor "${p1_levels[@]}" >"$work/p1-floor.yaml"
start_operator --namespace bench-p1-op
sleep 2
t0=$(now)
"$kubectl" apply -f "$work/p1-op.yaml" >/dev/null
"$kubectl" wait -n bench-p1-op --for=condition=Ready devstack/p1 --timeout=600s >/dev/null
p1_op=$(secs "$t0" "$(now)")
stop_operator
echo bench-p1-floor >"$work/p1-namespaces"
p1_floor=$(floor "$work/p1-namespaces" "$work/p1-floor.yaml" "${p1_levels[@]}")
echo "P1 10-service stack: operator ${p1_op}s, floor ${p1_floor}s, ratio $(ratio "$p1_op" "$p1_floor") (target <= 1.1)"

# ---- P2 ----
p2_levels=(2 2 1)
: >"$work/p2-op-namespaces"
: >"$work/p2-floor-namespaces"
: >"$work/p2-op.yaml"
for ((n = 0; n < stacks; n++)); do
  echo "bench-p2-op-$n" >>"$work/p2-op-namespaces"
  echo "bench-p2-floor-$n" >>"$work/p2-floor-namespaces"
  { echo "---"; stack_yaml s bench-p2-op-$n "${p2_levels[@]}"; } >>"$work/p2-op.yaml"
done
stack_yaml s placeholder "${p2_levels[@]}" | sed '/namespace:/s/, namespace: placeholder//' >"$work/p2-floor.yaml"
for f in "$work/p2-op-namespaces" "$work/p2-floor-namespaces"; do
  sed 's/^/apiVersion: v1\nkind: Namespace\nmetadata:\n  name: /; s/$/\n---/' "$f" | "$kubectl" apply -f - >/dev/null
done
start_operator
sleep 2
t0=$(now)
"$kubectl" apply -f "$work/p2-op.yaml" >/dev/null
"$kubectl" wait --for=condition=Ready devstacks --all -A --timeout=1800s >/dev/null
p2_op=$(secs "$t0" "$(now)")
p2_rss=$(awk '/VmHWM/ { printf "%.1f", $2 / 1024 }' "/proc/$operator_pid/status")
p2_floor=$(floor "$work/p2-floor-namespaces" "$work/p2-floor.yaml" "${p2_levels[@]}")
echo "P2 $stacks stacks x 5 services: operator ${p2_op}s, floor ${p2_floor}s, ratio $(ratio "$p2_op" "$p2_floor") (target <= 1.2), operator peak RSS ${p2_rss} MiB (target < 100)"

# ---- P3 ----
stop_operator
sleep 3
before=$(writes)
start_operator
# Every stack is reconciled once after a start; wait until the reconcile counter covers them.
sleep 5
for _ in $(seq 120); do
  port=$(grep -o '"addr":"127.0.0.1:[0-9]*"' "$work/operator.log" | tail -1 | grep -o '[0-9]*"$' | tr -d '"')
  done_count=$(curl -s "127.0.0.1:$port/metrics" | awk '/^devstack_reconciles_total/ { print int($2) }')
  [[ ${done_count:-0} -ge $((stacks + 1)) ]] && break
  sleep 1
done
sleep 3
after=$(writes)
echo "P3 forced resync of $stacks stacks: $((after - before)) write requests (target 0)"
