"""`nmc dlq list|show|replay|purge`: rich tables for people, `--json` for scripts.

Exit codes: 0 done, 1 something asked for was not found or not replayed, 2 usage error or a
service that cannot be reached (one line on stderr).
"""

from __future__ import annotations

import getpass
import json
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError, ProgrammingError

from nmc.dlq import store
from nmc.dlq.model import DeadLetter, DlqError, Selection, not_found, parse_age, replay_order

dlq_app = typer.Typer(help="Inspect, replay and purge dead letters.", no_args_is_help=True)
console = Console()
err = Console(stderr=True)

Ids = Annotated[list[int] | None, typer.Argument(help="Dead-letter ids (see `nmc dlq list`).")]
Group = Annotated[str | None, typer.Option("--group", "-g", help="Only this consumer group.")]
OlderThan = Annotated[str | None, typer.Option("--older-than",
                                               help="Only dead letters older than this (2h, 7d).")]
NewerThan = Annotated[str | None, typer.Option("--newer-than",
                                               help="Only dead letters newer than this (30m).")]
AsJson = Annotated[bool, typer.Option("--json", help="JSON on stdout instead of tables.")]


def _age(text: str | None) -> timedelta | None:
    return parse_age(text) if text else None


def _engine() -> Engine:
    from nmc.infra.db import make_engine
    from nmc.infra.settings import get_settings

    return make_engine(get_settings().database)


@contextmanager
def _operator_errors() -> Iterator[None]:
    """One clear line and exit 2 for what the operator can fix (selection, services, schema)."""
    try:
        yield
    except DlqError as exc:
        err.print(f"nmc dlq: {exc}")
        raise typer.Exit(2) from exc
    except OperationalError as exc:
        err.print(f"nmc dlq: PostgreSQL cannot be reached: {str(exc.orig).splitlines()[0]}")
        raise typer.Exit(2) from exc
    except ProgrammingError as exc:
        err.print(f"nmc dlq: the database is not migrated (run `nmc db upgrade`): "
                  f"{str(exc.orig).splitlines()[0]}")
        raise typer.Exit(2) from exc


def _with_topic(letters: list[DeadLetter]) -> list[DeadLetter]:
    """Each letter with its record's position on `nmc.dlq.<group>` (None: not found there)."""
    from dataclasses import replace

    from nmc.dlq.topic import dlq_positions
    from nmc.infra.settings import get_settings

    found = dlq_positions(get_settings(), {d.group_id for d in letters})
    return [replace(d, dlq_position=found.get((d.group_id, d.source))) for d in letters]


def _short(text: str | None, width: int) -> str:
    text = text or ""
    return text if len(text) <= width else text[: width - 1] + "…"


@dlq_app.command("list")
def list_command(
    group: Group = None, older_than: OlderThan = None, newer_than: NewerThan = None,
    not_replayed: Annotated[bool, typer.Option("--not-replayed",
                                               help="Hide those already replayed.")] = False,
    limit: Annotated[int, typer.Option("--limit", min=1, help="Show at most this many.")] = 100,
    topic: Annotated[bool, typer.Option("--topic/--no-topic",
                                        help="Join with the DLQ topics (reads them).")] = True,
    as_json: AsJson = False,
) -> None:
    """Dead letters from the table, each with its record on `nmc.dlq.<group>` and replays."""
    with _operator_errors():
        selection = Selection(group=group, older_than=_age(older_than),
                              newer_than=_age(newer_than), include_replayed=not not_replayed)
        letters = store.select(_engine(), selection, limit)
        if topic and letters:
            letters = _with_topic(letters)
    if as_json:
        typer.echo(json.dumps([d.summary() for d in letters], separators=(",", ":")))
        return
    if not letters:
        console.print("no dead letters")
        return
    table = Table()
    for name in ("id", "group", "event", "key", "failed at", "when"):
        table.add_column(name, no_wrap=name in ("id", "group", "failed at", "when"))
    table.add_column("error", ratio=1, min_width=20)
    table.add_column("on topic", no_wrap=True)
    table.add_column("replayed", no_wrap=True)
    for d in letters:
        table.add_row(
            str(d.id), d.group_id, _short(d.event_name, 32), _short(d.record_key, 20),
            d.source, d.created_at.strftime("%Y-%m-%d %H:%M:%S"), _short(d.error, 50),
            f"{d.dlq_position[0]}:{d.dlq_position[1]}" if d.dlq_position else
            ("?" if not topic else "[red]missing[/]"),
            str(len(d.replays)) + (f" (of #{d.replay_of})" if d.replay_of else ""),
        )
    console.print(table)
    console.print(f"[dim]{len(letters)} dead letter(s)[/]")


