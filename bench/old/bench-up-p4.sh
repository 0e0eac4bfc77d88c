#!/usr/bin/env bash
# OLD METHOD (P4), superseded by bench/k4.sh: kept only to reproduce the figures docs/performance.md
# labels "old method". Compose here runs the rendered health checks (interval 10s), not a fair floor.
# Benchmark: `devstack up` against `docker compose up -d --wait` of the rendered file, same
# stack (postgres, redis and two dependents), on the project's private engine with the local
# images. Two scenarios, each run ROUNDS times per tool, alternating tools:
#   cold  no containers, no volumes (initdb included)
#   warm  no containers, volumes kept from the previous run (what `down` leaves)
# Prints the median wall-clock seconds per tool and scenario and the ratio devstack/compose
# (target <= 0.8). Compose starts a dependent only after Docker's first health check passed
# (one `interval`, 10 s for the catalog services); devstack probes readiness itself.
#
#   bench/old/bench-up-p4.sh [ROUNDS]   (default 3)
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
rounds=${1:-3}
e2e="$root/e2e/docker.sh"
"$e2e" up >/dev/null
export DOCKER_HOST=${DOCKER_HOST:-$("$e2e" endpoint)}
compose=${DEVSTACK_COMPOSE_BIN:-$("$e2e" compose-bin)}
images=${DEVSTACK_LOCAL_IMAGES:-$("$e2e" images)}
image_of() { tr ',' '\n' <<<"$images" | sed -n "s/^$1=//p" | head -n1; }
pg_image=$(image_of postgres)
redis_image=$(image_of redis)

# A debug build: the time goes to the engine, not to the CLI.
(cd "$root" && cargo build -q -p devstack-cli)
devstack=${CARGO_TARGET_DIR:-$root/target}/debug/devstack

work=$(mktemp -d)
name=benchup$$
trap 'cd "$work" && "$devstack" reset stack.yaml --yes "${overrides[@]}" >/dev/null 2>&1; rm -rf "$work"' EXIT
cd "$work"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
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
file=.devstack/$name/compose.yaml
"$devstack" render compose stack.yaml "${overrides[@]}" -o "$file" 2>/dev/null

now() { date +%s.%N; }
clean() { # cold: remove volumes too; warm: keep them
  if [[ $1 == cold ]]; then
    "$devstack" reset stack.yaml --yes "${overrides[@]}" >/dev/null 2>&1
    "$devstack" render compose stack.yaml "${overrides[@]}" -o "$file" 2>/dev/null
  else
    "$devstack" down stack.yaml "${overrides[@]}" >/dev/null 2>&1
  fi
}
run_devstack() { "$devstack" up stack.yaml "${overrides[@]}" >run.log 2>&1; }
run_compose() { "$compose" -f "$file" up -d --wait >run.log 2>&1; }
timed() { local t0; t0=$(now); "$@" || { echo "bench: $* failed:" >&2; tail -n 20 run.log >&2; exit 1; }; awk -v a="$(now)" -v b="$t0" 'BEGIN { print a - b }'; }
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

declare -A times
for scenario in cold warm; do
  # A warm run needs volumes: create them once.
  [[ $scenario == warm ]] && { run_devstack; }
  for ((i = 1; i <= rounds; i++)); do
    for tool in devstack compose; do
      clean "$scenario"
      t=$(timed "run_$tool")
      times[$scenario.$tool]+="$t "
      printf '%s %-8s round %d: %6.2fs\n' "$scenario" "$tool" "$i" "$t" >&2
    done
  done
done
clean cold

printf '\n%-6s %12s %12s %8s\n' scenario "devstack(s)" "compose(s)" ratio
for scenario in cold warm; do
  d=$(tr ' ' '\n' <<<"${times[$scenario.devstack]}" | grep . | median)
  c=$(tr ' ' '\n' <<<"${times[$scenario.compose]}" | grep . | median)
  printf '%-8s %12.2f %12.2f %8.2f\n' "$scenario" "$d" "$c" "$(awk -v a="$d" -v b="$c" 'BEGIN { print a / b }')"
done
echo "(median of $rounds rounds each; stack: postgres, redis, two dependents; $(docker version --format 'engine {{.Server.Version}}, API {{.Server.APIVersion}}'); compose $("$compose" version --short))"
