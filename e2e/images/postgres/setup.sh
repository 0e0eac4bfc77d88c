#!/bin/bash
# Runs inside the build chroot (Debian sid minbase) for postgres, pgvector and timescaledb
# (IMAGE_NAME). Mirrors the official postgres 18 image's Dockerfile: postgres user/group 999
# (timescaledb: 70, its image is Alpine based), no Debian "main" cluster, listen on all
# addresses, the 18+ layout (volume /var/lib/postgresql, PGDATA /var/lib/postgresql/18/docker).
set -euo pipefail
PG_MAJOR=18
uid=999 extra=()
case ${IMAGE_NAME:-postgres} in
  postgres) ;;
  pgvector) extra=("postgresql-$PG_MAJOR-pgvector") ;;
  timescaledb) uid=70 extra=("postgresql-$PG_MAJOR-timescaledb") ;;
  *) echo "setup.sh: unknown image ${IMAGE_NAME}" >&2; exit 1 ;;
esac
sample=/usr/share/postgresql/$PG_MAJOR/postgresql.conf.sample
if id postgres >/dev/null 2>&1; then
  # Built on the postgres image (image.conf PARENT=postgres): only the uid and the extension.
  if [[ $(id -u postgres) != "$uid" ]]; then
    groupmod -g "$uid" postgres
    usermod -u "$uid" -g "$uid" postgres
    find / -xdev \( -user 999 -o -group 999 \) -exec chown -h postgres:postgres {} +
  fi
  ((${#extra[@]} == 0)) || apt-get install -y "${extra[@]}"
else
  groupadd -r --gid="$uid" postgres
  useradd -r -g postgres --uid="$uid" --home-dir=/var/lib/postgresql --shell=/bin/bash postgres
  install -d -o postgres -g postgres -m 0755 /var/lib/postgresql
  mkdir -p /etc/postgresql-common/createcluster.d
  echo 'create_main_cluster = false' >/etc/postgresql-common/createcluster.d/devstack.conf
  apt-get install -y "postgresql-$PG_MAJOR" "${extra[@]}"
  grep -q "^#listen_addresses" "$sample"
  sed -ri "s!^#?(listen_addresses)\s*=\s*\S+.*!\1 = '*'!" "$sample"
fi
install -d -o postgres -g postgres -m 3777 /var/run/postgresql
# The official 18 image: PGDATA below the volume, which is world-writable (any --user works).
install -d -o postgres -g postgres -m 1777 /var/lib/postgresql
mkdir -p /docker-entrypoint-initdb.d
if [[ ${IMAGE_NAME:-} == timescaledb ]]; then
  # As the timescale/timescaledb image: the library preloaded, the extension created in
  # template1 and POSTGRES_DB at init, telemetry off when TIMESCALEDB_TELEMETRY=off.
  sed -ri "s!^#?(shared_preload_libraries)\s*=\s*'[^']*'!\1 = 'timescaledb'!" "$sample"
  grep -q "^shared_preload_libraries = 'timescaledb'" "$sample"
  cat >/docker-entrypoint-initdb.d/000_install_timescaledb.sh <<'SH'
#!/bin/bash
set -e
if [[ -n ${TIMESCALEDB_TELEMETRY:-} ]]; then
  echo "timescaledb.telemetry_level=${TIMESCALEDB_TELEMETRY}" >>"$PGDATA/postgresql.conf"
fi
for db in template1 "$POSTGRES_DB"; do
  psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --no-password --no-psqlrc --dbname "$db" \
    -c 'CREATE EXTENSION IF NOT EXISTS timescaledb;'
done
SH
  chmod 0755 /docker-entrypoint-initdb.d/000_install_timescaledb.sh
fi
# The binaries the entrypoint and healthchecks use must resolve from PATH.
for b in postgres initdb pg_ctl pg_isready psql; do test -x "/usr/lib/postgresql/$PG_MAJOR/bin/$b"; done
