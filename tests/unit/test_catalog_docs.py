"""The committed docs/catalog/ must be what `nmc catalog build` generates from schemas-avro/."""

from __future__ import annotations

from pathlib import Path

from nmc.catalog_docs.build import build, render, stale_pages
from nmc.contract.schemas import SCHEMA_DIR, default_catalog
from nmc.infra.settings import PROJECT_ROOT


def test_committed_catalog_is_not_stale() -> None:
    problems = stale_pages(SCHEMA_DIR, PROJECT_ROOT / "docs" / "catalog")
    hint = "run `nmc catalog build` and commit docs/catalog/: "
    assert problems == [], hint + ", ".join(problems)


def test_one_page_per_domain_and_event_deterministic(tmp_path: Path) -> None:
    pages = render(SCHEMA_DIR)
    for s in default_catalog():
        assert f"{s.domain}/{s.event}.md" in pages
        assert f"{s.domain}/index.md" in pages
        assert s.subject in pages[f"{s.domain}/{s.event}.md"]
    build(SCHEMA_DIR, tmp_path)
    assert stale_pages(SCHEMA_DIR, tmp_path) == []
    (tmp_path / "telephony" / "CallDetected.md").write_text("edited", encoding="utf-8")
    assert stale_pages(SCHEMA_DIR, tmp_path) == ["stale telephony/CallDetected.md"]
    assert render(SCHEMA_DIR) == pages
