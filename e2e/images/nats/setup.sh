#!/bin/bash
# Runs inside the build chroot (Debian sid minbase) after host-build.sh put nats-server into
# /usr/local/bin. Mirrors nats:2.12-alpine: runs as root, wget for the health check, the
# image's config file (client 4222, monitor 8222), JetStream data under /data.
set -euo pipefail
apt-get install -y wget ca-certificates
mkdir -p /etc/nats /data
cat >/etc/nats/nats-server.conf <<'CONF'
# As the official image: client port, monitoring, JetStream off unless -js is given.
port: 4222
http_port: 8222
CONF
test -x /usr/local/bin/nats-server
command -v wget >/dev/null
