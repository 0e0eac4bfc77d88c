#!/bin/sh
# Not the image's ENTRYPOINT: that is /bin/prometheus, as in prom/prometheus (build.sh installs a
# docker-entrypoint.sh in every image). Kept equivalent to it.
exec /bin/prometheus "$@"
