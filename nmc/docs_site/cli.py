"""`nmc docs build|check` (mounted by nmc/cli.py as `docs_app`)."""

from __future__ import annotations

from pathlib import Path

import typer

from nmc.infra.settings import PROJECT_ROOT

# the builders import the read API's FastAPI app (a second of start-up every `nmc` command
# would pay): they are imported by the commands that use them
DOCS_DIR = PROJECT_ROOT / "docs"

docs_app = typer.Typer(help="The generated pages of the docs site (reference, performance).",
                       no_args_is_help=True)
DOCS_OPT = typer.Option(DOCS_DIR, "--docs", help="The docs/ folder of the site.")


def _root(ctx: typer.Context) -> object:
    """The `nmc` command itself, whose commands the reference lists."""
    return ctx.find_root().command


@docs_app.command("build")
def build_cmd(ctx: typer.Context, docs: Path = DOCS_OPT) -> None:
    """Regenerate docs/reference/ (settings, commands, read API) and the performance page
    from the code and docs/performance/*.json (deterministic; commit the result)."""
    from nmc.docs_site.build import build

    for path in build(_root(ctx), docs):
        typer.echo(f"wrote {docs / path}")


@docs_app.command("check")
def check_cmd(ctx: typer.Context, docs: Path = DOCS_OPT) -> None:
    """Exit 1 when a committed generated page differs from what the code generates."""
    from nmc.docs_site.build import stale_pages

    problems = stale_pages(_root(ctx), docs)
    for p in problems:
        typer.echo(p)
    if problems:
        typer.echo("generated docs are stale: run `nmc docs build` and commit docs/")
        raise typer.Exit(1)
    typer.echo("generated docs up to date")
