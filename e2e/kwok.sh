# shellcheck shell=bash
# The harness's fake nodes (kwok) and the scale knobs of the control plane, sourced by
# e2e/cluster.sh. Every knob defaults to what a plain `e2e/cluster.sh up` has always done (one
# fake node of 110 pods, the components' own client QPS and worker counts), so the tests run
# against the same cluster; the operator benchmarks (bench/k1.sh, k2.sh, k3.sh) raise them so
# that their floors measure the API server, not a client-side rate limiter.
#
#   DEVSTACK_KWOK_NODES N          fake nodes devstack-kwok-0 .. N-1 (default 1); each has the
#                                  same labels (type=kwok), the same taint rule (tainted
#                                  devstack.dev/fake-node only when the real node runs) and the
#                                  same capacity, nvidia.com/gpu "8" included.
#   DEVSTACK_KWOK_NODE_PODS N      pods per fake node (default 110, the kubelet's default);
#                                  above 110 the node's cpu and memory grow with it (32 CPU and
#                                  64 GiB per 110 pods), so the pod count is what bounds a node.
#   DEVSTACK_KWOK_PARALLELISM N    kwok's pod/node stage and lease workers (kwok default 4).
#   DEVSTACK_KUBE_API_QPS Q        client QPS of kube-controller-manager and kube-scheduler
#                                  (their defaults: 20 and 50).
#   DEVSTACK_KUBE_API_BURST B      their client burst (defaults 30 and 100).
#   DEVSTACK_KCM_CONCURRENT_SYNCS N  kube-controller-manager workers for deployments,
#                                  replica sets, endpoints and endpoint slices (default 5).
#   DEVSTACK_APISERVER_MAX_INFLIGHT N / DEVSTACK_APISERVER_MAX_MUTATING_INFLIGHT N
#                                  kube-apiserver --max-requests-inflight (default 400) /
#                                  --max-mutating-requests-inflight (default 200); with priority
#                                  and fairness on (the default) their sum is its concurrency.
#
# kwok itself has no client-side rate limit (its clientset uses an always-allow limiter).

KWOK_NODES="${DEVSTACK_KWOK_NODES:-1}"
KWOK_NODE_PODS="${DEVSTACK_KWOK_NODE_PODS:-110}"
KWOK_NODE_PREFIX=devstack-kwok-

# kwok_check_knobs: every knob that is set is a positive integer (QPS may have a fraction).
kwok_check_knobs() {
	local name value
	for name in DEVSTACK_KWOK_NODES DEVSTACK_KWOK_NODE_PODS DEVSTACK_KWOK_PARALLELISM \
		DEVSTACK_KUBE_API_BURST DEVSTACK_KCM_CONCURRENT_SYNCS \
		DEVSTACK_APISERVER_MAX_INFLIGHT DEVSTACK_APISERVER_MAX_MUTATING_INFLIGHT; do
		value="${!name:-}"
		[[ -z "$value" || "$value" =~ ^[1-9][0-9]*$ ]] || die "$name=$value: expected a positive integer"
	done
	value="${DEVSTACK_KUBE_API_QPS:-}"
	[[ -z "$value" || "$value" =~ ^[0-9]+(\.[0-9]+)?$ ]] ||
		die "DEVSTACK_KUBE_API_QPS=$value: expected a number (requests per second)"
}

# kwok_settings: one line naming every knob's value; `up` restarts a running cluster whose
# settings differ (a benchmark must not silently reuse an untuned cluster).
kwok_settings() {
	printf 'nodes=%s pods=%s kwok-parallelism=%s qps=%s burst=%s kcm-syncs=%s inflight=%s/%s\n' \
		"$KWOK_NODES" "$KWOK_NODE_PODS" "${DEVSTACK_KWOK_PARALLELISM:-}" \
		"${DEVSTACK_KUBE_API_QPS:-}" "${DEVSTACK_KUBE_API_BURST:-}" \
		"${DEVSTACK_KCM_CONCURRENT_SYNCS:-}" "${DEVSTACK_APISERVER_MAX_INFLIGHT:-}" \
		"${DEVSTACK_APISERVER_MAX_MUTATING_INFLIGHT:-}"
}

# Extra flags per component; nothing when the knob is unset.
apiserver_tuning_args() {
	[[ -z "${DEVSTACK_APISERVER_MAX_INFLIGHT:-}" ]] || echo "--max-requests-inflight=$DEVSTACK_APISERVER_MAX_INFLIGHT"
	[[ -z "${DEVSTACK_APISERVER_MAX_MUTATING_INFLIGHT:-}" ]] ||
		echo "--max-mutating-requests-inflight=$DEVSTACK_APISERVER_MAX_MUTATING_INFLIGHT"
}

