#!/bin/bash
# Runs inside the build chroot (Debian sid minbase) after host-build.sh put Jaeger into
# /cmd/jaeger. Mirrors jaegertracing/jaeger:2.x: uid 10001 (no passwd entry, as upstream),
# volume /tmp, wget for the catalog's health check (the official image is alpine-based).
set -euo pipefail
apt-get install -y wget
test -x /cmd/jaeger/jaeger-linux
command -v wget >/dev/null
