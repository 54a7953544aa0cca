"""Errors of the Customer Success domain that more than one of its modules raises or maps."""

from __future__ import annotations

from collections.abc import Sequence

from valueproof.errors import InvalidInput

__all__ = ["LabelsInvalid"]


class LabelsInvalid(InvalidInput):
    """Backtest labels that cannot be used; `problems` lists every (line or field, reason)."""

    title = "Invalid labels"

    def __init__(self, problems: Sequence[tuple[str, str]]) -> None:
        field, reason = problems[0]
        super().__init__(field, reason)
        self.problems = tuple(problems)
        if len(problems) > 1:
            self.detail = "; ".join(f"{path}: {why}" for path, why in problems)
            self.args = (self.detail,)
