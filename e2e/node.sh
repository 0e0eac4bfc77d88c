# shellcheck shell=bash
# The real node of the local test cluster; sourced by e2e/cluster.sh (not run on its own).
#
# Beside the control plane, `e2e/cluster.sh up` (unless DEVSTACK_NODE=kwok) starts:
#   containerd   Debian's package with its own config, socket (/run/devstack-node), root and
#                state; CRI with restrict_oom_score_adj (the VM forbids negative OOM scores)
#   CNI          Debian's containernetworking-plugins: bridge `devstack0` (created beforehand,
#                10.89.0.1/24 = the node IP, hairpin on, no masquerade) with host-local IPAM
#   kubelet      v1.37.2 from e2e/k8s, cgroupfs driver under the cgroup /devstack-node
#   kube-proxy   v1.37.2 from e2e/k8s, nftables mode, node ports on the node IP only
#   coredns      v1.15.0 as a host process on 10.89.0.1:53 behind Service kube-system/kube-dns
#                10.96.0.10 (no selector; a hand-made EndpointSlice points at the bridge IP)
#   kube-router  v2.1.0, NetworkPolicy firewall only
# and imports the pause image (a static C program, e2e/node/pause.c) and the local service images
# (postgres, redis, ...: the rootfs tarballs e2e/docker.sh builds) into containerd as OCI archives, under
# their docker.io/devstack-local/... names: no registry, no dockerd.
#
# The kubelet's and kube-proxy's ports are fixed (10250, 10248, 10249, 10256), and kube-proxy's
# nftables table and the firewall chains are host-wide, so there is one real node per host; a
# second cluster with a real node is refused (it can use DEVSTACK_NODE=kwok).
#
# Host changes, all undone by `down` (node_down): the bridge, net.ipv4.ip_forward (the bridge
# plugin turns it on; an iptables FORWARD rule then drops everything routed that neither enters
# nor leaves devstack0, so other bridges on the host stay as unrouted as before), iptables chains of the kubelet and kube-router, ipsets, kube-proxy's nft
# table, sysctls the kubelet tunes, cgroups under /devstack-node, mounts and hard-coded
# directories (/var/lib/kubelet, /var/log/pods, /run/netns, ...), each only if it was not there
# before `up` (recorded in $NODE_STATE/preexisting).

CONTAINERD_VERSION_WANTED=1.6
CRICTL_VERSION=v1.37.0
COREDNS_VERSION=v1.15.0
KUBE_ROUTER_VERSION=v2.1.0
REAL_NODE_NAME=devstack-node-0
NODE_BRIDGE=devstack0
NODE_POD_CIDR=10.89.0.0/24
NODE_IP=10.89.0.1
DNS_SERVICE_IP=10.96.0.10
NODE_RUN=/run/devstack-node
NODE_STATE="$STATE/node"
NODE_SOCK="$NODE_RUN/containerd.sock"
# containerd's content store and snapshots outlive `down` (like the image cache), so a warm `up`
# does not import the images again.
NODE_CONTAINERD_ROOT="$CACHE/node/containerd"
NODE_CGROUP=devstack-node
NODE_OWNER="$NODE_RUN/owner"
PAUSE_IMAGE=docker.io/devstack-local/pause:static
# The taint that keeps ordinary workloads off the kwok node while a real node exists; a test asks
# for kwok with this toleration and the nodeSelector type=kwok (see e2e/src/lib.rs).
# shellcheck disable=SC2034 # used by e2e/cluster.sh
KWOK_TAINT_KEY=devstack.dev/fake-node
# shellcheck disable=SC2034 # used by e2e/cluster.sh
NODE_COMPONENTS=(containerd kubelet kube-proxy coredns kube-router)
# Directories the node's programs create at fixed places; removed by `down` if `up` created them.
NODE_HOST_DIRS=(/var/lib/kubelet /var/log/pods /var/log/containers /run/netns /var/lib/cni
	/etc/cni /opt/cni /opt/containerd /usr/libexec/kubernetes /run/containerd/runc/k8s.io
	/run/containerd/fifo /run/containerd/s /run/containerd/runc /run/containerd)
