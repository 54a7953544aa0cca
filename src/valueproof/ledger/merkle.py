"""RFC 9162 Merkle tree hashing with SHA-256: roots, inclusion and consistency proofs, verification.

Pure and standard-library only, so the customer-side verifier can use it as is. Proof generation
reads *stored hashes*: the hash of a complete, aligned subtree, named by (level, index) where the
subtree covers leaves [index * 2**level, (index + 1) * 2**level). A log that stores those (as
tlog-tiles do) builds any proof from O(log n) of them without rereading its leaves.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence

from valueproof.ledger.errors import ProofError

__all__ = [
    "EMPTY_ROOT",
    "HASH_SIZE",
    "CompactRange",
    "HashReader",
    "consistency_proof",
    "inclusion_proof",
    "leaf_hash",
    "node_hash",
    "root_from_inclusion",
    "root_hash",
    "subtree_coordinates",
    "tree_hash",
    "verify_consistency",
    "verify_inclusion",
]

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()  # RFC 9162 §2.1.1: MTH({}) = SHA-256()

# Given (level, index) coordinates of complete subtrees, their stored hashes in the same order.
HashReader = Callable[[Sequence[tuple[int, int]]], Sequence[bytes]]

_sha256 = hashlib.sha256


def leaf_hash(data: bytes) -> bytes:
    """MTH of one entry: SHA-256(0x00 || data)."""
    return _sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """An interior node: SHA-256(0x01 || left || right)."""
    return _sha256(b"\x01" + left + right).digest()


class CompactRange:
    """The complete subtrees of a growing tree, largest first: O(log n) hashes give its root.

    Appending leaf n merges one subtree per trailing 1 bit of n.
    """

    __slots__ = ("_stack", "size")

    def __init__(self) -> None:
        self._stack: list[bytes] = []
        self.size = 0

    def append(self, hashed_leaf: bytes) -> None:
        stack = self._stack
        stack.append(hashed_leaf)
        self.size += 1
        merges = self.size
        while merges & 1 == 0:
            right = stack.pop()
            stack[-1] = node_hash(stack[-1], right)
            merges >>= 1

    def root(self) -> bytes:
        return _fold_right(self._stack) if self._stack else EMPTY_ROOT


def root_hash(leaf_hashes: Sequence[bytes]) -> bytes:
    """The root of a tree over these leaf hashes, in memory (O(n) hashes, O(log n) space)."""
    compact = CompactRange()
    for hashed in leaf_hashes:
        compact.append(hashed)
    return compact.root()


def subtree_coordinates(start: int, end: int) -> list[tuple[int, int]]:
    """The complete aligned subtrees that tile leaves [start, end), left to right, largest first.

    For the ranges RFC 9162 proofs use (start aligned to a power of two at least end - start),
    MTH(D[start:end]) is these subtrees' hashes folded from the right.
    """
    coordinates = []
    while start < end:
        level = (end - start).bit_length() - 1
        while start & ((1 << level) - 1):
            level -= 1
        coordinates.append((level, start >> level))
        start += 1 << level
    return coordinates


def tree_hash(size: int, read: HashReader) -> bytes:
    """The root of the first `size` leaves of a log, from its stored hashes."""
    if size == 0:
        return EMPTY_ROOT
    return _fold_right(list(read(subtree_coordinates(0, size))))


def inclusion_proof(index: int, size: int, read: HashReader) -> list[bytes]:
    """RFC 9162 §2.1.3.1 PATH(index, D[0:size]): sibling hashes from the leaf up to the root."""
    if not 0 <= index < size:
        raise ProofError(f"index {index} is outside a tree of size {size}")
    return _range_hashes(_inclusion_ranges(index, size), read)


def consistency_proof(old_size: int, new_size: int, read: HashReader) -> list[bytes]:
    """RFC 9162 §2.1.4.1 PROOF(old_size, D[0:new_size]); empty when there is nothing to prove."""
    if not 0 <= old_size <= new_size:
        raise ProofError(f"cannot prove size {old_size} consistent with size {new_size}")
    if old_size in (0, new_size):
        return []
    return _range_hashes(_consistency_ranges(old_size, new_size), read)


def root_from_inclusion(hashed_leaf: bytes, index: int, size: int, proof: Sequence[bytes]) -> bytes:
    """The root that `proof` leads to from this leaf (RFC 9162 §2.1.3.2, steps 1 to 5)."""
    if not 0 <= index < size:
        raise ProofError(f"index {index} is outside a tree of size {size}")
    _check_hashes([hashed_leaf], "leaf hash")
    _check_hashes(proof, "proof hash")
    expected = len(_inclusion_ranges(index, size))
    if len(proof) != expected:
        raise ProofError(
            f"inclusion proof for index {index} in size {size} has {len(proof)} hashes,"
            f" expected {expected}"
        )
    node, last, result = index, size - 1, hashed_leaf
    for sibling in proof:
        if node & 1 or node == last:
            result = node_hash(sibling, result)
            while node & 1 == 0 and node != 0:
                node >>= 1
                last >>= 1
        else:
            result = node_hash(result, sibling)
        node >>= 1
        last >>= 1
    return result


def verify_inclusion(
    hashed_leaf: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes
) -> None:
    """Raise ProofError unless `proof` shows the leaf at `index` in the tree with this root."""
    _check_hashes([root], "root hash")
    if root_from_inclusion(hashed_leaf, index, size, proof) != root:
        raise ProofError(f"inclusion proof for index {index} does not lead to the root")


def verify_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> None:
    """Raise ProofError unless `proof` shows the tree of old_size is a prefix of new_size's."""
    if not 0 <= old_size <= new_size:
        raise ProofError(f"size {old_size} cannot precede size {new_size}")
    _check_hashes([old_root, new_root], "root hash")
    _check_hashes(proof, "proof hash")
    if old_size == new_size or old_size == 0:
        if proof:
            raise ProofError(f"consistency proof from {old_size} to {new_size} must be empty")
        if old_size == new_size and old_root != new_root:
            raise ProofError(f"two different roots for size {old_size}: the log forked")
        if old_size == 0 and old_root != EMPTY_ROOT:
            raise ProofError("the root of the empty tree is not SHA-256 of nothing")
        return
    expected = len(_consistency_ranges(old_size, new_size))
    if len(proof) != expected:
        raise ProofError(
            f"consistency proof from {old_size} to {new_size} has {len(proof)} hashes,"
            f" expected {expected}"
        )
    # RFC 9162 §2.1.4.2: a power-of-two old tree is itself the first node of the path.
    path = [old_root, *proof] if old_size & (old_size - 1) == 0 else list(proof)
    node, last = old_size - 1, new_size - 1
    while node & 1:
        node >>= 1
        last >>= 1
    old_result = new_result = path[0]
    for sibling in path[1:]:
        if last == 0:
            raise ProofError("consistency proof is longer than the tree is deep")
        if node & 1 or node == last:
            old_result = node_hash(sibling, old_result)
            new_result = node_hash(sibling, new_result)
            while node & 1 == 0 and node != 0:
                node >>= 1
                last >>= 1
        else:
            new_result = node_hash(new_result, sibling)
        node >>= 1
        last >>= 1
    if last != 0 or old_result != old_root or new_result != new_root:
        raise ProofError(
            f"consistency proof from {old_size} to {new_size} does not lead to both roots"
        )


