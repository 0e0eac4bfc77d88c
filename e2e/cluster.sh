#!/usr/bin/env bash
# Local Kubernetes control plane for devstack's end-to-end tests.
#
#   e2e/cluster.sh up          build (or reuse) the binaries, start etcd, kube-apiserver,
#                              kube-controller-manager, kube-scheduler, kwok (fake nodes),
#                              the harness's hostPath volume provisioner and a real node
#                              (e2e/node.sh: containerd, kubelet, kube-proxy, CoreDNS,
#                              kube-router); wait until everything is ready. Idempotent.
#   e2e/cluster.sh down        stop everything `up` started and remove the state dir.
#   e2e/cluster.sh kubeconfig  print the path of the admin kubeconfig.
#   e2e/cluster.sh build       only build / reuse the cached binaries.
#   e2e/cluster.sh status      exit 0 when the cluster is up and healthy.
#   e2e/cluster.sh kubectl ARGS  run kubectl v1.37.2 against the cluster as admin;
#                              without ARGS, print the path of that kubectl binary.
#   e2e/cluster.sh helm ARGS   run Helm v4 (built from the Go module proxy) against the cluster
#                              as admin; without ARGS, build (or reuse) it and print its path.
#   e2e/cluster.sh load-image IMAGE...  copy images from e2e/docker.sh's engine into the real
#                              node's containerd (no registry here), e.g. the operator image.
#
# Environment:
#   DEVSTACK_NODE         real (default): a real kubelet node runs the workloads; the kwok node
#                         stays, tainted devstack.dev/fake-node:NoSchedule, for tests that ask
#                         for it. kwok: the kwok node only (untainted), for scale benchmarks.
#   DEVSTACK_CACHE        binary cache root (default $HOME/.cache/devstack); binaries live in
#                         $DEVSTACK_CACHE/bin/<name>-<version>
#   DEVSTACK_E2E_STATE    state root (default /tmp/devstack-e2e); this script uses <root>/cluster
#   DEVSTACK_APISERVER_PORT  secure port of kube-apiserver on 127.0.0.1 (default 6443)
#   DEVSTACK_E2E_PORT_OFFSET N (default 0): apiserver on 6443+N; etcd client/peer,
#                         controller-manager, scheduler and kwok on 23790+10N .. 23794+10N
#   DEVSTACK_KWOK_NODES, DEVSTACK_KWOK_NODE_PODS, DEVSTACK_KWOK_PARALLELISM,
#   DEVSTACK_KUBE_API_QPS, DEVSTACK_KUBE_API_BURST, DEVSTACK_KCM_CONCURRENT_SYNCS,
#   DEVSTACK_APISERVER_MAX_INFLIGHT, DEVSTACK_APISERVER_MAX_MUTATING_INFLIGHT
#                         scale knobs (fake nodes, pods per node, client QPS, workers); unset =
#                         one 110-pod fake node and the components' defaults. See e2e/kwok.sh.
#
# Everything listens on 127.0.0.1 only.
set -euo pipefail

K8S_VERSION=v1.37.2
ETCD_VERSION=v3.7.3
KWOK_VERSION=v0.8.0
HELM_VERSION=v4.3.1

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
K8S_DIR="$ROOT/e2e/k8s"
CACHE="${DEVSTACK_CACHE:-${HOME:-/root}/.cache/devstack}"
BIN="$CACHE/bin"
STATE_ROOT="${DEVSTACK_E2E_STATE:-/tmp/devstack-e2e}"
STATE="$STATE_ROOT/cluster"
PKI="$STATE/pki"
LOGS="$STATE"
RUN="$STATE/run"

