"""Benchmarks: each prints figures and a same-run baseline ratio (no timed tests anywhere)."""
