"""What contracts and rating refuse, each naming the field or component at fault."""

from __future__ import annotations

from collections.abc import Sequence

from valueproof.errors import InvalidInput, ValueproofError


class ContractInvalid(InvalidInput):
    """A contract document that cannot be applied; `problems` lists every (field path, reason)."""

    title = "Invalid contract"

    def __init__(self, problems: Sequence[tuple[str, str]]) -> None:
        field, reason = problems[0]
        super().__init__(field, reason)
        self.problems = tuple(problems)
        if len(problems) > 1:
            self.detail = "; ".join(f"{path}: {why}" for path, why in problems)
            self.args = (self.detail,)


class RatingError(ValueproofError):
    """A contract that validated but could not be evaluated on this period's data."""

    status = 422
    title = "Rating failed"

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason
