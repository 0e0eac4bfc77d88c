#!/bin/bash
# Runs on the host (Go toolchain) before setup.sh: Jaeger v2 (module v1.76.0 = release 2.13.0,
# the catalog's pin) from the Go module proxy into the rootfs ($ROOTFS), at the official image's
# paths (/cmd/jaeger/jaeger-linux, /cmd/jaeger/sampling-strategies.json).
# The module's go.mod has a replace directive, so `go install module@version` refuses it: the
# module is copied and built in place. Built without the `ui` tag: the release embeds the UI
# that its npm build produces; here the query service serves Jaeger's placeholder page on 16686.
# The query HTTP/gRPC API, OTLP receivers and the health check are the release's.
set -euo pipefail
version=v1.76.0 release=2.13.0
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=../go-env.sh
. "$here/../go-env.sh"
src=$(go mod download -json "github.com/jaegertracing/jaeger@$version" |
  sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
[[ -d $src ]] || { echo "no source for jaeger $version" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp -r "$src"/. "$work"/
chmod -R u+w "$work"
mkdir -p "$ROOTFS/cmd/jaeger"
cd "$work"
v=github.com/jaegertracing/jaeger/internal/version
go build -ldflags "$go_ldflags -X $v.latestVersion=v$release -X $v.commitSHA=release" \
  -o "$ROOTFS/cmd/jaeger/jaeger-linux" ./cmd/jaeger
install -m 0644 cmd/jaeger/sampling-strategies.json "$ROOTFS/cmd/jaeger/sampling-strategies.json"
"$ROOTFS/cmd/jaeger/jaeger-linux" version
