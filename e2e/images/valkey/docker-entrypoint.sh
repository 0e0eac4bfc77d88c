#!/bin/sh
# Entrypoint of devstack-local/valkey, following the official valkey image: arguments starting with
# "-" or a *.conf file are passed to valkey-server; as root it fixes ownership of /data and drops to
# uid 999. Like the official image (which compiles protected-mode off), protected mode is off unless
# the command line or the given config file sets it; the default bind is all interfaces.
set -eu

if [ "${1#-}" != "$1" ] || [ "${1%.conf}" != "$1" ]; then
  set -- valkey-server "$@"
fi

if [ "$1" = valkey-server ] && [ "$(id -u)" = 0 ]; then
  find . \! -user valkey -exec chown valkey '{}' + 2>/dev/null || true
  exec setpriv --reuid=valkey --regid=valkey --init-groups "$0" "$@"
fi

if [ "$1" = valkey-server ]; then
  shift
  conf=""
  if [ $# -gt 0 ] && [ "${1#-}" = "$1" ]; then conf=$1; shift; fi
  set_pm=yes
  for a in "$@"; do
    case $a in --protected-mode|--protected-mode=*) set_pm=no ;; esac
  done
  if [ -n "$conf" ] && grep -Eqi '^[[:space:]]*protected-mode' "$conf" 2>/dev/null; then set_pm=no; fi
  if [ -n "$conf" ]; then
    if [ $set_pm = yes ]; then set -- valkey-server "$conf" --protected-mode no "$@"; else set -- valkey-server "$conf" "$@"; fi
  else
    if [ $set_pm = yes ]; then set -- valkey-server --protected-mode no "$@"; else set -- valkey-server "$@"; fi
  fi
  um=$(umask)
  if [ "$um" = 0022 ] || [ "$um" = 022 ]; then umask 0077; fi
fi

exec "$@"
