#!/usr/bin/env bash
# The catalog conformance suite for every type with a local image, including those the test
# command (scripts/test.sh) leaves out because no example stack uses them: nats (its image builds
# nats-server v2.12.3 from the Go module proxy), rabbitmq, versitygw (the S3 gateway, built
# from the Go module proxy: ~2 min cold), weaviate and ollama (Go module proxy; ollama with cgo,
# so it needs g++). Builds (or reuses) the images, starts the
# engine and the local cluster (real node) unless they run, runs the suite in both runtimes and
# rewrites the table of docs/catalog.md. Tears down what it started.
#
#   e2e/conformance-all.sh            every image e2e/images defines
#   e2e/conformance-all.sh nats redis only these
#
# Honours the harness's variables (DEVSTACK_E2E_STATE, DEVSTACK_E2E_PORT_OFFSET,
# DEVSTACK_DOCKER_RUN, DEVSTACK_DOCKER_POOL, CARGO_TARGET_DIR). The real node is one per host.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
log() { echo "[conformance] $*" >&2; }

if (($#)); then types="$*"; else types=$(e2e/docker.sh image-names | grep -vx otel-app | paste -sd' ' -); fi  # otel-app: a test's service, not a catalog type
export DEVSTACK_IMAGES=$types DEVSTACK_CONFORMANCE_TYPES=$types

started_docker="" started_cluster=""
teardown() {
  local rc=$?
  [[ -z $started_cluster ]] || e2e/cluster.sh down || rc=1
  [[ -z $started_docker ]] || e2e/docker.sh down || rc=1
  log "total: ${SECONDS}s (exit $rc)"
  exit "$rc"
}
trap teardown EXIT

# `up` builds what is missing and imports exactly this set; a running engine is reused.
e2e/docker.sh status >/dev/null 2>&1 || started_docker=1
e2e/docker.sh up
if ! e2e/cluster.sh status >/dev/null 2>&1; then
  started_cluster=1
  e2e/cluster.sh up
fi

export KUBECONFIG DOCKER_HOST DEVSTACK_LOCAL_IMAGES
KUBECONFIG=$(e2e/cluster.sh kubeconfig)
DOCKER_HOST=$(e2e/docker.sh endpoint)
DEVSTACK_LOCAL_IMAGES=$(e2e/docker.sh images | paste -sd, -)
log "types: $types"
t0=$SECONDS
# One runtime after the other (each already runs every type at once): all types in both at once
# overloads a shared 2-core machine.
cargo test -p devstack-e2e --test catalog_conformance -- --nocapture --test-threads=1
log "suite: $((SECONDS - t0))s"
cargo build -q -p devstack-cli --bin devstack
e2e/catalog-table.sh
