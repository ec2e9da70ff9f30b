"""NeverMissCall event platform: shared contract, settings, local stack and CLI."""
