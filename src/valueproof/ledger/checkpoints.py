"""C2SP tlog-checkpoint: the signed statement of a log's size and root hash, and how two of them
may relate. Standard library only (plus notes.py): the customer-side verifier reads them.
Spec: https://c2sp.org/tlog-checkpoint
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterable
from dataclasses import dataclass

from valueproof.ledger.errors import CheckpointError
from valueproof.ledger.merkle import HASH_SIZE
from valueproof.ledger.notes import VerifierKey, open_note

__all__ = [
    "MAX_TREE_SIZE",
    "Checkpoint",
    "check_rollback_and_fork",
    "open_checkpoint",
    "parse_checkpoint",
]

MAX_TREE_SIZE = (1 << 64) - 1  # tree sizes are uint64 in every tlog implementation
_SIZE = re.compile(r"0|[1-9][0-9]{0,19}")  # ASCII digits, no leading zero, no sign
_CONTROL = re.compile(r"[\x00-\x1f]")


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A log's origin, its tree size, and the RFC 9162 root hash at that size."""

    origin: str
    size: int
    root_hash: bytes
    extensions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _check_line(self.origin, "origin")
        if isinstance(self.size, bool) or not isinstance(self.size, int):
            raise CheckpointError("tree size must be an integer")
        if not 0 <= self.size <= MAX_TREE_SIZE:
            raise CheckpointError(f"tree size {self.size} is outside 0 to 2**64 - 1")
        if not isinstance(self.root_hash, bytes) or len(self.root_hash) != HASH_SIZE:
            raise CheckpointError(f"root hash must be {HASH_SIZE} bytes")
        for extension in self.extensions:
            _check_line(extension, "extension line")

    def body(self) -> str:
        """The note text: origin, size, base64 root hash, extension lines, each ending in \\n."""
        lines = [self.origin, str(self.size), base64.b64encode(self.root_hash).decode()]
        return "".join(f"{line}\n" for line in [*lines, *self.extensions])


def parse_checkpoint(text: str | bytes) -> Checkpoint:
    """The checkpoint a note text states; CheckpointError on anything the spec does not allow."""
    if isinstance(text, bytes):
        try:
            text = text.decode()
        except UnicodeDecodeError:
            raise CheckpointError("checkpoint is not valid UTF-8") from None
    if not isinstance(text, str):
        raise CheckpointError("a checkpoint is text")
    if not text.endswith("\n"):
        raise CheckpointError("checkpoint text must end with a newline")
    lines = text[:-1].split("\n")
    if len(lines) < 3:
        raise CheckpointError("checkpoint needs an origin, a tree size and a root hash line")
    origin, size_text, root_text, *extensions = lines
    if _SIZE.fullmatch(size_text) is None:
        raise CheckpointError(
            f"tree size {size_text[:40]!r} is not a decimal number without sign or leading zero"
        )
    return Checkpoint(origin, int(size_text), _decode_root(root_text), tuple(extensions))


def open_checkpoint(
    message: bytes | str,
    verifiers: Iterable[VerifierKey],
    origin: str | None = None,
    *,
    key_name: str | None = None,
) -> Checkpoint:
    """The checkpoint in a signed note, once a trusted key's signature on it has verified.

    `origin`, if given, is the log we expect. tlog-checkpoint says the log's key name SHOULD be
    its origin; we require a verified signature by a key named `key_name` (default: the origin)
    so that a trusted key of one log cannot vouch for another log's checkpoint.
    """
    note = open_note(message, verifiers)
    checkpoint = parse_checkpoint(note.text)
    if origin is not None and checkpoint.origin != origin:
        raise CheckpointError(
            f"checkpoint is from log {checkpoint.origin!r}, not the expected {origin!r}"
        )
    signer = checkpoint.origin if key_name is None else key_name
    if not any(signature.name == signer for signature in note.signatures):
        names = ", ".join(sorted({signature.name for signature in note.signatures}))
        raise CheckpointError(
            f"no verified signature by the log's key {signer!r} (verified keys: {names})"
        )
    return checkpoint


def check_rollback_and_fork(seen: Checkpoint, new: Checkpoint) -> None:
    """CheckpointError if `new` cannot follow `seen`: another log, a smaller tree, or a second
    root for the same size. Growth is proved separately, with a consistency proof."""
    if new.origin != seen.origin:
        raise CheckpointError(f"checkpoints of two logs: {seen.origin!r} and {new.origin!r}")
    if new.size < seen.size:
        raise CheckpointError(
            f"log {new.origin!r} rolled back: size {new.size} after size {seen.size}"
        )
    if new.size == seen.size and new.root_hash != seen.root_hash:
        raise CheckpointError(
            f"log {new.origin!r} forked: two different root hashes for size {new.size}"
        )


def _decode_root(text: str) -> bytes:
    try:
        root = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise CheckpointError("root hash is not valid base64") from None
    if base64.b64encode(root).decode() != text:
        raise CheckpointError("root hash is not canonical base64")
    if len(root) != HASH_SIZE:
        raise CheckpointError(f"root hash is {len(root)} bytes, not {HASH_SIZE}")
    return root


def _check_line(line: object, what: str) -> None:
    if not isinstance(line, str) or not line:
        raise CheckpointError(f"checkpoint {what} must be non-empty text")
    control = _CONTROL.search(line)
    if control is not None:
        raise CheckpointError(f"checkpoint {what} holds control character at {control.start()}")
    try:
        line.encode()
    except UnicodeEncodeError:
        raise CheckpointError(f"checkpoint {what} is not valid UTF-8") from None
