"""The package's version follows its content: any schema change needs a new package version.

The version is declared by a person (`nmc schemas codegen --version X.Y.Z`) next to a fingerprint
of the schema files it was generated from; CI fails when the files change without a new version.
Rules for consumers pinning `nmc-event-schemas>=X.Y,<X+1`: minor for new or evolved schemas (new
majors are new classes beside the old), patch for docs only, major when a schema file is removed
(a superseded major retired after its deprecation window).
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

_SEMVER = re.compile(r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)$")


def fingerprint(schema_dir: Path) -> str:
    """SHA-256 over every `.avsc` file and `catalog.json` (paths and bytes, in a fixed order)."""
    digest = hashlib.sha256()
    files = sorted([*schema_dir.glob("*/*.avsc"), schema_dir / "catalog.json"])
    for path in files:
        digest.update(path.relative_to(schema_dir).as_posix().encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()


def version_error(old_version: str, old_fingerprint: str, new_version: str,
                  new_fingerprint: str) -> str | None:
    """Why `new_version` cannot label `new_fingerprint` (None: it can)."""
    if not _SEMVER.match(new_version):
        return f"package version {new_version!r} is not MAJOR.MINOR.PATCH"
    old = tuple(int(p) for p in old_version.split("."))
    new = tuple(int(p) for p in new_version.split("."))
    if new_fingerprint == old_fingerprint:
        return None if new == old else (
            f"schemas unchanged: keep package version {old_version} (not {new_version})")
    if new <= old:
        return (f"schemas changed since package version {old_version}: give a higher version"
                " with --version (minor for new or evolved schemas, major when a file was"
                " removed, patch for docs only)")
    return None


def version_module(version: str, schema_fingerprint: str) -> str:
    return (
        '"""Version of this package and of the schemas it was generated from'
        ' (`nmc schemas codegen`)."""\n\n'
        f'__version__ = "{version}"\n'
        f'SCHEMAS_SHA256 = "{schema_fingerprint}"\n'
    )


def read_version_module(text: str) -> tuple[str, str]:
    """(`__version__`, `SCHEMAS_SHA256`) of a generated `_version.py`."""
    version = re.search(r'^__version__ = "([^"]+)"$', text, re.M)
    sha = re.search(r'^SCHEMAS_SHA256 = "([0-9a-f]*)"$', text, re.M)
    if not version or not sha:
        raise ValueError("not a generated _version.py")
    return version.group(1), sha.group(1)
