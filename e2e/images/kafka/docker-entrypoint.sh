#!/bin/bash
# Not the image's command: that is /etc/kafka/docker/run, as in apache/kafka (which has no
# ENTRYPOINT; build.sh installs a docker-entrypoint.sh in every image). Kept equivalent to it.
exec /etc/kafka/docker/run "$@"
