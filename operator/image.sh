#!/usr/bin/env bash
# Builds the operator image here, where no registry is reachable: the layout of
# operator/Dockerfile (a static binary on distroless/static as uid 65532), from the host's
# Debian toolchain instead of the rust and distroless base images.
#
#   operator/image.sh build   build the binary (Cargo.toml's `operator` profile) and the image
#                             (into $DOCKER_HOST's engine, default: the engine of
#                             e2e/docker.sh); print the reference
#   operator/image.sh ref     print the reference, devstack-local/operator:<crate version>
#   operator/image.sh size    print the image's size in bytes
#
# Environment: DEVSTACK_IMAGE_TARGET_DIR, the static build's cargo target directory (default
# ${DEVSTACK_CACHE:-~/.cache/devstack}/cargo-image-target: its RUSTFLAGS differ from the
# everyday build's, and a cache outside the checkout lets a fresh clone reuse the compiled
# dependencies, as the harness's Go binaries are reused; cargo's fingerprints still rebuild
# whatever changed).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
target=x86_64-unknown-linux-gnu
target_dir=${DEVSTACK_IMAGE_TARGET_DIR:-${DEVSTACK_CACHE:-$HOME/.cache/devstack}/cargo-image-target}

ctx=""
cleanup() { if [[ -n $ctx ]]; then rm -rf "$ctx"; fi; }
trap cleanup EXIT

log() { echo "[operator-image] $*" >&2; }
die() { echo "[operator-image] error: $*" >&2; exit 1; }

# The crate version (the workspace's), also the chart's appVersion.
version() {
  sed -n '/^\[workspace.package\]/,/^\[/s/^version = "\(.*\)"/\1/p' "$root/Cargo.toml"
}

ref() { echo "devstack-local/operator:$(version)"; }

docker_env() {
  if [[ -z ${DOCKER_HOST:-} ]]; then
    DOCKER_HOST=$("$root/e2e/docker.sh" endpoint)
    export DOCKER_HOST
  fi
  docker version >/dev/null 2>&1 || die "no Docker engine at $DOCKER_HOST (start it with e2e/docker.sh up)"
}

build() {
  local t0=$SECONDS bin var
  # Under `cargo test` the per-crate variables (CARGO_MANIFEST_DIR, CARGO_PKG_*, …) are set,
  # and build scripts that watch them (ring's) would make every run from a test rebuild the
  # whole dependency tree; a shell run and a test run must see the same environment.
  for var in $(compgen -e | grep '^CARGO_' | grep -vx 'CARGO_HOME'); do unset "$var"; done
  # crt-static: glibc's static-pie, so the image needs no libc (distroless/static). --target
  # keeps the flag off build scripts and proc macros, which must stay dynamic.
  RUSTFLAGS="-C target-feature=+crt-static" cargo build --quiet --locked --profile operator \
    --manifest-path "$root/Cargo.toml" -p devstack-operator --bin devstack-operator \
    --target "$target" --target-dir "$target_dir"
  bin=$target_dir/$target/operator/devstack-operator
  if readelf -d "$bin" | grep -q '(NEEDED)'; then
    die "$bin needs shared libraries; the image has no libc"
  fi
  log "binary: $((SECONDS - t0))s, $(stat -c %s "$bin") bytes"

  docker_env
  ctx=$(mktemp -d)
  local r=$ctx/rootfs
  mkdir -p "$r/etc/ssl/certs" "$r/home/nonroot" "$r/tmp" "$r/usr/local/bin"
  chmod 1777 "$r/tmp"
  # What distroless/static holds: users root, nobody and nonroot (65532), CA certificates
  # (Debian's ca-certificates bundle from the host), a writable /tmp.
  printf 'root:x:0:0:root:/root:/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n' >"$r/etc/passwd"
  printf 'root:x:0:\nnobody:x:65534:\nnonroot:x:65532:\n' >"$r/etc/group"
  printf 'hosts: files dns\n' >"$r/etc/nsswitch.conf"
  cp /etc/ssl/certs/ca-certificates.crt "$r/etc/ssl/certs/ca-certificates.crt"
  install -m 0755 "$bin" "$r/usr/local/bin/devstack-operator"
  cat >"$ctx/Dockerfile" <<DOCKERFILE
FROM scratch
COPY rootfs/ /
USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/devstack-operator"]
DOCKERFILE
  docker build --quiet --label "org.opencontainers.image.version=$(version)" \
    -t "$(ref)" "$ctx" >/dev/null
  log "image $(ref): $(size) bytes, $((SECONDS - t0))s"
  ref
}

size() {
  docker_env
  docker image inspect --format '{{.Size}}' "$(ref)"
}

case ${1:-} in
  build) build ;;
  ref) ref ;;
  size) size ;;
  *) echo "usage: $0 build|ref|size" >&2; exit 2 ;;
esac