def _split(count: int) -> int:
    """RFC 9162 §2.1.1: the largest power of two smaller than count (count > 1)."""
    return 1 << ((count - 1).bit_length() - 1)


def _fold_right(hashes: Sequence[bytes]) -> bytes:
    result = hashes[-1]
    for left in reversed(hashes[:-1]):
        result = node_hash(left, result)
    return result


def _range_hashes(ranges: Sequence[tuple[int, int]], read: HashReader) -> list[bytes]:
    """MTH of each range, reading every stored hash they need in one call."""
    pieces = [subtree_coordinates(start, end) for start, end in ranges]
    stored = iter(read([coordinate for piece in pieces for coordinate in piece]))
    return [_fold_right([next(stored) for _ in piece]) for piece in pieces]


def _inclusion_ranges(index: int, size: int) -> list[tuple[int, int]]:
    """The leaf ranges whose MTH make up PATH(index, D[0:size]), deepest first."""
    ranges: list[tuple[int, int]] = []
    low, high = 0, size
    while high - low > 1:
        split = _split(high - low)
        if index < low + split:
            ranges.append((low + split, high))
            high = low + split
        else:
            ranges.append((low, low + split))
            low += split
    ranges.reverse()  # the recursion emits the deepest sibling first
    return ranges


def _consistency_ranges(old_size: int, new_size: int) -> list[tuple[int, int]]:
    """The leaf ranges whose MTH make up PROOF(old_size, D[0:new_size]) (0 < old < new)."""
    ranges: list[tuple[int, int]] = []
    low, high, whole = 0, new_size, True
    while old_size != high:
        split = _split(high - low)
        if old_size - low <= split:
            ranges.append((low + split, high))
            high = low + split
        else:
            ranges.append((low, low + split))
            low += split
            whole = False
    if not whole:  # SUBPROOF(m, D[m], false) = [MTH(D[m])]: the old tree's last subtree
        ranges.append((low, high))
    ranges.reverse()
    return ranges


def _check_hashes(hashes: Iterable[object], what: str) -> None:
    for value in hashes:
        if not isinstance(value, bytes) or len(value) != HASH_SIZE:
            raise ProofError(f"{what} must be {HASH_SIZE} bytes")
