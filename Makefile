# The two commands of README.md: `make demo` (run the platform) and `make test` (everything).
.PHONY: install demo test lint unit integration stack-up stack-down

install:
	scripts/install.sh

demo: install
	.venv/bin/nmc demo

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

stack-up: install
	.venv/bin/nmc stack up

stack-down:
	.venv/bin/nmc stack down
