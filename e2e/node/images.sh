# shellcheck shell=bash
# The real node's binaries and images; sourced by e2e/node.sh (see there).

# ---------------------------------------------------------------- build

# go_install NAME VERSION PACKAGE [ENV...]: `go install PACKAGE@VERSION` (its own module, with the
# dependency versions it pins) into the binary cache.
go_install() {
	local name="$1" version="$2" pkg="$3" out tmp t
	shift 3
	out="$(bin_path "$name")"
	[[ -x "$out" ]] && return 0
	command -v go >/dev/null || die "go is not installed (needed to build $name)"
	t=$(now)
	mkdir -p "$BIN"
	tmp="$(mktemp -d)"
	env GOBIN="$tmp" GOFLAGS=-buildvcs=false "$@" go install -trimpath -ldflags='-s -w' "$pkg@$version" || {
		rm -rf "$tmp"
		die "building $name ($pkg@$version) failed"
	}
	mv -f "$tmp/$(basename "${pkg%/v[0-9]*}")" "$out" 2>/dev/null || mv -f "$tmp"/* "$out"
	rm -rf "$tmp"
	phase "build $name" "$t"
}

node_packages() {
	local missing=() p
	command -v containerd >/dev/null || missing+=(containerd)
	command -v runc >/dev/null || missing+=(runc)
	[[ -x /usr/lib/cni/bridge ]] || missing+=(containernetworking-plugins)
	command -v nft >/dev/null || missing+=(nftables)
	command -v ipset >/dev/null || missing+=(ipset)
	command -v iptables >/dev/null || missing+=(iptables)
	command -v conntrack >/dev/null || missing+=(conntrack)
	command -v gcc >/dev/null || missing+=(gcc libc6-dev)
	command -v jq >/dev/null || missing+=(jq)
	if ((${#missing[@]})); then
		local t out
		t=$(now)
		out="$(mktemp)"
		log "installing ${missing[*]}"
		{ DEBIAN_FRONTEND=noninteractive apt-get update -qq &&
			DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"; } >"$out" 2>&1 ||
			{
				cat "$out" >&2
				rm -f "$out"
				die "apt-get install ${missing[*]} failed"
			}
		rm -f "$out"
		phase "install ${missing[*]}" "$t"
	fi
	p="$(containerd --version | awk '{print $3}')"
	[[ "$p" == "$CONTAINERD_VERSION_WANTED".* ]] || log "warning: containerd $p (tested with $CONTAINERD_VERSION_WANTED.x)"
}

node_build() {
	node_packages
	go_build kubelet k8s.io/kubernetes/cmd/kubelet "$(k8s_ldflags)"
	go_build kube-proxy k8s.io/kubernetes/cmd/kube-proxy "$(k8s_ldflags)"
	go_install crictl "$CRICTL_VERSION" sigs.k8s.io/cri-tools/cmd/crictl
	go_install coredns "$COREDNS_VERSION" github.com/coredns/coredns CGO_ENABLED=0
	go_install kube-router "$KUBE_ROUTER_VERSION" github.com/cloudnativelabs/kube-router/v2/cmd/kube-router CGO_ENABLED=0
	pause_layer >/dev/null
}

# ---------------------------------------------------------------- images

# pause_layer: prints the path of the pause image's layer (a tar holding /pause), building it
# from e2e/node/pause.c when its source changed.
pause_layer() {
	local src="$ROOT/e2e/node/pause.c" hash out dir
	hash="$(sha256sum <"$src" | cut -c1-12)"
	out="$CACHE/images/pause-$hash.tar"
	if [[ ! -s "$out" ]]; then
		dir="$(mktemp -d)"
		gcc -static -O2 -s -o "$dir/pause" "$src" || die "compiling $src failed"
		mkdir -p "$CACHE/images"
		tar --numeric-owner --owner=0 --group=0 --mtime=@0 -C "$dir" -cf "$out.tmp" pause
		mv -f "$out.tmp" "$out"
		rm -rf "$dir"
	fi
	echo "$out"
}

# file_digest FILE: sha256 of FILE, cached beside the image cache by name, size and mtime.
file_digest() {
	local f="$1" key cached
	key="$(stat -c '%s-%Y' "$f")"
	cached="$CACHE/images/oci/$(basename "$f").$key.sha256"
	if [[ ! -s "$cached" ]]; then
		mkdir -p "$CACHE/images/oci"
		rm -f "$CACHE/images/oci/$(basename "$f")".*.sha256
		sha256sum <"$f" | cut -d' ' -f1 >"$cached.tmp"
		mv -f "$cached.tmp" "$cached"
	fi
	cat "$cached"
}

# image_config IMAGE_CONF: the OCI image config fields (Env, Entrypoint, ...) from the Dockerfile
# lines of an e2e/images/NAME/image.conf, as JSON.
image_config() {
	local CHANGES=() BUILD_LINES=() line kw arg cfg='{}'
	# shellcheck disable=SC1090
	[[ -z "${1:-}" ]] || source "$1"
	for line in "${CHANGES[@]}" "${BUILD_LINES[@]}"; do
		kw="${line%% *}"
		arg="${line#* }"
		case "$kw" in
		ENV) cfg="$(jq -c --arg v "$arg" '.Env += [$v]' <<<"$cfg")" ;;
		ENTRYPOINT) cfg="$(jq -c --argjson v "$arg" '.Entrypoint = $v' <<<"$cfg")" ;;
		CMD) cfg="$(jq -c --argjson v "$arg" '.Cmd = $v' <<<"$cfg")" ;;
		WORKDIR) cfg="$(jq -c --arg v "$arg" '.WorkingDir = $v' <<<"$cfg")" ;;
		STOPSIGNAL) cfg="$(jq -c --arg v "$arg" '.StopSignal = $v' <<<"$cfg")" ;;
		USER) cfg="$(jq -c --arg v "$arg" '.User = $v' <<<"$cfg")" ;;
		VOLUME) cfg="$(jq -c --arg v "$arg" '.Volumes[$v] = {}' <<<"$cfg")" ;;
		EXPOSE) cfg="$(jq -c --arg v "$arg" '($v | if test("/") then . else . + "/tcp" end) as $k | .ExposedPorts[$k] = {}' <<<"$cfg")" ;;
		LABEL) ;;
		*) die "$1: $kw is not supported for the real node's image import (add it to image_config in e2e/node.sh)" ;;
		esac
	done
	echo "$cfg"
}

# oci_import LAYER_TAR CONFIG_JSON REF...: streams a one-layer OCI archive (the layer file is
# not copied) into containerd's k8s.io namespace, named REF... (full docker.io/... names, as
# the CRI normalises image references).
oci_import() {
	local layer="$1" config="$2" dir digest size cfg_digest man_digest ref manifests='[]'
	shift 2
	dir="$(mktemp -d "$NODE_STATE/oci.XXXXXX")"
	digest="$(file_digest "$layer")"
	size="$(stat -c %s "$layer")"
	mkdir -p "$dir/blobs/sha256"
	jq -c --argjson c "$config" --arg d "sha256:$digest" \
		'{architecture: "amd64", os: "linux", config: $c, rootfs: {type: "layers", diff_ids: [$d]}}' \
		<<<'{}' >"$dir/config.json"
	cfg_digest="$(sha256sum <"$dir/config.json" | cut -d' ' -f1)"
	jq -c --arg cd "sha256:$cfg_digest" --argjson cs "$(stat -c %s "$dir/config.json")" \
		--arg ld "sha256:$digest" --argjson ls "$size" \
		'{schemaVersion: 2, mediaType: "application/vnd.oci.image.manifest.v1+json",
		  config: {mediaType: "application/vnd.oci.image.config.v1+json", digest: $cd, size: $cs},
		  layers: [{mediaType: "application/vnd.oci.image.layer.v1.tar", digest: $ld, size: $ls}]}' \
		<<<'{}' >"$dir/manifest.json"
	man_digest="$(sha256sum <"$dir/manifest.json" | cut -d' ' -f1)"
	# containerd's root is kept between runs (a cache): skip images it already holds.
	local have=1
	for ref in "$@"; do
		ctr --address "$NODE_SOCK" -n k8s.io images ls "name==$ref" 2>/dev/null | grep -qF "sha256:$man_digest" || have=""
	done
	if [[ -n "$have" ]]; then
		rm -rf "$dir"
		return 0
	fi
	mv "$dir/config.json" "$dir/blobs/sha256/$cfg_digest"
	for ref in "$@"; do
		manifests="$(jq -c --arg d "sha256:$man_digest" --argjson s "$(stat -c %s "$dir/manifest.json")" --arg r "$ref" \
			'. + [{mediaType: "application/vnd.oci.image.manifest.v1+json", digest: $d, size: $s,
			       platform: {architecture: "amd64", os: "linux"},
			       annotations: {"io.containerd.image.name": $r, "org.opencontainers.image.ref.name": ($r | sub(".*:"; ""))}}]' \
			<<<"$manifests")"
	done
	mv "$dir/manifest.json" "$dir/blobs/sha256/$man_digest"
	jq -c --argjson m "$manifests" '{schemaVersion: 2, manifests: $m}' <<<'{}' >"$dir/index.json"
	echo '{"imageLayoutVersion":"1.0.0"}' >"$dir/oci-layout"
	tar -C "$dir" -cf - oci-layout index.json blobs \
		-C "$(dirname "$layer")" --transform "s|^$(basename "$layer")\$|blobs/sha256/$digest|" "$(basename "$layer")" |
		ctr --address "$NODE_SOCK" -n k8s.io images import - >"$NODE_STATE/import.log" 2>&1 ||
		{
			cat "$NODE_STATE/import.log" >&2
			rm -rf "$dir"
			return 1
		}
	rm -rf "$dir"
}

node_import_images() {
	local t name ref major tarball conf
	t=$(now)
	oci_import "$(pause_layer)" '{"Entrypoint":["/pause"]}' "$PAUSE_IMAGE" ||
		die "importing the pause image into containerd failed"
	# `docker.sh image-files` asks apt for the current package versions (seconds); the list of
	# the last import is reused while its tarballs and image.conf files are unchanged (a newer
	# package means a new tarball from `e2e/docker.sh up`, which removes the old one).
	local lines="" list="$CACHE/node/images.list" stamp
	stamp="$({ cat "$ROOT"/e2e/images/*/image.conf; echo "${DEVSTACK_IMAGES:-}"; } | sha256sum | cut -c1-12)"
	if [[ -s "$list" && "$(head -n1 "$list")" == "$stamp" ]]; then
		lines="$(tail -n +2 "$list")"
		while read -r name ref major tarball conf; do [[ -s "$tarball" ]] || lines=""; done <<<"$lines"
	fi
	if [[ -z "$lines" ]]; then
		lines="$(DEVSTACK_E2E_STATE="$STATE_ROOT" bash "$ROOT/e2e/docker.sh" image-files)" ||
			die "e2e/docker.sh image-files failed: the real node needs the local images' rootfs tarballs"
	fi
	while read -r name ref major tarball conf; do
		[[ -n "$name" ]] || continue
		oci_import "$tarball" "$(image_config "$conf")" "docker.io/$ref" "docker.io/$major" ||
			die "importing $ref into containerd failed"
	done <<<"$lines"
	mkdir -p "$(dirname "$list")"
	printf '%s\n%s\n' "$stamp" "$lines" >"$list"
	phase "import images" "$t"
}


