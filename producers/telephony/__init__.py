"""Telephony: missed calls, inbound texts and delivery updates reported by the provider
(Twilio). Plain functions over the caller's session and outbox writer; the edges verify,
parse and call them (`producers/edges/routes/twilio_*.py`)."""
