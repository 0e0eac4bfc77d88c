#!/bin/bash
# Runs inside the build chroot (Debian sid minbase) after host-build.sh put versitygw into
# /usr/local/bin. Mirrors versity/versitygw:v1.8.0 (Alpine; runs as root; /tmp/vgw for the IAM
# and setup files; the entrypoint is upstream's). wget for the catalog's health check (busybox
# upstream); curl is extra, for the conformance suite's S3 client (`curl --aws-sigv4`): the
# upstream image has none.
set -euo pipefail
apt-get install -y wget curl ca-certificates
mkdir -p /tmp/vgw /data
test -x /usr/local/bin/versitygw
command -v wget >/dev/null
