#!/usr/bin/env bash
# K4: `devstack up` against the fair Compose floor and the physical floor, same stack
# (postgres, redis, api -> both, worker -> redis), on the harness's private engine with the
# local images.
#
#   bench/k4.sh [RUNS]          (default 5)
#
# Scenarios: cold (no containers, no volumes: initdb included) and warm (no containers, the
# volumes of a previous run). Sides, in rotating order each run:
#   devstack           `devstack up stack.yaml` (probes readiness itself)
#   compose-fair       `docker compose up -d --wait` of the rendered file with every health
#                      check's interval rewritten to 1s and its retries scaled by the old
#                      interval (same failure window): the fair Compose floor
#   compose-rendered   the same on the file as rendered (interval 10s): what a user gets today
#                      ($DEVSTACK_BENCH_K4_RENDERED=0 skips it)
#   physical           bench/floor `physical`: Engine API calls only — networks and volumes at
#                      once, each container created and started as soon as its dependencies are
#                      ready, readiness = the service's own health command exec'd every 50 ms
# Then: no-op `devstack up` (everything already up) RUNS times, and the Engine API calls of one
# cold `up` and of one no-op `up`, counted by bench/floor's logging proxy on the socket.
set -euo pipefail
# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

runs=${1:-5}
out=$results/k4.jsonl
: >"$out"
e2e=$root/e2e/docker.sh
"$e2e" up >&2
export DOCKER_HOST=${DOCKER_HOST:-$("$e2e" endpoint)}
sock=${DOCKER_HOST#unix://}
compose=${DEVSTACK_COMPOSE_BIN:-$("$e2e" compose-bin)}
python=$("$e2e" yaml-python)
images=${DEVSTACK_LOCAL_IMAGES:-$("$e2e" images)}
image_of() { tr ',' '\n' <<<"$images" | sed -n "s/^$1=//p" | head -n1; }
pg_image=$(image_of postgres)
redis_image=$(image_of redis)
rust_bins
floor=$(floor_bin)

dir=$work/k4
rm -rf "$dir"
mkdir -p "$dir"
cd "$dir"
name=benchk4
cat >stack.yaml <<YAML
apiVersion: devstack.dev/v1alpha1
kind: DevStack
metadata: {name: $name}
spec:
  services:
    db: {type: postgres, hostPorts: {postgres: $(free_port)}, env: {POSTGRES_DB: bench}}
    cache: {type: redis, hostPorts: {redis: $(free_port)}}
    api:
      image: $pg_image
      command: [sleep, infinity]
      dependsOn: [db, cache]
    worker:
      image: $redis_image
      command: [sleep, infinity]
      dependsOn: [cache]
YAML
overrides=(--image-override "postgres=$pg_image" --image-override "redis=$redis_image")
rendered=.devstack/$name/compose.yaml
fair=.devstack/$name/compose-fair.yaml

# prepare: the rendered file, the fair file next to it (same .env, same project), and the
# physical floor's resolved config. Not timed.
prepare() {
  "$devstack" render compose stack.yaml "${overrides[@]}" -o "$rendered" 2>/dev/null
  "$python" - "$rendered" "$fair" <<'PY'
import math, re, sys, yaml
def secs(v):
    total = 0.0
    for n, unit in re.findall(r"([0-9.]+)(ms|us|s|m|h)", str(v)):
        total += float(n) * {"us": 1e-6, "ms": 1e-3, "s": 1, "m": 60, "h": 3600}[unit]
    return total
doc = yaml.safe_load(open(sys.argv[1]))
for svc in doc.get("services", {}).values():
    hc = svc.get("healthcheck")
    if not hc or "interval" not in hc:
        continue
    interval = secs(hc["interval"]) or 30.0
    hc["retries"] = int(math.ceil(hc.get("retries", 3) * interval / 1.0))
    hc["interval"] = "1s"
yaml.safe_dump(doc, open(sys.argv[2], "w"), sort_keys=False)
PY
  # Resolved config holds the stack's passwords: owner-only, like .devstack/<stack>/.env.
  (umask 077 && "$compose" -f "$fair" config --format json >physical.json)
}

clean() { # cold|warm
  if [[ $1 == cold ]]; then
    "$floor" physical --config physical.json --socket "$sock" --down --volumes 2>/dev/null || true
    "$devstack" reset stack.yaml --yes "${overrides[@]}" >/dev/null 2>&1
    prepare
  else
    "$devstack" down stack.yaml "${overrides[@]}" >/dev/null 2>&1
    "$floor" physical --config physical.json --socket "$sock" --down 2>/dev/null || true
  fi
}
sockproxy_pid=
k4_cleanup() {
  [[ -z $sockproxy_pid ]] || kill "$sockproxy_pid" 2>/dev/null || true
  cd "$dir" || return 0
  "$floor" physical --config physical.json --socket "$sock" --down --volumes >/dev/null 2>&1 || true
  "$devstack" reset stack.yaml --yes "${overrides[@]}" >/dev/null 2>&1 || true
}
extra_cleanup=k4_cleanup

# timed BENCH SIDE RUN CMD...: one JSON result line.
timed() {
  local bench=$1 side=$2 run=$3 t0 t1
  shift 3
  t0=$(now_ns)
  "$@" >run.log 2>&1 || {
    tail -n 20 run.log >&2
    die "$side run $run failed"
  }
  t1=$(now_ns)
  printf '{"bench":"%s","side":"%s","run":%d,"wall_s":%s}\n' "$bench" "$side" "$run" \
    "$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", (b - a) / 1e9 }')" >>"$out"
}
side_devstack() { "$devstack" up stack.yaml "${overrides[@]}"; }
side_compose_fair() { "$compose" -f "$fair" up -d --wait; }
side_compose_rendered() { "$compose" -f "$rendered" up -d --wait; }
side_physical() { "$floor" physical --config physical.json --socket "$sock" --probe-every 50ms; }

