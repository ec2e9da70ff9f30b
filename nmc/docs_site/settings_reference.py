"""Every setting of every pydantic settings class, as Markdown (docs/reference/settings.md).

The classes are listed here by name; `tests/unit/test_docs_reference.py` finds every
`BaseSettings` subclass in the sources and fails when one is missing from `SETTINGS_CLASSES`
or when a field has no description.
"""

from __future__ import annotations

import enum
import types
import typing
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from importlib import import_module
from pathlib import Path
from typing import Any

from annotated_types import Ge, Gt, Le, Lt, MaxLen, MinLen
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined
from pydantic_settings import BaseSettings

from nmc.infra.settings import PROJECT_ROOT

# (module, class, where it is used): the order of the page.
SETTINGS_CLASSES: tuple[tuple[str, str, str], ...] = (
    ("nmc.infra.settings", "ServiceSettings",
     "Every process: the services it reaches (unset: the local stack), the topic layout and "
     "the client knobs every producer and registry client shares."),
    ("nmc.infra.connection", "ConnectionSettings",
     "Every Kafka and Schema Registry client (part of `ServiceSettings`): TLS, SASL, "
     "OAUTHBEARER, registry credentials; see "
     "[Secured clusters](../operating/secured-clusters.md)."),
    ("producers.relay.settings", "RelaySettings", "`nmc relay`: the outbox relay."),
    ("producers.outbox.settings", "OutboxSettings",
     "Every outbox writer: the edges, the sender, the reactor, the demo."),
    ("nmc.stack.settings", "StackSettings",
     "`nmc stack`, `nmc connect`, the demo: `ServiceSettings` and the local stack's knobs, "
     "listed here."),
    ("nmc.stack.settings", "StackVersions", "Pinned versions of the local stack's services."),
    ("producers.edges.settings", "EdgeSettings",
     "`nmc edge serve`: webhooks and domain commands."),
    ("producers.sender.settings", "SenderSettings",
     "`nmc sender run` (same prefix as the edges: same public URL, same Twilio account)."),
    ("producers.conversation.reactions.settings", "ReactorSettings",
     "`nmc reactor`: the missed-call and inbound-text reactions."),
    ("nmc_streams.settings", "StreamSettings", "`nmc worker <app>`: the stream apps."),
    ("nmc_streams.api.settings", "ApiSettings", "`nmc api`: the read API."),
    ("nmc.stack.connect", "ConnectSettings",
     "`nmc connect`: Kafka Connect with Debezium (the CDC relay)."),
    ("nmc.infra.tracing", "TracingSettings",
     "OpenTelemetry tracing of every process (off by default; see "
     "[Tracing](../operating/tracing.md))."),
)


@dataclass(frozen=True)
class SettingRow:
    """One environment variable of one settings class."""

    env: str
    type: str
    default: str
    constraints: str
    description: str


def settings_classes() -> Iterator[tuple[type[BaseSettings], str]]:
    """The listed classes, imported, with the sentence that says who reads them."""
    for module, name, used_by in SETTINGS_CLASSES:
        cls = getattr(import_module(module), name)
        assert issubclass(cls, BaseSettings), f"{module}.{name} is not a BaseSettings"
        yield cls, used_by


def env_prefix(cls: type[BaseSettings]) -> str:
    return str(cls.model_config.get("env_prefix", ""))


def is_nested(info: FieldInfo) -> bool:
    """A field holding another settings class (read from the environment on its own)."""
    annotation = info.annotation
    return isinstance(annotation, type) and issubclass(annotation, BaseSettings)


def inherited(cls: type[BaseSettings]) -> set[str]:
    """Fields `cls` takes from another settings class (listed in that class's table)."""
    return {name for base in cls.__mro__[1:]
            if issubclass(base, BaseSettings) and base is not BaseSettings
            for name in base.model_fields}


