#!/usr/bin/env bash
# K2 (and K3 on the operator's cluster): N stacks of 5 services — postgres (StatefulSet with a
# PVC, credentials Secret) and redis at level 0, api and worker at level 1, web at
# level 2 — against a floor that advances every stack on its own with the operator's writes in
# flight. A fresh cluster for every side of every run.
#
#   bench/k2.sh [N] [RUNS]      (default 1000 stacks, 5 runs)
#
# $DEVSTACK_BENCH_FIRST_RUN (default 1) starts at that run, so RUNS can be spread over several
# invocations (the full method takes longer than one sitting) with the rotation continuing:
# `bench/k2.sh 1000 2` then `DEVSTACK_BENCH_FIRST_RUN=3 bench/k2.sh 1000 5`, each with its own
# $DEVSTACK_BENCH_RESULTS, pooled by bench/floor `table`.
#
# Sides, in rotating order each run: floor, operator-defaults, operator-tuned
# ($DEVSTACK_BENCH_SIDES to choose). Per operator side, after all N stacks are Ready:
#   K3 resync  the operator restarted (same flags); done when N distinct stacks were reconciled
#              (bench/floor `resync`: its --metric if the operator exports one, else the distinct
#              namespaces its requests touched) and it then made no request for 3 s: writes
#              (own and every client's), reads per stack, time, and its peak RSS since the
#              restart (K2's "including a restart").
#   K3 drift   $DEVSTACK_BENCH_DRIFT (10) of its Deployments edited one at a time (container
#              image): repair latency of each on a watch, and the operator's applies.
#   growth     (N x ($DEVSTACK_BENCH_GROWTH - 1)) more stacks (default 3: 1,000 -> 3,000):
#              RSS growth per added stack; then the operator restarted over all of them (K3's
#              resync again): RSS of a fresh process, whose difference to K3's over N stacks
#              is what it keeps per stack (the growth's own figure includes the high-water
#              mark of its concurrent reconciles, which the allocator keeps).
# The floor: bench/floor `floor` over N namespaces, $DEVSTACK_BENCH_FLOOR_INFLIGHT writes in
# flight (default 64 = the operator's default --concurrency 16 x its 4 writes per reconcile)
# and 4 per stack. The operator's DevStacks are applied by the user side with 32 in flight.
set -euo pipefail
# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

n=${1:-1000}
runs=${2:-5}
first_run=${DEVSTACK_BENCH_FIRST_RUN:-1}
[[ $first_run =~ ^[1-9][0-9]*$ && $first_run -le $runs ]] ||
  die "DEVSTACK_BENCH_FIRST_RUN=$first_run: a run number from 1 to RUNS ($runs)"
read -r -a sides <<<"${DEVSTACK_BENCH_SIDES:-floor operator-defaults operator-tuned}"
inflight=${DEVSTACK_BENCH_FLOOR_INFLIGHT:-64}
growth=${DEVSTACK_BENCH_GROWTH:-3}
drift=${DEVSTACK_BENCH_DRIFT:-10}
out=$results/k2.jsonl
out3=$results/k3.jsonl
: >"$out"
: >"$out3"
rust_bins
floor=$(floor_bin)
extra_cleanup=cluster_down
stack_app s "" >"$work/k2-floor.yaml"
"$devstack" render k8s "$work/k2-floor.yaml" --include-secrets >"$work/k2-rendered.yaml"

# devstacks PREFIX FROM TO: DevStack documents for namespaces PREFIX-FROM .. PREFIX-(TO-1).
devstacks() {
  local k
  for ((k = $2; k < $3; k++)); do
    echo "---"
    stack_app s "$1-$k"
  done
}

