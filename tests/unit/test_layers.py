"""Every module of the platform sits in a layer of the import-linter contract.

import-linter only checks the modules a contract names; a new top-level module outside every
layer would escape the rule, so this test names it."""

from __future__ import annotations

import pkgutil
import re
import tomllib
from pathlib import Path

import nmc
import producers

ROOT = Path(__file__).resolve().parents[2]


def _layered(prefix: str = "layers:") -> set[str]:
    """The modules a layers contract (the first whose name starts with `prefix`) names."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    contracts = config["tool"]["importlinter"]["contracts"]
    layers = next(c["layers"] for c in contracts
                  if c["type"] == "layers" and c["name"].startswith(prefix))
    return {name for layer in layers for name in re.split(r"\s*[|:]\s*", layer.strip())}


def test_every_top_level_module_is_in_a_layer() -> None:
    layered = _layered()
    assert "nmc_streams" in layered
    for package in (nmc, producers):
        children = {f"{package.__name__}.{m.name}" for m in pkgutil.iter_modules(package.__path__)}
        assert children, package.__name__
        assert sorted(children - layered) == [], "add these to a layer in pyproject.toml"


def test_every_stream_apps_module_is_in_a_layer_of_their_contract() -> None:
    """The stream apps' own contract (app definitions below the worker that composes them)
    covers every module of `nmc_streams`, so a new collaborator gets a place in it."""
    import nmc_streams

    layered = _layered("stream apps:")
    children = {f"nmc_streams.{m.name}" for m in pkgutil.iter_modules(nmc_streams.__path__)}
    assert sorted(children - layered) == [], "add these to a layer in pyproject.toml"


def test_the_layers_name_only_modules_that_exist() -> None:
    missing = []
    for name in _layered() | _layered("stream apps:"):
        parts = name.split(".")
        base = ROOT / ("stream-apps" if parts[0] == "nmc_streams" else "") / Path(*parts)
        if not (base.with_suffix(".py").exists() or (base / "__init__.py").exists()):
            missing.append(name)
    assert missing == []
