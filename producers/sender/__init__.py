"""The SMS sender: sends queued outbound messages exactly once or reports them `unknown`."""

from producers.sender.queue import queue_outbound

__all__ = ["queue_outbound"]
