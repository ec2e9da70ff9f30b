"""Test harness shared by the suites (and the benches): stream workers, scratch databases."""
