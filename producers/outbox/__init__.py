"""The transactional outbox: table, writer (in the business transaction), operator actions."""

from producers.outbox.config import OutboxConfig
from producers.outbox.table import OUTBOX_LANES, outbox_events
from producers.outbox.writer import OutboxWriter, emit, lock_keys

__all__ = ["OUTBOX_LANES", "OutboxConfig", "OutboxWriter", "emit", "lock_keys", "outbox_events"]
