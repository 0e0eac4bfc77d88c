#!/bin/bash
# Entrypoint of devstack-local/rabbitmq, as the official image's: as root it drops to the
# rabbitmq user (999); RABBITMQ_DEFAULT_USER / _PASS / _VHOST are read by the server itself.
set -euo pipefail
if [[ $1 == rabbitmq-server && $(id -u) == 0 ]]; then
  chown -R rabbitmq:rabbitmq /var/lib/rabbitmq
  exec setpriv --reuid=rabbitmq --regid=rabbitmq --init-groups "$0" "$@"
fi
exec "$@"
