"""The conversation domain: threads, the outbound-messaging gate, queued texts and the
reactions to missed calls and inbound texts."""
