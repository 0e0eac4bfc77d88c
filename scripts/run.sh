#!/usr/bin/env bash
# The main job: bring a DevStack up in BOTH modes on this machine, with no cluster configured.
#
#   scripts/run.sh [up] [STACK.yaml]   (default examples/minimal.yaml)
#   scripts/run.sh down [STACK.yaml]   stop the compose project, the operator, the control plane and the engine
#
# up: starts the project's own local control plane (e2e/cluster.sh) and Docker engine
# (e2e/docker.sh), builds the devstack CLI and the operator, installs the CRD, starts
# devstack-operator against the local control plane, `kubectl apply`s the DevStack into
# namespace <stack> and waits with `kubectl wait --for=condition=Ready`, renders the Compose
# project into .devstack/<stack>/ (secrets in .env, mode 0600, reused on later runs), starts it
# with `docker compose up --wait`, and prints the parity matrix. Catalog types with a locally
# built image (postgres, redis: no registry is reachable here) use it via --image-override.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
action=up
case "${1:-}" in up|down) action=$1; shift ;; esac
stack_file=${1:-examples/minimal.yaml}
[[ -f $stack_file ]] || { echo "error: $stack_file: no such file; pass a DevStack YAML file" >&2; exit 2; }

log() { echo "[run] $*" >&2; }
phase() { local name=$1 t0=$SECONDS; shift; log "$name ..."; "$@"; log "$name: $((SECONDS - t0))s"; }

target_dir=${CARGO_TARGET_DIR:-$root/target}
devstack=$target_dir/debug/devstack
stack_name=$(awk '/^metadata:/{m=1} m&&/name:/{print $2; exit}' "$stack_file" | tr -d '{},')
[[ $stack_name == name:* || -z $stack_name ]] && stack_name=$(grep -o 'name: *[a-z0-9-]*' "$stack_file" | head -1 | awk '{print $2}')
workdir=$root/.devstack/$stack_name

if [[ $action == down ]]; then
  if [[ -f $workdir/operator.pid ]]; then
    pid=$(cat "$workdir/operator.pid")
    kill -TERM "$pid" 2>/dev/null || true
    rm -f "$workdir/operator.pid"
  fi
  if [[ -f $workdir/compose.yaml ]] && e2e/docker.sh status >/dev/null 2>&1; then
    DOCKER_HOST=$(e2e/docker.sh endpoint) "$(e2e/docker.sh compose-bin)" -f "$workdir/compose.yaml" down || true
  fi
  e2e/cluster.sh down
  e2e/docker.sh down
  log "stopped; data and secrets kept in $workdir (delete it to reset)"
  exit 0
fi

phase "docker engine" e2e/docker.sh up
phase "local control plane" e2e/cluster.sh up
phase "build devstack" cargo build -q -p devstack-cli -p devstack-operator

export KUBECONFIG DOCKER_HOST
KUBECONFIG=$(e2e/cluster.sh kubeconfig)
DOCKER_HOST=$(e2e/docker.sh endpoint)
kubectl=$(e2e/cluster.sh kubectl 2>/dev/null || command -v kubectl)
compose=$(e2e/docker.sh compose-bin)
overrides=()
# otel-app is the observability test's own service, not a catalog type.
while IFS= read -r line; do overrides+=(--image-override "$line"); done < <(e2e/docker.sh images | grep -v '^otel-app=')

phase "validate" "$devstack" validate "$stack_file" "${overrides[@]}"

