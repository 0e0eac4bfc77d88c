#!/bin/sh
# Not the image's ENTRYPOINT: that is /bin/weaviate, as in semitechnologies/weaviate (build.sh
# installs a docker-entrypoint.sh in every image). Kept equivalent to it.
exec /bin/weaviate "$@"
