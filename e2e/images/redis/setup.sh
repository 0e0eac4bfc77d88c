#!/bin/bash
# Runs inside the build chroot (Debian sid minbase). Mirrors the official redis image:
# redis user/group 999, data in /data.
set -euo pipefail
groupadd -r --gid=999 redis
useradd -r -g redis --uid=999 --home-dir=/data --no-create-home --shell=/usr/sbin/nologin redis
apt-get install -y redis-server
install -d -o redis -g redis -m 0755 /data
for b in redis-server redis-cli; do command -v "$b" >/dev/null; done
