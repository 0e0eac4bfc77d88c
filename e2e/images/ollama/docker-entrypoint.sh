#!/bin/sh
# Not the image's ENTRYPOINT: that is /bin/ollama, as in ollama/ollama (build.sh installs a
# docker-entrypoint.sh in every image). Kept equivalent to it.
exec /bin/ollama "$@"
