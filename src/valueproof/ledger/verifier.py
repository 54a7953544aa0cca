"""The customer-side verifier: checks a vendor's checkpoints, proofs and whole log on its own.

It trusts nothing but the vendor's verifier keys and the last checkpoint it verified itself.
Standard library, `cryptography` and the other `valueproof.ledger` modules only, so a customer can
copy these files and run them with nothing of the server installed.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from valueproof.ledger import merkle
from valueproof.ledger.checkpoints import Checkpoint, check_rollback_and_fork, open_checkpoint
from valueproof.ledger.errors import (
    CheckpointError,
    LedgerError,
    LogFetchError,
    ProofError,
    TileError,
)
from valueproof.ledger.notes import VerifierKey, parse_vkey
from valueproof.ledger.tilelog import TileLog
from valueproof.ledger.tiles import (
    TILE_HEIGHT,
    TILE_WIDTH,
    Tile,
    tile_path,
    tile_width,
)

__all__ = [
    "ConsistencyProof",
    "EntryReport",
    "InclusionProof",
    "LogEntry",
    "LogFetchError",
    "LogReport",
    "TileLog",
    "parse_consistency_proof",
    "parse_entry",
    "parse_inclusion_proof",
    "verifier_keys",
    "verify_checkpoint",
    "verify_consistency_document",
    "verify_consistency_proof",
    "verify_inclusion_document",
    "verify_inclusion_proof",
    "verify_log",
    "verify_log_entry",
]

MAX_PROOF_HASHES = 64  # a tree of at most 2**64 leaves is at most 64 levels deep
_MAX_BUNDLE_BYTES = TILE_WIDTH * (2 + 0xFFFF)
_HASH = merkle.HASH_SIZE

Vkeys = Iterable[str | VerifierKey]


# Checkpoints and proofs


def verifier_keys(vkeys: Vkeys) -> list[VerifierKey]:
    """Trusted keys from verifier key texts (or keys already parsed)."""
    if isinstance(vkeys, str):
        vkeys = [vkeys]
    keys = [key if isinstance(key, VerifierKey) else parse_vkey(key) for key in vkeys]
    if not keys:
        raise LedgerError("at least one trusted verifier key is needed")
    return keys


def verify_checkpoint(
    message: bytes | str, vkeys: Vkeys, origin: str | None = None, *, key_name: str | None = None
) -> Checkpoint:
    """The checkpoint in a signed note, verified against the trusted keys (and origin, if given)."""
    return open_checkpoint(message, verifier_keys(vkeys), origin, key_name=key_name)


def verify_inclusion_proof(
    checkpoint: Checkpoint,
    index: int,
    proof_hashes: Sequence[bytes],
    *,
    entry: bytes | None = None,
    leaf_hash: bytes | None = None,
) -> None:
    """ProofError unless the entry (or its leaf hash) is at `index` in the checkpoint's tree."""
    if entry is not None:
        hashed = merkle.leaf_hash(entry)
        if leaf_hash is not None and leaf_hash != hashed:
            raise ProofError(f"entry {index} does not hash to the leaf hash given for it")
    elif leaf_hash is not None:
        hashed = leaf_hash
    else:
        raise ProofError("give the entry or its leaf hash")
    merkle.verify_inclusion(hashed, index, checkpoint.size, proof_hashes, checkpoint.root_hash)


def verify_consistency_proof(
    old: Checkpoint, new: Checkpoint, proof_hashes: Sequence[bytes]
) -> None:
    """CheckpointError on a rollback or fork; ProofError unless `old` is a prefix of `new`."""
    check_rollback_and_fork(old, new)
    merkle.verify_consistency(old.size, new.size, old.root_hash, new.root_hash, proof_hashes)


# The JSON documents our server hands out


@dataclass(frozen=True, slots=True)
class InclusionProof:
    """`{"index", "size", "leaf_hash", "hashes", "checkpoint"}`: one entry's path to a root."""

    index: int
    size: int
    leaf_hash: bytes
    hashes: tuple[bytes, ...]
    checkpoint: str | None


@dataclass(frozen=True, slots=True)
class ConsistencyProof:
    """`{"from", "to", "hashes", "old_checkpoint", "new_checkpoint"}`: one tree extends another."""

    old_size: int
    new_size: int
    hashes: tuple[bytes, ...]
    old_checkpoint: str | None
    new_checkpoint: str | None


@dataclass(frozen=True, slots=True)
class LogEntry:
    """`{"index", "leaf_hash", "entry", "record"}`: an entry's leaf bytes as the log hashed them."""

    index: int
    leaf_hash: bytes
    entry: bytes
    record: Mapping[str, object] | None


def parse_inclusion_proof(document: str | bytes | Mapping[str, object]) -> InclusionProof:
    """An inclusion proof document; ProofError if it is malformed."""
    fields = _json_object(document, "inclusion proof")
    return InclusionProof(
        index=_count(fields, "index"),
        size=_count(fields, "size"),
        leaf_hash=_hash(fields.get("leaf_hash"), "leaf_hash"),
        hashes=_hashes(fields),
        checkpoint=_optional_text(fields, "checkpoint"),
    )