# Sysctls the node's programs may change; `down` writes back the values seen before `up`.
NODE_SYSCTLS=(net.ipv4.ip_forward net.ipv4.conf.all.forwarding net.ipv4.conf.default.forwarding
	net.ipv6.conf.all.forwarding net.ipv4.conf.all.route_localnet net.bridge.bridge-nf-call-iptables
	net.bridge.bridge-nf-call-ip6tables vm.overcommit_memory vm.panic_on_oom kernel.panic
	kernel.panic_on_oops kernel.keys.root_maxkeys kernel.keys.root_maxbytes
	net.netfilter.nf_conntrack_max)

node_enabled() { [[ "${DEVSTACK_NODE:-real}" == real ]]; }

node_check_mode() {
	case "${DEVSTACK_NODE:-real}" in
	real | kwok) ;;
	*) die "DEVSTACK_NODE=${DEVSTACK_NODE}: expected \`real\` (default: a real kubelet node beside the kwok node) or \`kwok\` (fake node only)" ;;
	esac
}

# Building the node's binaries and importing its images.
# shellcheck source=e2e/node/images.sh
source "$ROOT/e2e/node/images.sh"

# ---------------------------------------------------------------- configuration

node_pki() {
	local client="basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=clientAuth"
	# The API server's identity towards kubelets (exec, logs, port-forward).
	gen_cert apiserver-kubelet-client "/O=system:masters/CN=kube-apiserver-kubelet-client" "$client"
	gen_cert kubelet "/O=system:nodes/CN=system:node:$REAL_NODE_NAME" "$client"
	gen_cert kube-proxy "/CN=system:kube-proxy" "$client"
	gen_cert coredns "/CN=devstack:coredns" "$client"
	gen_cert kube-router "/CN=devstack:kube-router" "$client"
	chmod 600 "$PKI"/*.key
	local user
	for user in kubelet kube-proxy coredns kube-router; do write_kubeconfig "$user"; done
}

node_configs() {
	mkdir -p "$NODE_STATE/cni/net.d" "$NODE_STATE/cni/ipam" "$NODE_STATE/kubelet" "$NODE_STATE/pod-logs" \
		"$NODE_CONTAINERD_ROOT" "$NODE_STATE/containerd/opt" "$NODE_STATE/volume-plugins" "$NODE_RUN"
	cat >"$NODE_STATE/containerd.toml" <<TOML
version = 2
root = "$NODE_CONTAINERD_ROOT"
state = "$NODE_RUN/containerd-state"
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.zfs",
  "io.containerd.tracing.processor.v1.otlp", "io.containerd.internal.v1.tracing"]
[grpc]
  address = "$NODE_SOCK"
[ttrpc]
  address = "$NODE_RUN/containerd.sock.ttrpc"
[debug]
  address = "$NODE_RUN/containerd-debug.sock"
  level = "warn"
[plugins."io.containerd.internal.v1.opt"]
  path = "$NODE_STATE/containerd/opt"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$PAUSE_IMAGE"
  # The VM has no CAP_SYS_RESOURCE: a negative oom_score_adj makes every sandbox fail.
  restrict_oom_score_adj = true
  enable_selinux = false
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$NODE_STATE/cni/net.d"
    max_conf_num = 1
TOML
	cat >"$NODE_STATE/cni/net.d/10-devstack.conflist" <<JSON
{
  "cniVersion": "1.0.0",
  "name": "devstack-node",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "$NODE_BRIDGE",
      "isGateway": true,
      "ipMasq": false,
      "hairpinMode": true,
      "ipam": {
        "type": "host-local",
        "ranges": [[{"subnet": "$NODE_POD_CIDR", "gateway": "$NODE_IP"}]],
        "routes": [{"dst": "0.0.0.0/0"}],
        "dataDir": "$NODE_STATE/cni/ipam"
      }
    }
  ]
}
JSON
	cat >"$NODE_STATE/kubelet.yaml" <<YAML
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: $NODE_IP
port: 10250
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: 10248
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: $PKI/ca.crt}
authorization: {mode: Webhook}
containerRuntimeEndpoint: unix://$NODE_SOCK
cgroupDriver: cgroupfs
cgroupRoot: /$NODE_CGROUP
failCgroupV1: false
failSwapOn: false
clusterDomain: cluster.local
clusterDNS: [$DNS_SERVICE_IP]
resolvConf: ""
podLogsDir: $NODE_STATE/pod-logs
volumePluginDir: $NODE_STATE/volume-plugins
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard:
  memory.available: 100Mi
  nodefs.available: 1%
  nodefs.inodesFree: 1%
  imagefs.available: 1%
  imagefs.inodesFree: 1%
maxPods: 110
serializeImagePulls: false
registerNode: true
syncFrequency: 10s
fileCheckFrequency: 0s
nodeStatusUpdateFrequency: 5s
YAML
	cat >"$NODE_STATE/kube-proxy.yaml" <<YAML
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
mode: nftables
hostnameOverride: $REAL_NODE_NAME
clientConnection: {kubeconfig: $STATE/kube-proxy.kubeconfig}
clusterCIDR: $NODE_POD_CIDR
detectLocalMode: ClusterCIDR
bindAddress: $NODE_IP
metricsBindAddress: 127.0.0.1:10249
healthzBindAddress: 127.0.0.1:10256
nodePortAddresses: [$NODE_IP/32]
# 0: leave the host's conntrack sysctls alone.
conntrack: {maxPerCore: 0, min: 0, tcpEstablishedTimeout: 0s, tcpCloseWaitTimeout: 0s}
YAML
	cat >"$NODE_STATE/Corefile" <<CORE
cluster.local:53 in-addr.arpa:53 ip6.arpa:53 {
    bind $NODE_IP
    errors
    kubernetes cluster.local in-addr.arpa ip6.arpa {
        kubeconfig $STATE/coredns.kubeconfig devstack-e2e
        pods insecure
        fallthrough in-addr.arpa ip6.arpa
        ttl 5
    }
    loadbalance
}
# No forwarding: the tests only resolve in-cluster names; everything else fails fast.
.:53 {
    bind $NODE_IP
    template ANY ANY {
        rcode NXDOMAIN
    }
}
CORE
}

node_manifests() {
	kubectl apply -f - >/dev/null <<EOF2
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: devstack:node-watcher
rules:
- apiGroups: [""]
  resources: [pods, namespaces, services, endpoints, nodes]
  verbs: [get, list, watch]
- apiGroups: [discovery.k8s.io]
  resources: [endpointslices]
  verbs: [get, list, watch]
- apiGroups: [networking.k8s.io]
  resources: [networkpolicies]
  verbs: [get, list, watch]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: devstack:node-watcher
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: devstack:node-watcher}
subjects:
- {apiGroup: rbac.authorization.k8s.io, kind: User, name: devstack:coredns}
- {apiGroup: rbac.authorization.k8s.io, kind: User, name: devstack:kube-router}
---
apiVersion: v1
kind: Service
metadata:
  name: kube-dns
  namespace: kube-system
  labels: {k8s-app: kube-dns}
spec:
  clusterIP: $DNS_SERVICE_IP
  ports:
  - {name: dns, port: 53, protocol: UDP, targetPort: 53}
  - {name: dns-tcp, port: 53, protocol: TCP, targetPort: 53}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: kube-dns-host
  namespace: kube-system
  labels:
    kubernetes.io/service-name: kube-dns
    endpointslice.kubernetes.io/managed-by: e2e-cluster.devstack.dev
addressType: IPv4
endpoints:
- addresses: [$NODE_IP]
  conditions: {ready: true}
ports:
- {name: dns, port: 53, protocol: UDP}
- {name: dns-tcp, port: 53, protocol: TCP}
EOF2
}

# ---------------------------------------------------------------- host state

# Records what exists before `up` touches the host, so `down` removes only what `up` added.
node_record_host() {
	local d k
	: >"$NODE_STATE/preexisting"
	for d in "${NODE_HOST_DIRS[@]}"; do [[ -e "$d" ]] && echo "dir $d" >>"$NODE_STATE/preexisting"; done
	for k in "${NODE_SYSCTLS[@]}"; do
		[[ -e "/proc/sys/${k//.//}" ]] && echo "sysctl $k $(cat "/proc/sys/${k//.//}")" >>"$NODE_STATE/preexisting"
	done
	nft list tables 2>/dev/null >>"$NODE_STATE/preexisting" || true
	# containerd puts containers without a kubelet-given parent under /k8s.io.
	[[ -d /sys/fs/cgroup/memory/k8s.io ]] && echo "cgroup k8s.io" >>"$NODE_STATE/preexisting"
	ipset list -n 2>/dev/null | sed 's/^/ipset /' >>"$NODE_STATE/preexisting" || true
}

preexisting() { grep -qxF -- "$1" "$NODE_STATE/preexisting" 2>/dev/null; }

node_host_setup() {
	local t c
	t=$(now)
	if ! ip link show "$NODE_BRIDGE" >/dev/null 2>&1; then
		ip link add "$NODE_BRIDGE" type bridge || die "creating bridge $NODE_BRIDGE failed"
	fi
	ip addr replace "$NODE_IP/${NODE_POD_CIDR#*/}" dev "$NODE_BRIDGE"
	ip link set "$NODE_BRIDGE" up
	# Forwarding is needed between pods and services (routed through the node). Anything else
	# routed (not bridged) that neither enters nor leaves the node's bridge (Docker's networks to
	# each other or to eth0) is dropped, as it was with forwarding off.
	forward_guard add || die "adding the iptables FORWARD guard failed"
	# Pods live in the cgroup /devstack-node of every v1 hierarchy (the kubelet wants it to exist).
	for c in /sys/fs/cgroup/*/; do
		[[ -e "$c/cgroup.procs" && "$c" != */unified/ ]] || continue
		mkdir -p "$c$NODE_CGROUP"
		if [[ -e "$c/cpuset.cpus" ]]; then
			[[ -n "$(cat "$c$NODE_CGROUP/cpuset.cpus")" ]] || cat "$c/cpuset.cpus" >"$c$NODE_CGROUP/cpuset.cpus"
			[[ -n "$(cat "$c$NODE_CGROUP/cpuset.mems")" ]] || cat "$c/cpuset.mems" >"$c$NODE_CGROUP/cpuset.mems"
		fi
	done
	phase "node host setup (bridge $NODE_BRIDGE, cgroups)" "$t"
}

