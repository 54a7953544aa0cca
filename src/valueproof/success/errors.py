"""What the Customer Success domain refuses: settings documents, driver input, backtest labels and
success-plan changes, each error naming the field at fault."""

from __future__ import annotations

from valueproof.errors import DocumentInvalid, Forbidden, InvalidInput

__all__ = [
    "DriverInputInvalid",
    "LabelsInvalid",
    "PlanChangeForbidden",
    "ScorecardInvalid",
    "SegmentsInvalid",
]


class LabelsInvalid(DocumentInvalid):
    """Backtest labels that cannot be used; `problems` lists every (line or field, reason)."""

    title = "Invalid labels"


class PlanChangeForbidden(Forbidden):
    """A party changed what it may not: `field` names what it tried to change."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


class ScorecardInvalid(DocumentInvalid):
    """A scorecard that cannot be used; `problems` lists every (field path, reason)."""

    title = "Invalid scorecard"


class SegmentsInvalid(DocumentInvalid):
    """Segment rules that cannot be used; `problems` lists every (field path, reason)."""

    title = "Invalid segment rules"


class DriverInputInvalid(InvalidInput):
    """Series that cannot be analysed; `field` names the offending one (`drivers.orders`)."""

    title = "Invalid driver input"
