"""`nmc`: the platform's command line (composition root of every process)."""

from __future__ import annotations

import logging

import typer
from rich.console import Console
from rich.table import Table

from nmc.acl.cli import acl_app
from nmc.catalog_docs.cli import catalog_app
from nmc.connect_cli import connect_app
from nmc.dlq.cli import dlq_app
from nmc.docs_site.cli import docs_app
from nmc.infra.settings import get_settings
from nmc.schema_gate.cli import schemas_app
from nmc.stack.cli import stack_app
from nmc.stack.settings import get_stack_settings
from nmc.topics_cli import topics_command
from nmc_streams.api.cli import api_command
from nmc_streams.cli import worker_app
from producers.edges.cli import edge_app
from producers.sender.cli import sender_app
from producers.tenants.cli import tenants_app

app = typer.Typer(help="NeverMissCall event platform.", no_args_is_help=True)
app.add_typer(stack_app, name="stack")
app.add_typer(acl_app, name="acl")
app.add_typer(connect_app, name="connect")
app.add_typer(worker_app, name="worker")
app.add_typer(tenants_app, name="tenants")
app.add_typer(edge_app, name="edge")
app.add_typer(sender_app, name="sender")
app.command("api")(api_command)
app.command("topics")(topics_command)
app.add_typer(schemas_app, name="schemas")
app.add_typer(catalog_app, name="catalog")
app.add_typer(docs_app, name="docs")
outbox_app = typer.Typer(help="Inspect and unblock the outbox.", no_args_is_help=True)
app.add_typer(outbox_app, name="outbox")
app.add_typer(dlq_app, name="dlq")
db_app = typer.Typer(help="Database migrations.", no_args_is_help=True)
app.add_typer(db_app, name="db")

console = Console()


