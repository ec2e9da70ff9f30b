"""Thin routes: parse and validate parameters, call one query, shape the response."""
