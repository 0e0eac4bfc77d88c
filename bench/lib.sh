# shellcheck shell=bash
# shellcheck disable=SC2034 # variables the sourcing scripts use (proxy_url, operator_started_ns, …)
# Shared by the bench/k*.sh scripts: environment, builds, the cluster, the counting proxy, the
# operator process, stack generators. Everything started here is stopped by pid on exit.

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bench_dir=$root/bench
export DEVSTACK_E2E_STATE=${DEVSTACK_E2E_STATE:-/tmp/devstack-bench}
export DEVSTACK_E2E_PORT_OFFSET=${DEVSTACK_E2E_PORT_OFFSET:-9}
work=${DEVSTACK_BENCH_WORK:-$DEVSTACK_E2E_STATE/bench}
mkdir -p "$work"
results=${DEVSTACK_BENCH_RESULTS:-$work/results}
mkdir -p "$results"

log() { echo "[bench] $(date -u +%H:%M:%S) $*" >&2; }
die() {
  log "error: $*"
  exit 1
}
now_ns() { date +%s%N; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# The Go side (bench/floor): built from the Go module proxy on first use, cached by content.
floor_bin() {
  local hash out
  command -v go >/dev/null || die "go is needed to build bench/floor (https://go.dev/dl)"
  hash=$(cat "$bench_dir"/floor/*.go "$bench_dir"/floor/go.mod "$bench_dir"/floor/go.sum | sha256sum | cut -c1-12)
  out=${DEVSTACK_CACHE:-${HOME:-/root}/.cache/devstack}/bin/bench-floor-$hash
  if [[ ! -x $out ]]; then
    log "building bench/floor (client-go from the Go module proxy)"
    mkdir -p "$(dirname "$out")"
    (cd "$bench_dir/floor" && go build -trimpath -o "$out.tmp.$$" .) || die "building bench/floor failed"
    mv -f "$out.tmp.$$" "$out"
  fi
  echo "$out"
}

# devstack and devstack-operator as shipped: the CLI's release build and the operator image's
# `operator` profile (Cargo.toml), unless DEVSTACK_BENCH_DEBUG=1 (a benchmark of a debug build
# measures serde's debug code). DEVSTACK_BENCH_BIN_DIR: use binaries built elsewhere (e.g. an
# older commit's, for before/after figures), both in that directory.
rust_bins() {
  local cli_profile=release operator_profile=operator
  if [[ -n ${DEVSTACK_BENCH_DEBUG:-} ]]; then cli_profile=dev operator_profile=dev; fi
  if [[ -n ${DEVSTACK_BENCH_BIN_DIR:-} ]]; then
    devstack=$DEVSTACK_BENCH_BIN_DIR/devstack
    operator_bin=$DEVSTACK_BENCH_BIN_DIR/devstack-operator
  else
    (cd "$root" && cargo build -q --profile "$cli_profile" -p devstack-cli --bin devstack \
      && cargo build -q --profile "$operator_profile" -p devstack-operator --bin devstack-operator) \
      || die "cargo build failed"
    devstack=$(profile_dir "$cli_profile")/devstack
    operator_bin=$(profile_dir "$operator_profile")/devstack-operator
  fi
  [[ -x $devstack && -x $operator_bin ]] || die "no devstack / devstack-operator ($devstack, $operator_bin)"
}

# profile_dir PROFILE: where cargo puts a profile's binaries (the dev profile's are in debug/).
profile_dir() {
  local dir=$1
  [[ $dir == dev ]] && dir=debug
  echo "${CARGO_TARGET_DIR:-$root/target}/$dir"
}

# ---------------------------------------------------------------- cluster

# cluster_fresh PODS: a new control plane with fake nodes only (kwok: pods are Ready at once,
# so the figures are the controllers', not the images') sized for PODS pods, and the
# components' client rate limits lifted (what kwokctl sets for "disable QPS limits"): with the
# defaults every Deployment -> ReplicaSet -> Pod write queues behind kube-controller-manager's
# 20 QPS limiter and both sides would measure that limiter. Each knob can be overridden.
cluster_fresh() {
  local pods=$1
  export DEVSTACK_NODE=kwok
  export DEVSTACK_KWOK_NODE_PODS=${DEVSTACK_KWOK_NODE_PODS_OVERRIDE:-1000}
  export DEVSTACK_KWOK_NODES=${DEVSTACK_KWOK_NODES_OVERRIDE:-$((1 + pods / DEVSTACK_KWOK_NODE_PODS))}
  export DEVSTACK_KUBE_API_QPS=${DEVSTACK_KUBE_API_QPS:-5000}
  export DEVSTACK_KUBE_API_BURST=${DEVSTACK_KUBE_API_BURST:-10000}
  export DEVSTACK_KCM_CONCURRENT_SYNCS=${DEVSTACK_KCM_CONCURRENT_SYNCS:-10}
  export DEVSTACK_KWOK_PARALLELISM=${DEVSTACK_KWOK_PARALLELISM:-16}
  stop_proxy
  "$root/e2e/cluster.sh" down >&2
  "$root/e2e/cluster.sh" up >&2 || die "cluster up failed"
  KUBECONFIG=$("$root/e2e/cluster.sh" kubeconfig)
  export KUBECONFIG
  admin_kc=$KUBECONFIG
  kubectl=$("$root/e2e/cluster.sh" kubectl)
  "$devstack" crd | "$kubectl" apply --server-side -f - >/dev/null
  "$kubectl" wait --for=condition=Established crd/devstacks.devstack.dev --timeout=60s >/dev/null
  start_proxy
  log "cluster: $(cat "$DEVSTACK_E2E_STATE/cluster/settings")"
}

cluster_down() {
  stop_proxy
  [[ -n ${DEVSTACK_BENCH_KEEP_CLUSTER:-} ]] || "$root/e2e/cluster.sh" down >&2 || true
}

# namespaces FILE: create them and wait for their default ServiceAccounts (a pod in a namespace
# without one is rejected and its ReplicaSet backs off). Setup, not measured.
namespaces() {
  local want deadline=$(($(date +%s) + 600))
  sed 's/^/apiVersion: v1\nkind: Namespace\nmetadata:\n  name: /; s/$/\n---/' "$1" | "$kubectl" apply --server-side -f - >/dev/null
  want=$(wc -l <"$1")
  until (($(grep -cxFf "$1" <("$kubectl" get serviceaccounts -A --no-headers --field-selector metadata.name=default | awk '{ print $1 }')) >= want)); do
    (($(date +%s) < deadline)) || die "namespaces: default ServiceAccounts missing after 600s"
    sleep 0.5
  done
}

# ---------------------------------------------------------------- counting proxy

proxy_pid=
start_proxy() {
  local floor
  floor=$(floor_bin)
  rm -f "$work/proxy.kubeconfig"
  "$floor" proxy --kubeconfig "$admin_kc" --kubeconfig-out "$work/proxy.kubeconfig" 2>>"$work/proxy.log" &
  proxy_pid=$!
  for _ in $(seq 100); do [[ -s $work/proxy.kubeconfig ]] && break; sleep 0.1; done
  [[ -s $work/proxy.kubeconfig ]] || die "the counting proxy did not start ($work/proxy.log)"
  proxy_url=$(awk '/server:/ { gsub(/[{}"]/, ""); print $NF }' "$work/proxy.kubeconfig")
  proxy_kc=$work/proxy.kubeconfig
}
stop_proxy() {
  [[ -n $proxy_pid ]] || return 0
  kill "$proxy_pid" 2>/dev/null || true
  wait "$proxy_pid" 2>/dev/null || true
  proxy_pid=
}

# ---------------------------------------------------------------- operator

# operator_flags SIDE: the operator's flags for a side: operator-defaults = the shipped
# defaults; operator-tuned = $DEVSTACK_BENCH_TUNED.
operator_flags() {
  case $1 in
  operator-defaults) echo "" ;;
  operator-tuned) echo "${DEVSTACK_BENCH_TUNED:---concurrency 32 --debounce-ms 200}" ;;
  *) die "unknown side $1" ;;
  esac
}

operator_pid=
# start_operator SIDE [EXTRA ARGS...]: through the counting proxy; returns once /readyz answers.
start_operator() {
  local side=$1 flags
  shift
  flags=$(operator_flags "$side")
  operator_port=$(free_port)
  # shellcheck disable=SC2086 # flags are words
  KUBECONFIG=$proxy_kc "$operator_bin" --metrics-addr "127.0.0.1:$operator_port" --log-format json $flags "$@" \
    >>"$work/operator.log" 2>&1 &
  operator_pid=$!
  operator_started_ns=$(now_ns)
  for _ in $(seq 600); do
    curl -fs "http://127.0.0.1:$operator_port/readyz" >/dev/null 2>&1 && return 0
    kill -0 "$operator_pid" 2>/dev/null || die "the operator exited ($work/operator.log)"
    sleep 0.05
  done
  die "the operator is not ready after 30s ($work/operator.log)"
}
stop_operator() {
  [[ -n $operator_pid ]] || return 0
  kill -TERM "$operator_pid" 2>/dev/null || true
  wait "$operator_pid" 2>/dev/null || true
  operator_pid=
}

cleanup() {
  stop_operator
  stop_proxy
  [[ -z ${extra_cleanup:-} ]] || "$extra_cleanup"
}
trap cleanup EXIT

# ---------------------------------------------------------------- stacks

# stack_levels NAME NAMESPACE COUNT...: a stack of image services whose level-i services each
# depend on every level i-1 service (K1: 3 3 2 2).
stack_levels() {
  local name=$1 ns=$2
  shift 2
  echo "apiVersion: devstack.dev/v1alpha1"
  echo "kind: DevStack"
  echo "metadata: {name: $name${ns:+, namespace: $ns}}"
  echo "spec:"
  echo "  services:"
  local level=0 prev="" svc count i
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

# stack_app NAME NAMESPACE: the K2 stack — postgres (StatefulSet, PVC, credentials Secret) and
# redis at level 0, two image services at level 1, one at level 2 (an app secret once image
# services have `secrets:`, issue 18).
stack_app() {
  cat <<YAML
apiVersion: devstack.dev/v1alpha1
kind: DevStack
metadata: {name: $1${2:+, namespace: $2}}
spec:
  services:
    db: {type: postgres, storage: {size: 1Gi}}
    cache: {type: redis}
    api: {image: 'registry.local/api:1', ports: [{name: http, containerPort: 8080}], dependsOn: [db, cache], env: {LOG_LEVEL: info}}
    worker: {image: 'registry.local/worker:1', dependsOn: [db]}
    web: {image: 'registry.local/web:1', ports: [{name: http, containerPort: 3000}], dependsOn: [api]}
YAML
}

# table FILE...: the side-by-side table (runs, median, p90, min, max, figures, requests).
table() {
  "$(floor_bin)" table "$@"
}
