#!/usr/bin/env bash
# K1: one 10-service stack of 4 dependency levels (3, 3, 2, 2; each service depends on every
# service of the level before), reconcile-to-Ready, against the event-driven floor.
#
#   bench/k1.sh [RUNS]          (default 9)
#
# Sides ($DEVSTACK_BENCH_SIDES to choose a subset; the floor is the ratios' reference), in
# rotating order each run (run i starts with side i mod sides), each in a namespace of
# its own on one fresh kwok cluster, after one untimed round of every side (run 0):
#   floor              bench/floor `floor`: server-side applies the rendered objects (`devstack
#                      render k8s --include-secrets`): everything but the workloads at once, then
#                      each level's Deployments, the next level as soon as an informer's watch
#                      shows the level ready (the operator's own readiness rule); at most
#                      $DEVSTACK_BENCH_PER_STACK (4, the operator's per-reconcile parallelism)
#                      writes in flight. The strict floor: its objects have no owner.
#   floor-owned        the same, every object owned by a ConfigMap created first (`--owned`,
#                      one more request), as the operator's are owned by their DevStack: the
#                      same writes (session 8: as fast as the strict floor, 0.96x and 0.98x
#                      of it in two invocations: owner references do not explain the gap).
#   operator-defaults  devstack-operator with its shipped defaults, started for the run
#                      (--namespace of the run) and ready before the clock starts; the clock
#                      runs from the DevStack's apply until a watch of DevStacks shows it Ready.
#   operator-tuned     the same with $DEVSTACK_BENCH_TUNED (default --concurrency 32
#                      --debounce-ms 200).
# Both talk to the API server through bench/floor's counting proxy, so each side's own
# requests are counted by verb and resource; apiserver_request_total deltas give every
# client's. CPU is the measured process's (operator: /proc/PID/stat; floor: its own).
set -euo pipefail
# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

runs=${1:-9}
per_stack=${DEVSTACK_BENCH_PER_STACK:-4}
read -r -a sides <<<"${DEVSTACK_BENCH_SIDES:-floor floor-owned operator-defaults operator-tuned}"
out=$results/k1.jsonl
: >"$out"
: >"$results/k1-warmup.jsonl"
rust_bins
floor=$(floor_bin)
cluster_fresh $((10 * 4 * (runs + 1) + 100))
extra_cleanup=cluster_down

stack_levels k1 "" 3 3 2 2 >"$work/k1-floor.yaml"
"$devstack" render k8s "$work/k1-floor.yaml" --include-secrets >"$work/k1-rendered.yaml"
short() { case $1 in floor) echo f ;; floor-owned) echo o ;; operator-defaults) echo d ;; operator-tuned) echo t ;; esac; }
for ((i = 1; i <= runs; i++)); do
  for side in "${sides[@]}"; do echo "bench-k1-$(short "$side")-$i"; done
done >"$work/k1-namespaces"
for side in "${sides[@]}"; do echo "bench-k1-$(short "$side")-0"; done >>"$work/k1-namespaces"
namespaces "$work/k1-namespaces"

# one_run SIDE RUN OUT: SIDE's stack in namespace bench-k1-<side>-RUN, its figures into OUT.
one_run() {
  local side=$1 i=$2 out=$3 ns
  ns=bench-k1-$(short "$side")-$i
  if [[ $side == floor* ]]; then
    local owned=()
    if [[ $side == floor-owned ]]; then owned=(--owned); fi
    echo "$ns" >"$work/k1-ns-$i"
    "$floor" floor --kubeconfig "$proxy_kc" --admin-kubeconfig "$admin_kc" --proxy-url "$proxy_url" \
      --stack "$work/k1-floor.yaml" --rendered "$work/k1-rendered.yaml" --namespaces "$work/k1-ns-$i" \
      --inflight "$per_stack" --per-stack "$per_stack" --bench K1 --side "$side" --run "$i" --timeout 10m \
      "${owned[@]}" >>"$out"
  else
    stack_levels k1 "$ns" 3 3 2 2 >"$work/k1-op.yaml"
    start_operator "$side" --namespace "$ns"
    "$floor" devstacks --admin-kubeconfig "$admin_kc" --proxy-url "$proxy_url" --file "$work/k1-op.yaml" \
      --pid "$operator_pid" --bench K1 --side "$side" --run "$i" --timeout 10m >>"$out"
    stop_operator
  fi
  log "K1 run $i $side: $(tail -n1 "$out" | grep -o '"wall_s":[0-9.]*')"
}

# One untimed round first (run 0, its figures in k1-warmup.jsonl, not in the table): the API
# server's first DevStack costs the first operator run a one-time start-up (the custom
# resource's first writes) that no later stack pays and the floor, which writes built-in
# kinds only, never does.
for side in "${sides[@]}"; do one_run "$side" 0 "$results/k1-warmup.jsonl"; done
for ((i = 1; i <= runs; i++)); do
  for ((j = 0; j < ${#sides[@]}; j++)); do
    one_run "${sides[$(((i - 1 + j) % ${#sides[@]}))]}" "$i" "$out"
  done
done
echo "K1: 10-service, 4-level stack to Ready; $runs runs per side, rotating order; $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"
table --ratio-to floor "$out"
