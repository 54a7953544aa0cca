"""What metering refuses as a whole, before any item of an input is looked at."""

from __future__ import annotations

from valueproof.errors import InvalidInput

__all__ = ["DecompressedTooLarge", "MalformedInput"]


class MalformedInput(InvalidInput, ValueError):
    """The input as a whole is unreadable: a body that is not JSON, a CSV header naming a column
    twice, a file of unknown format. Nothing in it can be taken item by item."""


class DecompressedTooLarge(MalformedInput):
    """A compressed file inflates past `ReadLimits.max_decompressed_bytes`: reading stops."""
