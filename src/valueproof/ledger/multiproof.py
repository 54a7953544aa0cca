"""Merkle multiproofs: one proof that many leaves are in an RFC 9162 tree, pure and stdlib-only.

Walk the tree as RFC 9162 §2.1.1 defines MTH: D[lo:hi] splits at the largest power of two below
its width, left part first. A range holding none of the proven leaves is one hash of the proof,
MTH(D[lo:hi]); a proven leaf is its own leaf hash; any other range is the hash of its two
parts. The proof is the hashes of the first kind in the order the walk meets them, so the
verifier walks the same tree, takes the hashes in turn, and must use every one of them to reach
the root. For one leaf that is exactly its inclusion proof; shared siblings appear once, so k
leaves out of n need at most about k * log2(n / k) + log2(n) hashes, not k * log2(n).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from valueproof.ledger import merkle
from valueproof.ledger.errors import ProofError

__all__ = ["multiproof", "multiproof_ranges", "root_from_multiproof", "verify_multiproof"]


def multiproof_ranges(indexes: Sequence[int], size: int) -> list[tuple[int, int]]:
    """The leaf ranges [lo, hi) whose MTH make up the multiproof of these leaves, in order.

    `indexes` must be strictly increasing and below `size`.
    """
    _check_indexes(indexes, size)
    needed: list[tuple[int, int]] = []

    def on_range(low: int, high: int) -> bytes:
        needed.append((low, high))
        return b""

    _walk(indexes, size, on_range, lambda _position: b"", lambda _left, _right: b"")
    return needed


def multiproof(indexes: Sequence[int], size: int, read: merkle.HashReader) -> list[bytes]:
    """The multiproof of these leaves (strictly increasing indexes) in the tree of `size`, from
    the log's stored hashes, read in one call."""
    pieces = [
        merkle.subtree_coordinates(low, high) for low, high in multiproof_ranges(indexes, size)
    ]
    stored = iter(read([coordinate for piece in pieces for coordinate in piece]))
    proof = []
    for piece in pieces:
        # The ranges RFC 9162 splits into are aligned: their complete subtrees fold from the right.
        hashes = [next(stored) for _ in piece]
        result = hashes[-1]
        for left in reversed(hashes[:-1]):
            result = merkle.node_hash(left, result)
        proof.append(result)
    return proof


def root_from_multiproof(
    indexes: Sequence[int], leaf_hashes: Sequence[bytes], size: int, proof: Sequence[bytes]
) -> bytes:
    """The root these leaves (strictly increasing indexes, their hashes) and `proof` lead to."""
    _check_indexes(indexes, size)
    if len(leaf_hashes) != len(indexes):
        raise ProofError(f"{len(indexes)} leaf indexes but {len(leaf_hashes)} leaf hashes")
    for value in (*leaf_hashes, *proof):
        if not isinstance(value, bytes) or len(value) != merkle.HASH_SIZE:
            raise ProofError(f"hashes must be {merkle.HASH_SIZE} bytes")
    taken = iter(proof)
    used = 0

    def on_range(_low: int, _high: int) -> bytes:
        nonlocal used
        used += 1
        found = next(taken, None)
        if found is None:
            raise ProofError(f"the multiproof has {len(proof)} hashes, too few for its leaves")
        return found

    root = _walk(indexes, size, on_range, leaf_hashes.__getitem__, merkle.node_hash)
    if used != len(proof):
        raise ProofError(f"the multiproof has {len(proof)} hashes, {used} expected")
    return root


def verify_multiproof(
    indexes: Sequence[int],
    leaf_hashes: Sequence[bytes],
    size: int,
    proof: Sequence[bytes],
    root: bytes,
) -> None:
    """ProofError unless the leaves are at their indexes in the tree of `size` with `root`."""
    if root_from_multiproof(indexes, leaf_hashes, size, proof) != root:
        raise ProofError(
            f"the multiproof of {len(indexes)} leaves does not lead to the root of size {size}"
        )


def _check_indexes(indexes: Sequence[int], size: int) -> None:
    if not indexes:
        raise ProofError("a multiproof needs at least one leaf")
    previous = -1
    for index in indexes:
        if index <= previous:
            raise ProofError("leaf indexes must be strictly increasing from 0")
        previous = index
    if previous >= size:
        raise ProofError(f"leaf {previous} is outside a tree of size {size}")


def _walk(
    indexes: Sequence[int],
    size: int,
    on_range: Callable[[int, int], bytes],
    on_leaf: Callable[[int], bytes],
    combine: Callable[[bytes, bytes], bytes],
) -> bytes:
    """Walk the tree of `size` as the module docstring says; returns what the root folds to.

    `on_range(lo, hi)` answers for a range without proven leaves, `on_leaf(position)` for the
    proven leaf at `indexes[position]`, `combine` for every range walked through.
    """
    count = len(indexes)
    position = 0  # the next proven leaf: every earlier one lies left of the range walked

    def node(low: int, high: int) -> bytes:
        nonlocal position
        if position >= count or indexes[position] >= high:
            return on_range(low, high)
        if high - low == 1:
            position += 1
            return on_leaf(position - 1)
        # RFC 9162 §2.1.1: k is the largest power of two smaller than the width.
        split = low + (1 << ((high - low - 1).bit_length() - 1))
        left = node(low, split)
        return combine(left, node(split, high))

    return node(0, size)
