"""`nmc stack up|down|status|logs`: the developer's handle on the local stack."""

from __future__ import annotations

import sys
import time
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from nmc.stack.core import down, ensure_up, status
from nmc.stack.errors import StackError
from nmc.stack.layout import Layout
from nmc.stack.model import OBSERVABILITY, SERVICES
from nmc.stack.procs import tail
from nmc.stack.prometheus_config import ProcessPorts
from nmc.stack.settings import get_stack_settings
from nmc.stack.shape import render_exports

stack_app = typer.Typer(help="Local stack: PostgreSQL, Kafka, Apicurio Registry (and Prometheus).",
                        no_args_is_help=True)
console = Console()
err_console = Console(stderr=True)


def _fail(exc: StackError) -> typer.Exit:
    err_console.print(f"[red]error:[/] {exc}", highlight=False, soft_wrap=True)
    return typer.Exit(code=1)


@stack_app.command()
def up(
    bare: Annotated[
        bool, typer.Option("--bare", help="Only start services: no migrations, topics, schemas.")
    ] = False,
    secure: Annotated[
        bool, typer.Option("--secure", help="Kafka with a SASL_SSL (SCRAM-SHA-512) listener.")
    ] = False,
    brokers: Annotated[
        int, typer.Option("--brokers", min=0, max=5, help="KRaft nodes (3: RF 3, min ISR 2).")
    ] = 0,
    observability: Annotated[
        bool, typer.Option("--observability",
                           help="Also Prometheus on NMC_PROMETHEUS_PORT, rules loaded, and"
                           " the PostgreSQL exporter on NMC_POSTGRES_METRICS_PORT.")
    ] = False,
) -> None:
    """Provision and start the local services (idempotent), then migrate the database,
    create the domain topics and register the schemas (a local convenience)."""
    from nmc.bootstrap import prepare
    from nmc.stack.shape import client_settings, shaped

    settings = shaped(get_stack_settings(), secure=secure, brokers=brokers)
    try:
        ensure_up(settings, err_console, observability=observability,
                  ports=_process_ports() if observability else ProcessPorts())
        clients, exports = client_settings(settings)
    except StackError as exc:
        raise _fail(exc) from None
    if not bare:
        prepare(clients, err_console)
    if exports:  # written raw: rich would wrap long lines when stdout is a pipe
        sys.stdout.write("# client settings for this stack (eval or copy into your shell):\n")
        sys.stdout.write(render_exports(exports, "shell"))


def _process_ports() -> ProcessPorts:
    """Each process's /metrics port, from its own settings (Prometheus' static targets)."""
    from nmc_streams.settings import StreamSettings
    from producers.conversation.reactions.settings import ReactorSettings
    from producers.relay.settings import RelaySettings
    from producers.sender.settings import SenderSettings

    return ProcessPorts(relay=RelaySettings().nmc_relay_metrics_port,
                        streams=StreamSettings().metrics_port,
                        sender=SenderSettings().sender_metrics_port,
                        reactor=ReactorSettings().metrics_port)


@stack_app.command("env")
def env_cmd(
    fmt: Annotated[
        str, typer.Option("--format", help="shell (export lines for eval), dotenv or json.")
    ] = "shell",
    secure: Annotated[bool, typer.Option("--secure", help="The secured stack's settings.")] = False,
    brokers: Annotated[int, typer.Option("--brokers", min=0, max=5, help="KRaft nodes.")] = 0,
    principal: Annotated[
        str, typer.Option("--principal", help="Secured stack: whose login (admin, relay, reactor,"
                          " streams, team-example, operator, ci); each process gets its own.")
    ] = "admin",
) -> None:
    """Print the client settings of this stack, unwrapped: `eval "$(nmc stack env)"` (its
    addresses, and for a secured stack the login of `--principal`)."""
    from nmc.stack.shape import client_settings, shaped

    if fmt not in ("shell", "dotenv", "json"):
        err_console.print(f"[red]error:[/] --format {fmt!r}: one of shell, dotenv, json")
        raise typer.Exit(code=2)
    try:
        clients, exports = client_settings(
            shaped(get_stack_settings(), secure=secure, brokers=brokers), principal)
    except StackError as exc:
        raise _fail(exc) from None
    # the addresses too (a plain stack needs nothing else), so another tool can be pointed at it
    addresses = {"KAFKA_BOOTSTRAP_SERVERS": clients.kafka,
                 "SCHEMA_REGISTRY_URL": clients.registry, "DATABASE_URL": clients.database}
    sys.stdout.write(render_exports(addresses | exports, fmt))  # type: ignore[arg-type]


@stack_app.command("down")
def down_cmd() -> None:
    """Stop the services `up` started."""
    try:
        down(get_stack_settings(), err_console)
    except StackError as exc:
        raise _fail(exc) from None


@stack_app.command("status")
def status_cmd() -> None:
    """Show each service's state, address, pid and log."""
    table = Table(title="nmc stack")
    for column in ("service", "state", "address", "pid", "log", "detail"):
        table.add_column(column, overflow="fold")
    colours = {"running": "green", "stopped": "red", "external": "blue"}
    for row in status(get_stack_settings()):
        table.add_row(
            row.name,
            f"[{colours[row.state]}]{row.state}[/]",
            row.address,
            str(row.pid or ""),
            str(row.log or ""),
            row.detail,
        )
    console.print(table)


@stack_app.command()
def logs(
    service: Annotated[
        str, typer.Argument(help="postgres, kafka (kafka-2, kafka-3: other nodes), registry,"
                            " prometheus or postgres-exporter")
    ] = "kafka",
    lines: Annotated[int, typer.Option("-n", "--lines", help="Lines to show.")] = 50,
    follow: Annotated[bool, typer.Option("--follow", "-f", help="Keep printing.")] = False,
) -> None:
    """Print the end of a service's log."""
    known = (*SERVICES, *OBSERVABILITY)
    if service not in known and not service.removeprefix("kafka-").isdigit():
        err_console.print(f"[red]error:[/] unknown service {service!r}; one of {known}")
        raise typer.Exit(code=1)
    path = Layout.of(get_stack_settings()).log(service)
    for line in tail(path, lines):
        console.print(line, markup=False, highlight=False, soft_wrap=True)
    if not follow:
        return
    try:
        with path.open("r", errors="replace") as fh:
            fh.seek(0, 2)
            while True:
                line = fh.readline()
                if line:
                    console.print(line.rstrip("\n"), markup=False, highlight=False,
                                  soft_wrap=True)
                else:
                    time.sleep(0.3)
    except KeyboardInterrupt:
        return
    except OSError as exc:
        err_console.print(f"[red]error:[/] {exc}")
        raise typer.Exit(code=1) from None
