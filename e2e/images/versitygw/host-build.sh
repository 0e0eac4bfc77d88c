#!/bin/bash
# Runs on the host (Go toolchain) before setup.sh: the Versity S3 Gateway (Apache-2.0) from the
# Go module proxy, the release the catalog pins (v1.8.0), into the rootfs ($ROOTFS) at the
# official image's path (/usr/local/bin/versitygw), built as its Dockerfile does (CGO off).
# The image's entrypoint is upstream's docker-entrypoint.sh (beside this script).
set -euo pipefail
version=v1.8.0
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=../go-env.sh
. "$here/../go-env.sh"
mkdir -p "$ROOTFS/usr/local/bin"
GOBIN=$ROOTFS/usr/local/bin go install \
  -ldflags "$go_ldflags -X=main.Version=$version -X=main.Build=release" \
  "github.com/versity/versitygw/cmd/versitygw@$version"
"$ROOTFS/usr/local/bin/versitygw" --version
