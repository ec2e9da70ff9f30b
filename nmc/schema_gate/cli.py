"""`nmc schemas check|register` (mounted by nmc/cli.py as `schemas_app`).

Exit codes, for CI: 0 every subject passes, 1 at least one fails (or registration refused),
2 usage error or registry unreachable (one-line message on stderr).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import NoReturn

import typer
from confluent_kafka import KafkaException
from rich.console import Console
from rich.markup import escape
from sqlalchemy.exc import SQLAlchemyError

from nmc.contract.schemas import SCHEMA_DIR, record_full_name, subject_for, topic_for
from nmc.infra.db import make_engine
from nmc.infra.settings import get_settings
from nmc.schema_gate.check import Report, UsageError, run_check
from nmc.schema_gate.register import CycleError, register_checked
from nmc.schema_gate.registry_api import Registry, RegistryUnavailable
from nmc.schema_gate.retire import (
    decide,
    last_offsets,
    reading_groups,
    retired_setting,
    unpublished_rows,
)
from producers.outbox.settings import OutboxSettings

schemas_app = typer.Typer(help="Schema compatibility gate and registration.",
                          no_args_is_help=True)

_out = Console(highlight=False, soft_wrap=True)
_err = Console(stderr=True, highlight=False, soft_wrap=True)

SCHEMAS_OPT = typer.Option(SCHEMA_DIR, "--schemas", help="Schema directory (schemas-avro/).")
REGISTRY_OPT = typer.Option(None, "--registry",
                            help="Confluent-API registry URL; default SCHEMA_REGISTRY_URL or the"
                                 " local stack.")
NO_REGISTRY_OPT = typer.Option(False, "--no-registry",
                               help="Compare with git only (offline pre-check).")
BASE_OPT = typer.Option(None, "--base",
                        help="Git ref of the previous versions; default merge-base HEAD main.")
FORMAT_OPT = typer.Option("text", "--format", help="text or json.")
WHEEL_OUT_OPT = typer.Option(Path("dist"), "--out", help="Directory for the wheel.")
PREFIX_OPT = typer.Option("", "--subject-prefix", hidden=True,
                          help="Prefix every subject (test isolation).")


_EVENT_RE = re.compile(r"^nmc\.(?P<domain>[a-z]+)\.[A-Z][A-Za-z0-9]*$")


def _usage(message: str) -> NoReturn:
    _err.print(f"error: {escape(message)}")
    raise typer.Exit(2)


def _run(schemas: Path, registry: str | None, no_registry: bool, base: str | None,
         prefix: str) -> Report:
    url = None if no_registry else (registry or get_settings().registry)
    try:
        return run_check(schemas, url, base, subject_prefix=prefix,
                         level=get_settings().nmc_compatibility_level)
    except (UsageError, RegistryUnavailable) as exc:
        _usage(str(exc))


def print_report(report: Report, console: Console = _out) -> None:
    """Human output: per subject PASS/FAIL, its reasons indented, a summary line last."""
    for r in report.results:
        colour = "green" if r.passed else "red"
        console.print(f"[{colour}]{r.verdict}[/] {escape(r.subject)}  [dim]{escape(r.file)}[/]")
        for reason in r.reasons:
            console.print(f"    {escape(reason)}")
    against = ", ".join(
        x for x in (f"git {report.base[:10]}" if report.base else "",
                    report.registry or "") if x
    ) or "nothing (no git base, no registry)"
    console.print(
        f"{'[green]PASS' if report.ok else '[red]FAIL'}[/]: {report.passed} passed,"
        f" {report.failed} failed ({len(report.results)} schemas; compared with"
        f" {escape(against)})"
    )


@schemas_app.command("check")
def check(
    schemas: Path = SCHEMAS_OPT,
    base: str | None = BASE_OPT,
    registry: str | None = REGISTRY_OPT,
    no_registry: bool = NO_REGISTRY_OPT,
    fmt: str = FORMAT_OPT,
    subject_prefix: str = PREFIX_OPT,
) -> None:
    """Gate every schema against the registry and git: PASS/FAIL per subject, exit 1 on FAIL."""
    if fmt not in ("text", "json"):
        _usage(f"--format must be text or json, not {fmt!r}")
    report = _run(schemas, registry, no_registry, base, subject_prefix)
    if fmt == "json":
        typer.echo(json.dumps(report.as_json(), indent=2))
    else:
        print_report(report)
    raise typer.Exit(0 if report.ok else 1)


@schemas_app.command("register")
def register(
    schemas: Path = SCHEMAS_OPT,
    base: str | None = BASE_OPT,
    registry: str | None = REGISTRY_OPT,
    subject_prefix: str = PREFIX_OPT,
) -> None:
    """Set FULL_TRANSITIVE on each subject, then register what the gate passes (idempotent)."""
    url = registry or get_settings().registry
    report = _run(schemas, url, False, base, subject_prefix)
    if not report.ok:
        print_report(report, _err)
        _err.print("[red]refusing to register[/]: the gate failed (see above); nothing written")
        raise typer.Exit(1)
    try:
        done = register_checked(report, url, get_settings().nmc_compatibility_level)
    except (RegistryUnavailable, CycleError) as exc:
        _usage(str(exc))
    for item in done:
        _out.print(f"{escape(item.subject)}: {escape(item.describe())}")
    changed = sum(1 for d in done if d.created or d.level_set)
    if changed:
        _out.print(f"[green]done[/]: {sum(d.created for d in done)} registered,"
                   f" {sum(d.level_set for d in done)} levels set, {len(done)} subjects")
    else:
        _out.print(f"nothing to do: all {len(done)} subjects already registered at"
                   f" {get_settings().nmc_compatibility_level}")


@schemas_app.command("codegen")
def codegen(
    schemas: Path = SCHEMAS_OPT,
    version: str | None = typer.Option(
        None, "--version", help="New package version; required when the schemas changed."),
    check: bool = typer.Option(False, "--check",
                               help="Write nothing; exit 1 when the committed models are stale."),
) -> None:
    """Regenerate the typed Python models of clients/python/nmc_event_schemas (commit them)."""
    from nmc.schema_package.build import PACKAGE_SRC, PackageError, stale, write_generated

    if check:
        problems = stale(schemas, PACKAGE_SRC)
        for problem in problems:
            _err.print(problem)
        if problems:
            _err.print("run `nmc schemas codegen` (with --version when the schemas changed)"
                       " and commit clients/python/")
            raise typer.Exit(1)
        _out.print("models up to date")
        return
    try:
        generated = write_generated(schemas, PACKAGE_SRC, version)
    except PackageError as exc:
        _err.print(f"[red]{escape(str(exc))}[/]")
        raise typer.Exit(1) from exc
    _out.print(f"wrote {PACKAGE_SRC}/models.py and _version.py (version {generated.version})")


@schemas_app.command("package")
def package(
    schemas: Path = SCHEMAS_OPT,
    out: Path = WHEEL_OUT_OPT,
) -> None:
    """Build the reproducible wheel nmc-event-schemas: .avsc files, catalog, typed models."""
    from nmc.schema_package.build import PackageError, build

    try:
        wheel = build(schemas, out)
    except PackageError as exc:
        _err.print(f"[red]{escape(str(exc))}[/]")
        raise typer.Exit(1) from exc
    _out.print(str(wheel))


@schemas_app.command()
def retire(
    event: str = typer.Argument(..., help="Event name, e.g. nmc.telephony.CallDetected."),
    major: int = typer.Option(..., "--major", min=1, help="The major to retire."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Decide and print; change nothing."),
    registry: str | None = REGISTRY_OPT,
    topic_suffix: str = typer.Option("", "--topic-suffix", hidden=True,
                                     help="Isolated topic copies (tests, demo)."),
) -> None:
    """Retire a major once no consumer group still needs it (exit 1 when refused).

    Refuses while any group reading the event's topic has not committed past the last record
    of that major on every partition (naming each group and how far behind it is), while rows
    of it wait in the outbox, or when no newer major is registered. Otherwise soft-deletes the
    major's subject (writers refuse it; records already written stay readable) and prints the
    NMC_RETIRED_MAJORS value to deploy. See schemas-avro/README.md, "Retiring a major".
    """
    settings = get_settings()
    try:
        match = _EVENT_RE.match(event)
        if match is None:
            _usage(f"{event!r} is not an event name nmc.<domain>.<Event>")
        topic = topic_for(match["domain"]) + topic_suffix
        subject = subject_for(topic, record_full_name(event, major))
        with Registry(registry or settings.registry) as api:
            if not api.versions(subject):
                _usage(f"subject {subject} has no registered version (retired already?)")
            newer = any(api.versions(subject_for(topic, record_full_name(event, m)))
                        for m in range(major + 1, major + 4))
            engine = make_engine(settings.database)
            try:
                unpublished = unpublished_rows(engine, event, major, topic)
            finally:
                engine.dispose()
            decision = decide(last_offsets(settings, topic, event, major),
                              reading_groups(settings, topic), unpublished, newer)
            reasons = decision.reasons(event, major, topic)
            if not decision.allowed:
                _out.print(f"REFUSED: {event} major {major} is still needed")
                for reason in reasons:
                    _out.print(f"  - {escape(reason)}")
                raise typer.Exit(1)
            value = retired_setting(OutboxSettings().nmc_retired_majors, event, major)
            if dry_run:
                _out.print(f"OK (dry run): {event} major {major} can be retired; nothing "
                           "changed")
                return
            deleted = api.soft_delete(subject)
            _out.print(f"RETIRED: {event} major {major}: subject {subject} soft-deleted "
                       f"(versions {deleted}); records already written stay readable")
            _out.print(f"  deploy NMC_RETIRED_MAJORS='{escape(value)}' so running writers "
                       "refuse it at once")
    except (RegistryUnavailable, KafkaException, SQLAlchemyError, TimeoutError) as exc:
        _usage(str(exc))
