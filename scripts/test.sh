#!/usr/bin/env bash
# `make test`: lint, types and the whole pytest suite on the local stack. A stack (and a Kafka
# Connect worker) this run had to start is stopped at the end, so nothing of it outlives the
# run; a stack that was already up (`make demo`, `nmc stack up`) is left as it was.
# Prints the slowest tests and, at the end, the wall time of the run against its budget.
set -euo pipefail
cd "$(dirname "$0")/.."
began=$(date +%s)
budget_s=${NMC_TEST_BUDGET_S:-480}

# the core services only: an optional one (Prometheus without --observability) is "stopped"
was_up=$(.venv/bin/python -c '
from nmc.stack.settings import get_stack_settings
from nmc.stack import status
core = [r for r in status(get_stack_settings()) if r.name in ("postgres", "registry")
        or r.name.startswith("kafka")]
print(int(all(r.state != "stopped" for r in core)))')
# CPU busy share of the machine between two /proc/stat samples: tells whether more pytest
# workers could help (idle cores) or not (saturated)
cpu_sample() { awk '/^cpu /{print $2+$3+$4+$7+$8+$9, $5+$6}' /proc/stat; }
cpu_busy() {  # $1 = an earlier cpu_sample
  local b0 i0 b1 i1; read -r b0 i0 <<<"$1"; read -r b1 i1 <<<"$(cpu_sample)"
  echo "$(( 100 * (b1 - b0) / ((b1 - b0) + (i1 - i0) + 1) )) % CPU busy"
}
builder=
linter=
report() {
  local rc=$? took=$(( $(date +%s) - began ))
  [ -z "$builder" ] || kill "$builder" 2>/dev/null || true
  [ -z "$linter" ] || kill "$linter" 2>/dev/null || true
  echo "make test: $( [ $rc -eq 0 ] && echo passed || echo FAILED ) in $((took / 60)) min $((took % 60)) s" \
       "(budget $((budget_s / 60)) min$( [ "$took" -gt "$budget_s" ] && echo ', OVER BUDGET'))"
}
if [ "$was_up" != 1 ]; then
  trap 'report; .venv/bin/nmc connect down; .venv/bin/nmc stack down' EXIT
else
  trap report EXIT
fi
# Kafka Connect's plugins and the consumer examples build while the stack starts (tests wait
# for them)
mkdir -p .nmc/logs
PYTHONPATH=tests .venv/bin/python -m support.prebuild > .nmc/logs/prebuild.log 2>&1 &
builder=$!
# lint and types check meanwhile too (their output is shown once the stack is up)
make --no-print-directory lint > .nmc/logs/lint.log 2>&1 &
linter=$!
.venv/bin/nmc stack up
lint_rc=0
wait "$linter" || lint_rc=$?
linter=
cat .nmc/logs/lint.log
[ "$lint_rc" -eq 0 ] || { echo "make test: lint or types failed (above)" >&2; exit "$lint_rc"; }
echo "make test: stack up, lint and types took $(( $(date +%s) - began )) s"
# The integration tests on two workers (an integration module's tests stay together); then the
# unit tests, which need no service, beside the few integration tests that stop a shared service
# (-m serial: one worker runs those one after another while the other takes the unit tests).
# Both parts run even when the first fails, so one CI run shows every failure.
status=0
workers=${NMC_TEST_WORKERS:-2}
phase() {  # $1 = name, then pytest's arguments; prints the phase's wall time and CPU use
  local name=$1 t0=$SECONDS cpu0; cpu0=$(cpu_sample); shift
  # longest groups first (tests/support/schedule.py), in that order: not xdist's own reorder
  .venv/bin/pytest -q -n "$workers" --dist loadgroup --no-loadscope-reorder "$@" || status=$?
  echo "make test: $name part took $((SECONDS - t0)) s on $workers workers, $(cpu_busy "$cpu0")"
}
phase integration -m "integration and not serial" --durations=25 --durations-min=5
phase "unit and serial" -m "not integration or serial" --durations=10 --durations-min=5
exit "$status"
