#!/usr/bin/env bash
# `make test`: lint, types and the whole pytest suite on the local stack. A stack (and a Kafka
# Connect worker) this run had to start is stopped at the end, so nothing of it outlives the
# run; a stack that was already up (`make demo`, `nmc stack up`) is left as it was.
set -euo pipefail
cd "$(dirname "$0")/.."

was_up=$(.venv/bin/python -c '
from nmc.infra.settings import get_settings
from nmc.stack import status
print(int(all(row.state != "stopped" for row in status(get_settings()))))')
if [ "$was_up" != 1 ]; then
  trap '.venv/bin/nmc connect down; .venv/bin/nmc stack down' EXIT
fi
.venv/bin/nmc stack up
make --no-print-directory lint
.venv/bin/pytest -q
