"""`nmc schemas codegen|package`: regenerate the models, check them, build the wheel."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from nmc.contract.schemas import load_catalog
from nmc.infra.settings import PROJECT_ROOT
from nmc.schema_package.codegen import generate_models
from nmc.schema_package.version import (
    fingerprint,
    read_version_module,
    version_error,
    version_module,
)
from nmc.schema_package.wheel import package_files, write_wheel

CLIENT_DIR = PROJECT_ROOT / "clients" / "python"
PACKAGE_SRC = CLIENT_DIR / "nmc_event_schemas"
CATALOG_DOCS = PROJECT_ROOT / "docs" / "catalog"


class PackageError(RuntimeError):
    """The package cannot be generated or built as asked (exit code 1)."""


@dataclass(frozen=True)
class Generated:
    models: str
    version_module: str
    version: str


def generate(schema_dir: Path, package_src: Path, version: str | None) -> Generated:
    """What `models.py` and `_version.py` must contain for the schemas in `schema_dir`."""
    old_version, old_sha = read_version_module(
        (package_src / "_version.py").read_text(encoding="utf-8"))
    sha = fingerprint(schema_dir)
    new_version = version or old_version
    error = version_error(old_version, old_sha, new_version, sha)
    if error:
        raise PackageError(error)
    return Generated(generate_models(load_catalog(schema_dir)), version_module(new_version, sha),
                     new_version)


def stale(schema_dir: Path, package_src: Path) -> list[str]:
    """Files that differ from what the schemas generate (empty: up to date)."""
    try:
        want = generate(schema_dir, package_src, None)
    except PackageError as exc:
        return [f"_version.py: {exc}"]
    problems = []
    for name, content in (("models.py", want.models), ("_version.py", want.version_module)):
        path = package_src / name
        if not path.exists() or path.read_text(encoding="utf-8") != content:
            problems.append(f"{name} is stale")
    return problems


def write_generated(schema_dir: Path, package_src: Path, version: str | None) -> Generated:
    generated = generate(schema_dir, package_src, version)
    (package_src / "models.py").write_text(generated.models, encoding="utf-8")
    (package_src / "_version.py").write_text(generated.version_module, encoding="utf-8")
    return generated


def build(schema_dir: Path, out_dir: Path, package_src: Path = PACKAGE_SRC,
          catalog_docs: Path = CATALOG_DOCS) -> Path:
    """The wheel of what is committed; refuses stale models (what git has is what ships)."""
    problems = stale(schema_dir, package_src)
    if problems:
        raise PackageError("; ".join(problems) + ": run `nmc schemas codegen` and commit")
    version, _ = read_version_module((package_src / "_version.py").read_text(encoding="utf-8"))
    readme = (package_src.parent / "README.md").read_text(encoding="utf-8")
    return write_wheel(out_dir, version, package_files(package_src, schema_dir, catalog_docs),
                       readme)
