"""Faust stream apps: conversation, scheduling and reporting state (issue 4)."""