def parse_consistency_proof(document: str | bytes | Mapping[str, object]) -> ConsistencyProof:
    """A consistency proof document; ProofError if it is malformed."""
    fields = _json_object(document, "consistency proof")
    return ConsistencyProof(
        old_size=_count(fields, "from"),
        new_size=_count(fields, "to"),
        hashes=_hashes(fields),
        old_checkpoint=_optional_text(fields, "old_checkpoint"),
        new_checkpoint=_optional_text(fields, "new_checkpoint"),
    )


def parse_entry(document: str | bytes | Mapping[str, object]) -> LogEntry:
    """An entry document; ProofError if it is malformed."""
    fields = _json_object(document, "entry")
    record = fields.get("record")
    if record is not None and not isinstance(record, dict):
        raise ProofError("record: must be an object or null")
    return LogEntry(
        index=_count(fields, "index"),
        leaf_hash=_hash(fields.get("leaf_hash"), "leaf_hash"),
        entry=_base64(fields.get("entry"), "entry"),
        record=record,
    )


def verify_inclusion_document(
    checkpoint: Checkpoint, proof: InclusionProof, entry: LogEntry | None = None
) -> None:
    """ProofError unless the proof (and the entry, if given) matches this verified checkpoint."""
    if proof.size != checkpoint.size:
        raise ProofError(
            f"the proof is for size {proof.size}, the checkpoint for size {checkpoint.size}"
        )
    if entry is not None:
        if entry.index != proof.index:
            raise ProofError(f"the entry is number {entry.index}, the proof for {proof.index}")
        if entry.leaf_hash != proof.leaf_hash:
            raise ProofError("the entry's leaf hash is not the one the proof is for")
        _check_record(entry)
    verify_inclusion_proof(
        checkpoint,
        proof.index,
        proof.hashes,
        entry=None if entry is None else entry.entry,
        leaf_hash=proof.leaf_hash,
    )


def verify_consistency_document(old: Checkpoint, new: Checkpoint, proof: ConsistencyProof) -> None:
    """Like verify_consistency_proof, once the proof's sizes are those of the two checkpoints."""
    check_rollback_and_fork(old, new)
    if (proof.old_size, proof.new_size) != (old.size, new.size):
        raise ProofError(
            f"the proof is from size {proof.old_size} to {proof.new_size},"
            f" the checkpoints are sizes {old.size} and {new.size}"
        )
    verify_consistency_proof(old, new, proof.hashes)


def _check_record(entry: LogEntry) -> None:
    """The record shown beside an entry must be what the entry's (hashed) bytes say."""
    if entry.record is None:
        return
    try:
        stated = json.loads(entry.entry)
    except (ValueError, RecursionError):
        raise ProofError(f"entry {entry.index} is not JSON: it cannot state the record") from None
    # Compared as JSON text: in Python True == 1, in JSON they are different values.
    if json.dumps(stated, sort_keys=True) != json.dumps(entry.record, sort_keys=True):
        raise ProofError(f"entry {entry.index}: the record shown is not what its bytes state")


def _json_object(document: str | bytes | Mapping[str, object], what: str) -> Mapping[str, object]:
    if isinstance(document, str | bytes):
        try:
            document = json.loads(document)
        except (ValueError, RecursionError):
            raise ProofError(f"{what} is not valid JSON") from None
    if not isinstance(document, Mapping):
        raise ProofError(f"{what} must be a JSON object")
    return document


def _count(fields: Mapping[str, object], name: str) -> int:
    value = fields.get(name)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ProofError(f"{name}: must be an integer")
    if not 0 <= value <= (1 << 64) - 1:
        raise ProofError(f"{name}: {value} is outside 0 to 2**64 - 1")
    return value


def _base64(value: object, name: str) -> bytes:
    if not isinstance(value, str):
        raise ProofError(f"{name}: must be base64 text")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise ProofError(f"{name}: is not valid base64") from None


def _hash(value: object, name: str) -> bytes:
    decoded = _base64(value, name)
    if len(decoded) != _HASH:
        raise ProofError(f"{name}: is {len(decoded)} bytes, not {_HASH}")
    return decoded


def _hashes(fields: Mapping[str, object]) -> tuple[bytes, ...]:
    values = fields.get("hashes")
    if not isinstance(values, list):
        raise ProofError("hashes: must be a list")
    if len(values) > MAX_PROOF_HASHES:
        raise ProofError(f"hashes: more than {MAX_PROOF_HASHES}")
    return tuple(_hash(value, f"hashes[{at}]") for at, value in enumerate(values))


def _optional_text(fields: Mapping[str, object], name: str) -> str | None:
    value = fields.get(name)
    if value is not None and not isinstance(value, str):
        raise ProofError(f"{name}: must be a signed note (text) or null")
    return value


# The log itself, read as tlog-tiles (over tilelog.TileLog)


