#!/usr/bin/env bash
# From zero to a running stack on Kind: create the cluster from kind/devstack-cluster.yaml
# (host-port parity), load the operator image, install the chart, apply an example and wait
# until it is Ready.
#
#   kind/up.sh [up]          all of the above (idempotent: an existing cluster is reused)
#   kind/up.sh check-config [FILE]  validate kind/devstack-cluster.yaml (or FILE) with Kind's
#                            own config types and print its port mappings as JSON (needs Go)
#   kind/up.sh node-port HOST_PORT  the node port a stack's host port becomes (in
#                            NODE_PORT_RANGE, default 30000-32767; the same rule as devstack's)
#   kind/up.sh port-mapping HOST_PORT...  extraPortMappings lines for those host ports
#
# Needs: kind, docker, kubectl; helm from PATH, else the harness's (e2e/cluster.sh helm, built
# from the Go module proxy). Environment:
#   KIND_CLUSTER      cluster name (default devstack)
#   OPERATOR_IMAGE    image to load (default devstack-local/operator:<crate version>); built
#                     with operator/Dockerfile when the local Docker has no such image
#   EXAMPLE           stack to apply (default examples/minimal.yaml; the config maps the
#                     host ports of it and of examples/soma-shared-infra.yaml)
#   RELEASE_NAMESPACE namespace of the operator (default devstack-system)
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
config=$root/kind/devstack-cluster.yaml
cluster=${KIND_CLUSTER:-devstack}
example=${EXAMPLE:-$root/examples/minimal.yaml}
release_ns=${RELEASE_NAMESPACE:-devstack-system}
cache=${DEVSTACK_CACHE:-${HOME:-/root}/.cache/devstack}

log() { echo "[kind] $*" >&2; }
die() { echo "[kind] error: $*" >&2; exit 1; }
need() { command -v "$1" >/dev/null || die "$1 is not installed ($2)"; }

check_config() {
  need go "builds the config checker"
  local src=$root/kind/configcheck bin hash
  hash=$(cat "$src/go.mod" "$src/go.sum" "$src/main.go" | sha256sum | cut -c1-12)
  bin=$cache/bin/kind-configcheck-$hash
  if [[ ! -x $bin ]]; then
    mkdir -p "$cache/bin"
    (cd "$src" && go build -buildvcs=false -trimpath -o "$bin.tmp.$$" .) || die "building the config checker failed"
    mv -f "$bin.tmp.$$" "$bin"
  fi
  "$bin" "${1:-$config}"
}

helm_cmd() {
  if command -v helm >/dev/null; then
    helm "$@"
  else
    "$root/e2e/cluster.sh" helm "$@"
  fi
}

up() {
  need kind "https://kind.sigs.k8s.io/docs/user/quick-start/#installation"
  need docker "Kind runs its node in Docker"
  need kubectl "https://kubernetes.io/docs/tasks/tools/"
  check_config >/dev/null

  local version image
  version=$(sed -n '/^\[workspace.package\]/,/^\[/s/^version = "\(.*\)"/\1/p' "$root/Cargo.toml")
  image=${OPERATOR_IMAGE:-devstack-local/operator:$version}

  if kind get clusters 2>/dev/null | grep -qx "$cluster"; then
    log "cluster $cluster exists; reusing it"
  else
    log "creating cluster $cluster from $config"
    kind create cluster --name "$cluster" --config "$config" --wait 120s
  fi
  export KUBECONFIG=${KUBECONFIG:-$HOME/.kube/config}
  kubectl config use-context "kind-$cluster" >/dev/null

  if ! docker image inspect "$image" >/dev/null 2>&1; then
    log "building $image with operator/Dockerfile"
    docker build -f "$root/operator/Dockerfile" -t "$image" "$root"
  fi
  log "loading $image into $cluster"
  kind load docker-image "$image" --name "$cluster"

  log "installing the chart into $release_ns"
  helm_cmd upgrade --install devstack-operator "$root/charts/devstack-operator" \
    --namespace "$release_ns" --create-namespace \
    --set "image.repository=${image%:*}" --set "image.tag=${image##*:}" --set image.pullPolicy=Never \
    --wait --timeout 5m

  local ns name
  ns=$(sed -n 's/^  namespace: *//p' "$example" | head -n1)
  ns=${ns:-default}
  name=$(sed -n 's/^  name: *//p' "$example" | head -n1)
  log "applying $example (DevStack $ns/$name)"
  kubectl create namespace "$ns" --dry-run=client -o yaml | kubectl apply -f - >/dev/null
  kubectl apply -n "$ns" -f "$example"
  kubectl wait -n "$ns" "devstack/$name" --for=condition=Ready --timeout=10m
  kubectl get devstacks -A
  log "done: the stack's host ports answer on 127.0.0.1 (see $config)"
}

# The node port of host port $1: first + (port - first) mod size in NODE_PORT_RANGE (the rule of
# devstack's plan, crds/src/plan/node_ports.rs).
node_port() {
  local range=${NODE_PORT_RANGE:-30000-32767} first last size port=$1
  [[ $port =~ ^[0-9]+$ ]] && ((port >= 1 && port <= 65535)) || die "$port is not a port"
  first=${range%-*} last=${range#*-}
  size=$((last - first + 1))
  echo $((first + ((port - first) % size + size) % size))
}

port_mapping() {
  local port
  for port in "$@"; do
    printf '      - {hostPort: %s, containerPort: %s, listenAddress: "127.0.0.1", protocol: TCP}\n' \
      "$port" "$(node_port "$port")"
  done
}

case ${1:-up} in
  up) up ;;
  check-config) check_config "${2:-}" ;;
  node-port) node_port "${2:?usage: $0 node-port HOST_PORT}" ;;
  port-mapping) shift; port_mapping "$@" ;;
  *) echo "usage: $0 [up|check-config|node-port HOST_PORT|port-mapping HOST_PORT...]" >&2; exit 2 ;;
esac
