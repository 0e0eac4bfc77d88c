#!/bin/bash
# Runs inside the build chroot (Debian sid minbase) with the chromadb wheels in /tmp/wheels.
# chromadb/chroma:1.x runs the Rust server (`chroma run CONFIG`) as root on a Debian base, data
# in /data; the chromadb wheel carries the same server (its `chroma` command is the Rust CLI
# through the bindings) plus the Python client, installed in a venv at /opt/chroma.
# bash for the catalog's /dev/tcp health check (Debian's).
set -euo pipefail
apt-get install -y python3 python3-venv
python3 -m venv /opt/chroma
/opt/chroma/bin/pip install --quiet --no-index --find-links /tmp/wheels \
  "chromadb==$(cat /tmp/wheels/VERSION)"
/opt/chroma/bin/pip uninstall --quiet --yes pip
ln -s /opt/chroma/bin/chroma /usr/local/bin/chroma
mkdir -p /data
# The server's config: all interfaces, port 8000, data in /data (CHROMA_* variables override).
cat >/config.yaml <<'YAML'
port: 8000
listen_address: "0.0.0.0"
persist_path: "/data"
YAML
find /opt/chroma -name __pycache__ -prune -exec rm -rf {} +
/opt/chroma/bin/python -c 'import chromadb; print("chromadb", chromadb.__version__)'
command -v bash >/dev/null
