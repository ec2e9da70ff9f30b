"""NeverMissCall event schemas for Python consumers.

* `models`: one frozen dataclass per event and major (`CallDetectedV1`, ...), and
  `from_dict(value)` to turn what your Avro deserializer returns into the right one;
* `schema_text(event_name, major)`: the `.avsc` (Avro JSON) the models were generated from;
* `catalog()`: per event its domain, when it happens, producer, consumers and an example;
* the generated Markdown catalog under `catalog_docs/` (see `catalog_doc`).

The wire contract (topics, keys, headers, compression, ordering) is docs/consumers/README.md of
the platform's repository.
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

from nmc_event_schemas._version import SCHEMAS_SHA256, __version__
from nmc_event_schemas.models import MODELS, Event, from_dict

__all__ = ["MODELS", "SCHEMAS_SHA256", "Event", "__version__", "catalog", "catalog_doc",
           "from_dict", "schema_text"]


def schema_text(event_name: str, major: int) -> str:
    """The Avro schema of `nmc.<domain>.<Event>` at `major`, as shipped in this package."""
    _, domain, event = event_name.split(".")
    path = resources.files(__name__) / "avro" / domain / f"{event}.v{major}.avsc"
    return path.read_text(encoding="utf-8")


def catalog() -> dict[str, Any]:
    """`catalog.json`: per event name its domain, when, producer, consumers, example payload."""
    text = (resources.files(__name__) / "catalog.json").read_text(encoding="utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


def catalog_doc(relative: str = "index.md") -> str:
    """A page of the generated Markdown catalog, e.g. `telephony/CallDetected.md`."""
    return (resources.files(__name__) / "catalog_docs" / relative).read_text(encoding="utf-8")
