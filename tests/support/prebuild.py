"""What the suite builds before a test needs it, run by `make test` in the background while the
stack starts and lint runs: Kafka Connect's worker, Debezium and the contract SMT (the CDC
tests' first minute on a fresh machine), then the consumer examples. The tests call the same
locked builders, so one that comes first waits and finds the result in place."""

from __future__ import annotations

import subprocess

from rich.console import Console

from nmc.stack import connect
from nmc.stack.errors import StackError
from nmc.stack.layout import Layout
from nmc.stack.settings import get_stack_settings, get_versions

from . import examples


def main() -> int:
    """Never fails `make test`: a build that fails here fails again, with its output, in the
    test that needs it."""
    console = Console(stderr=True)
    try:
        connect.prepare(connect.get_connect_settings(), get_versions(),
                        Layout.of(get_stack_settings()), console.print)
        print("kafka connect: prepared", flush=True)
    except (StackError, OSError, subprocess.SubprocessError) as exc:
        print(f"kafka connect: not prepared: {exc}", flush=True)
    return examples.main()


if __name__ == "__main__":
    raise SystemExit(main())
