#!/usr/bin/env bash
# A newer Docker Engine than Debian 12's docker.io (20.10, Engine API 1.41) for the tests that
# need one (`healthcheck.start_interval` needs Engine 25): Debian sid's docker.io (28.x, API
# 1.51) with sid's containerd and runc, in a root filesystem of its own that dockerd runs
# chrooted in. Kernel, cgroups, network namespace, /dev and /tmp are the host's; nothing is
# installed on the host. e2e/docker.sh uses it when DEVSTACK_DOCKER_ENGINE=sid.
#
#   engine-sid.sh tarball BASE.tar OUT.tar  the sid base + `apt-get install docker.io iptables`
#                                           (APT_LISTS: sid's lists, DEB_CACHE: .debs, reused)
#   engine-sid.sh run TAR ROOT DIR... -- ARGS
#                                           extract TAR at ROOT (once) and exec `dockerd ARGS`
#                                           with ROOT as its root in a mount namespace of its
#                                           own; /proc, /sys, /dev, /tmp and each DIR are the
#                                           host's (DIR: the socket's directory)
#   engine-sid.sh version TAR               the docker.io version in TAR (from OUT.tar.versions)
set -euo pipefail

die() { echo "[engine-sid] error: $*" >&2; exit 1; }

# Unmounts everything at or below $1, deepest first.
unmount_all() {
  local dir m
  dir=$(realpath "$1")
  while read -r m; do umount -l "$m" 2>/dev/null || true; done < <(
    awk -v d="$dir" '$2 == d || index($2, d "/") == 1 {print $2}' /proc/mounts | sort -r)
}

tarball() {
  local base=$1 out=$2 root
  [[ -s $base ]] || die "no base tarball $base"
  root=$(mktemp -d "${out%/*}/engine-build.XXXXXX")
  # shellcheck disable=SC2064 # the path is fixed now
  trap "unmount_all '$root'; rm -rf --one-file-system '$root'" EXIT
  tar --numeric-owner --xattrs -C "$root" -xf "$base"
  cp /etc/resolv.conf "$root/etc/resolv.conf"
  mount -t proc proc "$root/proc"
  if [[ -n ${DEB_CACHE:-} && -d $DEB_CACHE ]]; then
    find "$DEB_CACHE" -maxdepth 1 -name '*.deb' -exec cp -n -t "$root/var/cache/apt/archives/" {} + 2>/dev/null || true
  fi
  local update='apt-get update -qq'
  if [[ -n ${APT_LISTS:-} ]] && compgen -G "$APT_LISTS/*_Packages*" >/dev/null; then
    cp -t "$root/var/lib/apt/lists/" "$APT_LISTS"/*_Packages* "$APT_LISTS"/*Release* 2>/dev/null || true
    update=true
  fi
  chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive \
    HOME=/root LANG=C.UTF-8 /bin/bash -c "set -euo pipefail; $update; apt-get install -y -qq docker.io iptables" \
    >"$out.log" 2>&1 || { tail -n 30 "$out.log" >&2; die "apt-get install docker.io in the sid root failed (log: $out.log)"; }
  if [[ -n ${DEB_CACHE:-} && -d $DEB_CACHE ]]; then
    find "$root/var/cache/apt/archives" -maxdepth 1 -name '*.deb' -exec cp -n -t "$DEB_CACHE/" {} + 2>/dev/null || true
  fi
  # shellcheck disable=SC2016 # dpkg-query's own ${field} syntax
  chroot "$root" dpkg-query -W -f '${Package}=${Version}\n' >"$out.versions.tmp"
  umount "$root/proc"
  rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/* "$root"/usr/share/doc/* "$root"/usr/share/man/*
  tar --numeric-owner --xattrs -C "$root" --exclude='./proc/*' --exclude='./sys/*' --exclude='./dev/*' -cf "$out.tmp" .
  mv "$out.tmp" "$out"
  mv "$out.versions.tmp" "$out.versions"
}

# Runs dockerd (ARGS) from ROOT (TAR extracted there once) in a mount namespace of its own
# whose root is ROOT (pivot_root, not chroot: a chrooted dockerd's `docker exec` ran its
# processes in the host's mount namespace, not the container's). /proc, /sys, /dev, /tmp and
# each DIR are the host's, at their own paths; the pid stays the one the caller started.
run() {
  local tar=$1 root=$2 dirs=()
  shift 2
  while (($#)) && [[ $1 != -- ]]; do dirs+=("$1"); shift; done
  [[ ${1:-} == -- ]] || die "run: no -- before dockerd's arguments"
  shift
  if [[ ! -x $root/usr/sbin/dockerd ]]; then
    rm -rf --one-file-system "$root"
    mkdir -p "$root"
    tar --numeric-owner --xattrs -C "$root" -xf "$tar"
  fi
  # shellcheck disable=SC2016 # expanded by the inner shell
  exec unshare --mount --propagation private -- /bin/bash -c '
    set -euo pipefail
    root=$1 count=$2
    shift 2
    mount --bind "$root" "$root"
    mount -t proc proc "$root/proc"
    mount --rbind /sys "$root/sys"
    mount --rbind /dev "$root/dev"
    for dir in /tmp "${@:1:count}"; do
      mkdir -p "$dir" "$root$dir"
      mount --bind "$dir" "$root$dir"
    done
    shift "$count"
    mkdir -p "$root/.host"
    cd "$root"
    pivot_root . .host
    umount -l /.host
    exec /usr/sbin/dockerd "$@"
  ' engine-sid "$root" "${#dirs[@]}" "${dirs[@]}" "$@"
}

case ${1:-} in
  tarball) tarball "${2:?BASE.tar}" "${3:?OUT.tar}" ;;
  run) run "${2:?TAR}" "${3:?ROOT}" "${@:4}" ;;
  version) sed -n 's/^docker\.io=//p' "${2:?TAR}.versions" ;;
  *) echo "usage: $0 tarball BASE.tar OUT.tar | run TAR ROOT DIR... -- ARGS | version TAR" >&2; exit 2 ;;
esac
