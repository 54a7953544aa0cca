"""The verifiable ledger: each tenant's append-only Merkle-tree log with signed checkpoints.

This package's pure modules (merkle, tiles, notes, checkpoints, verifier, errors) need only the
standard library and `cryptography`, so a customer can verify the log without our server code.
Storage lives in `log`, `publish`, `keyring` and `audit`, which are imported explicitly.
"""

from valueproof.ledger.errors import (
    CheckpointError,
    LedgerError,
    NoteError,
    ProofError,
    SigningKeyError,
    TileError,
)

__all__ = [
    "CheckpointError",
    "LedgerError",
    "NoteError",
    "ProofError",
    "SigningKeyError",
    "TileError",
]
