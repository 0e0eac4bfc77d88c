#!/bin/sh
# Not the image's ENTRYPOINT: that is /otelcol-contrib, as in otel/opentelemetry-collector-contrib
# (build.sh installs a docker-entrypoint.sh in every image). Kept equivalent to it.
exec /otelcol-contrib "$@"
