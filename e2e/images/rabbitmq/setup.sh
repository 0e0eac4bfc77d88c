#!/bin/bash
# Runs inside the build chroot (Debian sid minbase). Mirrors rabbitmq:4-management: rabbitmq
# user/group 999 with HOME /var/lib/rabbitmq (data, Erlang cookie), the management and prometheus
# plugins enabled, the image's defaults (guest not loopback-only, listeners on all addresses).
set -euo pipefail
groupadd -r --gid=999 rabbitmq
useradd -r -g rabbitmq --uid=999 --home-dir=/var/lib/rabbitmq --shell=/bin/bash rabbitmq
apt-get install -y rabbitmq-server
install -d -o rabbitmq -g rabbitmq -m 0755 /var/lib/rabbitmq /var/log/rabbitmq /etc/rabbitmq/conf.d
cat >/etc/rabbitmq/conf.d/10-defaults.conf <<'CONF'
## As the official image: listeners on all addresses, logs to the console.
loopback_users.guest = false
listeners.tcp.default = 5672
management.tcp.port = 15672
log.console = true
log.file = false
CONF
rabbitmq-plugins enable --offline rabbitmq_management rabbitmq_prometheus
chown -R rabbitmq:rabbitmq /etc/rabbitmq /var/lib/rabbitmq /var/log/rabbitmq
for b in rabbitmq-server rabbitmq-diagnostics rabbitmqctl; do command -v "$b" >/dev/null; done
