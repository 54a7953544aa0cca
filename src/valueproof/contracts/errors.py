"""What contracts and rating refuse, each naming the field or component at fault."""

from __future__ import annotations

from valueproof.errors import Conflict, DocumentInvalid, ValueproofError


class ContractInvalid(DocumentInvalid):
    """A contract document that cannot be applied; `problems` lists every (field path, reason)."""

    title = "Invalid contract"


class RatingError(ValueproofError):
    """A contract that validated but could not be evaluated on this period's data."""

    status = 422
    title = "Rating failed"

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


class MeterInUse(Conflict):
    """A meter that a running contract prices: deleting it would leave the contract unratable."""

    title = "Meter in use"
