"""The tests' settings: every component's settings class in one object (harness only).

The platform hands each component its own class (`ServiceSettings`, `StackSettings`,
`RelaySettings`, `OutboxSettings`); their fields have no prefix and
distinct names, so one object can be all of them at once. The fixtures build this one, and a
test passes it wherever a component wants its own (`run_relay(settings, settings, stop)`),
changing a knob with `model_copy(update=...)` as before the split.
"""

from __future__ import annotations

from nmc.stack.settings import StackSettings
from producers.outbox.settings import OutboxSettings
from producers.relay.settings import RelaySettings


class PlatformSettings(StackSettings, RelaySettings, OutboxSettings):
    """`StackSettings` (with `ServiceSettings`), `RelaySettings` and `OutboxSettings` at once.
    The reactor's knobs are `ReactorSettings` (prefixed), built by each test."""
