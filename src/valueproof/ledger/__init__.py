"""The verifiable ledger: each tenant's append-only Merkle-tree log with signed checkpoints.

The customer-side modules (merkle, tiles, notes, checkpoints, tilelog, verifier, errors) need
only the standard library and `cryptography`, so a customer verifies the log without our server
code. Leaves (`leaves`, `canonical`) and storage (`log`, `publish`, `keyring`, `audit`) are
imported explicitly.
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
