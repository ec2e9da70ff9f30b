"""`nmc api`: serve the read API with uvicorn (mount `api_command` on the `nmc` typer app)."""

from __future__ import annotations

import os
from typing import Annotated

import typer

from nmc_streams.api.settings import ApiSettings

FACTORY = "nmc_streams.api.cli:app_from_env"


def app_from_env() -> object:
    """uvicorn factory for multi-worker runs: each worker reads the environment itself."""
    from nmc.infra import tracing
    from nmc.infra.settings import get_settings
    from nmc_streams.api.app import create_app

    tracing.configure("nmc-api")  # FastAPI then makes a server span per request
    return create_app(ApiSettings(), get_settings())


def serve(settings: ApiSettings) -> None:
    """Run uvicorn until SIGTERM/SIGINT.

    One worker: the app is built here from `settings`. Several workers: uvicorn needs an
    import string, so each worker rebuilds its app from the environment (`app_from_env`);
    in dev mode without a secret every worker would mint its own key, which is refused.
    """
    import uvicorn

    if settings.workers > 1:
        if "NMC_API_JWT_SECRET" not in os.environ:
            raise typer.BadParameter("several workers need NMC_API_JWT_SECRET (one shared key)")
        uvicorn.run(FACTORY, factory=True, host=settings.host, port=settings.port,
                    workers=settings.workers, log_level=settings.log_level,
                    access_log=False)
        return
    from nmc.infra import tracing
    from nmc.infra.settings import get_settings
    from nmc_streams.api.app import create_app

    tracing.configure("nmc-api")
    uvicorn.run(create_app(settings, get_settings()), host=settings.host, port=settings.port,
                log_level=settings.log_level, access_log=False)


def api_command(
    host: Annotated[str | None, typer.Option(help="Bind address (NMC_API_HOST).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (NMC_API_PORT).")] = None,
    workers: Annotated[int | None, typer.Option(help="uvicorn workers (NMC_API_WORKERS).")] = None,
) -> None:
    """Serve the tenant-scoped read API (FastAPI) over the read models."""
    overrides = {k: v for k, v in {"host": host, "port": port, "workers": workers}.items()
                 if v is not None}
    try:
        settings = ApiSettings(**overrides)  # type: ignore[arg-type]
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    serve(settings)