# DEVSTACK_E2E_PORT_OFFSET shifts every port, so a second cluster (another state dir) can run
# beside the first.
PORT_OFFSET="${DEVSTACK_E2E_PORT_OFFSET:-0}"
# The API server's node port range: devstack's default allowed range. A stack's published
# ports are a NodePort Service of their own (only the planned node ports), so the API server
# never picks a random node port that could take another stack's planned one; the range no
# longer needs to be wider than the one devstack plans in (it was 30000-62767 while it did).
NODE_PORT_RANGE="${DEVSTACK_NODE_PORT_RANGE:-30000-32767}"
APISERVER_PORT="${DEVSTACK_APISERVER_PORT:-$((6443 + PORT_OFFSET))}"
# The other components get a block of 10 ports per offset, away from their usual ports so a
# real cluster on the same host does not collide.
PORT_BASE=$((23790 + 10 * PORT_OFFSET))
ETCD_CLIENT_PORT=$((PORT_BASE + 0))
ETCD_PEER_PORT=$((PORT_BASE + 1))
KCM_PORT=$((PORT_BASE + 2))
SCHED_PORT=$((PORT_BASE + 3))
KWOK_PORT=$((PORT_BASE + 4))
SERVICE_CIDR=10.96.0.0/16
SERVICE_IP=10.96.0.1
STORAGE_CLASS=standard
PROVISIONER_NAME=devstack.dev/hostpath

# The real node (DEVSTACK_NODE=real, the default).
# shellcheck source=e2e/node.sh
source "$ROOT/e2e/node.sh"
# The fake nodes and the scale knobs.
# shellcheck source=e2e/kwok.sh
source "$ROOT/e2e/kwok.sh"

# Start order; `down` stops in reverse.
CONTROL_PLANE=(etcd kube-apiserver kube-controller-manager kube-scheduler kwok devstack-provisioner)

log() { printf '[cluster] %s\n' "$*" >&2; }
die() {
	log "ERROR: $*"
	exit 1
}

now() { date +%s; }

# phase NAME START: print how long a phase took.
phase() { log "$1: $(($(now) - $2))s"; }

