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
from nmc.infra.settings import get_settings
from nmc.stack import status
core = [r for r in status(get_settings()) if r.name in ("postgres", "registry")
        or r.name.startswith("kafka")]
print(int(all(r.state != "stopped" for r in core)))')
builder=
report() {
  local rc=$? took=$(( $(date +%s) - began ))
  [ -z "$builder" ] || kill "$builder" 2>/dev/null || true
  echo "make test: $( [ $rc -eq 0 ] && echo passed || echo FAILED ) in $((took / 60)) min $((took % 60)) s" \
       "(budget $((budget_s / 60)) min$( [ "$took" -gt "$budget_s" ] && echo ', OVER BUDGET'))"
}
if [ "$was_up" != 1 ]; then
  trap 'report; .venv/bin/nmc connect down; .venv/bin/nmc stack down' EXIT
else
  trap report EXIT
fi
# Kafka Connect's plugins and the consumer examples build meanwhile (tests wait for them)
mkdir -p .nmc/logs
PYTHONPATH=tests .venv/bin/python -m support.prebuild > .nmc/logs/prebuild.log 2>&1 &
builder=$!
.venv/bin/nmc stack up
make --no-print-directory lint
# The integration tests on two workers (an integration module's tests stay together); then the
# unit tests, which need no service, beside the few integration tests that stop a shared service
# (-m serial: one worker runs those one after another while the other takes the unit tests).
# Both parts run even when the first fails, so one CI run shows every failure.
status=0
workers=${NMC_TEST_WORKERS:-2}
.venv/bin/pytest -q -n "$workers" --dist loadgroup -m "integration and not serial" \
  --durations=25 --durations-min=5 || status=$?
.venv/bin/pytest -q -n "$workers" --dist loadgroup -m "not integration or serial" \
  --durations=10 --durations-min=5 || status=$?
exit "$status"