client_tuning_args() { # kube-controller-manager and kube-scheduler
	[[ -z "${DEVSTACK_KUBE_API_QPS:-}" ]] || echo "--kube-api-qps=$DEVSTACK_KUBE_API_QPS"
	[[ -z "${DEVSTACK_KUBE_API_BURST:-}" ]] || echo "--kube-api-burst=$DEVSTACK_KUBE_API_BURST"
}

kcm_tuning_args() {
	client_tuning_args
	local n="${DEVSTACK_KCM_CONCURRENT_SYNCS:-}" flag
	[[ -n "$n" ]] || return 0
	for flag in deployment replicaset endpoint service-endpoint; do
		echo "--concurrent-$flag-syncs=$n"
	done
}

# kwok_config_args: kwok takes its worker counts only from a KwokConfiguration document, so
# with DEVSTACK_KWOK_PARALLELISM one is written next to the state and added as a second
# --config.
kwok_config_args() {
	local n="${DEVSTACK_KWOK_PARALLELISM:-}"
	[[ -n "$n" ]] || return 0
	cat >"$STATE/kwok-config.yaml" <<EOF
apiVersion: config.kwok.x-k8s.io/v1alpha1
kind: KwokConfiguration
options:
  podPlayStageParallelism: $n
  nodePlayStageParallelism: $n
  nodeLeaseParallelism: $n
  podsOnNodeSyncParallelism: $n
EOF
	echo "--config=$STATE/kwok-config.yaml"
}

kwok_node_names() {
	local i
	for ((i = 0; i < KWOK_NODES; i++)); do echo "$KWOK_NODE_PREFIX$i"; done
}

# kwok_nodes_manifest: the fake Node objects (YAML stream).
kwok_nodes_manifest() {
	local name taints cpu=32 memory=64
	if ((KWOK_NODE_PODS > 110)); then
		cpu=$(((32 * KWOK_NODE_PODS + 109) / 110))
		memory=$(((64 * KWOK_NODE_PODS + 109) / 110))
	fi
	if node_enabled; then
		taints=$(printf '  taints:\n  - {key: %s, value: "true", effect: NoSchedule}' "$KWOK_TAINT_KEY")
	else
		taints='  taints: []'
	fi
	for name in $(kwok_node_names); do
		cat <<EOF
---
apiVersion: v1
kind: Node
metadata:
  name: $name
  annotations:
    kwok.x-k8s.io/node: fake
    node.alpha.kubernetes.io/ttl: "0"
  labels:
    kubernetes.io/arch: amd64
    kubernetes.io/hostname: $name
    kubernetes.io/os: linux
    kubernetes.io/role: agent
    node-role.kubernetes.io/agent: ""
    type: kwok
spec:
$taints
# nvidia.com/gpu: a service with "gpu: N" (the cortex example's ollama) schedules here too.
status:
  allocatable:
    cpu: "$cpu"
    memory: ${memory}Gi
    pods: "$KWOK_NODE_PODS"
    ephemeral-storage: 500Gi
    nvidia.com/gpu: "8"
  capacity:
    cpu: "$cpu"
    memory: ${memory}Gi
    pods: "$KWOK_NODE_PODS"
    ephemeral-storage: 500Gi
    nvidia.com/gpu: "8"
  nodeInfo:
    architecture: amd64
    kubeProxyVersion: fake
    kubeletVersion: $K8S_VERSION
    operatingSystem: linux
EOF
	done
}

# kwok_nodes_ready: every fake node reports Ready.
kwok_nodes_ready() {
	local ready
	ready="$(kubectl get nodes -l type=kwok -o 'jsonpath={range .items[*]}{.status.conditions[?(@.type=="Ready")].status}{"\n"}{end}')"
	[[ "$(grep -c '^True$' <<<"$ready")" -ge "$KWOK_NODES" ]]
}

# kwok_settings_match: the running cluster was started with the current knobs (a state dir from
# before the knobs existed has no settings file and counts as the defaults).
kwok_settings_match() {
	local want have
	want="$(kwok_settings)"
	have="$(cat "$STATE/settings" 2>/dev/null || env -u DEVSTACK_KWOK_NODES -u DEVSTACK_KWOK_NODE_PODS \
		-u DEVSTACK_KWOK_PARALLELISM -u DEVSTACK_KUBE_API_QPS -u DEVSTACK_KUBE_API_BURST \
		-u DEVSTACK_KCM_CONCURRENT_SYNCS -u DEVSTACK_APISERVER_MAX_INFLIGHT \
		-u DEVSTACK_APISERVER_MAX_MUTATING_INFLIGHT bash -c "source '$ROOT/e2e/kwok.sh'; kwok_settings")"
	[[ "$have" == "$want" ]] && return 0
	log "the running cluster has other settings ($have); restarting it with: $want"
	return 1
}
