#!/bin/bash
# Runs on the host (Go and a C/C++ compiler) before setup.sh: the ollama server from the Go module
# proxy, the release the catalog pins (v0.13.5), to the official image's path /usr/bin/ollama in
# the rootfs ($ROOTFS), built as its Dockerfile's `build` stage does: cgo on, `go build -trimpath
# -buildmode=pie`, the release's `-X version.Version` and `-X server.mode=release`. The cgo part
# compiles ggml's CPU backend into the binary; the official image's CMake-built variants
# (/usr/lib/ollama: CPU ISA variants, CUDA, Vulkan) are not built: CPU only.
#
# A module zip leaves out every `vendor` directory, so llama.cpp's vendored single-header
# libraries (llama/llama.cpp/vendor: nlohmann/json, stb_image, miniaudio) are not in the module
# the proxy serves: they come from sid's packages (nlohmann-json3-dev, libstb-dev,
# libminiaudio-dev), downloaded in the rootfs's chroot, unpacked outside it (nothing installed
# in the image) and laid out as the vendor directory (CGO_CPPFLAGS) in the Go cache.
set -euo pipefail
version=v0.13.5
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=../go-env.sh
. "$here/../go-env.sh"
command -v g++ >/dev/null || { echo "ollama needs a C/C++ compiler (g++) for cgo" >&2; exit 1; }

# sid's apt lists in the chroot: the ones e2e/docker.sh keeps (APT_LISTS), else an update.
if [[ -n ${APT_LISTS:-} && -d $APT_LISTS ]] && compgen -G "$APT_LISTS/*_Packages*" >/dev/null; then
  cp -t "$ROOTFS/var/lib/apt/lists/" "$APT_LISTS"/*_Packages* "$APT_LISTS"/*Release* 2>/dev/null || true
else
  chroot "$ROOTFS" apt-get update -qq
fi
debs=/tmp/ollama-vendor-debs
mkdir -p "$ROOTFS$debs"
chmod 0777 "$ROOTFS$debs" # apt downloads as its _apt user
chroot "$ROOTFS" /bin/sh -c "cd $debs && apt-get download -q nlohmann-json3-dev libstb-dev libminiaudio-dev"
# A fixed path: CGO_CPPFLAGS is part of Go's build cache key, so a warm rebuild compiles nothing.
vendor=$go_cache/ollama-vendor
rm -rf "$vendor"
mkdir -p "$vendor/x"
trap 'rm -rf "$vendor/x" "$ROOTFS$debs"' EXIT
for deb in "$ROOTFS$debs"/*.deb; do
  echo "vendor headers: $(basename "$deb")"
  dpkg-deb -x "$deb" "$vendor/x"
done
mkdir -p "$vendor/include/stb" "$vendor/include/miniaudio"
cp -a "$vendor/x/usr/include/nlohmann" "$vendor/include/"
cp "$vendor/x/usr/include/stb/stb_image.h" "$vendor/include/stb/"
cp "$vendor/x/usr/include/miniaudio.h" "$vendor/include/miniaudio/"

mkdir -p "$ROOTFS/usr/bin"
GOBIN=$ROOTFS/usr/bin CGO_ENABLED=1 CGO_CPPFLAGS="-I$vendor/include" go install -buildmode=pie \
  -ldflags "$go_ldflags -X=github.com/ollama/ollama/version.Version=${version#v} -X=github.com/ollama/ollama/server.mode=release" \
  "github.com/ollama/ollama@$version"
"$ROOTFS/usr/bin/ollama" --version 2>&1 | tail -n 1