@dataclass(frozen=True, slots=True)
class LogReport:
    """A whole log verified: its checkpoint, the signed note to keep for next time, and sizes."""

    checkpoint: Checkpoint
    note: str
    entries: int
    previous: Checkpoint | None


@dataclass(frozen=True, slots=True)
class EntryReport:
    """One entry verified against the log's current checkpoint, with its inclusion proof."""

    checkpoint: Checkpoint
    note: str
    index: int
    entry: bytes
    proof: tuple[bytes, ...]


def verify_log(
    base_url: str,
    vkeys: Vkeys,
    previous: Checkpoint | None = None,
    headers: Mapping[str, str] | None = None,
    *,
    origin: str | None = None,
    key_name: str | None = None,
) -> LogReport:
    """Verify the log's checkpoint, every entry against the level-0 tiles, the root, and that the
    log still extends `previous` (the last checkpoint verified): raise a LedgerError otherwise.

    Memory is one hash per 256 entries: full tiles are folded into their roots as they arrive.
    """
    log = TileLog(base_url, dict(headers or {}))
    note = log.checkpoint()
    if origin is None and previous is not None:
        origin = previous.origin
    checkpoint = verify_checkpoint(note, vkeys, origin, key_name=key_name)
    if previous is not None:
        check_rollback_and_fork(previous, checkpoint)
    tile_roots: list[bytes] = []  # the root of each full level-0 tile: tree level 8
    partial, before_previous = Tile.empty(), Tile.empty()
    for bundle in range(-(-checkpoint.size // TILE_WIDTH)):
        width = tile_width(0, bundle, checkpoint.size)
        leaves = _bundle_leaf_hashes(log, bundle, width)
        if previous is not None and bundle == previous.size // TILE_WIDTH:
            before_previous.extend(leaves[: previous.size % TILE_WIDTH])
        tile = Tile.empty()
        tile.extend(leaves)
        if width == TILE_WIDTH:
            tile_roots.append(tile.root())
        else:
            partial = tile
    root = _root_at(checkpoint.size, tile_roots, partial)
    if root != checkpoint.root_hash:
        raise CheckpointError(
            f"the log's {checkpoint.size} entries do not hash to its checkpoint's root"
        )
    if previous is not None and previous.size < checkpoint.size:
        prefix = _root_at(previous.size, tile_roots, before_previous)
        if prefix != previous.root_hash:
            raise CheckpointError(
                f"log {checkpoint.origin!r} forked: its first {previous.size} entries no longer"
                " hash to the root of the checkpoint verified before"
            )
    return LogReport(checkpoint, note, checkpoint.size, previous)


def verify_log_entry(
    base_url: str,
    vkeys: Vkeys,
    index: int,
    headers: Mapping[str, str] | None = None,
    *,
    origin: str | None = None,
    key_name: str | None = None,
) -> EntryReport:
    """Verify one entry is in the log: its bundle, and a proof built from O(log n) tiles."""
    log = TileLog(base_url, dict(headers or {}))
    note = log.checkpoint()
    checkpoint = verify_checkpoint(note, vkeys, origin, key_name=key_name)
    if not 0 <= index < checkpoint.size:
        raise ProofError(f"entry {index} is not in a log of {checkpoint.size} entries")
    bundle = index // TILE_WIDTH
    entry = log.entries(bundle, tile_width(0, bundle, checkpoint.size))[index % TILE_WIDTH]
    read = log.hash_reader(checkpoint.size)
    proof = merkle.inclusion_proof(index, checkpoint.size, read)
    [leaf] = read([(0, index)])
    verify_inclusion_proof(checkpoint, index, proof, entry=entry, leaf_hash=leaf)
    return EntryReport(checkpoint, note, index, entry, tuple(proof))


def _bundle_leaf_hashes(log: TileLog, bundle: int, width: int) -> list[bytes]:
    """The leaf hashes of one bundle's entries, once each matches the level-0 tile."""
    leaves = [merkle.leaf_hash(entry) for entry in log.entries(bundle, width)]
    for position, (leaf, served) in enumerate(zip(leaves, log.tile(0, bundle, width), strict=True)):
        if leaf != served:
            raise TileError(
                f"entry {bundle * TILE_WIDTH + position} does not hash to its leaf hash"
                f" in tile {tile_path(0, bundle, width)}"
            )
    return leaves


def _root_at(size: int, tile_roots: Sequence[bytes], partial: Tile) -> bytes:
    """MTH of the first `size` leaves, from the roots of the full level-0 tiles before it and the
    tile holding the rest (its first size % 256 leaves)."""
    full_tiles = size >> TILE_HEIGHT

    def read(coordinates: Sequence[tuple[int, int]]) -> list[bytes]:
        hashes = []
        for level, index in coordinates:
            if level >= TILE_HEIGHT:
                span = 1 << (level - TILE_HEIGHT)
                hashes.append(merkle.root_hash(tile_roots[index * span : (index + 1) * span]))
            else:
                hashes.append(partial.levels[level][index - (full_tiles << (TILE_HEIGHT - level))])
        return hashes

    return merkle.tree_hash(size, read)
