#!/bin/bash
# Runs inside the build chroot (Debian sid minbase). Mirrors the official valkey image:
# valkey user/group 999, data in /data, valkey-server and valkey-cli (valkey-tools).
set -euo pipefail
groupadd -r --gid=999 valkey
useradd -r -g valkey --uid=999 --home-dir=/data --no-create-home --shell=/usr/sbin/nologin valkey
apt-get install -y valkey-server valkey-tools
install -d -o valkey -g valkey -m 0755 /data
for b in valkey-server valkey-cli; do command -v "$b" >/dev/null; done
