"""The one vocabulary of batches (events, claims, readings): each item's status, their counts,
and the answer's HTTP status (`cli/output.batch_exit` maps the same rule to exit codes)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal, get_args

__all__ = [
    "BATCH_STATUSES",
    "BatchCounts",
    "BatchStatus",
    "batch_http_status",
]

# accepted: on record now; duplicate: on record already with the same content (the original
# result comes back); conflict: its id is on record with other content; rejected: not taken.
BatchStatus = Literal["accepted", "duplicate", "conflict", "rejected"]
BATCH_STATUSES: tuple[BatchStatus, ...] = get_args(BatchStatus)


@dataclass(slots=True)
class BatchCounts:
    """How many items of one or many batches ended in each status."""

    accepted: int = 0
    duplicate: int = 0
    conflict: int = 0
    rejected: int = 0

    def add(self, statuses: Iterable[BatchStatus]) -> None:
        """Count each status once."""
        for status in statuses:
            setattr(self, status, getattr(self, status) + 1)

    @property
    def total(self) -> int:
        return self.accepted + self.duplicate + self.conflict + self.rejected

    @property
    def all_on_record(self) -> bool:
        """True when every item is on record (accepted now, or a duplicate of an earlier send)."""
        return self.conflict == 0 and self.rejected == 0

    def as_json(self) -> dict[str, Any]:
        """The four counts, as every batch answer starts."""
        return {status: getattr(self, status) for status in BATCH_STATUSES}


def batch_http_status(counts: BatchCounts) -> int:
    """200 when every item is on record; 207 when some are and others not; 422 when none is."""
    if counts.all_on_record:
        return 200
    if counts.accepted or counts.duplicate:
        return 207
    return 422
