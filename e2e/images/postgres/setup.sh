#!/bin/bash
# Runs inside the build chroot (Debian bookworm minbase). Mirrors the official postgres image's
# Dockerfile: postgres user/group 999, no Debian "main" cluster, listen on all addresses.
set -euo pipefail
PG_MAJOR=15
groupadd -r --gid=999 postgres
useradd -r -g postgres --uid=999 --home-dir=/var/lib/postgresql --shell=/bin/bash postgres
install -d -o postgres -g postgres -m 0755 /var/lib/postgresql
mkdir -p /etc/postgresql-common/createcluster.d
echo 'create_main_cluster = false' >/etc/postgresql-common/createcluster.d/devstack.conf
apt-get install -y "postgresql-$PG_MAJOR"
sample=/usr/share/postgresql/$PG_MAJOR/postgresql.conf.sample
grep -q "^#listen_addresses" "$sample"
sed -ri "s!^#?(listen_addresses)\s*=\s*\S+.*!\1 = '*'!" "$sample"
install -d -o postgres -g postgres -m 3777 /var/run/postgresql
install -d -o postgres -g postgres -m 1777 /var/lib/postgresql/data
mkdir -p /docker-entrypoint-initdb.d
# The binaries the entrypoint and healthchecks use must resolve from PATH.
for b in postgres initdb pg_ctl pg_isready psql; do test -x "/usr/lib/postgresql/$PG_MAJOR/bin/$b"; done
