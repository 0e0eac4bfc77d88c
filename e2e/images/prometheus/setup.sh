#!/bin/bash
# Runs inside the build chroot (Debian sid minbase) after host-build.sh put /bin/prometheus and
# /etc/prometheus/prometheus.yml into the rootfs. Mirrors prom/prometheus: runs as nobody
# (65534), working directory and volume /prometheus, wget for the health check (the official
# image is busybox-based).
set -euo pipefail
apt-get install -y wget
install -d -o nobody -g nogroup -m 0775 /prometheus
chown -R nobody:nogroup /etc/prometheus
test -x /bin/prometheus
command -v wget >/dev/null
