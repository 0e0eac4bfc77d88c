#!/bin/bash
# Runs on the host before setup.sh: the wheels of the OpenTelemetry Python SDK and its OTLP/HTTP
# exporter (and their dependencies) from PyPI, for the image's Python (Debian sid's 3.14), into
# the rootfs's /tmp (setup.sh installs them offline and build.sh drops /tmp). pip's cache is
# devstack's.
set -euo pipefail
version=1.29.0
py=3.14
command -v pip3 >/dev/null || { echo "pip3 is needed to fetch the OpenTelemetry wheels" >&2; exit 1; }
wheels=$ROOTFS/tmp/wheels
mkdir -p "$wheels"
pip3 download --quiet --disable-pip-version-check --dest "$wheels" \
  --cache-dir "${DEVSTACK_CACHE:-$HOME/.cache/devstack}/pip" \
  --only-binary=:all: --implementation cp --python-version "$py" \
  --abi "cp${py/./}" --abi abi3 --abi none \
  --platform manylinux_2_34_x86_64 --platform manylinux_2_28_x86_64 \
  --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 --platform linux_x86_64 \
  --platform any \
  "opentelemetry-sdk==$version" "opentelemetry-exporter-otlp-proto-http==$version"
echo "$version" >"$wheels/VERSION"
ls "$wheels" | wc -l
