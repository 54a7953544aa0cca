"""The root of valueproof's one error hierarchy; the API and the CLI each map it in one place.

Every error raised on purpose is a `ValueproofError`. This module holds the kinds (the bases
below, which set the HTTP status and the CLI exit code) and the errors shared by every domain.
Each package keeps its own errors in `<package>/errors.py` (`contracts`, `ledger`, `metering`,
`outcomes`, `success`), each a subclass of one of these kinds or of its package's own base
(`ledger.errors.LedgerError`); no other module defines a `ValueproofError`.

Naming: an error is named for what went wrong, subject first: `ContractInvalid`,
`PlanChangeForbidden`, `KnownSetUnavailable`, `ReadingRefused`, `DocumentUnreadable`. A name ends
in `Error` only when a check or computation over data failed rather than a request being
refused: the ledger's verification failures (`LedgerError`, `ProofError`, `LogFetchError`, ...),
`RatingError`, `CanonicalizationError`. An `InvalidInput` never ends in `Error`; it carries
`problems`, every (field path, reason) found.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any


class ValueproofError(Exception):
    """Base of every error valueproof raises on purpose."""

    status = 500
    title = "Internal error"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class InvalidInput(ValueproofError):
    """A request or document is malformed; `field` names the offending part, and `problems`
    lists every (field path, reason) found (here the one; `DocumentInvalid` has several)."""

    status = 422
    title = "Invalid input"

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason
        self.problems: tuple[tuple[str, str], ...] = ((field, reason),)


class DocumentInvalid(InvalidInput):
    """A document with one or more problems; `problems` lists every (field path, reason), and
    `detail` all of them (`field` and `reason` are the first)."""

    title = "Invalid document"

    def __init__(self, problems: Sequence[tuple[str, str]]) -> None:
        field, reason = problems[0]
        super().__init__(field, reason)
        self.problems = tuple(problems)
        if len(problems) > 1:
            self.detail = "; ".join(f"{path}: {why}" for path, why in problems)
            self.args = (self.detail,)


class PayloadTooLarge(InvalidInput):
    """A batch or body exceeds the configured limit."""

    status = 413
    title = "Payload too large"


class DocumentUnreadable(ValueproofError, ValueError):
    """The text is neither JSON nor YAML; the message says where it breaks. Readers turn it into
    their document's InvalidInput naming the field; one that escapes is still a 422."""

    status = 422
    title = "Unreadable document"


class NotFound(ValueproofError):
    """The named resource does not exist for this tenant."""

    status = 404
    title = "Not found"


class AlreadyExists(ValueproofError):
    """A resource with the same unique key exists already."""

    status = 409
    title = "Already exists"


class Conflict(ValueproofError):
    """The change contradicts what is on record."""

    status = 409
    title = "Conflict"


class Unauthenticated(ValueproofError):
    """No credential, or one that does not match an active key."""

    status = 401
    title = "Unauthenticated"


class Forbidden(ValueproofError):
    """The credential lacks the scope the operation needs."""

    status = 403
    title = "Forbidden"


MISSING = "is missing"


def validation_reason(error: Mapping[str, Any]) -> str:
    """One pydantic error's reason in our words: a field left out "is missing" (pydantic says
    "Field required"), and a validator's message without pydantic's "Value error, " prefix."""
    if error.get("type") == "missing":
        return MISSING
    return str(error["msg"]).removeprefix("Value error, ")


def field_path(location: tuple[int | str, ...] | list[int | str]) -> str:
    """A field path as our errors name it: `meters[2].group_by[0]` from ("meters", 2, ...)."""
    path = ""
    for part in location:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else str(part)
    return path