def _logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    for noisy in ("httpx", "httpcore", "httpx2"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply Alembic migrations to DATABASE_URL (or the local stack's database)."""
    from nmc.infra.db import upgrade

    upgrade(get_settings().database)
    console.print("[green]✓[/] database at head")


@app.command()
def relay(verbose: bool = typer.Option(False, "--verbose", "-v")) -> None:
    """Publish committed outbox rows to Kafka until SIGTERM (several may run at once)."""
    from producers.relay.app import run_relay
    from producers.relay.settings import RelaySettings

    _logging(verbose)
    run_relay(get_settings(), RelaySettings())


@app.command()
def reactor(verbose: bool = typer.Option(False, "--verbose", "-v")) -> None:
    """React to missed calls and texts: start conversations, queue the auto-reply."""
    from producers.conversation.reactions.app import run_reactor
    from producers.conversation.reactions.settings import ReactorSettings
    from producers.outbox import OutboxWriter
    from producers.outbox.settings import OutboxSettings

    _logging(verbose)
    settings = get_settings()
    run_reactor(settings, ReactorSettings(),
                writer=OutboxWriter.from_settings(OutboxSettings(), settings))


@outbox_app.command("parked")
def outbox_parked() -> None:
    """List parked rows and how many events of the same key wait behind each."""
    from nmc.infra.db import make_engine
    from producers.outbox.operator import list_parked

    rows = list_parked(make_engine(get_settings().database))
    if not rows:
        console.print("no parked rows")
        return
    table = Table("id", "event", "key", "attempts", "waiting behind", "error")
    for r in rows:
        table.add_row(
            str(r.id),
            r.event_name,
            r.record_key,
            str(r.attempts),
            str(r.blocked_behind),
            r.last_error or "",
        )
    console.print(table)


@outbox_app.command("retry")
def outbox_retry(
    ids: list[int] = typer.Argument(None, help="Row ids; none with --all."),  # noqa: B008
    all_: bool = typer.Option(False, "--all", help="Retry every parked row."),
) -> None:
    """Put parked rows back in line (after fixing their cause)."""
    from nmc.infra.db import make_engine
    from producers.outbox.operator import retry

    if not ids and not all_:
        raise typer.BadParameter("give row ids or --all")
    moved = retry(make_engine(get_settings().database), None if all_ else ids)
    console.print(f"retried {len(moved)} rows: {moved}")


@outbox_app.command("skip")
def outbox_skip(ids: list[int] = typer.Argument(..., help="Row ids to give up on.")) -> None:  # noqa: B008
    """Never publish these parked rows; later events of their keys flow again."""
    from nmc.infra.db import make_engine
    from producers.outbox.operator import skip

    moved = skip(make_engine(get_settings().database), ids)
    console.print(f"skipped {len(moved)} rows: {moved}")


@app.command("tail")
def tail_command(
    target: str = typer.Argument(..., help="A domain (telephony, ...) or a topic name."),
    from_beginning: bool = typer.Option(False, "--from-beginning",
                                        help="Start at the oldest record of every partition."),
    last: int = typer.Option(10, "--last", min=0,
                             help="Without --from-beginning: start this many records before"
                                  " the end of every partition."),
    key: str | None = typer.Option(None, "--key", help="Only this record key (one partition)."),
    event_name: str | None = typer.Option(
        None, "--event-name", help="Only events whose name equals, starts with or matches"
                                   " (glob) this, e.g. nmc.scheduling. or '*Booked'."),
    follow: bool = typer.Option(False, "--follow", "-f",
                                help="Keep waiting for new records (Ctrl-C stops)."),
    max_records: int | None = typer.Option(None, "--max", min=1,
                                           help="Stop after this many records."),
    as_json: bool = typer.Option(False, "--json", help="One JSON object per record and line."),
) -> None:
    """Decoded records of a topic with partition, offset, key and headers (a console consumer
    that reads Avro through the Schema Registry; joins no group, commits nothing)."""
    import json

    from nmc.tail import TailError, TailSpec, resolve_topic, tail
    from nmc.tail_view import render_record

    logging.basicConfig(level=logging.WARNING)
    spec = TailSpec(resolve_topic(target), from_beginning=from_beginning, last=last, key=key,
                    event_name=event_name, follow=follow, max_records=max_records)
    shown = 0
    try:
        for record in tail(get_settings(), spec):
            shown += 1
            if as_json:
                typer.echo(json.dumps(record.as_json(), separators=(",", ":")))
            else:
                console.print(render_record(record))
    except TailError as exc:
        typer.echo(f"nmc tail: {exc}", err=True)
        raise typer.Exit(2) from exc
    except KeyboardInterrupt:
        pass
    if not as_json:
        err_console = Console(stderr=True)
        err_console.print(f"[dim]{shown} record(s) from {spec.topic}[/]")


@app.command("status")
def status_command(
    watch: float = typer.Option(0.0, "--watch", "-w", min=0.0,
                                help="Refresh every this many seconds until Ctrl-C (0: once)."),
    as_json: bool = typer.Option(False, "--json", help="One JSON object (per refresh)."),
    max_outbox_age: float = typer.Option(60.0, "--max-outbox-age",
                                         help="Seconds the oldest pending row may wait."),
    max_lag: int = typer.Option(1000, "--max-lag", help="Records a group may be behind."),
    max_unprocessed_age: float = typer.Option(
        300.0, "--max-unprocessed-age",
        help="Event-time age of the oldest unprocessed record (read-model staleness)."),
    dead_letter_window: float = typer.Option(
        3600.0, "--dead-letter-window", help="Dead letters newer than this are unhealthy."),
    expect_group: list[str] = typer.Option(  # noqa: B008
        None, "--expect-group",
        help="Consumer groups that must exist and keep up (default: the stream apps' and the"
             " reactions consumer's)."),
) -> None:
    """The whole pipeline on one screen: outbox, relays and lanes, publish rate, consumer
    group lag per topic, dead letters, read-model freshness. Exit code 1 when unhealthy,
    2 when a service cannot be reached."""
    import json
    import time
    from datetime import UTC, datetime

    from rich.console import RenderableType
    from rich.live import Live

    from nmc.status.model import Thresholds, assess
    from nmc.status.probe import collect
    from nmc.status.view import render
    from nmc_streams.settings import StreamSettings
    from producers.conversation.reactions.settings import ReactorSettings

    logging.basicConfig(level=logging.ERROR)
    settings = get_settings()
    limits = Thresholds(max_outbox_age, max_lag, max_unprocessed_age, dead_letter_window)
    streams = StreamSettings()
    expected = expect_group or [*(streams.app_id(a) for a in ("conversation", "scheduling",
                                                                "reporting")),
                                ReactorSettings().group]

    def once() -> tuple[int, RenderableType]:
        snapshot = collect(settings, limits, expected)
        problems = assess(snapshot, limits)
        when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
        code = 2 if snapshot.errors else (1 if problems else 0)
        if as_json:
            return code, json.dumps({**snapshot.as_json(problems), "at": when})
        return code, render(snapshot, problems, when)

    code, view = once()
    if not watch:
        if as_json:
            typer.echo(str(view))
        else:
            console.print(view)
        raise typer.Exit(code)
    try:
        if as_json:
            while True:
                typer.echo(str(view))
                time.sleep(watch)
                code, view = once()
        with Live(view, console=console, refresh_per_second=4, screen=False) as live:
            while True:
                time.sleep(watch)
                code, view = once()
                live.update(view)
    except KeyboardInterrupt:
        pass
    raise typer.Exit(code)


@app.command()
def demo(
    catalog: bool = typer.Option(
        False, "--catalog", help="Instead: one event of every type through outbox and relay."),
    evolve: bool = typer.Option(
        False, "--evolve",
        help="Instead: a minor and a major schema change and the retirement of v1, on scratch"
             " copies of the schemas, a topic and a database (removed afterwards)."),
) -> None:
    """Run the platform on the local stack: a missed call becomes a text back, a
    conversation and a booking, through signed webhooks; prints what the read API returns."""
    from nmc.demo.evolve import run_evolve
    from nmc.demo.run import run_catalog, run_story

    if catalog and evolve:
        raise typer.BadParameter("--catalog and --evolve are two different demos: pick one")
    logging.basicConfig(level=logging.WARNING)
    run = run_catalog if catalog else run_evolve if evolve else run_story
    raise typer.Exit(run(get_stack_settings(), console))


def main() -> None:
    app()


if __name__ == "__main__":
    main()
