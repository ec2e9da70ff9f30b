"""Scratch schema directories: the catalog copied and one event evolved (the installed
schemas are never touched). Used by `nmc demo --evolve` and by the tests of issue #22.

`minor_copy` evolves CallDetected the way schemas-avro/README.md calls minor: an optional field
with a default appended to the payload, `nmc.version` bumped, the catalog.json example extended.
`major_copy` adds a breaking CallDetected major 2 beside v1, with its `nmc.previous_major`.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from nmc.contract.schemas import SCHEMA_DIR, SchemaCatalog, load_catalog

EVENT = "nmc.telephony.CallDetected"
FILE = Path("telephony") / "CallDetected.v1.avsc"


def optional_field(name: str) -> dict[str, Any]:
    """An optional string field defaulting to null: the additive change a minor allows."""
    return {"name": name, "type": ["null", "string"], "default": None,
            "doc": f"Added in a minor version ({name}); null when the writer did not know it."}


def minor_copy(dest: Path, version: str = "1.1.0",
               added: tuple[str, ...] = ("caller_name",)) -> SchemaCatalog:
    """The catalog in `dest` with CallDetected at `version`, `added` appended as optional
    strings (default null); returns it loaded."""
    if not dest.exists():
        shutil.copytree(SCHEMA_DIR, dest)
    path = dest / FILE
    raw = json.loads(path.read_text(encoding="utf-8"))
    raw["nmc.version"] = version
    fields = raw["fields"][-1]["type"]["fields"]
    for name in added:
        if all(f["name"] != name for f in fields):
            fields.append(optional_field(name))
    path.write_text(json.dumps(raw, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    catalog_path = dest / "catalog.json"
    catalog = json.loads(catalog_path.read_text(encoding="utf-8"))
    for name in added:
        catalog[EVENT]["example_payload"].setdefault(name, None)
    catalog_path.write_text(json.dumps(catalog, indent=2, ensure_ascii=False) + "\n",
                            encoding="utf-8")
    return load_catalog(dest)


MAJOR_FILE = Path("telephony") / "CallDetected.v2.avsc"
RENAMED = {"caller_phone": "from_phone"}  # v2 name -> v1 name


def major_copy(dest: Path, version: str = "2.0.0") -> SchemaCatalog:
    """The catalog in `dest` plus a breaking CallDetected major 2 beside v1: `from_phone`
    renamed `caller_phone` (no alias, no default: the registry refuses it as a v1 version),
    an optional `caller_name` added; its `nmc.previous_major` says so. Returns it loaded."""
    if not dest.exists():
        shutil.copytree(SCHEMA_DIR, dest)
    raw = json.loads((dest / FILE).read_text(encoding="utf-8"))
    major = version.split(".", 1)[0]
    raw["namespace"] = f"nmc.telephony.v{major}"
    raw["nmc.version"] = version
    payload = raw["fields"][-1]["type"]
    payload["namespace"] = raw["namespace"]
    back = {old: new for new, old in RENAMED.items()}
    for f in payload["fields"]:
        f["name"] = back.get(f["name"], f["name"])
    payload["fields"].append(optional_field("caller_name"))
    fields = raw.pop("fields")
    raw["nmc.previous_major"] = {"renamed": RENAMED, "added": ["caller_name"], "removed": {}}
    raw["fields"] = fields
    (dest / MAJOR_FILE).write_text(json.dumps(raw, indent=2, ensure_ascii=False) + "\n",
                                   encoding="utf-8")
    catalog_path = dest / "catalog.json"
    catalog = json.loads(catalog_path.read_text(encoding="utf-8"))
    example = catalog[EVENT]["example_payload"]
    catalog[EVENT]["example_payload"] = {
        **{back.get(k, k): v for k, v in example.items()}, "caller_name": None}
    catalog_path.write_text(json.dumps(catalog, indent=2, ensure_ascii=False) + "\n",
                            encoding="utf-8")
    return load_catalog(dest)
