"""`nmc worker <app>`: one Faust worker process of a stream app (several share the partitions)."""

from __future__ import annotations

from typing import Annotated

import typer

from nmc.infra.settings import get_settings
from nmc_streams.settings import StreamSettings

worker_app = typer.Typer(help="Run a stream-processing worker (conversation|scheduling|reporting).")

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


@worker_app.command()
def conversation(worker_id: WorkerId = None, metrics_port: MetricsPort = None) -> None:
    """Conversations, messages, takeovers and missed calls."""
    _run("conversation", worker_id, metrics_port)


@worker_app.command()
def scheduling(worker_id: WorkerId = None, metrics_port: MetricsPort = None) -> None:
    """Holds and appointments per resource."""
    _run("scheduling", worker_id, metrics_port)


@worker_app.command()
def reporting(worker_id: WorkerId = None, metrics_port: MetricsPort = None) -> None:
    """Daily per-tenant counts, compliance, subscriptions, catalog changes."""
    _run("reporting", worker_id, metrics_port)