# Pods run on the real node when every image of the stack is there; otherwise (no registry is
# reachable here) the namespace is placed on the harness's fake node (kwok), which runs no
# containers, and the script says so.
place_namespace() {
  local image missing=() local_images
  # The node holds exactly the images e2e/docker.sh builds (e2e/node.sh imports them).
  local_images=$(e2e/docker.sh images | cut -d= -f2-)
  for image in $("$devstack" render k8s "$stack_file" "${overrides[@]}" 2>/dev/null \
    | sed -n 's/^ *image: *//p' | tr -d "\"'" | sort -u); do
    grep -qxF "$image" <<<"$local_images" || missing+=("$image")
  done
  if ((${#missing[@]} == 0)); then
    log "kubernetes: every image of $stack_name is local; its pods run on the real node"
    return 0
  fi
  log "kubernetes: not local and not pullable here (no registry): ${missing[*]}"
  log "kubernetes: namespace $stack_name goes to the fake node (kwok): objects and readiness, no containers"
  "$kubectl" annotate namespace "$stack_name" --overwrite \
    "scheduler.alpha.kubernetes.io/node-selector=type=kwok" \
    'scheduler.alpha.kubernetes.io/defaultTolerations=[{"key":"devstack.dev/fake-node","operator":"Exists","effect":"NoSchedule"}]'
}

operator=$target_dir/debug/devstack-operator
operator_pid_file=$workdir/operator.pid
stop_operator() {
  local pid
  [[ -f $operator_pid_file ]] || return 0
  pid=$(cat "$operator_pid_file")
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid"
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
  fi
  rm -f "$operator_pid_file"
}

# The operator does the Kubernetes side: it watches namespace <stack>, generates the
# credentials in the cluster, applies the rendered objects in dependency order and reports
# Ready in the DevStack's status.
kube_up() {
  "$devstack" crd | "$kubectl" apply --server-side -f -
  "$kubectl" wait --for=condition=Established crd/devstacks.devstack.dev --timeout=60s
  "$kubectl" create namespace "$stack_name" --dry-run=client -o yaml | "$kubectl" apply -f -
  place_namespace
  mkdir -p "$workdir"
  stop_operator
  "$operator" --namespace "$stack_name" --metrics-addr "127.0.0.1:${DEVSTACK_OPERATOR_METRICS_PORT:-18080}" \
    --log-format text "${overrides[@]}" >"$workdir/operator.log" 2>&1 &
  echo $! >"$operator_pid_file"
  log "operator started (pid $(cat "$operator_pid_file"), log $workdir/operator.log)"
  "$kubectl" apply -n "$stack_name" -f "$stack_file"
  if ! "$kubectl" wait -n "$stack_name" --for=condition=Ready "devstack/$stack_name" --timeout=180s; then
    "$kubectl" get devstack -n "$stack_name" "$stack_name" -o yaml >&2 || true
    tail -20 "$workdir/operator.log" >&2 || true
    return 1
  fi
  "$kubectl" get dvs -n "$stack_name"
  "$kubectl" get statefulsets,deployments,services,pods,pvc,secrets -n "$stack_name"
}
phase "kubernetes: operator reconciles the DevStack" kube_up

compose_up() {
  "$devstack" render compose "$stack_file" "${overrides[@]}" -o "$workdir/compose.yaml"
  # No registry is reachable here: start the services whose image is present (and whose
  # dependencies can start), and say which ones are left out and why.
  local images services
  images=$(mktemp)
  docker images --format '{{.Repository}}:{{.Tag}}' >"$images"
  mapfile -t services < <("$compose" -f "$workdir/compose.yaml" config --format json \
    | python3 "$root/scripts/runnable-services.py" "$images")
  rm -f "$images"
  if ((${#services[@]} == 0)); then
    log "docker: no service of $stack_name has a local image; nothing to start"
    return 0
  fi
  "$compose" -f "$workdir/compose.yaml" up -d --wait --wait-timeout 180 "${services[@]}"
  "$compose" -f "$workdir/compose.yaml" ps
}
phase "docker: compose up --wait" compose_up

phase "parity" "$devstack" parity "$stack_file" "${overrides[@]}"

log "stack $stack_name is up in both modes."
log "  kubernetes: KUBECONFIG=$KUBECONFIG $kubectl get all -n $stack_name"
log "  docker:     DOCKER_HOST=$DOCKER_HOST $compose -f $workdir/compose.yaml ps"
log "  stop:       scripts/run.sh down $stack_file"