FORWARD_GUARD=(FORWARD -m physdev ! --physdev-is-bridged ! -i "$NODE_BRIDGE" ! -o "$NODE_BRIDGE"
	-m comment --comment devstack-e2e-node -j DROP)
forward_guard() { # add|del
	if [[ "$1" == add ]]; then
		iptables -C "${FORWARD_GUARD[@]}" 2>/dev/null || iptables -I "${FORWARD_GUARD[@]}"
	else
		while iptables -C "${FORWARD_GUARD[@]}" 2>/dev/null; do iptables -D "${FORWARD_GUARD[@]}" || break; done
	fi
}

# Refuses a second real node on this host (fixed ports, host-wide firewall objects).
node_claim_host() {
	mkdir -p "$NODE_RUN"
	local owner
	owner="$(cat "$NODE_OWNER" 2>/dev/null || true)"
	if [[ -n "$owner" && "$owner" != "$STATE" && -d "$owner/node" ]]; then
		die "a real node of the cluster in $owner already runs on this host (one per host: fixed kubelet/kube-proxy ports and host-wide firewall objects); stop it (DEVSTACK_E2E_STATE=${owner%/cluster} e2e/cluster.sh down) or use DEVSTACK_NODE=kwok"
	fi
	if ss -Hltn 2>/dev/null | awk '{print $4}' | grep -qE ':(10250|10248|10249|10256)$'; then
		die "a kubelet or kube-proxy port (10250, 10248, 10249, 10256) is in use on this host; the real node needs them (or use DEVSTACK_NODE=kwok)"
	fi
	echo "$STATE" >"$NODE_OWNER"
}

