"""A reproducible wheel of `nmc-event-schemas`: same inputs, same bytes (fixed timestamps,
sorted entries), built with the standard library only (no build backend, no network)."""

from __future__ import annotations

import base64
import hashlib
import zipfile
from collections.abc import Iterable
from pathlib import Path

DIST = "nmc_event_schemas"
NAME = "nmc-event-schemas"
_EPOCH = (1980, 1, 1, 0, 0, 0)


def _metadata(version: str, readme: str) -> str:
    return (
        "Metadata-Version: 2.1\n"
        f"Name: {NAME}\n"
        f"Version: {version}\n"
        "Summary: NeverMissCall event schemas (Avro), event catalog and typed Python models\n"
        "Requires-Python: >=3.11\n"
        "Description-Content-Type: text/markdown\n"
        "\n"
        f"{readme}"
    )


def _wheel_file() -> str:
    return ("Wheel-Version: 1.0\nGenerator: nmc schemas package\nRoot-Is-Purelib: true\n"
            "Tag: py3-none-any\n")


def package_files(package_src: Path, schema_dir: Path,
                  catalog_docs: Path) -> list[tuple[str, bytes]]:
    """(archive path, content) of everything the package ships, sorted."""
    files: list[tuple[str, bytes]] = []
    for path in sorted(package_src.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts:
            files.append((f"{DIST}/{path.relative_to(package_src).as_posix()}",
                          path.read_bytes()))
    for path in sorted(schema_dir.glob("*/*.avsc")):
        files.append((f"{DIST}/avro/{path.relative_to(schema_dir).as_posix()}",
                      path.read_bytes()))
    files.append((f"{DIST}/catalog.json", (schema_dir / "catalog.json").read_bytes()))
    for path in sorted(catalog_docs.rglob("*.md")):
        files.append((f"{DIST}/catalog_docs/{path.relative_to(catalog_docs).as_posix()}",
                      path.read_bytes()))
    return sorted(files)


def _record_line(name: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{name},sha256={digest},{len(data)}"


def write_wheel(out_dir: Path, version: str, files: Iterable[tuple[str, bytes]],
                readme: str) -> Path:
    """Write `nmc_event_schemas-<version>-py3-none-any.whl` into `out_dir`."""
    info = f"{DIST}-{version}.dist-info"
    entries = [*files,
               (f"{info}/METADATA", _metadata(version, readme).encode()),
               (f"{info}/WHEEL", _wheel_file().encode()),
               (f"{info}/top_level.txt", f"{DIST}\n".encode())]
    record = "\n".join([*(_record_line(n, d) for n, d in entries), f"{info}/RECORD,,"]) + "\n"
    entries.append((f"{info}/RECORD", record.encode()))
    out_dir.mkdir(parents=True, exist_ok=True)
    wheel = out_dir / f"{DIST}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, data in entries:
            item = zipfile.ZipInfo(name, date_time=_EPOCH)
            item.external_attr = 0o644 << 16
            item.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(item, data)
    return wheel
