#!/usr/bin/env bash
# K3: resync of N unchanged stacks (operator restarted: writes, reads per stack, time; stop
# condition = N distinct stacks reconciled) and drift (10 Deployments edited: repair latency,
# applies). Runs bench/k2.sh's operator sides only (no floor, no growth); see k2.sh.
#
#   bench/k3.sh [N] [RUNS]      (default 1000 stacks, 5 runs)
set -euo pipefail
export DEVSTACK_BENCH_SIDES=${DEVSTACK_BENCH_SIDES:-operator-defaults operator-tuned}
export DEVSTACK_BENCH_GROWTH=${DEVSTACK_BENCH_GROWTH:-1}
exec "$(dirname "${BASH_SOURCE[0]}")/k2.sh" "${1:-1000}" "${2:-5}"
