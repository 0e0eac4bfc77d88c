# Sourced by the Go images' host-build.sh: one Go module and build cache for all of them, under
# devstack's cache, so a warm rebuild compiles nothing and downloads nothing.
# shellcheck shell=bash
command -v go >/dev/null || { echo "go is needed to build this image" >&2; exit 1; }
go_cache=${DEVSTACK_CACHE:-$HOME/.cache/devstack}/go
export GOMODCACHE=$go_cache/mod GOCACHE=$go_cache/build GOTOOLCHAIN=local CGO_ENABLED=0 \
  GOFLAGS="-buildvcs=false -modcacherw -trimpath"
mkdir -p "$GOMODCACHE" "$GOCACHE"
go_ldflags='-s -w'
echo "go: $(go version), GOMODCACHE=$GOMODCACHE, load: $(cut -d' ' -f1-3 /proc/loadavg)"