# ---------------------------------------------------------------- up / down

real_node_ready() {
	[[ "$(kubectl get node "$REAL_NODE_NAME" -o 'jsonpath={.status.conditions[?(@.type=="Ready")].status}')" == True ]]
}
containerd_ready() { ctr --address "$NODE_SOCK" version; }
kubelet_healthy() { [[ "$(curl -fsS --max-time 5 http://127.0.0.1:10248/healthz)" == ok ]]; }
kube_proxy_healthy() { curl -fsS --max-time 5 -o /dev/null http://127.0.0.1:10256/healthz; }
coredns_ready() { grep -q 'CoreDNS-' "$LOGS/coredns.log"; }
kube_router_ready() { iptables -S KUBE-ROUTER-FORWARD >/dev/null 2>&1; }

node_healthy() {
	kubelet_healthy && kube_proxy_healthy && real_node_ready
}

node_up() {
	local t
	node_claim_host
	mkdir -p "$NODE_STATE"
	node_record_host
	node_pki
	node_configs
	node_host_setup

	t=$(now)
	# Only imported images run here. An image that is not there must not make containerd reach
	# out to a registry (tests talk to loopback and their own pods only): every pull goes to a
	# proxy on 127.0.0.1:9, where nothing listens, and fails at once (ErrImagePull).
	HTTP_PROXY=http://127.0.0.1:9 HTTPS_PROXY=http://127.0.0.1:9 NO_PROXY='' \
		http_proxy=http://127.0.0.1:9 https_proxy=http://127.0.0.1:9 no_proxy='' \
		start containerd --config "$NODE_STATE/containerd.toml"
	wait_for containerd 30 containerd_ready
	phase "start containerd" "$t"
	node_import_images

	t=$(now)
	start kubelet --config "$NODE_STATE/kubelet.yaml" \
		--kubeconfig "$STATE/kubelet.kubeconfig" \
		--root-dir "$NODE_STATE/kubelet" --cert-dir "$NODE_STATE/kubelet-pki" \
		--hostname-override "$REAL_NODE_NAME" --node-ip "$NODE_IP" \
		--node-labels "type=real,devstack.dev/node=real" \
		--v=1
	node_manifests || fail_component kube-apiserver "applying the real node's RBAC and DNS objects failed"
	start kube-proxy --config "$NODE_STATE/kube-proxy.yaml" --v=1
	start coredns -conf "$NODE_STATE/Corefile" -dns.port 53
	wait_for kubelet 60 kubelet_healthy
	wait_for kubelet 60 real_node_ready
	# kube-router looks its node up once, at start.
	start kube-router --kubeconfig "$STATE/kube-router.kubeconfig" \
		--hostname-override "$REAL_NODE_NAME" \
		--run-firewall --run-router=false --run-service-proxy=false --enable-cni=false \
		--enable-pod-egress=false --enable-ipv6=false --health-port=0 --metrics-port=0 \
		--service-cluster-ip-range "$SERVICE_CIDR" -v 1
	wait_for kube-proxy 60 kube_proxy_healthy
	wait_for coredns 60 coredns_ready
	wait_for kube-router 60 kube_router_ready
	phase "real node ready" "$t"
}

# stop_one NAME: SIGTERM the component, SIGKILL after 20 s (defined in cluster.sh).

# Removes the iptables chains named KUBE-* (kubelet, kube-router) and the rules jumping to them.
remove_kube_chains() {
	local cmd table rule chain
	for cmd in iptables ip6tables; do
		command -v "$cmd" >/dev/null || continue
		for table in filter nat mangle raw; do
			"$cmd" -t "$table" -S >/dev/null 2>&1 || continue
			while read -r rule; do
				# shellcheck disable=SC2086 # a rule spec from -S output
				eval "$cmd -t $table -D ${rule#-A }" 2>/dev/null || true
			done < <("$cmd" -t "$table" -S | grep -E '^-A ' | grep -E -- '-j KUBE-' | grep -vE '^-A KUBE-')
			for chain in $("$cmd" -t "$table" -S | awk '$1 == "-N" && $2 ~ /^KUBE-/ {print $2}'); do
				"$cmd" -t "$table" -F "$chain" 2>/dev/null || true
			done
			for chain in $("$cmd" -t "$table" -S | awk '$1 == "-N" && $2 ~ /^KUBE-/ {print $2}'); do
				"$cmd" -t "$table" -X "$chain" 2>/dev/null || log "warning: could not delete $cmd chain $table/$chain"
			done
		done
	done
}

node_cleanup_network() {
	local tbl set
	"$(bin_path kube-proxy)" --cleanup --v=0 >"$LOGS/kube-proxy-cleanup.log" 2>&1 ||
		log "warning: kube-proxy --cleanup failed (log: $LOGS/kube-proxy-cleanup.log)"
	remove_kube_chains
	for set in $(ipset list -n 2>/dev/null); do
		preexisting "ipset $set" || ipset destroy "$set" 2>/dev/null || log "warning: could not destroy ipset $set"
	done
	forward_guard del
	# Tables iptables-nft created for the chains above, if now empty and not there before.
	while read -r tbl; do
		[[ -n "$tbl" ]] || continue
		preexisting "table $tbl" && continue
		# shellcheck disable=SC2086 # "FAMILY NAME"
		if [[ "$(nft -j list table $tbl 2>/dev/null | jq '[.nftables[] | select(.rule)] | length')" == 0 ]]; then
			# shellcheck disable=SC2086
			nft delete table $tbl 2>/dev/null || true
		fi
	done < <(nft list tables 2>/dev/null | sed 's/^table //')
}

# unmount_below DIR: unmounts everything mounted at or below DIR, deepest first.
unmount_below() {
	local dir m
	[[ -e "$1" ]] || return 0
	dir="$(realpath "$1")"
	while read -r m; do umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true; done < <(
		awk -v d="$dir" '$2 == d || index($2, d "/") == 1 {print $2}' /proc/mounts | sort -r)
}

node_down() {
	[[ -d "$NODE_STATE" ]] || return 0
	local name pid p d k v c
	# The kubelet first, so it does not restart what is removed next.
	for name in kube-router coredns kube-proxy kubelet; do stop_one "$name"; done
	if running containerd; then
		# Stops every pod sandbox: CNI DEL frees the veths and IPs, the netns mounts go away.
		"$(bin_path crictl)" --runtime-endpoint "unix://$NODE_SOCK" --timeout 20s rmp -fa >/dev/null 2>&1 ||
			log "warning: crictl rmp -fa failed"
	fi
	node_cleanup_network
	stop_one containerd
	# Shims of our containerd that outlived it.
	for p in /proc/[0-9]*; do
		if { tr '\0' ' ' <"$p/cmdline"; } 2>/dev/null | grep -qF -- "-address $NODE_SOCK"; then
			pid="${p#/proc/}"
			kill -KILL "$pid" 2>/dev/null || true
		fi
	done
	unmount_below "$NODE_STATE"
	unmount_below "$NODE_RUN"
	unmount_below "$NODE_CONTAINERD_ROOT"
	for d in /run/netns /var/lib/kubelet; do preexisting "dir $d" || unmount_below "$d"; done
	if ip link show "$NODE_BRIDGE" >/dev/null 2>&1; then ip link del "$NODE_BRIDGE" || log "warning: could not delete bridge $NODE_BRIDGE"; fi
	while read -r _ k v; do
		[[ "$(cat "/proc/sys/${k//.//}" 2>/dev/null)" == "$v" ]] || sysctl -qw "$k=$v" || log "warning: could not restore $k=$v"
	done < <(grep '^sysctl ' "$NODE_STATE/preexisting" 2>/dev/null)
	local cgroups=(/sys/fs/cgroup/*/"$NODE_CGROUP")
	preexisting "cgroup k8s.io" || cgroups+=(/sys/fs/cgroup/*/k8s.io)
	for c in "${cgroups[@]}"; do
		[[ -d "$c" ]] || continue
		find "$c" -depth -type d -exec rmdir {} + 2>/dev/null || log "warning: cgroup $c not empty (processes left?)"
	done
	for d in "${NODE_HOST_DIRS[@]}"; do
		if [[ ! -d "$d" ]] || preexisting "dir $d"; then continue; fi
		# Under /run/containerd (shared with other containerds) only empty directories go.
		[[ "$d" == /run/containerd* ]] ||
			find "$d" -xdev -depth \( -type l -o -type f -o -type s -o -type p \) -delete 2>/dev/null || true
		find "$d" -xdev -depth -type d -exec rmdir {} + 2>/dev/null || log "warning: $d not removed (still in use?)"
	done
	if [[ "$(cat "$NODE_OWNER" 2>/dev/null)" == "$STATE" ]]; then rm -rf --one-file-system "$NODE_RUN"; fi
	rm -rf --one-file-system "$NODE_STATE"
}
