#!/bin/bash
# Runs inside the build chroot (Debian sid minbase) after host-build.sh put /usr/bin/ollama into
# the rootfs. Mirrors ollama/ollama:0.13.5 (Ubuntu 24.04; root; `apt-get install
# ca-certificates libvulkan1`; models in /root/.ollama). libvulkan1 is left out (no GPU backend is
# built); the C++ runtime the cgo part links against is in the base. The catalog's health check
# is `ollama list`: the binary itself, no other tool.
set -euo pipefail
apt-get install -y ca-certificates libstdc++6 libgcc-s1
mkdir -p /root/.ollama
test -x /usr/bin/ollama
/usr/bin/ollama --version >/dev/null 2>&1 || true
ldd /usr/bin/ollama | grep -q 'not found' && { ldd /usr/bin/ollama; exit 1; }
exit 0
