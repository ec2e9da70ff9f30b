"""`nmc catalog build|check` (mounted by nmc/cli.py as `catalog_app`)."""

from __future__ import annotations

from pathlib import Path

import typer

from nmc.catalog_docs.build import build, stale_pages
from nmc.contract.schemas import SCHEMA_DIR
from nmc.infra.settings import PROJECT_ROOT

catalog_app = typer.Typer(help="The browsable event catalog under docs/catalog/.",
                          no_args_is_help=True)
DOCS_DIR = PROJECT_ROOT / "docs" / "catalog"
SCHEMAS_OPT = typer.Option(SCHEMA_DIR, "--schemas", help="Schema directory.")
OUT_OPT = typer.Option(DOCS_DIR, "--out", help="Output directory.")


@catalog_app.command("build")
def build_cmd(schemas: Path = SCHEMAS_OPT, out: Path = OUT_OPT) -> None:
    """Regenerate the Markdown catalog from schemas-avro/ (deterministic; commit the result)."""
    written = build(schemas, out)
    typer.echo(f"wrote {len(written)} pages under {out}")


@catalog_app.command("check")
def check_cmd(schemas: Path = SCHEMAS_OPT, out: Path = OUT_OPT) -> None:
    """Exit 1 when the committed catalog differs from what the schemas generate."""
    problems = stale_pages(schemas, out)
    for p in problems:
        typer.echo(p)
    if problems:
        typer.echo("catalog is stale: run `nmc catalog build` and commit docs/catalog/")
        raise typer.Exit(1)
    typer.echo("catalog up to date")
