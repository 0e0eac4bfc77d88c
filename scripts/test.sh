#!/usr/bin/env bash
# Runs every test of the project, the way CI does (.ci/run calls exactly this):
#   1. prerequisites (Rust components; the e2e scripts install Docker, Compose and the
#      Kubernetes binaries themselves, cached under ${DEVSTACK_CACHE:-~/.cache/devstack})
#   2. a real local control plane (e2e/cluster.sh) and a real Docker engine (e2e/docker.sh:
#      the host's docker.io, and Debian sid's beside it for what needs Engine 25+), brought up
#      in the background while cargo fmt --check, cargo clippy -D warnings and the test build run
#   3. every test of cargo test --workspace in two lanes side by side: the tests that need
#      only the Docker engine (then cargo doc, warnings denied: no broken doc links), and the
#      rest (one e2e file at a time)
#   4. tears the control plane and the engine down again, also on failure
# Each phase prints its duration. Nothing is skipped: a missing cluster or engine fails the run.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

log() { echo "[test] $*" >&2; }
phase() { # NAME CMD...: fails as CMD does, also where errexit is off (a `||` list)
  local name=$1 t0=$SECONDS rc=0
  shift
  log "$name ..."
  "$@" || rc=$?
  log "$name: $((SECONDS - t0))s$( ((rc == 0)) || echo " (exit $rc)")"
  return "$rc"
}

started_cluster="" started_docker="" started_sid_engine="" setup_pid=""
# A second engine for what needs Docker Engine 25+ (e2e/tests/engine_sid.rs): Debian sid's
# docker.io beside the host's 20.10, with its own state, socket and networks.
sid_engine() {
  DEVSTACK_DOCKER_ENGINE=sid DEVSTACK_IMAGES="postgres redis" \
    DEVSTACK_E2E_STATE="${DEVSTACK_E2E_STATE:-/tmp/devstack-e2e}-sid" \
    DEVSTACK_DOCKER_RUN="${DEVSTACK_DOCKER_RUN:-/run/devstack-docker}-sid" \
    DEVSTACK_DOCKER_POOL="${DEVSTACK_DOCKER_SID_POOL:-10.211.0.0/16}" e2e/docker.sh "$@"
}
# The main job (scripts/run.sh) on an example with redis, whose `--appendonly yes` once broke
# `kubectl apply`; its operator and Compose project are stopped at teardown.
main_job_stack=examples/soma-shared-infra.yaml
main_job_dir=.devstack/soma
stop_main_job() {
  local pid
  if [[ -f $main_job_dir/operator.pid ]]; then
    pid=$(<"$main_job_dir/operator.pid")
    kill -TERM "$pid" 2>/dev/null || true
    rm -f "$main_job_dir/operator.pid"
  fi
  if [[ -f $main_job_dir/compose.yaml ]] && e2e/docker.sh status >/dev/null 2>&1; then
    DOCKER_HOST=$(e2e/docker.sh endpoint) "$(e2e/docker.sh compose-bin)" \
      -f "$main_job_dir/compose.yaml" down -v >/dev/null 2>&1 || true
  fi
}
teardown() {
  local rc=$?
  # The engines and the control plane may still be coming up (a check failed first): they
  # are torn down once they are, never half-way.
  [[ -n $setup_pid ]] && { wait "$setup_pid" 2>/dev/null || true; }
  stop_main_job
  [[ -n $started_cluster ]] && { e2e/cluster.sh down || rc=1; }
  [[ -n $started_docker ]] && { e2e/docker.sh down || rc=1; }
  [[ -n $started_sid_engine ]] && { sid_engine down || rc=1; }
  log "total: ${SECONDS}s (exit $rc)"
  exit "$rc"
}
trap teardown EXIT

rust_components() {
  rustup component list --installed 2>/dev/null | grep -q '^rustfmt' || rustup component add rustfmt
  rustup component list --installed 2>/dev/null | grep -q '^clippy' || rustup component add clippy
}

# One cargo target for every checkout, in the devstack cache: a fresh clone recompiles only the
# workspace crates, not the dependency tree (clippy, doc and test builds took 3.5 min cold).
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-${DEVSTACK_CACHE:-$HOME/.cache/devstack}/cargo-target}
# No incremental compilation: every run builds a fresh clone once, so the incremental caches
# (8.5 GB here) would only fill the disk.
export CARGO_INCREMENTAL=0
log "cargo target: $CARGO_TARGET_DIR"

# The e2e test files that need only the Docker engine (no control plane, no node). They run
# beside the rest, which shares one control plane and runs one file at a time as before (the
# operator tests count the API server's requests; node ports are cluster-wide). A test file not
# listed here runs in the cluster lane: a new test is never left out, at worst it runs serially.
engine_only_tests=(app_values compose_cli compose_hash compose_up devloop_docker docker_smoke
  driver engine_sid files_docker fuzz import_corpus import_up probe_pace yaml_readers)

# `--test NAME` for every test target of the workspace but the engine-only ones (cargo's own
# list, so none is missed).
cluster_lane_test_args() {
  cargo metadata --no-deps --format-version 1 --locked | python3 -c '
import json, sys
skip = set(sys.argv[1:])
names = {t["name"] for p in json.load(sys.stdin)["packages"] for t in p["targets"]
         if "test" in t["kind"]}
for name in sorted(names - skip):
    print("--test", name)
' "${engine_only_tests[@]}"
}

