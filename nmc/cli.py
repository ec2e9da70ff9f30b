"""`nmc`: the platform's command line (composition root of every process)."""

from __future__ import annotations

import logging

import typer
from rich.console import Console
from rich.table import Table

from nmc.catalog_docs.cli import catalog_app
from nmc.connect_cli import connect_app
from nmc.gate.cli import schemas_app
from nmc.settings import get_settings
from nmc.stack.cli import stack_app
from nmc_streams.api.cli import api_command
from nmc_streams.cli import worker_app
from producers.edges.cli import edge_app
from producers.sender.cli import sender_app
from producers.tenants.cli import tenants_app

app = typer.Typer(help="NeverMissCall event platform.", no_args_is_help=True)
app.add_typer(stack_app, name="stack")
app.add_typer(connect_app, name="connect")
app.add_typer(worker_app, name="worker")
app.add_typer(tenants_app, name="tenants")
app.add_typer(edge_app, name="edge")
app.add_typer(sender_app, name="sender")
app.command("api")(api_command)
app.add_typer(schemas_app, name="schemas")
app.add_typer(catalog_app, name="catalog")
outbox_app = typer.Typer(help="Inspect and unblock the outbox.", no_args_is_help=True)
app.add_typer(outbox_app, name="outbox")
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
    from producers.db import upgrade

    upgrade(get_settings().database)
    console.print("[green]✓[/] database at head")


@app.command()
def relay(verbose: bool = typer.Option(False, "--verbose", "-v")) -> None:
    """Publish committed outbox rows to Kafka until SIGTERM (several may run at once)."""
    from producers.relay.app import run_relay

    _logging(verbose)
    run_relay(get_settings())


@app.command()
def reactor(verbose: bool = typer.Option(False, "--verbose", "-v")) -> None:
    """React to missed calls and texts: start conversations, queue the auto-reply."""
    from producers.reactions.app import run_reactor

    _logging(verbose)
    run_reactor(get_settings())


@outbox_app.command("parked")
def outbox_parked() -> None:
    """List parked rows and how many events of the same key wait behind each."""
    from producers.db import make_engine
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
    from producers.db import make_engine
    from producers.outbox.operator import retry

    if not ids and not all_:
        raise typer.BadParameter("give row ids or --all")
    moved = retry(make_engine(get_settings().database), None if all_ else ids)
    console.print(f"retried {len(moved)} rows: {moved}")


@outbox_app.command("skip")
def outbox_skip(ids: list[int] = typer.Argument(..., help="Row ids to give up on.")) -> None:  # noqa: B008
    """Never publish these parked rows; later events of their keys flow again."""
    from producers.db import make_engine
    from producers.outbox.operator import skip

    moved = skip(make_engine(get_settings().database), ids)
    console.print(f"skipped {len(moved)} rows: {moved}")


@app.command()
def demo(
    catalog: bool = typer.Option(
        False, "--catalog", help="Instead: one event of every type through outbox and relay."),
) -> None:
    """Run the platform on the local stack: a missed call becomes a text back, a
    conversation and a booking, through signed webhooks; prints what the read API returns."""
    from nmc.demo import run_catalog, run_story

    logging.basicConfig(level=logging.WARNING)
    run = run_catalog if catalog else run_story
    raise typer.Exit(run(get_settings(), console))


def main() -> None:
    app()


if __name__ == "__main__":
    main()
