"""`nmc sender run|unknown`: the outbound SMS sender."""

from __future__ import annotations

import logging
import signal
import threading
from types import FrameType

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy import Engine, select

sender_app = typer.Typer(help="Send queued outbound SMS through Twilio (never twice).",
                         no_args_is_help=True)
console = Console()


def _engine() -> Engine:
    from nmc.infra.db import make_engine
    from nmc.infra.settings import get_settings

    return make_engine(get_settings().database)


@sender_app.command("run")
def run() -> None:
    """Send queued messages until SIGTERM / SIGINT."""
    from producers.sender.sender import run_sender
    from producers.sender.settings import SenderSettings

    logging.basicConfig(level=logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    stop = threading.Event()

    def _stop(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    from nmc.infra.settings import get_settings
    from producers.outbox import OutboxWriter
    from producers.outbox.settings import OutboxSettings

    engine = _engine()
    try:
        run_sender(engine, SenderSettings(), stop,
                   OutboxWriter.from_settings(OutboxSettings(), get_settings()))
    finally:
        engine.dispose()


@sender_app.command("unknown")
def unknown() -> None:
    """Messages whose fate is unknown (crash between claim and answer): reconcile these
    with the Twilio console / API before doing anything else; they are never resent."""
    from producers.tables import outbound_messages as t

    engine = _engine()
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                select(t.c.message_id, t.c.tenant_id, t.c.to_phone, t.c.claimed_at,
                       t.c.attempts).where(t.c.status == "unknown").order_by(t.c.claimed_at)
            ).all()
    finally:
        engine.dispose()
    table = Table("message_id", "tenant", "to", "claimed at", "attempts")
    for r in rows:
        table.add_row(str(r.message_id), str(r.tenant_id), r.to_phone, str(r.claimed_at),
                      str(r.attempts))
    console.print(table if rows else "no message in state unknown")
