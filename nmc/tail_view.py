"""How `nmc tail` shows one record on a terminal (pure: a record in, a rich renderable out)."""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.json import JSON
from rich.text import Text

from nmc.contract.payload import to_json_value
from nmc.tail import TailRecord, format_timestamp

_FIRST = ("event_name", "schema_version")


def render_record(record: TailRecord) -> RenderableType:
    """Where it is (topic, partition, offset, time, key), its headers, then the decoded value."""
    where = Text()
    where.append(record.topic, style="bold cyan")
    where.append(f"  p{record.partition} @{record.offset}", style="bold")
    where.append(f"  {format_timestamp(record.timestamp_ms)}", style="dim")
    where.append("  key ", style="dim")
    where.append(record.key if record.key is not None else "<null>", style="magenta")
    name = Text("  ")
    name.append(record.headers.get("event_name", "<no event_name header>"), style="bold green")
    if "schema_version" in record.headers:
        name.append(f"  {record.headers['schema_version']}", style="green")
    others = sorted(k for k in record.headers if k not in _FIRST)
    width = max((len(k) for k in others), default=0)
    headers = Text("\n").join(
        Text.assemble(("  " + k.ljust(width) + "  ", "dim"), record.headers[k]) for k in others
    )
    if record.error is not None:
        body: RenderableType = Text(f"  {record.error}", style="red")
    else:
        body = JSON.from_data(to_json_value(record.value), indent=2)
    return Group(where, name, headers, body, Text(""))