@dlq_app.command("show")
def show_command(dead_letter_id: Annotated[int, typer.Argument(help="The dead-letter id.")],
                 as_json: AsJson = False) -> None:
    """One dead letter in full: error, headers, the event, its DLQ record and replays."""
    with _operator_errors():
        letters = store.select(_engine(), Selection(ids=(dead_letter_id,)))
        if not letters:
            err.print(f"nmc dlq: no dead letter {dead_letter_id}")
            raise typer.Exit(1)
        (letter,) = _with_topic(letters)
    if as_json:
        typer.echo(json.dumps(letter.detail(), separators=(",", ":"), default=str))
        return
    table = Table.grid(padding=(0, 2))
    for name, value in letter.detail().items():
        if name in ("headers", "event", "replays"):
            continue
        table.add_row(f"[bold]{name}[/]", "" if value is None else str(value))
    console.print(table)
    console.print("[bold]headers[/]", dict(letter.headers))
    console.print("[bold]event[/]", letter.event if letter.event is not None
                  else "[dim]not decoded when it failed (raw_value_hex above)[/]")
    console.print("[bold]replays[/]", [dict(r) for r in letter.replays] or "none")


def _selection(ids: list[int] | None, group: str | None, older_than: str | None,
               newer_than: str | None, all_: bool, include_replayed: bool) -> Selection:
    selection = Selection(ids=tuple(ids or ()), group=group, older_than=_age(older_than),
                          newer_than=_age(newer_than), include_replayed=include_replayed)
    if not selection.narrowed and not all_:
        raise DlqError("say which dead letters: ids, --group, --older-than/--newer-than, or --all")
    return selection


def operator_name(by: str | None) -> str:
    """`--by`, else $USER, else the login name: every replay is recorded with a person."""
    name = by or os.environ.get("USER") or getpass.getuser()
    if not name:
        raise DlqError("who is replaying? pass --by NAME")
    return name


@dlq_app.command("replay")
def replay_command(
    ids: Ids = None, group: Group = None, older_than: OlderThan = None,
    newer_than: NewerThan = None,
    all_: Annotated[bool, typer.Option("--all",
                                       help="Every dead letter not yet replayed.")] = False,
    again: Annotated[bool, typer.Option("--again",
                                        help="Also those replayed before (harmless: the apps "
                                             "apply an event once).")] = False,
    by: Annotated[str | None, typer.Option("--by", help="Operator name (default $USER).")] = None,
    as_json: AsJson = False,
) -> None:
    """Send dead letters back to the app that failed them, through `nmc.replay.<group>` (only
    that group reads it), per key in the order they happened; records who sent what and when.
    An event still poison is dead-lettered again, marked as a replay of the first."""
    from nmc.dlq.topic import send_replays
    from nmc.infra.settings import get_settings

    with _operator_errors():
        operator = operator_name(by)
        selection = _selection(ids, group, older_than, newer_than, all_,
                               include_replayed=again or bool(ids))
        engine = _engine()
        letters = replay_order(store.select(engine, selection))
        missing = not_found(list(ids or ()), [d.id for d in letters])
        sent: list[tuple[DeadLetter, str, int, int]] = []
        with Progress(TextColumn("replaying"), BarColumn(), MofNCompleteColumn(),
                      TimeElapsedColumn(), console=err, disable=as_json or not letters) as bar:
            task = bar.add_task("replay", total=len(letters))

            def acked(letter: DeadLetter, topic: str, partition: int, offset: int) -> None:
                sent.append((letter, topic, partition, offset))
                bar.advance(task)

            errors = send_replays(get_settings(), letters, operator, acked) if letters else []
        store.record_replays(engine, sent, operator)
    result: dict[str, Any] = {
        "replayed": [{"id": d.id, "group": d.group_id, "topic": t, "partition": p, "offset": o}
                     for d, t, p, o in sent],
        "by": operator, "not_found": missing, "errors": errors,
    }
    _report(as_json, result, lambda: console.print(
        f"replayed {len(sent)} dead letter(s) as {operator}"
        + (f" to {', '.join(sorted({t for _, t, _, _ in sent}))}" if sent else "")))
    if missing or errors:
        for line in [*(f"no dead letter {i}" for i in missing), *errors]:
            err.print(f"nmc dlq: {line}")
        raise typer.Exit(1)


@dlq_app.command("purge")
def purge_command(
    ids: Ids = None, group: Group = None, older_than: OlderThan = None,
    newer_than: NewerThan = None,
    all_: Annotated[bool, typer.Option("--all", help="Every dead letter.")] = False,
    as_json: AsJson = False,
) -> None:
    """Delete the chosen dead letters from the table (the DLQ topic keeps its records until its
    retention); replay records stay. Says how many."""
    with _operator_errors():
        selection = _selection(ids, group, older_than, newer_than, all_, include_replayed=True)
        purged = store.purge(_engine(), selection)
    missing = not_found(list(ids or ()), purged)
    _report(as_json, {"purged": len(purged), "ids": purged, "not_found": missing},
            lambda: console.print(f"purged {len(purged)} dead letter(s)"))
    if missing:
        err.print(f"nmc dlq: no dead letter {', '.join(map(str, missing))}")
        raise typer.Exit(1)


def _report(as_json: bool, result: dict[str, Any], human: Callable[[], None]) -> None:
    if as_json:
        typer.echo(json.dumps(result, separators=(",", ":")))
    else:
        human()
