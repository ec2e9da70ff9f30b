"""The download cache redoes a step whose completion marker is missing."""

from __future__ import annotations

from pathlib import Path

import pytest

from nmc.stack import maven


def test_cached_fills_once(tmp_path: Path) -> None:
    calls: list[Path] = []

    def fill(dest: Path) -> None:
        calls.append(dest)
        (dest / "a.jar").write_text("x")

    target = tmp_path / "kafka"
    maven.cached(target, fill)
    maven.cached(target, fill)
    assert len(calls) == 1
    assert (target / maven.MARKER).exists()


def test_half_finished_download_is_redone(tmp_path: Path) -> None:
    target = tmp_path / "kafka"

    def broken(dest: Path) -> None:
        (dest / "partial.jar").write_text("x")
        raise RuntimeError("network")

    with pytest.raises(RuntimeError):
        maven.cached(target, broken)
    assert not (target / maven.MARKER).exists()

    maven.cached(target, lambda dest: (dest / "full.jar").write_text("y"))
    assert sorted(p.name for p in target.iterdir()) == [maven.MARKER, "full.jar"]
