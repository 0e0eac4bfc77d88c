#!/bin/bash
# Runs on the host (Go toolchain) before setup.sh: nats-server from the Go module proxy, the
# release the catalog pins, into the rootfs ($ROOTFS). The official image builds the same module.
set -euo pipefail
version=v2.12.3
out=$ROOTFS/usr/local/bin
mkdir -p "$out"
command -v go >/dev/null || { echo "go is needed to build nats-server" >&2; exit 1; }
GOBIN=$out GOFLAGS=-buildvcs=false CGO_ENABLED=0 \
  go install -trimpath -ldflags='-s -w' "github.com/nats-io/nats-server/v2@$version"
"$out/nats-server" --version
