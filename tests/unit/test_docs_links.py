"""Documentation links stay inside the repository and point at files that exist (the site's
own pages are also checked, anchors included, by `mkdocs build --strict`: test_docs_site.py)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from nmc.infra.settings import PROJECT_ROOT

DOCS = ["README.md", "schemas-avro/README.md", "stream-apps/README.md", "connectors/README.md",
        "producers/edges/README.md", "clients/python/README.md",
        *sorted(str(p.relative_to(PROJECT_ROOT)) for p in (PROJECT_ROOT / "docs").rglob("*.md"))]
LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")


@pytest.mark.parametrize("doc", DOCS)
def test_relative_links_resolve_inside_the_repository(doc: str) -> None:
    path = PROJECT_ROOT / doc
    root = PROJECT_ROOT.resolve()
    for target in LINK.findall(path.read_text(encoding="utf-8")):
        if re.match(r"^[a-z]+://", target):
            continue
        resolved = (path.parent / target).resolve()
        assert resolved.is_relative_to(root), f"{doc}: {target} points outside the repository"
        assert resolved.exists(), f"{doc}: {target} does not exist"


@pytest.mark.parametrize("doc", DOCS)
def test_no_build_machine_paths(doc: str) -> None:
    assert "/work/" not in (PROJECT_ROOT / doc).read_text(encoding="utf-8")


def test_documented_codec_is_the_producers_codec() -> None:
    """The consumer contract names the codec producers really use."""
    from support.settings import PlatformSettings as Settings

    from nmc.infra.kafka_clients import producer_config

    codec = producer_config(Settings())["compression.type"]
    text = Path(PROJECT_ROOT / "docs/consumers/README.md").read_text(encoding="utf-8")
    assert f"`compression.type={codec}`" in text
