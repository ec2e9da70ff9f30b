"""`nmc connect up|down|status|logs`: Kafka Connect + Debezium as the contract-true CDC relay."""

from __future__ import annotations

import time
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from nmc.stack import connect
from nmc.stack.errors import StackError
from nmc.stack.layout import Layout
from nmc.stack.procs import tail
from nmc.stack.settings import get_stack_settings, get_versions

connect_app = typer.Typer(
    help="Kafka Connect + Debezium: the CDC alternative to `nmc relay` (same wire contract).",
    no_args_is_help=True,
)
console = Console()
err_console = Console(stderr=True)


def _say(message: str) -> None:
    err_console.print(f"[bold cyan]connect[/] {message}", highlight=False)


@connect_app.command()
def up(
    no_connector: Annotated[
        bool, typer.Option("--no-connector", help="Start the worker only (connectors via REST).")
    ] = False,
) -> None:
    """Build/fetch the plugins, grant the CDC role, start the worker with the outbox connector."""
    settings, cs = get_stack_settings(), connect.get_connect_settings()
    layout = Layout.of(settings)
    layout.ensure_dirs()
    try:
        connect.start(settings, cs, get_versions(), layout, _say, with_connector=not no_connector)
        if not no_connector:
            connect.ensure_running(cs, cs.connector)
            _say(f"connector {cs.connector} running (slot {cs.slot})")
    except StackError as exc:
        err_console.print(f"[red]error:[/] {exc}", highlight=False, soft_wrap=True)
        raise typer.Exit(code=1) from None


@connect_app.command()
def down(
    drop_slot: Annotated[
        bool, typer.Option("--drop-slot", help="Also drop the replication slot (and the stored "
                           "WAL position): a forgotten slot retains WAL forever.")
    ] = False,
) -> None:
    """Stop the connector and the worker; with --drop-slot release the WAL it holds."""
    settings, cs = get_stack_settings(), connect.get_connect_settings()
    layout = Layout.of(settings)
    if connect.running(layout) is not None and connect.delete_connector(cs, cs.connector):
        _say(f"connector {cs.connector} stopped")
    connect.stop(layout, _say)
    connect.ConnectLayout.of(layout).connector_properties.unlink(missing_ok=True)
    if drop_slot:
        try:
            dropped = connect.drop_slot(settings, cs, cs.slot)
        except StackError as exc:
            err_console.print(f"[red]error:[/] {exc}", highlight=False)
            raise typer.Exit(code=1) from None
        connect.forget_offsets(layout)
        _say(f"slot {cs.slot} {'dropped' if dropped else 'did not exist'}")
    _say("connect down")


@connect_app.command()
def status() -> None:
    """Worker, connector and task state, and every logical slot's lag in bytes."""
    settings, cs = get_stack_settings(), connect.get_connect_settings()
    layout = Layout.of(settings)
    record = connect.running(layout)
    state = connect.connector_state(connect.connector_status(cs, cs.connector)) if record else "-"
    table = Table(title="nmc connect")
    for column in ("worker", "pid", "rest", "connector", "state", "log"):
        table.add_column(column, overflow="fold")
    table.add_row("running" if record else "stopped", str(record.pid if record else ""),
                  connect.base_url(cs), cs.connector, state, str(layout.log(connect.NAME)))
    console.print(table)
    slots = Table(title="replication slots")
    for column in ("slot", "database", "active", "lag bytes"):
        slots.add_column(column)
    try:
        for lag in connect.slot_lags(settings):
            slots.add_row(lag.slot, lag.database, str(lag.active), f"{lag.lag_bytes:,}")
    except Exception as exc:
        err_console.print(f"[red]error:[/] cannot read slots: {exc}", highlight=False)
        raise typer.Exit(code=1) from None
    console.print(slots)


@connect_app.command()
def prune(
    older_than: Annotated[
        float | None, typer.Option(help="Seconds; default NMC_CONNECT_RETENTION_S.")
    ] = None,
    every: Annotated[
        float, typer.Option(help="Repeat every N seconds until Ctrl-C; 0 = once.")
    ] = 0.0,
) -> None:
    """CDC-mode retention: delete outbox rows by age only (run instead of the relay's job)."""
    settings, cs = get_stack_settings(), connect.get_connect_settings()
    age = cs.retention_s if older_than is None else older_than
    while True:
        deleted = connect.prune_by_age(settings.database, age, cs.retention_batch)
        _say(f"deleted {deleted} outbox rows older than {age:.0f} s")
        if every <= 0:
            return
        try:
            time.sleep(every)
        except KeyboardInterrupt:
            return


@connect_app.command()
def logs(lines: Annotated[int, typer.Option("-n", "--lines", help="Lines to show.")] = 50) -> None:
    """Print the end of the worker's log."""
    for line in tail(Layout.of(get_stack_settings()).log(connect.NAME), lines):
        console.print(line, markup=False, highlight=False, soft_wrap=True)