# Every lane selects its targets with --workspace: the features then resolve as in the build
# above, and nothing is compiled again (`-p devstack-e2e` alone would rebuild the workspace
# crates with fewer features).

# The cluster lane's tests that run the operator image (operator/image.sh build): last in
# their lane, they find the image the engine lane built first.
operator_image_tests=(chart_operator chart_real_node)

# The engine lane: the operator image's static build first (Cargo.toml's `operator` profile:
# 4.5 min of an idle machine from an empty target, ≈ 3 min of CPU after a change; 5.5–7 min
# beside the tests), then the engine-only tests, then `cargo doc`. The two lanes take about as
# long (670–790 s and 715–820 s in session 11's rehearsals).
engine_lane() {
  local rc=0 t0=$SECONDS args=() name
  for name in "${engine_only_tests[@]}"; do args+=(--test "$name"); done
  # Niced: the tests of both lanes come first, the build takes the CPU they leave (it is
  # needed only at the end of the cluster lane).
  nice -n 10 operator/image.sh build >/dev/null || rc=1
  log "operator image: $((SECONDS - t0))s"
  cargo test --workspace --locked --no-fail-fast "${args[@]}" || rc=1
  log "engine-only tests done: $((SECONDS - t0))s"
  RUSTDOCFLAGS="-D warnings" cargo doc --no-deps --workspace --locked || rc=1
  log "cargo doc done: $((SECONDS - t0))s"
  return "$rc"
}

# Everything else that `cargo test --workspace` runs: the libraries' and binaries' unit and
# golden tests, the examples' build, every other test file, the doc tests.
cluster_lane() {
  local rc=0 list args name
  list=$(cluster_lane_test_args) && [[ -n $list ]] || {
    log "error: cannot list the workspace's test targets (cargo metadata, python3)"
    return 1
  }
  read -ra args <<<"$(grep -vxf <(printf -- '--test %s\n' "${operator_image_tests[@]}") <<<"$list" | paste -sd' ')"
  cargo test --workspace --locked --no-fail-fast --lib --bins --examples "${args[@]}" || rc=1
  args=()
  for name in "${operator_image_tests[@]}"; do args+=(--test "$name"); done
  cargo test --workspace --locked --no-fail-fast "${args[@]}" || rc=1
  cargo test --workspace --locked --no-fail-fast --doc || rc=1
  return "$rc"
}

test_lanes() {
  local engine_pid rc=0 t0=$SECONDS
  ( set -o pipefail; engine_lane 2>&1 | sed -u 's/^/[engine lane] /' ) &
  engine_pid=$!
  cluster_lane || rc=1
  log "cluster lane: $((SECONDS - t0))s"
  wait "$engine_pid" || rc=1
  log "engine lane done: $((SECONDS - t0))s"
  return "$rc"
}

# The engines and the control plane, one after the other (they share apt-get and the images).
infrastructure() {
  phase "docker engine + compose + local images" e2e/docker.sh up || return 1
  phase "docker engine 28 (sid)" sid_engine up || return 1
  phase "local control plane" e2e/cluster.sh up
}

phase "rust components" rust_components
# The infrastructure comes up in the background while cargo checks and builds: it waits
# mostly on the disk and the package mirrors, the build on the CPU (92 s of a warm run's
# start were the infrastructure's alone). The tests wait for both.
started_docker=1 started_sid_engine=1 started_cluster=1
( set -o pipefail; infrastructure 2>&1 | sed -u 's/^/[setup] /' ) &
setup_pid=$!

phase "cargo fmt --check" cargo fmt --all -- --check
phase "cargo clippy" cargo clippy --workspace --all-targets --locked -- -D warnings
phase "cargo test: build" cargo test --workspace --locked --no-run
# The binaries the e2e tests run, built once here the way e2e/src/bin.rs builds them (which
# then finds them done), before the lanes, so no test waits for them. `--tests` gives them the
# test build's features: its libraries are linked, not compiled again (37-39 s without).
phase "e2e binaries" cargo build --quiet --locked --workspace --tests --bin devstack --bin devstack-operator
wait_for_setup() {
  local pid=$setup_pid
  setup_pid=""
  wait "$pid"
}
phase "engines and control plane ready" wait_for_setup

export KUBECONFIG DOCKER_HOST DEVSTACK_COMPOSE_BIN DEVSTACK_LOCAL_IMAGES DEVSTACK_YAML_PYTHON
export DEVSTACK_DOCKER_SID_HOST
DEVSTACK_DOCKER_SID_HOST=$(sid_engine endpoint)
KUBECONFIG=$(e2e/cluster.sh kubeconfig)
DOCKER_HOST=$(e2e/docker.sh endpoint)
DEVSTACK_COMPOSE_BIN=$(e2e/docker.sh compose-bin)
DEVSTACK_LOCAL_IMAGES=$(e2e/docker.sh images | paste -sd, -)
DEVSTACK_YAML_PYTHON=$(e2e/docker.sh yaml-python)

phase "cargo test" test_lanes
phase "main job: scripts/run.sh $main_job_stack" scripts/run.sh "$main_job_stack"
