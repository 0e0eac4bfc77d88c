#!/bin/sh
# Not the image's ENTRYPOINT: that is `chroma`, as in chromadb/chroma (build.sh installs a
# docker-entrypoint.sh in every image). Kept equivalent to it.
exec chroma "$@"
