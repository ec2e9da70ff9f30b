"""`nmc worker <app>`: one Faust worker process of a stream app (several share the partitions)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

import typer

from nmc.infra.settings import get_settings
from nmc_streams.apps import APPS
from nmc_streams.settings import StreamSettings

worker_app = typer.Typer(help=f"Run a stream-processing worker ({'|'.join(APPS)}).")

WorkerId = Annotated[
    str | None,
    typer.Option(
        help="Names the local state dir <nmc_home>/streams/<app>/<worker-id>; "
        "default <host>-<pid>. Reuse it to restart from local state."
    ),
]
MetricsPort = Annotated[
    int | None, typer.Option(help="Prometheus port (overrides NMC_STREAMS_METRICS_PORT).")
]


def _run(app_name: str, worker_id: str | None, metrics_port: int | None) -> None:
    from nmc_streams.runtime import default_worker_id, run_worker

    settings = StreamSettings()
    if metrics_port is not None:
        settings = settings.model_copy(update={"metrics_port": metrics_port})
    run_worker(app_name, get_settings(), settings, worker_id or default_worker_id())


def _command(app_name: str) -> Callable[[WorkerId, MetricsPort], None]:
    def command(worker_id: WorkerId = None, metrics_port: MetricsPort = None) -> None:
        _run(app_name, worker_id, metrics_port)

    return command


for _app in APPS.values():  # one command per app definition (`nmc_streams.<app>.app`)
    worker_app.command(_app.name, help=_app.summary)(_command(_app.name))


@worker_app.command("rebuild")
def rebuild_command(
    app: Annotated[str, typer.Argument(help=" | ".join(APPS))],
    by: Annotated[str | None, typer.Option("--by", help="Operator (default $USER).")] = None,
    swap: Annotated[bool, typer.Option("--swap/--no-swap",
                                       help="Swap the rebuilt models in when caught up "
                                            "(--no-swap: leave them in their schema).")] = True,
    catch_up_s: Annotated[float, typer.Option("--catch-up-s", min=1.0,
                                              help="Longest wait under the swap lock.")] = 30.0,
    as_json: Annotated[bool, typer.Option("--json", help="The result as one JSON object.")] = False,
) -> None:
    """Rebuild the app's read models from its topics from the beginning (a new consumer group,
    new tables in their own schema, a progress bar by lag), then swap them in atomically; the
    read API serves the old models until the swap. Details: nmc_streams/rebuild.py."""
    import json

    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from nmc_streams.rebuild import RebuildError, rebuild

    err = Console(stderr=True)
    columns = (TextColumn(f"rebuilding {app}"), BarColumn(), MofNCompleteColumn(),
               TextColumn("lag {task.fields[lag]}"), TimeElapsedColumn())
    try:
        with Progress(*columns, console=err, disable=as_json) as bar:
            task = bar.add_task(app, total=None, lag="?")

            def total(records: int) -> None:
                bar.update(task, total=records, lag=records)

            def progress(done: int, lag: int) -> None:
                # the total grows with what arrives while rebuilding: done + what is left
                bar.update(task, completed=done, total=done + lag, lag=lag)

            result = rebuild(app, get_settings(), StreamSettings(), progress=progress,
                             on_total=total, operator=by, swap_models=swap,
                             catch_up_s=catch_up_s)
    except RebuildError as exc:
        err.print(f"nmc worker rebuild: {exc}")
        raise typer.Exit(1) from exc
    plan = result.plan
    summary = {"app": app, "group": plan.group, "events": result.events,
               "dead_letters": result.dead_letters, "swapped": result.swapped,
               "schema": "public" if result.swapped else plan.schema,
               "retired_schema": plan.retired if result.swapped else None,
               "seconds": round(result.seconds, 1)}
    if as_json:
        typer.echo(json.dumps(summary))
        return
    where = (f"swapped in; the old models are kept in schema {plan.retired}" if result.swapped
             else f"left in schema {plan.schema} (not swapped)")
    err.print(f"rebuilt {app} from {result.events} events ({result.dead_letters} dead letters)"
              f" in {result.seconds:.1f}s: {where}")