sides=(devstack compose-fair physical)
[[ ${DEVSTACK_BENCH_K4_RENDERED:-1} == 0 ]] || sides+=(compose-rendered)
prepare
for scenario in cold warm; do
  # A warm run needs the volumes: create them once.
  [[ $scenario == warm ]] && { clean cold; side_devstack >/dev/null 2>&1; }
  for ((i = 1; i <= runs; i++)); do
    for ((j = 0; j < ${#sides[@]}; j++)); do
      side=${sides[$(((i - 1 + j) % ${#sides[@]}))]}
      clean "$scenario"
      timed K4 "$side $scenario" "$i" "side_${side//-/_}"
      log "K4 $scenario $side run $i: $(tail -n1 "$out" | grep -o '"wall_s":[0-9.]*')"
    done
  done
done

# No-op `up`: everything up already.
clean warm
side_devstack >/dev/null 2>&1
for ((i = 1; i <= runs; i++)); do timed K4 "devstack no-op up" "$i" side_devstack; done

# Engine API calls, through the logging proxy.
"$floor" sockproxy --listen "$dir/engine.sock" --upstream "$sock" --log "$dir/engine-calls.log" 2>>"$dir/sockproxy.log" &
sockproxy_pid=$!
for _ in $(seq 50); do [[ -S $dir/engine.sock ]] && break; sleep 0.1; done
services=$(grep -c '^    [a-z]*:' stack.yaml)
count_calls() { # SIDE: one `devstack up` through the proxy
  : >"$dir/engine-calls.log"
  DOCKER_HOST=unix://$dir/engine.sock "$devstack" up stack.yaml "${overrides[@]}" >run.log 2>&1 || die "$1 via the proxy failed"
  local calls
  calls=$(wc -l <"$dir/engine-calls.log")
  printf '{"bench":"K4","side":"%s","run":1,"wall_s":0,"extra":{"engine_calls":%d,"calls_per_service":%s},"note":"%s"}\n' \
    "$1 engine calls" "$calls" "$(awk -v a="$calls" -v b="$services" 'BEGIN { printf "%.2f", a / b }')" \
    "$(sort "$dir/engine-calls.log" | uniq -c | sort -rn | awk '{ c = $1; $1 = ""; printf "%s%s x%d", (NR > 1 ? "; " : ""), substr($0, 2), c }')" >>"$out"
}
count_calls "devstack no-op up"
# Once the engine has run its own first check (one health interval, 10 s, after the start;
# about a second with start_interval), `up` need not verify health itself.
sleep 11
count_calls "devstack no-op up, engine checked"
clean cold
count_calls "devstack cold up"
clean cold

echo "K4: devstack up vs Compose (fair: interval 1s) vs physical floor; stack of 4 services ($services); $runs runs per side and scenario; $(docker version --format 'engine {{.Server.Version}}, API {{.Server.APIVersion}}'), compose $("$compose" version --short); $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"
"$floor" table --ratio-to compose-fair,physical "$out"
