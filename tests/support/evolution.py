"""The scratch-schema helpers of the issue #22 tests; they live in the installed
`nmc.demo.scratch_schemas` because `nmc demo --evolve` plays the same changes."""

from nmc.demo.scratch_schemas import (
    EVENT,
    FILE,
    MAJOR_FILE,
    RENAMED,
    major_copy,
    minor_copy,
    optional_field,
)

__all__ = ["EVENT", "FILE", "MAJOR_FILE", "RENAMED", "major_copy", "minor_copy",
           "optional_field"]
