#!/bin/bash
# Runs on the host (Go toolchain) before setup.sh: weaviate-server from the Go module proxy, the
# release the catalog pins (v1.34.0), to the official image's path /bin/weaviate in the rootfs
# ($ROOTFS), built as its Dockerfile does (`go build -trimpath -ldflags '-s -w ...'
# ./cmd/weaviate-server`) except CGO off: upstream links statically against musl, and no package
# of the server uses cgo. Like the official image, the go-ego (gse tokenizer) module tree is
# copied to /go/pkg/mod/github.com/go-ego, where the optional GSE tokenizer finds its dictionaries.
set -euo pipefail
version=v1.34.0
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=../go-env.sh
. "$here/../go-env.sh"
mkdir -p "$ROOTFS/bin"
GOBIN=$ROOTFS/bin go install -ldflags "$go_ldflags" \
  "github.com/weaviate/weaviate/cmd/weaviate-server@$version"
mv "$ROOTFS/bin/weaviate-server" "$ROOTFS/bin/weaviate"
if [ -d "$GOMODCACHE/github.com/go-ego" ]; then
  mkdir -p "$ROOTFS/go/pkg/mod/github.com"
  cp -a "$GOMODCACHE/github.com/go-ego" "$ROOTFS/go/pkg/mod/github.com/go-ego"
fi
"$ROOTFS/bin/weaviate" --help | head -n 3
