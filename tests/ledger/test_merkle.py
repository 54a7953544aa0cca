"""RFC 9162 Merkle hashing and proofs: published vectors, then properties over in-memory trees.

Vectors (tests/ledger/vectors/, each naming its source): the RFC 6962 reference tree of
google/certificate-transparency and transparency-dev/merkle, transparency-dev/merkle's verifier
testdata, a real audit path from google/certificate-transparency's Python tests, Argon 2020 CT log
responses stored by golang.org/x/mod/sumdb/tlog, and the accumulated subtree vectors of
draft-ietf-plants-merkle-tree-certs Appendix C.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
from collections.abc import Callable, Sequence
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from valueproof.ledger.errors import ProofError
from valueproof.ledger.merkle import (
    EMPTY_ROOT,
    HASH_SIZE,
    HashReader,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    node_hash,
    root_from_inclusion,
    root_hash,
    subtree_coordinates,
    tree_hash,
    verify_consistency,
    verify_inclusion,
)

VECTORS = Path(__file__).parent / "vectors"
PROPERTY = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def load(name: str) -> Any:
    return json.loads((VECTORS / name).read_text())


def hexes(values: Sequence[str]) -> list[bytes]:
    return [bytes.fromhex(value) for value in values]


def b64s(values: Sequence[str] | None) -> list[bytes]:
    return [base64.b64decode(value) for value in values or []]


class MemoryTree:
    """Every complete subtree hash of a tree, by level: the stored hashes a log would keep."""

    def __init__(self, leaf_hashes: Sequence[bytes]) -> None:
        self.levels = [list(leaf_hashes)]
        while len(self.levels[-1]) > 1:
            below = self.levels[-1]
            self.levels.append(
                [node_hash(below[i], below[i + 1]) for i in range(0, len(below) - 1, 2)]
            )

    @property
    def leaves(self) -> list[bytes]:
        return self.levels[0]

    def reader(self, size: int, start: int = 0) -> HashReader:
        """Stored hashes of the tree's first `size` leaves, shifted by an aligned `start`.

        Fails the test if a proof asks for a node that is not a complete subtree of that tree.
        """

        def read(coordinates: Sequence[tuple[int, int]]) -> list[bytes]:
            hashes = []
            for level, index in coordinates:
                assert (index + 1) << level <= size, f"read ({level}, {index}) beyond size {size}"
                hashes.append(self.levels[level][index + (start >> level)])
            return hashes

        return read


def _data(index: int) -> bytes:
    return f"leaf {index}".encode()


BIG = 4100  # a few thousand leaves: every property below draws sizes from this one tree
TREE = MemoryTree([leaf_hash(_data(i)) for i in range(BIG)])


# --- A reference RFC 9162 §2.1 implementation, written from the recursive definitions -------------


def _split(count: int) -> int:
    k = 1
    while k * 2 < count:
        k *= 2
    return k


@cache
def ref_mth(start: int, end: int) -> bytes:
    """MTH(D[start:end]) over TREE's leaves."""
    if end - start == 0:
        return hashlib.sha256(b"").digest()
    if end - start == 1:
        return TREE.leaves[start]
    k = _split(end - start)
    return node_hash(ref_mth(start, start + k), ref_mth(start + k, end))


def ref_path(m: int, start: int, end: int) -> list[bytes]:
    """PATH(m, D[start:end])."""
    if end - start == 1:
        return []
    k = _split(end - start)
    if m < k:
        return [*ref_path(m, start, start + k), ref_mth(start + k, end)]
    return [*ref_path(m - k, start + k, end), ref_mth(start, start + k)]


def ref_subproof(m: int, start: int, end: int, whole: bool) -> list[bytes]:
    """SUBPROOF(m, D[start:end], b)."""
    n = end - start
    if m == n:
        return [] if whole else [ref_mth(start, end)]
    k = _split(n)
    if m <= k:
        return [*ref_subproof(m, start, start + k, whole), ref_mth(start + k, end)]
    return [*ref_subproof(m - k, start + k, end, False), ref_mth(start, start + k)]


