"""Errors of the Customer Success domain that more than one of its modules raises or maps."""

from __future__ import annotations

from valueproof.errors import DocumentInvalid

__all__ = ["LabelsInvalid"]


class LabelsInvalid(DocumentInvalid):
    """Backtest labels that cannot be used; `problems` lists every (line or field, reason)."""

    title = "Invalid labels"
