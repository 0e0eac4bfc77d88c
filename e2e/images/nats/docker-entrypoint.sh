#!/bin/sh
# Entrypoint of devstack-local/nats, as the official nats:*-alpine image's: arguments that
# start with "-" go to nats-server.
set -e
if [ "${1#-}" != "$1" ]; then
  set -- nats-server "$@"
fi
exec "$@"