def ref_shape(m: int, n: int) -> list[bool]:
    """For PATH(m, D[0:n]), from the leaf up: whether each sibling sits on the right."""
    if n == 1:
        return []
    k = _split(n)
    return [*ref_shape(m, k), True] if m < k else [*ref_shape(m - k, n - k), False]


def flip(value: bytes, bit: int) -> bytes:
    at, mask = divmod(bit % (8 * len(value)), 8)
    return value[:at] + bytes([value[at] ^ (1 << mask)]) + value[at + 1 :]


def rejects(check: Callable[..., object], *args: object) -> bool:
    try:
        check(*args)
    except ProofError:
        return True
    return False


# --- Published vectors ----------------------------------------------------------------------------


CT_TREE = load("ct_reference_tree.json")
TD_TREE = load("transparency_dev_reference_tree.json")
CT_PY = load("ct_python_merkle_test.json")
TD_DATA = load("transparency_dev_testdata.json")
ARGON = load("argon2020.json")
MTC = load("mtc_subtree_vectors.json")

REF_LEAVES = hexes(CT_TREE["leaves_hex"])
REF_TREE = MemoryTree([leaf_hash(leaf) for leaf in REF_LEAVES])


def test_vector_files_name_their_source() -> None:
    for vectors in (CT_TREE, TD_TREE, CT_PY, TD_DATA, ARGON, MTC):
        assert vectors["source"]


def test_both_reference_trees_are_the_same_published_tree() -> None:
    assert CT_TREE["leaves_hex"] == TD_TREE["leaf_inputs_hex"]
    assert CT_TREE["roots"] == TD_TREE["root_hashes"][1:]


def test_hash_primitives_match_certificate_transparency() -> None:
    assert EMPTY_ROOT.hex() == CT_PY["empty_hash"] == CT_TREE["empty_tree_hash"]
    for case in CT_PY["leaf_hashes"]:
        assert leaf_hash(bytes.fromhex(case["leaf_hex"])).hex() == case["hash"]
    for case in CT_PY["node_hashes"]:
        left, right = bytes.fromhex(case["left"]), bytes.fromhex(case["right"])
        assert node_hash(left, right).hex() == case["hash"]


@pytest.mark.parametrize("size", range(9))
def test_reference_tree_roots(size: int) -> None:
    expected = TD_TREE["root_hashes"][size]
    assert root_hash(REF_TREE.leaves[:size]).hex() == expected
    assert tree_hash(size, REF_TREE.reader(size)).hex() == expected
    if size:
        assert expected == CT_TREE["roots"][size - 1]


def test_reference_tree_stored_hashes() -> None:
    for level, hashes in enumerate(TD_TREE["node_hashes"]):
        assert [value.hex() for value in REF_TREE.levels[level]] == hashes


@pytest.mark.parametrize("size", range(9))
def test_compact_ranges_match_transparency_dev(size: int) -> None:
    expected = [tuple(node) for node in TD_TREE["compact_trees"][size]]
    assert subtree_coordinates(0, size) == expected


def _published_inclusion() -> list[tuple[str, int, int, list[str]]]:
    cases = [("ct", p["leaf"], p["snapshot"], p["path"]) for p in CT_TREE["paths"]]
    cases += [("td", p["leaf"], p["size"], p["proof"]) for p in TD_TREE["inclusion_proofs"]]
    return cases


@pytest.mark.parametrize(("origin", "leaf", "size", "path"), _published_inclusion())
def test_inclusion_proof_vectors(origin: str, leaf: int, size: int, path: list[str]) -> None:
    index = leaf - 1  # both sources number leaves from 1; leaf 0 is their "invalid" probe
    if index < 0:
        with pytest.raises(ProofError, match="outside a tree"):
            inclusion_proof(index, size, REF_TREE.reader(size))
        return
    proof = inclusion_proof(index, size, REF_TREE.reader(size))
    assert [value.hex() for value in proof] == path
    root = bytes.fromhex(TD_TREE["root_hashes"][size])
    verify_inclusion(REF_TREE.leaves[index], index, size, proof, root)
    assert root_from_inclusion(REF_TREE.leaves[index], index, size, proof) == root