def rows(cls: type[BaseSettings]) -> list[SettingRow]:
    """The class's own fields as environment variables (nested settings classes and fields
    inherited from another settings class are skipped: they have a table of their own)."""
    prefix = env_prefix(cls)
    found = []
    skip = inherited(cls)
    for name, info in cls.model_fields.items():
        if is_nested(info) or name in skip:
            continue
        found.append(SettingRow(
            env=f"{prefix}{name}".upper(),
            type=type_name(info.annotation),
            default=default_text(info),
            constraints=constraints(info),
            description=(info.description or "").strip(),
        ))
    return found


def undocumented(cls: type[BaseSettings]) -> list[str]:
    """Environment variables of `cls` without a description."""
    return [row.env for row in rows(cls) if not row.description]


def type_name(annotation: Any) -> str:
    """A reader's name for a field type: `int`, `str | None`, `one of "a", "b"`."""
    if annotation is None or annotation is type(None):
        return "None"
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Literal:
        return "one of " + ", ".join(f"`{a}`" for a in args)
    if origin in (typing.Union, types.UnionType):
        return " | ".join(type_name(a) for a in args)
    if origin is not None:
        inner = ", ".join(type_name(a) for a in args)
        return f"{getattr(origin, '__name__', str(origin))}[{inner}]"
    if isinstance(annotation, type):
        return annotation.__name__
    return str(annotation)


def default_text(info: FieldInfo) -> str:
    """The default as it reads in the environment; machine paths relative to the checkout."""
    if info.default_factory is not None:
        factory = typing.cast(Callable[[], Any], info.default_factory)
        value = factory()
    elif info.default is PydanticUndefined:
        return "required"
    else:
        value = info.default
    if value is None:
        return "none"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, enum.Enum):
        value = value.value
    if isinstance(value, Path) and value.is_absolute():
        path = value.resolve()
        if path.is_relative_to(PROJECT_ROOT.resolve()):
            relative = path.relative_to(PROJECT_ROOT.resolve()).as_posix()
            return f"`<repo>/{relative}`"
        return f"`{path.as_posix()}`"
    if isinstance(value, dict | list) and not value:
        return f"`{value!r}`"
    if value == "":
        return "empty"
    return f"`{value}`"


def constraints(info: FieldInfo) -> str:
    """Bounds and patterns pydantic checks at start-up."""
    found = []
    for item in info.metadata:
        if isinstance(item, Ge):
            found.append(f"≥ {item.ge}")
        elif isinstance(item, Gt):
            found.append(f"> {item.gt}")
        elif isinstance(item, Le):
            found.append(f"≤ {item.le}")
        elif isinstance(item, Lt):
            found.append(f"< {item.lt}")
        elif isinstance(item, MinLen):
            found.append(f"length ≥ {item.min_length}")
        elif isinstance(item, MaxLen):
            found.append(f"length ≤ {item.max_length}")
        elif getattr(item, "pattern", None):
            found.append(f"matches `{item.pattern}`")
    return ", ".join(found)


def cell(text: str) -> str:
    """Text safe inside a Markdown table cell."""
    return " ".join(text.replace("|", "\\|").split())


def render() -> str:
    """docs/reference/settings.md."""
    out = [
        "# Settings",
        "",
        "<!-- Generated by `nmc docs build` from the pydantic settings classes; do not edit. -->",
        "",
        "Every process reads its settings once, at start-up, from the environment (names are "
        "case-insensitive); a value that fails its type or bounds stops the process with a "
        "message naming the variable. Secrets (`SecretStr`) are never printed or logged. "
        "Unset `KAFKA_BOOTSTRAP_SERVERS`, `SCHEMA_REGISTRY_URL` and `DATABASE_URL` mean "
        "\"the local stack\".",
        "",
    ]
    for cls, used_by in settings_classes():
        prefix = env_prefix(cls)
        out += [
            f"## {cls.__name__}",
            "",
            f"`{cls.__module__}.{cls.__name__}`, "
            + (f"prefix `{prefix}`. " if prefix else "no prefix. ")
            + used_by,
            "",
            "| variable | type | default | constraints | description |",
            "|---|---|---|---|---|",
        ]
        out += [
            f"| `{r.env}` | {cell(r.type)} | {cell(r.default)} | {cell(r.constraints)} | "
            f"{cell(r.description)} |"
            for r in rows(cls)
        ]
        out.append("")
    return "\n".join(out)
