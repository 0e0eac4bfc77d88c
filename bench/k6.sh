#!/usr/bin/env bash
# K6: `devstack render k8s` and `devstack render compose` of a generated 500-service stack
# (guards against quadratic code). 20 catalog services (postgres, redis), 480 image services
# with a port, an env var and 1-3 dependencies on earlier services (seeded, so every run and
# machine renders the same file), strict isolation (a NetworkPolicy / network per edge).
#
#   bench/k6.sh [RUNS] [SERVICES]    (default 21 runs, 500 services)
#
# Each figure is one process run, start-up included; the same render of a 1-service stack is
# printed beside it as the start-up baseline.
set -euo pipefail
# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

runs=${1:-21}
size=${2:-500}
out=$results/k6.jsonl
: >"$out"
rust_bins
dir=$work/k6
mkdir -p "$dir"
python3 - "$size" >"$dir/stack.yaml" <<'PY'
import random, sys
n = int(sys.argv[1])
rng = random.Random(6)
print("apiVersion: devstack.dev/v1alpha1\nkind: DevStack\nmetadata: {name: big}\nspec:\n  isolation: strict\n  services:")
names = []
for i in range(n):
    name = f"s{i:04d}"
    if i % 25 == 0:
        kind = "postgres" if i % 50 == 0 else "redis"
        print(f"    {name}: {{type: {kind}}}")
    else:
        deps = sorted(rng.sample(names, min(len(names), rng.randint(1, 3)))) if names else []
        dep = f", dependsOn: [{', '.join(deps)}]" if deps else ""
        print(f"    {name}: {{image: 'registry.local/{name}:1', ports: [{{name: http, containerPort: 8080}}], env: {{LOG_LEVEL: info}}{dep}}}")
    names.append(name)
PY
cat >"$dir/one.yaml" <<'YAML'
apiVersion: devstack.dev/v1alpha1
kind: DevStack
metadata: {name: one}
spec:
  services:
    s: {image: 'registry.local/s:1', ports: [{name: http, containerPort: 8080}]}
YAML

timed() { # SIDE RUN FILE KIND
  local t0 t1
  t0=$(now_ns)
  "$devstack" render "$4" "$3" >"$dir/out.yaml" 2>"$dir/err.log" || { cat "$dir/err.log" >&2; die "render $4 $3 failed"; }
  t1=$(now_ns)
  printf '{"bench":"K6","side":"%s","run":%d,"wall_s":%s,"extra":{"output_kib":%d}}\n' "$1" "$2" \
    "$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.4f", (b - a) / 1e9 }')" $(($(wc -c <"$dir/out.yaml") / 1024)) >>"$out"
}
"$devstack" render k8s "$dir/stack.yaml" >/dev/null # warm the page cache
for ((i = 1; i <= runs; i++)); do
  timed "render k8s $size" "$i" "$dir/stack.yaml" k8s
  timed "render compose $size" "$i" "$dir/stack.yaml" compose
  timed "render k8s 1 (start-up)" "$i" "$dir/one.yaml" k8s
  timed "render compose 1 (start-up)" "$i" "$dir/one.yaml" compose
done
echo "K6: render of a $size-service stack ($(grep -c 'dependsOn' "$dir/stack.yaml") services with dependencies); $runs runs each; binary $devstack; $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"
table "$out"
