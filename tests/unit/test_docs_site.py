"""The docs site builds with `mkdocs build --strict`: no broken link or anchor, no page left out
of the nav, every included example file present (mkdocs.yml's `validation` makes each an error)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from nmc.infra.settings import PROJECT_ROOT


def test_site_builds_strict(tmp_path: Path) -> None:
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--quiet",
         "--config-file", str(PROJECT_ROOT / "mkdocs.yml"), "--site-dir", str(tmp_path)],
        cwd=PROJECT_ROOT, capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    examples = (tmp_path / "consumers" / "examples" / "index.html").read_text(encoding="utf-8")
    assert "--8&lt;--" not in examples and "--8<--" not in examples  # every include resolved
    for marker in ("confluent_kafka", "kafkajs", "kgo", "KafkaConsumer"):  # one per language
        assert marker in examples, marker


def test_readme_is_a_front_door_without_a_diary() -> None:
    """README.md stays short; dated figures live in docs/performance/*.json, nowhere else."""
    import re

    readme = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
    assert len(readme.splitlines()) <= 200
    for text in ("make demo", "make test"):
        assert f"`{text}`" in readme
    dated = re.compile(r"\b20\d\d-\d\d-\d\d \d\d:\d\d|\(\d\d:\d\d, load")
    pages = [PROJECT_ROOT / "README.md",
             *(p for p in (PROJECT_ROOT / "docs").rglob("*.md")
               if p.relative_to(PROJECT_ROOT).as_posix() != "docs/performance/index.md")]
    diaries = [str(p.relative_to(PROJECT_ROOT)) for p in pages
               if dated.search(p.read_text(encoding="utf-8"))]
    assert diaries == []