provisioner_version() {
	cat "$K8S_DIR/go.mod" "$K8S_DIR/go.sum" "$K8S_DIR"/cmd/devstack-provisioner/*.go | sha256sum | cut -c1-12
}

bin_path() {
	case "$1" in
	etcd) echo "$BIN/etcd-$ETCD_VERSION" ;;
	kwok) echo "$BIN/kwok-$KWOK_VERSION" ;;
	helm) echo "$BIN/helm-$HELM_VERSION" ;;
	containerd) command -v containerd || echo /usr/bin/containerd ;;
	crictl) echo "$BIN/crictl-$CRICTL_VERSION" ;;
	coredns) echo "$BIN/coredns-$COREDNS_VERSION" ;;
	kube-router) echo "$BIN/kube-router-$KUBE_ROUTER_VERSION" ;;
	devstack-provisioner) echo "$BIN/devstack-provisioner-$(provisioner_version)" ;;
	*) echo "$BIN/$1-$K8S_VERSION" ;;
	esac
}

# Version stamps `make` would set (hack/lib/version.sh), so /version and `kubectl version`
# report v1.37.2 instead of v0.0.0-master.
k8s_ldflags() {
	local minor v
	minor="${K8S_VERSION#v1.}"
	minor="${minor%%.*}"
	for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
		v+=" -X $pkg.gitVersion=$K8S_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
		v+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
	done
	echo "$v"
}

# go_build NAME PACKAGE [EXTRA-LDFLAGS]: build a package of the e2e/k8s module into the cache.
go_build() {
	local name="$1" pkg="$2" extra="${3:-}" out
	out="$(bin_path "$name")"
	if [[ -x "$out" ]]; then
		return 0
	fi
	command -v go >/dev/null || die "go is not installed (needed to build $name)"
	local t
	t=$(now)
	mkdir -p "$BIN"
	(cd "$K8S_DIR" && go build -buildvcs=false -trimpath -ldflags="-s -w$extra" -o "$out.tmp.$$" "$pkg") ||
		die "building $name ($pkg) failed"
	mv -f "$out.tmp.$$" "$out"
	phase "build $name" "$t"
}

build_kwok() {
	local out
	out="$(bin_path kwok)"
	if [[ -x "$out" ]]; then
		return 0
	fi
	command -v go >/dev/null || die "go is not installed (needed to build kwok)"
	local t tmp
	t=$(now)
	mkdir -p "$BIN"
	tmp="$(mktemp -d)"
	# kwok's go.mod has no replace directives, so `go install pkg@version` builds it in its
	# own module, with the dependency versions kwok itself pins.
	GOBIN="$tmp" GOFLAGS=-buildvcs=false go install -trimpath -ldflags='-s -w' \
		"sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION" || {
		rm -rf "$tmp"
		die "building kwok failed"
	}
	mv -f "$tmp/kwok" "$out"
	rm -rf "$tmp"
	phase "build kwok" "$t"
}

# Helm pins client-go v0.37.x itself and has no replace directives, so like kwok it builds in
# its own module with `go install`; the -X stamps are what Helm's Makefile sets for a release.
build_helm() {
	local out
	out="$(bin_path helm)"
	if [[ -x "$out" ]]; then
		return 0
	fi
	command -v go >/dev/null || die "go is not installed (needed to build helm)"
	local t tmp v=helm.sh/helm/v4/internal/version
	t=$(now)
	mkdir -p "$BIN"
	tmp="$(mktemp -d)"
	CGO_ENABLED=0 GOBIN="$tmp" GOFLAGS=-buildvcs=false go install -trimpath \
		-ldflags="-s -w -X $v.version=$HELM_VERSION -X $v.metadata= -X $v.gitTreeState=clean" \
		"helm.sh/helm/v4/cmd/helm@$HELM_VERSION" || {
		rm -rf "$tmp"
		die "building helm failed"
	}
	mv -f "$tmp/helm" "$out"
	rm -rf "$tmp"
	phase "build helm" "$t"
}

build_all() {
	local t
	t=$(now)
	go_build etcd go.etcd.io/etcd/server/v3
	go_build kube-apiserver k8s.io/kubernetes/cmd/kube-apiserver "$(k8s_ldflags)"
	go_build kube-controller-manager k8s.io/kubernetes/cmd/kube-controller-manager "$(k8s_ldflags)"
	go_build kube-scheduler k8s.io/kubernetes/cmd/kube-scheduler "$(k8s_ldflags)"
	go_build kubectl k8s.io/kubernetes/cmd/kubectl "$(k8s_ldflags)"
	build_kwok
	build_helm
	go_build devstack-provisioner ./cmd/devstack-provisioner
	if node_enabled; then node_build; fi
	phase "binaries ready" "$t"
}

kubectl() { "$(bin_path kubectl)" --kubeconfig "$STATE/admin.kubeconfig" "$@"; }

# ---------------------------------------------------------------- certificates

gen_cert() { # NAME SUBJECT EXT-FILE-CONTENT
	local name="$1" subj="$2" ext="$3"
	# ECDSA P-256: generating a dozen RSA keys takes seconds on a busy machine, this takes ms.
	openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$PKI/$name.key" 2>/dev/null
	openssl req -new -key "$PKI/$name.key" -subj "$subj" -out "$PKI/$name.csr" 2>/dev/null
	printf '%s\n' "$ext" >"$PKI/$name.ext"
	openssl x509 -req -in "$PKI/$name.csr" -CA "$PKI/ca.crt" -CAkey "$PKI/ca.key" -CAcreateserial \
		-days 365 -sha256 -extfile "$PKI/$name.ext" -out "$PKI/$name.crt" 2>/dev/null
	rm -f "$PKI/$name.csr" "$PKI/$name.ext"
}

gen_pki() {
	local t
	t=$(now)
	mkdir -p "$PKI"
	chmod 700 "$PKI"
	openssl genrsa -out "$PKI/ca.key" 2048 2>/dev/null
	openssl req -x509 -new -key "$PKI/ca.key" -subj "/CN=devstack-e2e-ca" -days 365 -sha256 \
		-addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign,digitalSignature" \
		-out "$PKI/ca.crt" 2>/dev/null
	local client="basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=clientAuth"
	gen_cert apiserver "/CN=kube-apiserver" "basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
subjectAltName=IP:127.0.0.1,DNS:localhost,IP:$SERVICE_IP,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local"
	gen_cert admin "/O=system:masters/CN=devstack-e2e-admin" "$client"
	gen_cert kube-controller-manager "/CN=system:kube-controller-manager" "$client"
	gen_cert kube-scheduler "/CN=system:kube-scheduler" "$client"
	# Front proxy (aggregation layer) client identity, as kubeadm sets it up.
	gen_cert front-proxy-client "/CN=front-proxy-client" "$client"
	# The API server's identity towards kubelets (exec, logs, port-forward).
	gen_cert apiserver-kubelet-client "/O=system:masters/CN=kube-apiserver-kubelet-client" "$client"
	openssl genrsa -out "$PKI/sa.key" 2048 2>/dev/null
	openssl rsa -in "$PKI/sa.key" -pubout -out "$PKI/sa.pub" 2>/dev/null
	chmod 600 "$PKI"/*.key
	for user in admin kube-controller-manager kube-scheduler; do
		write_kubeconfig "$user"
	done
	phase "certificates" "$t"
}

write_kubeconfig() { # USER
	local user="$1" file
	if [[ "$user" == admin ]]; then file="$STATE/admin.kubeconfig"; else file="$STATE/$user.kubeconfig"; fi
	cat >"$file" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: devstack-e2e
  cluster:
    server: https://127.0.0.1:$APISERVER_PORT
    certificate-authority: $PKI/ca.crt
users:
- name: $user
  user:
    client-certificate: $PKI/$user.crt
    client-key: $PKI/$user.key
contexts:
- name: devstack-e2e
  context:
    cluster: devstack-e2e
    user: $user
current-context: devstack-e2e
EOF
	chmod 600 "$file"
}

# ---------------------------------------------------------------- processes

pid_of() { cat "$RUN/$1.pid" 2>/dev/null || true; }

# running NAME: the process recorded for NAME exists and is not a zombie. Used right after
# `start`, when the child may not have exec'd the binary yet.
running() {
	local pid
	pid="$(pid_of "$1")"
	[[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null || return 1
	[[ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" != Z ]]
}

# alive NAME: the process recorded for NAME is running our binary (guards against pid reuse
# when the pid file is old).
alive() {
	running "$1" || return 1
	tr '\0' '\n' <"/proc/$(pid_of "$1")/cmdline" 2>/dev/null | head -n1 | grep -q -- "$1"
}

# ours NAME: alive, or our own child that has not exec'd the binary yet.
ours() {
	alive "$1" && return 0
	running "$1" && [[ "$(cat "/proc/$(pid_of "$1")/comm" 2>/dev/null)" =~ ^(bash|setsid)$ ]]
}

start() { # NAME ARGS...
	local name="$1" bin
	shift
	bin="$(bin_path "$name")"
	mkdir -p "$RUN"
	# setsid: own session, so signals aimed at the caller's process group do not reach it.
	# In a non-interactive shell the child is not a group leader, so setsid execs in place
	# and $! is the component's own pid.
	# 9>&-: the lock fd must not leak into the daemons, or they would hold the lock forever.
	setsid "$bin" "$@" </dev/null >"$LOGS/$name.log" 2>&1 9>&- &
	echo $! >"$RUN/$name.pid"
}

fail_component() { # NAME MESSAGE
	local name="$1"
	log "ERROR: $name: $2"
	if [[ -f "$LOGS/$name.log" ]]; then
		log "last lines of $LOGS/$name.log:"
		tail -n 40 "$LOGS/$name.log" >&2 || true
	fi
	log "stopping the components started so far (logs kept in $STATE)"
	stop_all
	exit 1
}

# wait_for NAME TIMEOUT_SECONDS COMMAND...: poll COMMAND until it succeeds.
wait_for() {
	local name="$1" timeout="$2" deadline
	shift 2
	deadline=$(($(now) + timeout))
	while ! "$@" >/dev/null 2>&1; do
		running "$name" || fail_component "$name" "process exited"
		(($(now) < deadline)) || fail_component "$name" "not ready after ${timeout}s"
		sleep 0.5
	done
}

curl_admin() {
	curl -fsS --max-time 5 --cacert "$PKI/ca.crt" --cert "$PKI/admin.crt" --key "$PKI/admin.key" "$@"
}

etcd_healthy() { curl -fsS --max-time 5 "http://127.0.0.1:$ETCD_CLIENT_PORT/health" | grep -q '"health":"true"'; }
apiserver_ready() { [[ "$(curl_admin "https://127.0.0.1:$APISERVER_PORT/readyz")" == ok ]]; }
healthz_ok() { [[ "$(curl -ksS --max-time 5 "https://127.0.0.1:$1/healthz")" == ok ]]; }
provisioner_ready() { grep -q 'running, volumes under' "$LOGS/devstack-provisioner.log"; }
default_sa_exists() { kubectl -n default get serviceaccount default; }

# stop_one NAME: SIGTERM, SIGKILL after 20 s.
stop_one() {
	local name="$1" pid t deadline
	if ours "$name"; then
		pid="$(pid_of "$name")"
		t=$(now)
		kill -TERM "$pid" 2>/dev/null || true
		deadline=$(($(now) + 20))
		while running "$name" && (($(now) < deadline)); do sleep 0.2; done
		if running "$name"; then
			log "$name (pid $pid) ignored SIGTERM for 20s; sending SIGKILL"
			kill -KILL "$pid" 2>/dev/null || true
			while running "$name"; do sleep 0.1; done
		fi
		(($(now) - t < 2)) || phase "stop $name" "$t"
	fi
	rm -f "$RUN/$name.pid"
}

stop_all() {
	local i
	# The real node first (it needs the API server gone last and cleans the host).
	node_down
	for ((i = ${#CONTROL_PLANE[@]} - 1; i >= 0; i--)); do stop_one "${CONTROL_PLANE[$i]}"; done
}

components() {
	echo "${CONTROL_PLANE[@]}"
	if node_enabled; then echo "${NODE_COMPONENTS[@]}"; fi
}

healthy() {
	local name
	for name in $(components); do
		alive "$name" || return 1
		# Running the binary this checkout expects (a changed version or provisioner source
		# means a restart).
		[[ "$(tr '\0' '\n' <"/proc/$(pid_of "$name")/cmdline" | head -n1)" == "$(bin_path "$name")" ]] || return 1
	done
	etcd_healthy && apiserver_ready && healthz_ok "$KCM_PORT" && healthz_ok "$SCHED_PORT" && kwok_nodes_ready || return 1
	if node_enabled; then node_healthy; fi
}

# ---------------------------------------------------------------- manifests

apply_manifests() {
	kubectl apply -f - >/dev/null <<EOF
$(kwok_nodes_manifest)
---
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata:
  name: $STORAGE_CLASS
  annotations:
    storageclass.kubernetes.io/is-default-class: "true"
provisioner: $PROVISIONER_NAME
reclaimPolicy: Delete
volumeBindingMode: Immediate
allowVolumeExpansion: false
EOF
}

check_ports() {
	command -v ss >/dev/null || return 0
	local port users
	for port in "$ETCD_CLIENT_PORT" "$ETCD_PEER_PORT" "$APISERVER_PORT" "$KCM_PORT" "$SCHED_PORT" "$KWOK_PORT"; do
		users="$(ss -Hltnp "sport = :$port" 2>/dev/null || true)"
		if [[ -n "$users" ]]; then
			die "port $port is already in use (${users//$'\n'/; }); another cluster running? \
try \`e2e/cluster.sh down\`, or set DEVSTACK_E2E_PORT_OFFSET / DEVSTACK_E2E_STATE for a second one"
		fi
	done
}

# ---------------------------------------------------------------- commands

# Serialize up/down between concurrent callers.
lock() {
	exec 9>"$STATE_ROOT/cluster.lock"
	flock -w 900 9 || die "timed out waiting for $STATE_ROOT/cluster.lock"
}

cmd_up() {
	local t_all t
	t_all=$(now)
	node_check_mode
	kwok_check_knobs
	mkdir -p "$STATE_ROOT"
	lock

	if [[ -f "$STATE/admin.kubeconfig" ]] && healthy && kwok_settings_match; then
		log "already running (kubeconfig: $STATE/admin.kubeconfig)"
		phase "up (already running)" "$t_all"
		return 0
	fi
	if [[ -d "$STATE" ]]; then
		log "found a stale or partial cluster in $STATE; stopping it and starting fresh"
		stop_all
		rm -rf --one-file-system "$STATE"
	fi

	build_all
	check_ports
	mkdir -p "$STATE" "$RUN" "$STATE/volumes"
	echo "${DEVSTACK_NODE:-real}" >"$STATE/node-mode"
	kwok_settings >"$STATE/settings"
	log "settings: $(kwok_settings)"
	# The knobs' extra flags (none when unset).
	local apiserver_extra kcm_extra scheduler_extra kwok_extra
	mapfile -t apiserver_extra < <(apiserver_tuning_args)
	mapfile -t kcm_extra < <(kcm_tuning_args)
	mapfile -t scheduler_extra < <(client_tuning_args)
	kwok_config_args >"$STATE/kwok-args"
	mapfile -t kwok_extra <"$STATE/kwok-args"
	gen_pki

	t=$(now)
	start etcd --name devstack-e2e --data-dir "$STATE/etcd" \
		--listen-client-urls "http://127.0.0.1:$ETCD_CLIENT_PORT" \
		--advertise-client-urls "http://127.0.0.1:$ETCD_CLIENT_PORT" \
		--listen-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
		--initial-advertise-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
		--initial-cluster "devstack-e2e=http://127.0.0.1:$ETCD_PEER_PORT" \
		--unsafe-no-fsync --quota-backend-bytes=2147483648 --log-level=warn
	wait_for etcd 60 etcd_healthy
	phase "start etcd" "$t"

	t=$(now)
	start kube-apiserver \
		--etcd-servers "http://127.0.0.1:$ETCD_CLIENT_PORT" \
		--bind-address 127.0.0.1 --advertise-address 127.0.0.1 --secure-port "$APISERVER_PORT" \
		--endpoint-reconciler-type none \
		--tls-cert-file "$PKI/apiserver.crt" --tls-private-key-file "$PKI/apiserver.key" \
		--client-ca-file "$PKI/ca.crt" \
		--requestheader-client-ca-file "$PKI/ca.crt" \
		--requestheader-allowed-names front-proxy-client \
		--requestheader-username-headers X-Remote-User \
		--requestheader-group-headers X-Remote-Group \
		--requestheader-extra-headers-prefix X-Remote-Extra- \
		--proxy-client-cert-file "$PKI/front-proxy-client.crt" \
		--proxy-client-key-file "$PKI/front-proxy-client.key" \
		--authorization-mode Node,RBAC \
		--enable-admission-plugins PodNodeSelector,PodTolerationRestriction \
		--kubelet-client-certificate "$PKI/apiserver-kubelet-client.crt" \
		--kubelet-client-key "$PKI/apiserver-kubelet-client.key" \
		--kubelet-preferred-address-types InternalIP \
		--service-account-issuer https://kubernetes.default.svc.cluster.local \
		--service-account-key-file "$PKI/sa.pub" \
		--service-account-signing-key-file "$PKI/sa.key" \
		--service-cluster-ip-range "$SERVICE_CIDR" \
		--service-node-port-range "$NODE_PORT_RANGE" \
		--allow-privileged=true \
		--shutdown-delay-duration=0s \
		--profiling=false \
		"${apiserver_extra[@]}" \
		--v=1
	wait_for kube-apiserver 120 apiserver_ready
	phase "start kube-apiserver" "$t"

	t=$(now)
	start kube-controller-manager \
		--kubeconfig "$STATE/kube-controller-manager.kubeconfig" \
		--authentication-kubeconfig "$STATE/kube-controller-manager.kubeconfig" \
		--authorization-kubeconfig "$STATE/kube-controller-manager.kubeconfig" \
		--bind-address 127.0.0.1 --secure-port "$KCM_PORT" \
		--leader-elect=false \
		--controllers '*' \
		--flex-volume-plugin-dir "$STATE/flex-volume" \
		--node-monitor-grace-period=180s \
		--use-service-account-credentials=true \
		--service-account-private-key-file "$PKI/sa.key" \
		--root-ca-file "$PKI/ca.crt" \
		--cluster-signing-cert-file "$PKI/ca.crt" --cluster-signing-key-file "$PKI/ca.key" \
		--service-cluster-ip-range "$SERVICE_CIDR" \
		--profiling=false \
		"${kcm_extra[@]}" \
		--v=1
	start kube-scheduler \
		--kubeconfig "$STATE/kube-scheduler.kubeconfig" \
		--authentication-kubeconfig "$STATE/kube-scheduler.kubeconfig" \
		--authorization-kubeconfig "$STATE/kube-scheduler.kubeconfig" \
		--bind-address 127.0.0.1 --secure-port "$SCHED_PORT" \
		--leader-elect=false \
		--profiling=false \
		"${scheduler_extra[@]}" \
		--v=1
	start kwok \
		--kubeconfig "$STATE/admin.kubeconfig" \
		--config "$K8S_DIR/kwok-stages.yaml" \
		"${kwok_extra[@]}" \
		--manage-all-nodes=false \
		--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake \
		--manage-nodes-with-label-selector= \
		--disregard-status-with-annotation-selector=kwok.x-k8s.io/status=custom \
		--disregard-status-with-label-selector= \
		--cidr=10.244.0.1/16 --node-ip=10.0.0.1 \
		--server-address "127.0.0.1:$KWOK_PORT"
	start devstack-provisioner \
		--kubeconfig "$STATE/admin.kubeconfig" \
		--provisioner-name "$PROVISIONER_NAME" \
		--base-dir "$STATE/volumes"
	wait_for kube-controller-manager 60 healthz_ok "$KCM_PORT"
	wait_for kube-scheduler 60 healthz_ok "$SCHED_PORT"
	wait_for devstack-provisioner 60 provisioner_ready
	phase "start controllers" "$t"

	t=$(now)
	apply_manifests || fail_component kube-apiserver "applying the fake node and storage class failed"
	wait_for kwok 90 kwok_nodes_ready
	wait_for kube-controller-manager 60 default_sa_exists
	phase "kwok nodes ready ($KWOK_NODES)" "$t"
	if node_enabled; then node_up; fi

	phase "up" "$t_all"
	log "kubeconfig: $STATE/admin.kubeconfig"
}

cmd_down() {
	local t
	t=$(now)
	mkdir -p "$STATE_ROOT"
	lock
	if [[ -d "$STATE" ]]; then
		stop_all
		rm -rf --one-file-system "$STATE"
	fi
	phase "down" "$t"
}

cmd_kubeconfig() {
	[[ -f "$STATE/admin.kubeconfig" ]] ||
		die "no cluster: $STATE/admin.kubeconfig does not exist (run e2e/cluster.sh up)"
	echo "$STATE/admin.kubeconfig"
}

cmd_status() {
	# Without DEVSTACK_NODE, judge the cluster by the mode it was started in.
	if [[ -z "${DEVSTACK_NODE:-}" && -f "$STATE/node-mode" ]]; then DEVSTACK_NODE="$(cat "$STATE/node-mode")"; fi
	if [[ -f "$STATE/admin.kubeconfig" ]] && healthy; then
		log "running"
		return 0
	fi
	log "not running"
	return 1
}

# helm ARGS: run Helm against the cluster as admin (KUBECONFIG from the state dir unless set).
cmd_helm() {
	build_helm
	local kc="${KUBECONFIG:-}"
	if [[ -z "$kc" && -f "$STATE/admin.kubeconfig" ]]; then
		kc="$STATE/admin.kubeconfig"
	fi
	# Helm's own caches and config stay under the state root, not in $HOME.
	KUBECONFIG="$kc" HELM_CACHE_HOME="$STATE_ROOT/helm/cache" HELM_CONFIG_HOME="$STATE_ROOT/helm/config" \
		HELM_DATA_HOME="$STATE_ROOT/helm/data" exec "$(bin_path helm)" "$@"
}

case "${1:-}" in
up) cmd_up ;;
down) cmd_down ;;
kubeconfig) cmd_kubeconfig ;;
build) build_all ;;
status) cmd_status ;;
bin-dir) echo "$BIN" ;;
load-image) shift && node_load_image "$@" ;;
helm)
	shift
	if (($# == 0)); then
		# No arguments: build (or reuse) Helm and print its path.
		build_helm
		bin_path helm
	else
		cmd_helm "$@"
	fi
	;;
kubectl)
	shift
	if (($# == 0)); then
		# No arguments: print the path of kubectl v1.37.2 (built by `up` / `build`).
		[[ -x "$(bin_path kubectl)" ]] || die "kubectl $K8S_VERSION is not built yet (run e2e/cluster.sh up)"
		bin_path kubectl
	else
		[[ -f "$STATE/admin.kubeconfig" ]] || die "no cluster (run e2e/cluster.sh up)"
		kubectl "$@"
	fi
	;;
*)
	echo "usage: $0 up|down|kubeconfig|status|build|kubectl ARGS...|helm ARGS...|load-image IMAGE..." >&2
	exit 2
	;;
esac
