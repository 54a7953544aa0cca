"""Multiproofs: any subset of leaves of any tree proves against its RFC 9162 root, with fewer
hashes than separate proofs; a flipped bit anywhere, a leaf left out or a hash too many fails."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import Engine

from valueproof.ledger import log as ledger_log
from valueproof.ledger import merkle
from valueproof.ledger.errors import ProofError
from valueproof.ledger.multiproof import (
    multiproof,
    multiproof_ranges,
    root_from_multiproof,
    verify_multiproof,
)
from valueproof.store import read, write
from valueproof.tenancy.tenants import Tenant


def leaves(size: int) -> list[bytes]:
    return [merkle.leaf_hash(hashlib.sha256(n.to_bytes(8, "big")).digest()) for n in range(size)]


def reader(hashed: list[bytes]) -> merkle.HashReader:
    def read(coordinates: Sequence[tuple[int, int]]) -> list[bytes]:
        return [
            merkle.root_hash(hashed[index << level : (index + 1) << level])
            for level, index in coordinates
        ]

    return read


@st.composite
def trees(draw: st.DrawFn) -> tuple[int, list[int]]:
    size = draw(st.integers(min_value=1, max_value=300))
    chosen = draw(st.sets(st.integers(min_value=0, max_value=size - 1), min_size=1))
    return size, sorted(chosen)


@given(trees())
def test_any_subset_proves_against_the_root(tree: tuple[int, list[int]]) -> None:
    size, indexes = tree
    hashed = leaves(size)
    proof = multiproof(indexes, size, reader(hashed))
    chosen = [hashed[i] for i in indexes]
    verify_multiproof(indexes, chosen, size, proof, merkle.root_hash(hashed))
    separate = sum(len(merkle.inclusion_proof(i, size, reader(hashed))) for i in indexes)
    assert len(proof) <= separate


@given(trees(), st.data())
def test_a_flipped_bit_fails(tree: tuple[int, list[int]], data: st.DataObject) -> None:
    size, indexes = tree
    hashed = leaves(size)
    proof = multiproof(indexes, size, reader(hashed))
    chosen = [hashed[i] for i in indexes]
    pool = [*chosen, *proof]
    target = data.draw(st.integers(min_value=0, max_value=len(pool) - 1))
    bit = data.draw(st.integers(min_value=0, max_value=255))
    flipped = bytearray(pool[target])
    flipped[bit // 8] ^= 1 << (bit % 8)
    pool[target] = bytes(flipped)
    with pytest.raises(ProofError, match="does not lead to the root"):
        verify_multiproof(
            indexes, pool[: len(chosen)], size, pool[len(chosen) :], merkle.root_hash(hashed)
        )


@given(trees())
def test_a_hash_too_many_or_too_few_fails(tree: tuple[int, list[int]]) -> None:
    size, indexes = tree
    hashed = leaves(size)
    proof = multiproof(indexes, size, reader(hashed))
    chosen = [hashed[i] for i in indexes]
    with pytest.raises(ProofError, match="hashes"):
        root_from_multiproof(indexes, chosen, size, [*proof, hashed[0]])
    if proof:
        with pytest.raises(ProofError, match="too few"):
            root_from_multiproof(indexes, chosen, size, proof[:-1])


def test_a_leaf_claimed_at_another_index_fails() -> None:
    hashed = leaves(10)
    proof = multiproof([3, 4], 10, reader(hashed))
    with pytest.raises(ProofError):
        verify_multiproof([3, 4], [hashed[4], hashed[3]], 10, proof, merkle.root_hash(hashed))


def test_indexes_must_be_increasing_and_inside_the_tree() -> None:
    for indexes, reason in (([], "at least one"), ([2, 2], "increasing"), ([9], "outside")):
        with pytest.raises(ProofError, match=reason):
            multiproof_ranges(indexes, 9)


def test_one_leaf_needs_exactly_its_inclusion_proof() -> None:
    hashed = leaves(13)
    for index in range(13):
        proof = multiproof([index], 13, reader(hashed))
        assert sorted(proof) == sorted(merkle.inclusion_proof(index, 13, reader(hashed)))


def test_a_multiproof_from_the_store_reads_hashes_spread_over_a_thousand_tiles(
    engine: Engine, tenant: Tenant
) -> None:
    """One leaf in each of 1,100 tiles: more than one query may name (SQLite bounds how many
    terms a query may OR), on both backends."""
    size = 1100 * 256 + 17
    entries = [b"leaf %d" % n for n in range(size)]
    with write(engine) as connection:
        ledger_log.append(connection, tenant.id, entries, 1)
    indexes = list(range(5, size, 256))
    assert len(indexes) > 1000  # past the depth of one SQLite expression
    with read(engine) as connection:
        proof = multiproof(indexes, size, ledger_log.hash_reader(connection, tenant.id))
        root = ledger_log.root_at(connection, tenant.id, size)
        found = ledger_log.entries(connection, tenant.id, indexes)
    assert found == [entries[i] for i in indexes]
    verify_multiproof(indexes, [merkle.leaf_hash(e) for e in found], size, proof, root)
