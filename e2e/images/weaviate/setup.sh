#!/bin/bash
# Runs inside the build chroot (Debian sid minbase) after host-build.sh put /bin/weaviate (and
# the go-ego dictionaries) into the rootfs. Mirrors semitechnologies/weaviate:1.34.0 (Alpine;
# root; `apk add bc ca-certificates openssl`; an empty ./modules; data where
# PERSISTENCE_DATA_PATH says, /var/lib/weaviate in the catalog). wget for the catalog's health
# check (busybox upstream); curl is extra, for the conformance suite's REST client: the upstream
# image has none.
set -euo pipefail
apt-get install -y wget curl ca-certificates openssl bc
mkdir -p /modules /var/lib/weaviate
test -x /bin/weaviate
command -v wget >/dev/null
