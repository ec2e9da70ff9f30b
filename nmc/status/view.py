"""`nmc status` on a terminal: one screen, readable in 80 columns (pure rendering)."""

from __future__ import annotations

from rich import box
from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from nmc.status.model import ACTIVE_STATES, Snapshot


def age(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 120:
        return f"{seconds:.0f}s"
    if seconds < 7200:
        return f"{seconds / 60:.0f}m"
    if seconds < 172800:
        return f"{seconds / 3600:.0f}h"
    return f"{seconds / 86400:.0f}d"


def _table(title: str, *columns: str) -> Table:
    table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False,
                  title_style="bold")
    for i, column in enumerate(columns):
        table.add_column(column, justify="left" if i == 0 else "right",
                         no_wrap=i == 0, overflow="ellipsis" if i == 0 else "fold")
    return table


def render(snapshot: Snapshot, problems: list[str], when: str) -> RenderableType:
    """The snapshot's parts, then the verdict with every problem."""
    out = snapshot.outbox
    outbox = _table("outbox", "pending", "oldest pending", "parked", "published/s (1 min)")
    outbox.add_row(str(out.pending), age(out.oldest_pending_age_s if out.pending else None),
                   Text(str(out.parked), style="red" if out.parked else ""),
                   f"{out.publish_rate:.1f}")
    relays = _table(f"relays: {len(snapshot.relays)} running, lanes held"
                    f" {snapshot.lanes_held}/{snapshot.lanes_total}",
                    "backend pid", "lanes", "application", "client")
    for r in snapshot.relays:
        relays.add_row(str(r.pid), str(r.lanes), r.application or "-", r.client)
    groups = _table("consumer groups on the domain topics (wait: event-time age of the oldest"
                    " record not yet processed)", "group", "topic", "state", "lag", "wait")
    for g in snapshot.groups:
        dim = not g.expected and g.state not in ACTIVE_STATES
        style = "dim" if dim else ("bold" if g.expected else "")
        groups.add_row(Text(g.group, style=style), g.topic.removeprefix("nmc."),
                       g.state.lower(), str(g.lag), age(g.oldest_unprocessed_age_s))
    for name in snapshot.missing_groups:
        groups.add_row(Text(name, style="bold red"), "-", "never ran", "-", "-")
    sms = snapshot.texts
    texts = _table("outbound texts", "queued", "sending", "unknown", "oldest unknown")
    texts.add_row(str(sms.queued), str(sms.sending),
                  Text(str(sms.unknown), style="red" if sms.unknown else ""),
                  age(sms.oldest_unknown_age_s))
    dead = _table("dead letters", "group", "total", "recent", "newest")
    for d in snapshot.dead_letters:
        dead.add_row(d.group, str(d.total), Text(str(d.recent), style="red" if d.recent else ""),
                     age(d.newest_age_s))
    if problems:
        verdict = Text(f"UNHEALTHY ({len(problems)})", style="bold red")
        lines = [Text(f"  ✗ {p}", style="red") for p in problems]
    else:
        verdict = Text("HEALTHY", style="bold green")
        lines = []
    head = Text.assemble(("NeverMissCall pipeline  ", "bold"), verdict, (f"  {when}", "dim"))
    parts: list[RenderableType] = [head, outbox, texts, relays, groups]
    if snapshot.dead_letters:
        parts.append(dead)
    return Group(*parts, *lines)
