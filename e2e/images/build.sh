#!/usr/bin/env bash
# Builds root filesystem tarballs for devstack's local service images from Debian packages.
# Called by e2e/docker.sh; needs root, debootstrap and network access to a Debian mirror.
#
#   build.sh base  OUT.tar               debootstrap --variant=minbase sid (shared base)
#   build.sh image NAME BASE.tar OUT.tar  base (or a parent image's rootfs) + what NAME/host-build.sh
#                                         builds on the host, if any + NAME/setup.sh run in a chroot
#
# Environment: DEBIAN_MIRROR (default deb.debian.org), DEBIAN_SECURITY_MIRROR (only for a
# released suite; sid has none), DEBIAN_SUITE (sid), DEB_CACHE (directory for downloaded .debs,
# reused between builds), BUILD_DIR (scratch directory, removed afterwards), APT_LISTS (optional:
# a directory of current apt lists for the suite, copied in instead of `apt-get update`).
# The sid mirror here is a snapshot whose Release has expired: apt runs with
# Check-Valid-Until=false (debootstrap checks only the signature).
# `image` writes OUT.versions with "package=version" lines of what is installed in the image.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
suite=${DEBIAN_SUITE:-sid}
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
security=${DEBIAN_SECURITY_MIRROR:-}
deb_cache=${DEB_CACHE:?DEB_CACHE must be set}
build_dir=${BUILD_DIR:?BUILD_DIR must be set}
mkdir -p "$deb_cache" "$build_dir"

root=""
cleanup() {
  if [[ -n $root && -d $root ]]; then
    if mountpoint -q "$root/proc"; then umount -l "$root/proc" || true; fi
    # --one-file-system: never descend into anything still mounted.
    rm -rf --one-file-system "$root"
  fi
}
trap cleanup EXIT

# Strip what an image does not need; keeps the tarball small.
slim() {
  local r=$1
  rm -rf "$r"/var/lib/apt/lists/* "$r"/var/cache/apt/*.bin "$r"/var/cache/apt/archives/*.deb \
    "$r"/var/cache/debconf/*-old "$r"/var/log/*.log "$r"/var/log/apt/* \
    "$r"/usr/share/doc/* "$r"/usr/share/man/* "$r"/usr/share/info/* "$r"/usr/share/locale/* \
    "$r"/tmp/* "$r"/var/tmp/*
}

write_tar() { # dir out [exclude...]
  local r=$1 out=$2; shift 2
  local ex=()
  for e in "$@"; do ex+=("--exclude=$e"); done
  tar --numeric-owner --xattrs -C "$r" "${ex[@]}" -cf "$out.tmp" . && mv "$out.tmp" "$out"
}

cmd=${1:-}
case $cmd in
  base)
    out=${2:?OUT.tar}
    root=$(mktemp -d "$build_dir/base.XXXXXX")
    debootstrap --variant=minbase --cache-dir="$deb_cache" \
      --keyring=/usr/share/keyrings/debian-archive-keyring.gpg \
      "$suite" "$root" "$mirror" >"$build_dir/debootstrap.log" 2>&1 || {
        tail -n 30 "$build_dir/debootstrap.log" >&2; exit 1; }
    echo "deb $mirror $suite main" >"$root/etc/apt/sources.list"
    if [[ -n $security ]]; then
      printf 'deb %s %s-updates main\ndeb %s %s-security main\n' "$mirror" "$suite" "$security" "$suite" \
        >>"$root/etc/apt/sources.list"
    fi
    # Never start services inside the build chroot.
    printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
    chmod 755 "$root/usr/sbin/policy-rc.d"
    cat >"$root/etc/apt/apt.conf.d/90devstack" <<'APT'
APT::Install-Recommends "false";
APT::Install-Suggests "false";
Acquire::Languages "none";
Dpkg::Use-Pty "false";
Acquire::Check-Valid-Until "false";
APT
    slim "$root"
    # /dev nodes stay in the base (the chroot needs /dev/null); images drop them.
    write_tar "$root" "$out"
    ;;
  image)
    name=${2:?NAME} base=${3:?BASE.tar} out=${4:?OUT.tar}
    dir=$here/$name
    [[ -f $dir/setup.sh && -f $dir/docker-entrypoint.sh ]] || { echo "no image definition in $dir" >&2; exit 1; }
    root=$(mktemp -d "$build_dir/$name.XXXXXX")
    tar --numeric-owner --xattrs -C "$root" -xf "$base"
    # An image used as a base (a parent) has no /dev nodes; apt needs a few.
    mkdir -p "$root/dev"
    for node in null:3 zero:5 random:8 urandom:9; do
      [[ -e $root/dev/${node%:*} ]] || mknod -m 666 "$root/dev/${node%:*}" c 1 "${node#*:}"
    done
    cp /etc/resolv.conf "$root/etc/resolv.conf"
    mount -t proc proc "$root/proc"
    # Reuse previously downloaded packages.
    find "$deb_cache" -maxdepth 1 -name '*.deb' -exec cp -n -t "$root/var/cache/apt/archives/" {} + 2>/dev/null || true
    # What the host builds for the image (a Go module, ...), straight into the rootfs.
    if [[ -f $dir/host-build.sh ]]; then
      ROOTFS=$root bash "$dir/host-build.sh" >"$build_dir/$name-host-build.log" 2>&1 ||
        { tail -n 40 "$build_dir/$name-host-build.log" >&2; exit 1; }
    fi
    install -m 0755 "$dir/setup.sh" "$root/tmp/setup.sh"
    update='apt-get update -qq'
    if [[ -n ${APT_LISTS:-} && -d $APT_LISTS ]] && compgen -G "$APT_LISTS/*_Packages*" >/dev/null; then
      cp -t "$root/var/lib/apt/lists/" "$APT_LISTS"/*_Packages* "$APT_LISTS"/*Release* 2>/dev/null || true
      update=true
    fi
    # IMAGE_NAME lets images that share a setup.sh (postgres, pgvector, timescaledb) differ.
    chroot "$root" /usr/bin/env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
      DEBIAN_FRONTEND=noninteractive LANG=C.UTF-8 HOME=/root IMAGE_NAME="$name" \
      /bin/bash -c "set -euo pipefail; $update; bash /tmp/setup.sh" \
      >"$build_dir/$name-setup.log" 2>&1 || { tail -n 40 "$build_dir/$name-setup.log" >&2; exit 1; }
    find "$root/var/cache/apt/archives" -maxdepth 1 -name '*.deb' -exec cp -n -t "$deb_cache/" {} + 2>/dev/null || true
    # shellcheck disable=SC2016 # dpkg-query's own ${field} syntax
    chroot "$root" dpkg-query -W -f '${Package}=${Version}\n' >"$out.versions.tmp"
    umount "$root/proc"
    install -m 0755 "$dir/docker-entrypoint.sh" "$root/usr/local/bin/docker-entrypoint.sh"
    rm -f "$root/usr/sbin/policy-rc.d" "$root/tmp/setup.sh"
    : >"$root/etc/resolv.conf"
    slim "$root"
    write_tar "$root" "$out" './dev/*' './proc/*' './sys/*'
    mv "$out.versions.tmp" "$out.versions"
    ;;
  *)
    echo "usage: $0 base OUT.tar | image NAME BASE.tar OUT.tar" >&2; exit 2 ;;
esac
