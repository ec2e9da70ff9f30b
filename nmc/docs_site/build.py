"""Write or check every generated page of the docs site (`nmc docs build|check`)."""

from __future__ import annotations

from pathlib import Path

from nmc.docs_site import api_reference, commands_reference, performance, settings_reference
from nmc.docs_site.commands_reference import Command
from nmc.infra.settings import PROJECT_ROOT

DOCS_DIR = PROJECT_ROOT / "docs"


def render(root: Command, docs: Path = DOCS_DIR) -> dict[str, str]:
    """Page path under docs/ -> its Markdown text, for the CLI rooted at `root`."""
    pages = {
        "reference/settings.md": settings_reference.render(),
        "reference/commands.md": commands_reference.render(root),
        "reference/read-api.md": api_reference.render(),
        "performance/index.md": performance.render(docs / "performance"),
    }
    return {path: text.rstrip("\n") + "\n" for path, text in pages.items()}


def build(root: Command, docs: Path = DOCS_DIR) -> list[str]:
    """Write the generated pages; returns their paths under `docs`."""
    pages = render(root, docs)
    for path, text in pages.items():
        target = docs / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    return sorted(pages)


def stale_pages(root: Command, docs: Path = DOCS_DIR) -> list[str]:
    """`stale <path>` / `missing <path>` for each committed page that differs."""
    problems = []
    for path, text in sorted(render(root, docs).items()):
        target = docs / path
        if not target.exists():
            problems.append(f"missing {path}")
        elif target.read_text(encoding="utf-8") != text:
            problems.append(f"stale {path}")
    return problems
