# The two commands of README.md: `make demo` (run the platform) and `make test` (everything).
.PHONY: install demo test test-stress lint unit integration stack-up stack-down docs

install:
	scripts/install.sh

demo: install
	.venv/bin/nmc demo

# The docs site into site/: regenerate the event catalog and the reference and performance
# pages (commit them), then build with --strict (a broken link or an orphan page fails).
docs: install
	.venv/bin/nmc catalog build
	.venv/bin/nmc docs build
	NO_MKDOCS_2_WARNING=1 .venv/bin/mkdocs build --strict --site-dir site

lint:
	.venv/bin/ruff check .
	.venv/bin/mypy
	.venv/bin/lint-imports

unit: install
	.venv/bin/pytest tests/unit -q

# Starts (or reuses) the local stack and stops at the end what it had to start (scripts/test.sh);
# with KAFKA_BOOTSTRAP_SERVERS / SCHEMA_REGISTRY_URL / DATABASE_URL set it uses those services.
test: install
	scripts/test.sh

# The fault tests (-m fault) NMC_STRESS_RUNS times (default 20) with both cores kept busy;
# prints passes and failures per test (scripts/stress.py). Needs the stack: `nmc stack up`.
test-stress: install
	.venv/bin/nmc stack up
	.venv/bin/python scripts/stress.py

stack-up: install
	.venv/bin/nmc stack up

stack-down:
	.venv/bin/nmc stack down