# node_load_image IMAGE...: copies images from the Docker engine of e2e/docker.sh (`docker save`)
# into the real node's containerd, under the docker.io/... names the CRI looks them up by (what
# `kind load docker-image` does for Kind): for images built here, such as operator/image.sh's.
node_load_image() {
	(($#)) || die "usage: e2e/cluster.sh load-image IMAGE..."
	node_enabled || die "DEVSTACK_NODE=kwok: there is no real node to load images into"
	if [[ "$(cat "$NODE_OWNER" 2>/dev/null)" != "$STATE" ]] || ! containerd_ready >/dev/null 2>&1; then
		die "the real node of $STATE_ROOT is not running (e2e/cluster.sh up)"
	fi
	local docker_host ref full first t
	docker_host="${DOCKER_HOST:-$(bash "$ROOT/e2e/docker.sh" endpoint)}"
	for ref in "$@"; do
		t=$(now)
		first="${ref%%/*}"
		if [[ "$ref" != */* ]]; then
			full="docker.io/library/$ref"
		elif [[ "$first" == *.* || "$first" == *:* || "$first" == localhost ]]; then
			full="$ref"
		else
			full="docker.io/$ref"
		fi
		DOCKER_HOST="$docker_host" docker image inspect "$ref" >/dev/null 2>&1 ||
			die "$ref is not on the Docker engine at $docker_host (build it first, e.g. operator/image.sh build)"
		DOCKER_HOST="$docker_host" docker save "$ref" |
			ctr --address "$NODE_SOCK" -n k8s.io images import - >"$NODE_STATE/load.log" 2>&1 || {
			cat "$NODE_STATE/load.log" >&2
			die "importing $ref into the node's containerd failed"
		}
		# Older importers keep the short name; the CRI resolves the normalised one.
		if [[ -z "$(ctr --address "$NODE_SOCK" -n k8s.io images ls -q "name==$full")" ]]; then
			ctr --address "$NODE_SOCK" -n k8s.io images tag --force "$ref" "$full" >/dev/null ||
				die "naming $ref $full in the node's containerd failed"
		fi
		phase "load $full into the real node" "$t"
	done
}
