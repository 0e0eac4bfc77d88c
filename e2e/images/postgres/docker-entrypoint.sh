#!/usr/bin/env bash
# Entrypoint of devstack-local/postgres (and pgvector, timescaledb), following the contract of the
# official postgres 18 image:
#   POSTGRES_PASSWORD (required unless POSTGRES_HOST_AUTH_METHOD=trust), POSTGRES_USER (postgres),
#   POSTGRES_DB (= user), POSTGRES_INITDB_ARGS, POSTGRES_HOST_AUTH_METHOD (scram-sha-256),
#   *_FILE variants, PGDATA (/var/lib/postgresql/18/docker), /docker-entrypoint-initdb.d/*.{sh,sql,sql.gz}.
# Starts as root (fixes ownership, drops to the postgres user) or directly as that uid.
# Like the 18+ official image, a volume at the pre-18 path /var/lib/postgresql/data (while PGDATA
# is elsewhere) is an error, not silently ignored data.
# Difference from the official image: TCP connections from 127.0.0.1/::1 also need the password
# (only the unix socket is trusted), so a wrong password is rejected on every TCP address.
set -Eeo pipefail

file_env() { # VAR [DEFAULT]: VAR or VAR_FILE
  local var=$1 fileVar="${1}_FILE" def=${2:-}
  if [[ -n ${!var:-} && -n ${!fileVar:-} ]]; then
    echo >&2 "error: both $var and $fileVar are set (but are exclusive)"; exit 1
  fi
  local val=$def
  if [[ -n ${!var:-} ]]; then val=${!var}; elif [[ -n ${!fileVar:-} ]]; then val=$(<"${!fileVar}"); fi
  export "$var"="$val"
  unset "$fileVar"
}

setup_env() {
  file_env POSTGRES_PASSWORD
  file_env POSTGRES_USER postgres
  file_env POSTGRES_DB "$POSTGRES_USER"
  file_env POSTGRES_INITDB_ARGS
  : "${POSTGRES_HOST_AUTH_METHOD:=scram-sha-256}"
  export PGDATA=${PGDATA:-/var/lib/postgresql/18/docker}
  DATABASE_ALREADY_EXISTS=
  if [[ -s $PGDATA/PG_VERSION ]]; then DATABASE_ALREADY_EXISTS=true; fi
}

create_db_directories() {
  local user; user=$(id -u)
  mkdir -p "$PGDATA"
  chmod 00700 "$PGDATA" || :
  mkdir -p /var/run/postgresql || :
  chmod 03775 /var/run/postgresql || :
  if [[ $user == 0 ]]; then
    find "$PGDATA" \! -user postgres -exec chown postgres '{}' +
    find /var/run/postgresql \! -user postgres -exec chown postgres '{}' +
  fi
}

error_old_layout() { # data (or a mount) at the pre-18 path that PGDATA does not point at
  local old=/var/lib/postgresql/data
  [[ $PGDATA != "$old" && $PGDATA != "$old"/* ]] || return 0
  if [[ -s $old/PG_VERSION ]] || mountpoint -q "$old" 2>/dev/null; then
    cat >&2 <<MSG
Error: in 18+, these images keep the database under /var/lib/postgresql (PGDATA=$PGDATA),
       but something is mounted at the old path $old (unused mount/volume).
       Mount the volume at /var/lib/postgresql instead (or set PGDATA to the old path).
MSG
    exit 1
  fi
}

verify_minimum_env() {
  if [[ -z ${POSTGRES_PASSWORD:-} && $POSTGRES_HOST_AUTH_METHOD != trust ]]; then
    cat >&2 <<'MSG'
Error: Database is uninitialized and superuser password is not specified.
       You must specify POSTGRES_PASSWORD to a non-empty value for the
       superuser. For example, "-e POSTGRES_PASSWORD=password" on "docker run".
MSG
    exit 1
  fi
}

init_database_dir() {
  # shellcheck disable=SC2086 # POSTGRES_INITDB_ARGS is a word list by contract
  initdb --username="$POSTGRES_USER" --pwfile=<(printf '%s\n' "$POSTGRES_PASSWORD") \
    --auth-local=trust --auth-host="$POSTGRES_HOST_AUTH_METHOD" $POSTGRES_INITDB_ARGS
}

setup_hba_conf() {
  printf '\nhost all all all %s\n' "$POSTGRES_HOST_AUTH_METHOD" >>"$PGDATA/pg_hba.conf"
}

process_sql() {
  psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --no-password --no-psqlrc "$@"
}

temp_server_start() {
  PGUSER=$POSTGRES_USER pg_ctl -D "$PGDATA" -o "-c listen_addresses='' -p ${PGPORT:-5432}" -w start
}
temp_server_stop() {
  PGUSER=$POSTGRES_USER pg_ctl -D "$PGDATA" -m fast -w stop
}

setup_db() {
  local exists
  exists=$(process_sql --dbname postgres --set db="$POSTGRES_DB" --tuples-only \
    <<<"SELECT 1 FROM pg_database WHERE datname = :'db' ;")
  if [[ -z ${exists//[[:space:]]/} ]]; then
    process_sql --dbname postgres --set db="$POSTGRES_DB" <<<'CREATE DATABASE :"db" ;'
    echo "created database $POSTGRES_DB"
  fi
}

process_init_files() {
  local f
  for f in /docker-entrypoint-initdb.d/*; do
    [[ -e $f ]] || continue
    case $f in
      *.sh)
        # shellcheck disable=SC1090
        if [[ -x $f ]]; then echo "running $f"; "$f"; else echo "sourcing $f"; . "$f"; fi ;;
      *.sql) echo "running $f"; process_sql --dbname "$POSTGRES_DB" -f "$f" ;;
      *.sql.gz) echo "running $f"; gunzip -c "$f" | process_sql --dbname "$POSTGRES_DB" ;;
      *) echo "ignoring $f" ;;
    esac
  done
}

main() {
  if [[ ${1:0:1} == '-' ]]; then set -- postgres "$@"; fi
  if [[ $1 == postgres ]]; then
    setup_env
    error_old_layout
    create_db_directories
    if [[ $(id -u) == 0 ]]; then
      exec setpriv --reuid=postgres --regid=postgres --init-groups "${BASH_SOURCE[0]}" "$@"
    fi
    if [[ -z $DATABASE_ALREADY_EXISTS ]]; then
      verify_minimum_env
      init_database_dir
      setup_hba_conf
      export PGPASSWORD=${PGPASSWORD:-$POSTGRES_PASSWORD}
      temp_server_start
      setup_db
      process_init_files
      temp_server_stop
      unset PGPASSWORD
      echo
      echo 'PostgreSQL init process complete; ready for start up.'
      echo
    else
      echo
      echo 'PostgreSQL Database directory appears to contain a database; Skipping initialization'
      echo
    fi
  fi
  exec "$@"
}

main "$@"