def _published_consistency() -> list[tuple[int, int, list[str]]]:
    cases = [(p["snapshot1"], p["snapshot2"], p["proof"]) for p in CT_TREE["consistency_proofs"]]
    cases += [(p["size1"], p["size2"], p["proof"]) for p in TD_TREE["consistency_proofs"]]
    return cases


@pytest.mark.parametrize(("old_size", "new_size", "expected"), _published_consistency())
def test_consistency_proof_vectors(old_size: int, new_size: int, expected: list[str]) -> None:
    proof = consistency_proof(old_size, new_size, REF_TREE.reader(new_size))
    assert [value.hex() for value in proof] == expected
    roots = hexes(TD_TREE["root_hashes"])
    verify_consistency(old_size, new_size, roots[old_size], roots[new_size], proof)


SOME_HASH = bytes.fromhex("abacaba000000000000000000000000000000000000000000060061e00123456")


def _inclusion_probes(
    leaf: bytes, index: int, size: int, proof: list[bytes], root: bytes
) -> list[tuple[str, bytes, int, int, list[bytes], bytes]]:
    """transparency-dev/merkle proof/verify_test.go corruptInclusionProof, case for case.

    Each probe is a description and then verify_inclusion's arguments.
    """
    probes = [
        ("leafIndex - 1", leaf, index - 1, size, proof, root),
        ("leafIndex + 1", leaf, index + 1, size, proof, root),
        ("leafIndex ^ 2", leaf, index ^ 2, size, proof, root),
        ("treeSize * 2", leaf, index, size * 2, proof, root),
        ("treeSize / 2", leaf, index, size // 2, proof, root),
        ("wrong leaf", b"WrongLeaf", index, size, proof, root),
        ("empty root", leaf, index, size, proof, EMPTY_ROOT),
        ("random root", leaf, index, size, proof, SOME_HASH),
        ("trailing garbage", leaf, index, size, [*proof, b""], root),
        ("trailing root", leaf, index, size, [*proof, root], root),
        ("preceding garbage", leaf, index, size, [b"", *proof], root),
        ("preceding root", leaf, index, size, [root, *proof], root),
    ]
    for i in range(len(proof)):
        wrong = [*proof[:i], flip(proof[i], 3), *proof[i + 1 :]]
        probes.append((f"modified proof[{i}] bit 3", leaf, index, size, wrong, root))
    if proof:
        probes.append(("removed component", leaf, index, size, proof[:-1], root))
    if len(proof) > 1:
        inserted = [proof[0], SOME_HASH, *proof[1:]]
        probes.append(("inserted component", leaf, index, size, inserted, root))
    return probes


def _valid_published_inclusion() -> list[tuple[int, int, tuple[str, ...]]]:
    return sorted(
        {(leaf, size, tuple(path)) for _, leaf, size, path in _published_inclusion() if leaf}
    )


@pytest.mark.parametrize(("leaf", "size", "path"), _valid_published_inclusion())
def test_corrupted_published_inclusion_proofs_fail(
    leaf: int, size: int, path: tuple[str, ...]
) -> None:
    index, root = leaf - 1, bytes.fromhex(TD_TREE["root_hashes"][size])
    probes = _inclusion_probes(REF_TREE.leaves[index], index, size, hexes(path), root)
    accepted = [desc for desc, *args in probes if not rejects(verify_inclusion, *args)]
    assert accepted == []


def _consistency_probes(
    old: int, new: int, old_root: bytes, new_root: bytes, proof: list[bytes]
) -> list[tuple[str, int, int, bytes, bytes, list[bytes]]]:
    """transparency-dev/merkle proof/verify_test.go corruptConsistencyProof, case for case."""
    probes = [
        ("size1 - 1", old - 1, new, old_root, new_root, proof),
        ("size1 + 1", old + 1, new, old_root, new_root, proof),
        ("size1 ^ 2", old ^ 2, new, old_root, new_root, proof),
        ("size2 * 2", old, new * 2, old_root, new_root, proof),
        ("size2 / 2", old, new // 2, old_root, new_root, proof),
        ("wrong root1", old, new, b"WrongRoot", new_root, proof),
        ("wrong root2", old, new, old_root, b"WrongRoot", proof),
        ("swapped roots", old, new, new_root, old_root, proof),
        ("empty proof", old, new, old_root, new_root, []),
        ("trailing garbage", old, new, old_root, new_root, [*proof, b""]),
        ("trailing root1", old, new, old_root, new_root, [*proof, old_root]),
        ("trailing root2", old, new, old_root, new_root, [*proof, new_root]),
        ("preceding garbage", old, new, old_root, new_root, [b"", *proof]),
        ("preceding root1", old, new, old_root, new_root, [old_root, *proof]),
        ("preceding root2", old, new, old_root, new_root, [new_root, *proof]),
        ("preceding proof[0]", old, new, old_root, new_root, [proof[0], *proof]),
        ("truncated proof", old, new, old_root, new_root, proof[:-1]),
    ]
    for i in range(len(proof)):
        wrong = [*proof[:i], flip(proof[i], 4), *proof[i + 1 :]]
        probes.append((f"modified proof[{i}] bit 4", old, new, old_root, new_root, wrong))
    return probes


@pytest.mark.parametrize(("old", "new", "path"), [c for c in _published_consistency() if c[2]])
def test_corrupted_published_consistency_proofs_fail(old: int, new: int, path: list[str]) -> None:
    roots = hexes(TD_TREE["root_hashes"])
    probes = _consistency_probes(old, new, roots[old], roots[new], hexes(path))
    accepted = [desc for desc, *args in probes if not rejects(verify_consistency, *args)]
    assert accepted == []


@pytest.mark.parametrize("case", TD_DATA["inclusion"], ids=lambda case: case["path"])
def test_transparency_dev_inclusion_testdata(case: dict[str, Any]) -> None:
    args = (
        base64.b64decode(case["leafHash"]),
        case["leafIdx"],
        case["treeSize"],
        b64s(case["proof"]),
        base64.b64decode(case["root"]),
    )
    if case["wantErr"]:
        with pytest.raises(ProofError):
            verify_inclusion(*args)
    else:
        verify_inclusion(*args)


@pytest.mark.parametrize("case", TD_DATA["consistency"], ids=lambda case: case["path"])
def test_transparency_dev_consistency_testdata(case: dict[str, Any]) -> None:
    args = (
        case["size1"],
        case["size2"],
        base64.b64decode(case["root1"]),
        base64.b64decode(case["root2"]),
        b64s(case["proof"]),
    )
    if case["wantErr"]:
        with pytest.raises(ProofError):
            verify_consistency(*args)
    else:
        verify_consistency(*args)


def test_production_ct_audit_path() -> None:
    case = CT_PY["audit_path"]
    hashed = leaf_hash(bytes.fromhex(case["leaf_hex"]))
    assert hashed.hex() == case["leaf_hash"]
    path, root = hexes(case["path"]), bytes.fromhex(case["root"])
    assert root_from_inclusion(hashed, case["leaf_index"], case["tree_size"], path) == root
    verify_inclusion(hashed, case["leaf_index"], case["tree_size"], path, root)
    with pytest.raises(ProofError):
        verify_inclusion(hashed, case["leaf_index"], case["tree_size"], path, bytes(32))
    # The CT test's "too short" probe: an index whose path is longer than the one given.
    far = case["leaf_index"] + 2 ** (len(path) + 1)
    with pytest.raises(ProofError, match="expected"):
        root_from_inclusion(hashed, far, far + 1, path)


@pytest.mark.parametrize("case", CT_PY["bad_consistency"], ids=lambda case: case["desc"])
def test_certificate_transparency_bad_consistency(case: dict[str, Any]) -> None:
    with pytest.raises(ProofError):
        verify_consistency(
            case["old_size"],
            case["new_size"],
            bytes.fromhex(case["old_root"]),
            bytes.fromhex(case["new_root"]),
            hexes(case["proof"]),
        )


def test_argon2020_log_proofs() -> None:
    size, root = ARGON["sth"]["tree_size"], base64.b64decode(ARGON["sth"]["sha256_root_hash"])
    entry = base64.b64decode(ARGON["entries"]["entries"][0]["leaf_input"])
    index, path = ARGON["proof"]["leaf_index"], b64s(ARGON["proof"]["audit_path"])
    verify_inclusion(leaf_hash(entry), index, size, path, root)
    old_size, old_root = (
        ARGON["consistency_old_size"],
        base64.b64decode(ARGON["consistency_old_root"]),
    )
    proof = b64s(ARGON["consistency"]["consistency"])
    verify_consistency(old_size, size, old_root, root, proof)
    with pytest.raises(ProofError):
        verify_inclusion(leaf_hash(entry + b"\x00"), index, size, path, root)
    with pytest.raises(ProofError):
        verify_consistency(old_size + 1, size, old_root, root, proof)


def _valid_subtree(start: int, end: int) -> bool:
    """draft-ietf-plants-merkle-tree-certs: start is 0 or a multiple of BIT_CEIL(end - start)."""
    return start < end and (start == 0 or start % (1 << (end - start - 1).bit_length()) == 0)


def test_mtc_appendix_c_subtree_hashes() -> None:
    tree = MemoryTree([leaf_hash(bytes([i])) for i in range(MTC["leaf_count"])])
    digest = hashlib.sha256()
    for end in range(1, MTC["leaf_count"] + 1):
        for start in filter(lambda start: _valid_subtree(start, end), range(end)):
            subtree = tree_hash(end - start, tree.reader(end - start, start))
            digest.update(f"[{start}, {end}) {subtree.hex()}\n".encode())
    assert digest.hexdigest() == MTC["subtree_hashes"]["sha256"]


def test_mtc_appendix_c_subtree_inclusion_proofs() -> None:
    tree = MemoryTree([leaf_hash(bytes([i])) for i in range(MTC["leaf_count"])])
    digest = hashlib.sha256()
    for end in range(1, MTC["leaf_count"] + 1):
        for start in filter(lambda start: _valid_subtree(start, end), range(end)):
            read = tree.reader(end - start, start)
            for index in range(start, end):
                proof = inclusion_proof(index - start, end - start, read)
                hashes = "".join(f" {value.hex()}" for value in proof)
                digest.update(f"{index} [{start}, {end}){hashes}\n".encode())
    assert digest.hexdigest() == MTC["subtree_inclusion_proofs"]["sha256"]


# --- Edge cases from the verifiers' own tests -----------------------------------------------------


@pytest.mark.parametrize(("index", "size"), [(0, 0), (0, 1), (1, 0), (2, 1)])
def test_inclusion_probes_without_a_tree(index: int, size: int) -> None:
    """transparency-dev TestVerifyInclusion: no empty proof proves these."""
    for leaf, root in [(SOME_HASH, b""), (b"", EMPTY_ROOT), (SOME_HASH, EMPTY_ROOT)]:
        with pytest.raises(ProofError):
            verify_inclusion(leaf, index, size, [], root)


def test_single_entry_tree() -> None:
    hashed = leaf_hash(b"data")
    verify_inclusion(hashed, 0, 1, [], hashed)
    for leaf, root in [(hashed, b""), (b"", hashed), (b"", b"")]:
        with pytest.raises(ProofError, match="32 bytes"):
            verify_inclusion(leaf, 0, 1, [], root)


@pytest.mark.parametrize(
    ("old", "new", "old_root", "new_root", "proof"),
    [
        (1, 0, EMPTY_ROOT, EMPTY_ROOT, []),
        (2, 1, SOME_HASH, SOME_HASH, []),
        (1, 2, SOME_HASH, EMPTY_ROOT, []),
        (0, 0, EMPTY_ROOT, SOME_HASH, []),
        (1, 1, EMPTY_ROOT, SOME_HASH, []),
        (0, 0, EMPTY_ROOT, EMPTY_ROOT, [EMPTY_ROOT]),
        (0, 1, EMPTY_ROOT, EMPTY_ROOT, [EMPTY_ROOT]),
        (1, 1, EMPTY_ROOT, EMPTY_ROOT, [EMPTY_ROOT]),
        (0, 5, SOME_HASH, SOME_HASH, []),
    ],
)
def test_consistency_edge_cases_rejected(
    old: int, new: int, old_root: bytes, new_root: bytes, proof: list[bytes]
) -> None:
    """transparency-dev TestVerifyConsistency: time travel, forks, proofs where none is due."""
    with pytest.raises(ProofError):
        verify_consistency(old, new, old_root, new_root, proof)


def test_consistency_edge_cases_accepted() -> None:
    verify_consistency(0, 0, EMPTY_ROOT, EMPTY_ROOT, [])
    verify_consistency(0, 7, EMPTY_ROOT, SOME_HASH, [])  # the empty tree precedes every tree
    verify_consistency(3, 3, SOME_HASH, SOME_HASH, [])


def test_proof_generation_rejects_impossible_requests() -> None:
    def unreachable(coordinates: Sequence[tuple[int, int]]) -> list[bytes]:
        raise AssertionError("nothing should be read")

    for index, size in [(-1, 5), (5, 5), (0, 0), (2**64, 3)]:
        with pytest.raises(ProofError, match="outside a tree"):
            inclusion_proof(index, size, unreachable)
    for old, new in [(-1, 5), (6, 5), (2**64, 1)]:
        with pytest.raises(ProofError, match="cannot prove"):
            consistency_proof(old, new, unreachable)
    assert consistency_proof(0, 9, unreachable) == []
    assert consistency_proof(9, 9, unreachable) == []


# --- Properties over in-memory trees --------------------------------------------------------------

sizes = st.integers(min_value=1, max_value=BIG)


@st.composite
def tree_and_index(draw: st.DrawFn) -> tuple[int, int]:
    size = draw(sizes)
    return size, draw(st.integers(min_value=0, max_value=size - 1))


@st.composite
def old_and_new(draw: st.DrawFn) -> tuple[int, int]:
    new = draw(sizes)
    return draw(st.integers(min_value=0, max_value=new)), new


@st.composite
def nontrivial_old_and_new(draw: st.DrawFn) -> tuple[int, int]:
    new = draw(st.integers(min_value=2, max_value=BIG))
    return draw(st.integers(min_value=1, max_value=new - 1)), new


class CountingReader:
    def __init__(self, read: HashReader) -> None:
        self.read, self.calls = read, 0

    def __call__(self, coordinates: Sequence[tuple[int, int]]) -> Sequence[bytes]:
        self.calls += 1
        return self.read(coordinates)


@PROPERTY
@given(size=st.integers(min_value=0, max_value=BIG))
def test_tree_hash_equals_root_hash(size: int) -> None:
    expected = ref_mth(0, size)
    assert root_hash(TREE.leaves[:size]) == expected
    assert tree_hash(size, TREE.reader(size)) == expected


@PROPERTY
@given(st.integers(min_value=0, max_value=BIG), st.integers(min_value=0, max_value=BIG))
def test_subtree_coordinates_tile_the_range(start: int, end: int) -> None:
    coordinates = subtree_coordinates(start, end)
    at = start
    for level, index in coordinates:
        assert index << level == at, "contiguous, left to right"
        at += 1 << level
    assert at == max(start, end)
    if start == 0:
        assert len(coordinates) == bin(end).count("1")
        assert [level for level, _ in coordinates] == sorted(
            (level for level, _ in coordinates), reverse=True
        )


@PROPERTY
@given(tree_and_index())
def test_inclusion_proofs_verify(case: tuple[int, int]) -> None:
    size, index = case
    read = CountingReader(TREE.reader(size))
    proof = inclusion_proof(index, size, read)
    assert proof == ref_path(index, 0, size)
    assert read.calls == 1  # every stored hash the proof needs, in one batched read
    root = ref_mth(0, size)
    verify_inclusion(TREE.leaves[index], index, size, proof, root)
    assert root_from_inclusion(TREE.leaves[index], index, size, proof) == root


@PROPERTY
@given(old_and_new())
def test_consistency_proofs_verify(case: tuple[int, int]) -> None:
    old, new = case
    read = CountingReader(TREE.reader(new))
    proof = consistency_proof(old, new, read)
    assert proof == ([] if old in (0, new) else ref_subproof(old, 0, new, True))
    assert read.calls == (0 if old in (0, new) else 1)
    verify_consistency(old, new, ref_mth(0, old), ref_mth(0, new), proof)


@PROPERTY
@given(tree_and_index(), st.data())
def test_any_flipped_bit_breaks_inclusion(case: tuple[int, int], data: st.DataObject) -> None:
    size, index = case
    proof, leaf, root = (
        inclusion_proof(index, size, TREE.reader(size)),
        TREE.leaves[index],
        ref_mth(0, size),
    )
    target = data.draw(st.integers(min_value=-2, max_value=len(proof) - 1), label="target")
    bit = data.draw(st.integers(min_value=0, max_value=8 * HASH_SIZE - 1), label="bit")
    if target == -2:
        leaf = flip(leaf, bit)
    elif target == -1:
        root = flip(root, bit)
    else:
        proof = [*proof[:target], flip(proof[target], bit), *proof[target + 1 :]]
    with pytest.raises(ProofError, match="does not lead to the root"):
        verify_inclusion(leaf, index, size, proof, root)


@PROPERTY
@given(tree_and_index(), st.data())
def test_another_index_breaks_inclusion(case: tuple[int, int], data: st.DataObject) -> None:
    size, index = case
    proof, root = inclusion_proof(index, size, TREE.reader(size)), ref_mth(0, size)
    other = data.draw(st.integers(min_value=-3, max_value=size + 3).filter(lambda i: i != index))
    with pytest.raises(ProofError):
        verify_inclusion(TREE.leaves[index], other, size, proof, root)


@PROPERTY
@given(tree_and_index(), st.data())
def test_another_size_breaks_inclusion_unless_the_path_is_identical(
    case: tuple[int, int], data: st.DataObject
) -> None:
    # RFC 9162 §2.1.3.2 only uses the size to know which side each sibling is on: a size whose
    # path has the same sides (index 0 of 3 and of 4, say) gives the same root from the same proof.
    size, index = case
    proof, root = inclusion_proof(index, size, TREE.reader(size)), ref_mth(0, size)
    other = data.draw(st.integers(min_value=-2, max_value=2 * size + 2).filter(lambda n: n != size))
    same_shape = other > index and ref_shape(index, other) == ref_shape(index, size)
    assert rejects(verify_inclusion, TREE.leaves[index], index, other, proof, root) != same_shape


@PROPERTY
@given(nontrivial_old_and_new(), st.data())
def test_any_flipped_bit_breaks_consistency(case: tuple[int, int], data: st.DataObject) -> None:
    old, new = case
    proof = consistency_proof(old, new, TREE.reader(new))
    old_root, new_root = ref_mth(0, old), ref_mth(0, new)
    target = data.draw(st.integers(min_value=-2, max_value=len(proof) - 1), label="target")
    bit = data.draw(st.integers(min_value=0, max_value=8 * HASH_SIZE - 1), label="bit")
    if target == -2:
        old_root = flip(old_root, bit)
    elif target == -1:
        new_root = flip(new_root, bit)
    else:
        proof = [*proof[:target], flip(proof[target], bit), *proof[target + 1 :]]
    with pytest.raises(ProofError, match="does not lead to both roots"):
        verify_consistency(old, new, old_root, new_root, proof)


@PROPERTY
@given(nontrivial_old_and_new())
def test_corrupted_consistency_proofs_fail(case: tuple[int, int]) -> None:
    old, new = case
    proof = consistency_proof(old, new, TREE.reader(new))
    probes = _consistency_probes(old, new, ref_mth(0, old), ref_mth(0, new), proof)
    assert [desc for desc, *args in probes if not rejects(verify_consistency, *args)] == []


@PROPERTY
@given(tree_and_index())
def test_corrupted_inclusion_proofs_fail(case: tuple[int, int]) -> None:
    size, index = case
    proof = inclusion_proof(index, size, TREE.reader(size))
    probes = _inclusion_probes(TREE.leaves[index], index, size, proof, ref_mth(0, size))
    assert [desc for desc, *args in probes if not rejects(verify_inclusion, *args)] == []


@PROPERTY
@given(tree_and_index(), st.integers(min_value=1, max_value=3), st.booleans())
def test_inclusion_proof_of_wrong_length_says_so(
    case: tuple[int, int], extra: int, longer: bool
) -> None:
    size, index = case
    proof = inclusion_proof(index, size, TREE.reader(size))
    wrong = [*proof, *[SOME_HASH] * extra] if longer or not proof else proof[:-extra]
    expected = f"has {len(wrong)} hashes, expected {len(proof)}"
    with pytest.raises(ProofError, match=expected):
        verify_inclusion(TREE.leaves[index], index, size, wrong, ref_mth(0, size))


@PROPERTY
@given(old_and_new(), st.integers(min_value=1, max_value=3), st.booleans())
def test_consistency_proof_of_wrong_length_says_so(
    case: tuple[int, int], extra: int, longer: bool
) -> None:
    old, new = case
    proof = consistency_proof(old, new, TREE.reader(new))
    wrong = [*proof, *[SOME_HASH] * extra] if longer or not proof else proof[:-extra]
    expected = (
        "must be empty" if old in (0, new) else f"has {len(wrong)} hashes, expected {len(proof)}"
    )
    with pytest.raises(ProofError, match=expected):
        verify_consistency(old, new, ref_mth(0, old), ref_mth(0, new), wrong)


hostile_hash = st.one_of(st.binary(min_size=HASH_SIZE, max_size=HASH_SIZE), st.binary(max_size=40))
hostile_size = st.one_of(
    st.integers(min_value=-5, max_value=70),
    st.integers(min_value=-(2**80), max_value=2**80),
    st.sampled_from([2**63 - 1, 2**63, 2**64 - 1, 2**64, -(2**63)]),
)
hostile_proof = st.lists(hostile_hash, max_size=90)


@settings(max_examples=300, deadline=None)
@given(hostile_hash, hostile_size, hostile_size, hostile_proof, hostile_hash)
def test_hostile_inclusion_input_raises_only_proof_error(
    leaf: bytes, index: int, size: int, proof: list[bytes], root: bytes
) -> None:
    for check in (
        lambda: verify_inclusion(leaf, index, size, proof, root),
        lambda: root_from_inclusion(leaf, index, size, proof),
    ):
        with contextlib.suppress(ProofError):
            check()


@settings(max_examples=300, deadline=None)
@given(hostile_size, hostile_size, hostile_hash, hostile_hash, hostile_proof)
def test_hostile_consistency_input_raises_only_proof_error(
    old: int, new: int, old_root: bytes, new_root: bytes, proof: list[bytes]
) -> None:
    with contextlib.suppress(ProofError):
        verify_consistency(old, new, old_root, new_root, proof)