operator_side() { # SIDE RUN
  local side=$1 i=$2 t0
  devstacks bench-k2 0 "$n" >"$work/k2-op.yaml"
  start_operator "$side"
  "$floor" devstacks --admin-kubeconfig "$admin_kc" --proxy-url "$proxy_url" --file "$work/k2-op.yaml" \
    --pid "$operator_pid" --bench K2 --side "$side" --run "$i" >>"$out"
  log "K2 run $i $side: $(tail -n1 "$out" | grep -o '"wall_s":[0-9.]*')"
  # K3 resync: restart, same flags.
  stop_operator
  "$floor" snapshot --admin-kubeconfig "$admin_kc" --proxy-url "$proxy_url" --mark >"$work/k3-before.json"
  start_operator "$side"
  "$floor" resync --admin-kubeconfig "$admin_kc" --proxy-url "$proxy_url" --since "$work/k3-before.json" \
    --pid "$operator_pid" --started-ns "$operator_started_ns" --stacks "$n" --ns-prefix bench-k2- \
    --metrics-url "http://127.0.0.1:$operator_port/metrics" --side "$side resync" --run "$i" >>"$out3"
  log "K3 run $i $side resync: $(tail -n1 "$out3" | grep -o '"wall_s":[0-9.]*')"
  if ((drift > 0 && drift <= n)); then
    "$floor" drift --admin-kubeconfig "$admin_kc" --proxy-url "$proxy_url" --count "$drift" \
      --ns-prefix bench-k2- --side "$side drift repair" --total-side "$side drift total" --run "$i" >>"$out3"
  fi
  if ((growth > 1)); then
    t0=$(date +%s)
    for ((k = n; k < n * growth; k++)); do echo "bench-k2-$k"; done >"$work/k2-growth-namespaces"
    namespaces "$work/k2-growth-namespaces"
    devstacks bench-k2 "$n" $((n * growth)) >"$work/k2-growth.yaml"
    "$floor" devstacks --admin-kubeconfig "$admin_kc" --proxy-url "$proxy_url" --file "$work/k2-growth.yaml" \
      --pid "$operator_pid" --bench K2 --side "$side growth $n->$((n * growth))" --run "$i" >>"$out"
    log "K2 run $i $side growth: $(($(date +%s) - t0))s"
    # The same restart over every stack: a fresh process's RSS holds what it keeps per stack,
    # not the high-water mark of the growth's concurrent reconciles.
    stop_operator
    "$floor" snapshot --admin-kubeconfig "$admin_kc" --proxy-url "$proxy_url" --mark >"$work/k3-before.json"
    start_operator "$side"
    "$floor" resync --admin-kubeconfig "$admin_kc" --proxy-url "$proxy_url" --since "$work/k3-before.json" \
      --pid "$operator_pid" --started-ns "$operator_started_ns" --stacks $((n * growth)) --ns-prefix bench-k2- \
      --metrics-url "http://127.0.0.1:$operator_port/metrics" --side "$side resync after growth" --run "$i" >>"$out3"
  fi
  stop_operator
}

floor_side() { # RUN
  "$floor" floor --kubeconfig "$proxy_kc" --admin-kubeconfig "$admin_kc" --proxy-url "$proxy_url" \
    --stack "$work/k2-floor.yaml" --rendered "$work/k2-rendered.yaml" --namespaces "$work/k2-namespaces" \
    --inflight "$inflight" --per-stack 4 --bench K2 --side floor --run "$1" >>"$out"
  log "K2 run $1 floor: $(tail -n1 "$out" | grep -o '"wall_s":[0-9.]*')"
}

for ((k = 0; k < n; k++)); do echo "bench-k2-$k"; done >"$work/k2-namespaces"
for ((i = first_run; i <= runs; i++)); do
  for ((j = 0; j < ${#sides[@]}; j++)); do
    side=${sides[$(((i - 1 + j) % ${#sides[@]}))]}
    t0=$(date +%s)
    cluster_fresh $((5 * n * (growth > 1 ? growth : 1) + 100))
    namespaces "$work/k2-namespaces"
    log "run $i $side: fresh cluster and $n namespaces in $(($(date +%s) - t0))s"
    if [[ $side == floor ]]; then floor_side "$i"; else operator_side "$side" "$i"; fi
  done
done
cluster_down

echo "K2: $n stacks x 5 services (postgres StatefulSet + PVC + credentials, redis, 3 image services; 3 levels); runs $first_run-$runs per side, rotating order, fresh cluster per side; $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"
table --ratio-to floor "$out"
if [[ -s $out3 ]]; then
  echo
  echo "K3: resync of $n unchanged stacks after an operator restart; drift of $drift Deployments (one at a time)"
  table "$out3"
fi
