#!/bin/sh
# Not the image's ENTRYPOINT: that is /cmd/jaeger/jaeger-linux, as in jaegertracing/jaeger
# (build.sh installs a docker-entrypoint.sh in every image). Kept equivalent to it.
exec /cmd/jaeger/jaeger-linux "$@"
