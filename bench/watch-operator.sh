#!/usr/bin/env bash
# Samples every running devstack-operator twice a second, beside a bench script (k2.sh, k3.sh):
# its established TCP connections (kube-client speaks HTTP/1.1, so one per request in flight
# and one per watch), VmRSS and VmHWM (KiB), threads and its --concurrency flag.
#
#   bench/watch-operator.sh OUT &      # one line per process and sample, appended to OUT
#   bench/watch-operator.sh --summary OUT
#
# The summary prints, per operator process: samples, duration, most connections, peak RSS, and
# the connections and RSS at fixed times from its first sample, so two sides' runs can be laid
# side by side (docs/performance.md, "The tuned flags' peak, session 17").
set -euo pipefail

usage() {
  echo "usage: $0 OUT | $0 --summary OUT" >&2
  exit 2
}

sample() {
  local out=$1 pid
  while true; do
    for pid in $(pgrep -f '(^|/)devstack-operator( |$)' || true); do
      [[ -r /proc/$pid/status ]] || continue
      local conns rss hwm threads flags
      conns=$(ss -tnpH state established 2>/dev/null | grep -c "pid=$pid," || true)
      rss=$(awk '/^VmRSS/ { print $2 }' "/proc/$pid/status" 2>/dev/null || true)
      hwm=$(awk '/^VmHWM/ { print $2 }' "/proc/$pid/status" 2>/dev/null || true)
      threads=$(awk '/^Threads/ { print $2 }' "/proc/$pid/status" 2>/dev/null || true)
      flags=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -o -- '--concurrency [0-9]*' || true)
      [[ -n $rss ]] || continue
      echo "$(date +%s.%N | cut -c1-14) $pid conns=$conns rss=$rss hwm=$hwm threads=$threads $flags"
    done
    sleep 0.5
  done >>"$out"
}

summary() {
  python3 - "$1" <<'PY'
import collections, sys
runs = collections.OrderedDict()
for line in open(sys.argv[1]):
    fields = line.split()
    if len(fields) < 6:
        continue
    values = dict(f.split("=", 1) for f in fields[2:6])
    flags = " ".join(fields[6:]) or "(shipped defaults)"
    runs.setdefault(fields[1], (flags, []))[1].append(
        (float(fields[0]), int(values["conns"]), int(values["rss"]), int(values["hwm"])))
for pid, (flags, samples) in runs.items():
    start = samples[0][0]
    print(f"pid {pid} {flags}: {len(samples)} samples over {samples[-1][0] - start:.0f} s, "
          f"most connections {max(s[1] for s in samples)}, peak RSS {max(s[3] for s in samples) / 1024:.1f} MiB")
    for at in (5, 15, 30, 60, 120, 240, 360, 480):
        later = [s for s in samples if s[0] - start >= at]
        if later:
            print(f"  t={at:>3} s  connections {later[0][1]:>4}  RSS {later[0][2] / 1024:5.1f} MiB")
PY
}

case ${1:-} in
  --summary) [[ $# -eq 2 && -r $2 ]] || usage; summary "$2" ;;
  "" | -*) usage ;;
  *) [[ $# -eq 1 ]] || usage; sample "$1" ;;
esac
