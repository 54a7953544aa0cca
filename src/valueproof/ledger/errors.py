"""The ways a ledger check can fail, each its own type so callers can tell them apart, and a
value that cannot be encoded as a leaf.

Standard library only: the customer-side verifier imports this module.
"""

from __future__ import annotations

from valueproof.errors import ValueproofError


class LedgerError(ValueproofError):
    """Base of every ledger failure: a proof, note, checkpoint or log that does not check out."""

    status = 422
    title = "Ledger verification failed"


class ProofError(LedgerError):
    """An inclusion or consistency proof is malformed or does not lead to the expected root."""


class NoteError(LedgerError):
    """A signed note is malformed, or carries no valid signature from a trusted key."""


class CheckpointError(LedgerError):
    """A checkpoint body is malformed, or contradicts another checkpoint (rollback, fork)."""


class TileError(LedgerError):
    """A tile or entry bundle is malformed, or its path names no tile."""


class SigningKeyError(LedgerError):
    """No usable checkpoint signing key: none generated yet, or no passphrase to open it."""

    status = 409
    title = "No usable signing key"


class LogFetchError(LedgerError):
    """The log could not be read over HTTP: unreachable, an error status, or an oversized reply."""

    def __init__(self, detail: str, http_status: int | None = None) -> None:
        super().__init__(detail)
        self.http_status = http_status


class CanonicalizationError(ValueproofError, ValueError):
    """A value that RFC 8785 cannot encode: an integer out of range, a lone surrogate, NaN...
    Callers name the field it came from; one that escapes them is still a 422."""

    status = 422
    title = "Value cannot be canonicalized"
