"""Tests for ledger/verifier.py: proofs, proof documents, and whole logs read as tlog-tiles from a
real HTTP server on loopback serving a log built in memory."""

from __future__ import annotations

import base64
import contextlib
import gzip
import json
import shutil
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given
from hypothesis import strategies as st

from valueproof.ledger import merkle
from valueproof.ledger.checkpoints import Checkpoint
from valueproof.ledger.errors import (
    CheckpointError,
    LedgerError,
    NoteError,
    ProofError,
    TileError,
)
from valueproof.ledger.notes import NoteSigner, sign_note
from valueproof.ledger.tiles import (
    Tile,
    bundle_entries,
    entries_path,
    grow,
    parse_path,
    tile_path,
)
from valueproof.ledger.verifier import (
    LogFetchError,
    TileLog,
    parse_consistency_proof,
    parse_entry,
    parse_inclusion_proof,
    verifier_keys,
    verify_checkpoint,
    verify_consistency_document,
    verify_consistency_proof,
    verify_inclusion_document,
    verify_inclusion_proof,
    verify_log,
    verify_log_entry,
)

ORIGIN = "example.com/tenants/acme"
# A fixed key: test ids and vectors stay the same across pytest-xdist workers.
SIGNER = NoteSigner(ORIGIN, Ed25519PrivateKey.from_private_bytes(bytes(range(32))))
VKEY = SIGNER.verifier.vkey
ROOT = Path(__file__).resolve().parents[2]


def entry(number: int) -> bytes:
    return json.dumps({"event": f"call-{number}", "tokens": number}, sort_keys=True).encode()


def memory_reader(leaves: list[bytes]) -> merkle.HashReader:
    """Stored hashes of a tree held in memory: each complete subtree's root, from its leaves."""

    def read(coordinates: Any) -> list[bytes]:
        return [merkle.root_hash(leaves[i << level : (i + 1) << level]) for level, i in coordinates]

    return read


def signed(checkpoint: Checkpoint, signer: NoteSigner = SIGNER) -> str:
    return sign_note(checkpoint.body(), [signer])


def tree(size: int) -> tuple[list[bytes], Checkpoint]:
    leaves = [merkle.leaf_hash(entry(n)) for n in range(size)]
    return leaves, Checkpoint(ORIGIN, size, merkle.root_hash(leaves))


# Checkpoints and proofs


def test_verify_checkpoint_takes_vkey_texts() -> None:
    _, checkpoint = tree(5)
    assert verify_checkpoint(signed(checkpoint), [VKEY]) == checkpoint
    assert verify_checkpoint(signed(checkpoint), VKEY, ORIGIN) == checkpoint  # one key, bare
    with pytest.raises(NoteError):
        verify_checkpoint(signed(checkpoint), ["not a vkey"])
    with pytest.raises(LedgerError, match="at least one"):
        verify_checkpoint(signed(checkpoint), [])
    assert verifier_keys([SIGNER.verifier, VKEY]) == [SIGNER.verifier, SIGNER.verifier]


@pytest.mark.parametrize("size", [1, 2, 3, 7, 8, 255, 256, 257, 1000])
def test_inclusion_proofs_verify_for_every_index(size: int) -> None:
    leaves, checkpoint = tree(size)
    for index in {0, size // 3, size // 2, size - 1}:
        proof = merkle.inclusion_proof(index, size, memory_reader(leaves))
        verify_inclusion_proof(checkpoint, index, proof, entry=entry(index))
        verify_inclusion_proof(checkpoint, index, proof, leaf_hash=leaves[index])
        verify_inclusion_proof(
            checkpoint, index, proof, entry=entry(index), leaf_hash=leaves[index]
        )


def test_inclusion_proof_needs_the_right_entry() -> None:
    leaves, checkpoint = tree(10)
    proof = merkle.inclusion_proof(4, 10, memory_reader(leaves))
    with pytest.raises(ProofError):
        verify_inclusion_proof(checkpoint, 4, proof, entry=entry(5))
    with pytest.raises(ProofError, match="does not hash to the leaf hash"):
        verify_inclusion_proof(checkpoint, 4, proof, entry=entry(5), leaf_hash=leaves[4])
    with pytest.raises(ProofError, match="give the entry or its leaf hash"):
        verify_inclusion_proof(checkpoint, 4, proof)
    with pytest.raises(ProofError):
        verify_inclusion_proof(checkpoint, 5, proof, entry=entry(4))


@pytest.mark.parametrize("size", [2, 5, 256, 300])
def test_flipping_any_bit_of_an_inclusion_proof_fails(size: int) -> None:
    leaves, checkpoint = tree(size)
    index = size // 2
    proof = merkle.inclusion_proof(index, size, memory_reader(leaves))
    for position, hashed in enumerate(proof):
        for bit in range(len(hashed) * 8):
            flipped = bytearray(hashed)
            flipped[bit // 8] ^= 1 << (bit % 8)
            mutated = [*proof[:position], bytes(flipped), *proof[position + 1 :]]
            with pytest.raises(ProofError):
                verify_inclusion_proof(checkpoint, index, mutated, leaf_hash=leaves[index])


@pytest.mark.parametrize(("old", "new"), [(1, 2), (3, 7), (4, 8), (200, 256), (256, 600), (5, 5)])
def test_consistency_proofs_verify(old: int, new: int) -> None:
    leaves, newer = tree(new)
    older = Checkpoint(ORIGIN, old, merkle.root_hash(leaves[:old]))
    proof = merkle.consistency_proof(old, new, memory_reader(leaves))
    verify_consistency_proof(older, newer, proof)
    for position, hashed in enumerate(proof):
        for bit in (0, 7, 128, 255):
            flipped = bytearray(hashed)
            flipped[bit // 8] ^= 1 << (bit % 8)
            mutated = [*proof[:position], bytes(flipped), *proof[position + 1 :]]
            with pytest.raises(ProofError):
                verify_consistency_proof(older, newer, mutated)


def test_consistency_names_rollback_and_fork() -> None:
    leaves, newer = tree(10)
    older = Checkpoint(ORIGIN, 6, merkle.root_hash(leaves[:6]))
    with pytest.raises(CheckpointError, match="rolled back"):
        verify_consistency_proof(newer, older, [])
    with pytest.raises(CheckpointError, match="forked"):
        verify_consistency_proof(newer, Checkpoint(ORIGIN, 10, merkle.leaf_hash(b"x")), [])
    # A different prefix of the same size: the proof cannot lead to both roots.
    forked = Checkpoint(ORIGIN, 6, merkle.leaf_hash(b"other history"))
    proof = merkle.consistency_proof(6, 10, memory_reader(leaves))
    with pytest.raises(ProofError):
        verify_consistency_proof(forked, newer, proof)


hashes32 = st.binary(min_size=32, max_size=32)


@given(
    st.integers(1, 2**20),
    st.integers(0, 2**20),
    st.lists(hashes32, max_size=24),
    hashes32,
    hashes32,
)
def test_random_inclusion_proofs_only_ever_raise_proof_error(
    size: int, index: int, proof: list[bytes], leaf: bytes, root: bytes
) -> None:
    try:
        verify_inclusion_proof(Checkpoint(ORIGIN, size, root), index, proof, leaf_hash=leaf)
    except ProofError:
        return
    # Accepted only when the proof really leads there (a one-leaf tree whose root is the leaf).
    assert merkle.root_from_inclusion(leaf, index, size, proof) == root


@given(st.integers(0, 2**20), st.integers(0, 2**20), st.lists(hashes32, max_size=24))
def test_random_consistency_proofs_only_ever_raise_ledger_errors(
    old: int, new: int, proof: list[bytes]
) -> None:
    older = Checkpoint(ORIGIN, old, merkle.leaf_hash(b"old"))
    newer = Checkpoint(ORIGIN, new, merkle.leaf_hash(b"new"))
    with pytest.raises(LedgerError):
        verify_consistency_proof(older, newer, proof)


# Proof documents


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def inclusion_document(size: int, index: int) -> tuple[dict[str, Any], Checkpoint]:
    leaves, checkpoint = tree(size)
    proof = merkle.inclusion_proof(index, size, memory_reader(leaves))
    document = {
        "index": index,
        "size": size,
        "leaf_hash": b64(leaves[index]),
        "hashes": [b64(h) for h in proof],
        "checkpoint": signed(checkpoint),
    }
    return document, checkpoint


def test_inclusion_and_entry_documents_verify() -> None:
    document, checkpoint = inclusion_document(300, 123)
    proof = parse_inclusion_proof(json.dumps(document))
    assert proof.checkpoint == document["checkpoint"]
    assert parse_inclusion_proof(json.dumps(document).encode()) == proof
    record = {"event": "call-123", "tokens": 123}
    entry_document = {
        "index": 123,
        "leaf_hash": document["leaf_hash"],
        "entry": b64(entry(123)),
        "record": record,
    }
    parsed_entry = parse_entry(entry_document)
    assert parsed_entry.record == record
    verify_inclusion_document(checkpoint, proof, parsed_entry)
    verify_inclusion_document(checkpoint, proof)


def test_inclusion_documents_must_match_their_checkpoint_and_entry() -> None:
    document, checkpoint = inclusion_document(300, 123)
    proof = parse_inclusion_proof(document)
    with pytest.raises(ProofError, match="the proof is for size 300"):
        verify_inclusion_document(tree(301)[1], proof)
    wrong_index = parse_entry(
        {"index": 124, "leaf_hash": document["leaf_hash"], "entry": b64(entry(123))}
    )
    with pytest.raises(ProofError, match="the entry is number 124"):
        verify_inclusion_document(checkpoint, proof, wrong_index)
    other_bytes = parse_entry(
        {"index": 123, "leaf_hash": document["leaf_hash"], "entry": b64(entry(9))}
    )
    with pytest.raises(ProofError, match="does not hash"):
        verify_inclusion_document(checkpoint, proof, other_bytes)
    other_leaf = parse_entry(
        {"index": 123, "leaf_hash": b64(merkle.leaf_hash(entry(9))), "entry": b64(entry(9))}
    )
    with pytest.raises(ProofError, match="not the one the proof is for"):
        verify_inclusion_document(checkpoint, proof, other_leaf)


def test_the_record_shown_must_be_what_the_entry_bytes_state() -> None:
    document, checkpoint = inclusion_document(300, 5)
    proof = parse_inclusion_proof(document)
    base = {"index": 5, "leaf_hash": document["leaf_hash"], "entry": b64(entry(5))}
    verify_inclusion_document(checkpoint, proof, parse_entry({**base, "record": None}))
    for lie in ({"event": "call-6", "tokens": 5}, {"event": "call-5", "tokens": 5.5}, {}):
        with pytest.raises(ProofError, match="not what its bytes state"):
            verify_inclusion_document(checkpoint, proof, parse_entry({**base, "record": lie}))
    # JSON's true is not 1, whatever Python's == says.
    flagged, _ = inclusion_document(1, 0)
    leaves = [merkle.leaf_hash(b'{"paid": 1}')]
    one = Checkpoint(ORIGIN, 1, merkle.root_hash(leaves))
    document = {**flagged, "leaf_hash": b64(leaves[0]), "hashes": []}
    truthy = {"index": 0, "leaf_hash": b64(leaves[0]), "entry": b64(b'{"paid": 1}')}
    verify_inclusion_document(one, parse_inclusion_proof(document), parse_entry(truthy))
    with pytest.raises(ProofError, match="not what its bytes state"):
        verify_inclusion_document(
            one, parse_inclusion_proof(document), parse_entry({**truthy, "record": {"paid": True}})
        )
    not_json = {"index": 0, "leaf_hash": b64(merkle.leaf_hash(b"\xff")), "entry": b64(b"\xff")}
    raw = Checkpoint(ORIGIN, 1, merkle.leaf_hash(b"\xff"))
    raw_proof = parse_inclusion_proof({**document, "leaf_hash": not_json["leaf_hash"]})
    verify_inclusion_document(raw, raw_proof, parse_entry(not_json))
    with pytest.raises(ProofError, match="is not JSON"):
        verify_inclusion_document(raw, raw_proof, parse_entry({**not_json, "record": {}}))


def test_consistency_documents_verify() -> None:
    leaves, newer = tree(600)
    older = Checkpoint(ORIGIN, 256, merkle.root_hash(leaves[:256]))
    hashes = merkle.consistency_proof(256, 600, memory_reader(leaves))
    document = {
        "from": 256,
        "to": 600,
        "hashes": [b64(h) for h in hashes],
        "old_checkpoint": signed(older),
        "new_checkpoint": None,
    }
    proof = parse_consistency_proof(json.dumps(document))
    assert (proof.old_size, proof.new_size, proof.new_checkpoint) == (256, 600, None)
    verify_consistency_document(older, newer, proof)
    with pytest.raises(ProofError, match="the proof is from size 256 to 600"):
        verify_consistency_document(older, tree(601)[1], proof)


VALID_INCLUSION = inclusion_document(5, 2)[0]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"index": -1}, "index"),
        ({"index": True}, "index: must be an integer"),
        ({"index": "2"}, "index: must be an integer"),
        ({"size": 2**64}, "size"),
        ({"leaf_hash": "not base64!"}, "leaf_hash: is not valid base64"),
        ({"leaf_hash": b64(b"short")}, "leaf_hash: is 5 bytes"),
        ({"hashes": "AAAA"}, "hashes: must be a list"),
        ({"hashes": [b64(bytes(31))]}, r"hashes\[0\]: is 31 bytes"),
        ({"hashes": [b64(bytes(32))] * 65}, "more than 64"),
        ({"checkpoint": 5}, "checkpoint: must be a signed note"),
    ],
)
def test_malformed_inclusion_documents_are_refused(change: dict[str, Any], message: str) -> None:
    with pytest.raises(ProofError, match=message):
        parse_inclusion_proof({**VALID_INCLUSION, **change})


@pytest.mark.parametrize(
    "text", ["", "[]", "null", "{", '"x"', "[" * 100_000 + "]" * 100_000, b"\xff\xfe{"]
)
def test_documents_that_are_not_json_objects_are_refused(text: str | bytes) -> None:
    for parse in (parse_inclusion_proof, parse_consistency_proof, parse_entry):
        with pytest.raises(ProofError):
            parse(text)


def test_entry_documents_check_their_fields() -> None:
    good = {"index": 0, "leaf_hash": b64(bytes(32)), "entry": b64(b"x"), "record": {}}
    assert parse_entry(good).entry == b"x"
    for change in ({"record": []}, {"entry": None}, {"entry": "%%"}, {"index": None}):
        with pytest.raises(ProofError):
            parse_entry({**good, **change})


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=10),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.sampled_from(["index", "size", "leaf_hash", "hashes", "from", "to", "entry", "x"]),
            children,
            max_size=6,
        )
    ),
    max_leaves=12,
)


@given(json_values)
def test_random_json_only_ever_raises_proof_error(value: Any) -> None:
    for parse in (parse_inclusion_proof, parse_consistency_proof, parse_entry):
        with contextlib.suppress(ProofError):
            parse(json.dumps(value))


# Logs served over HTTP


@dataclass
class MemoryLog:
    """A tlog-tiles log held in memory: entries, their tiles grown batch by batch, and a signed
    checkpoint. `overrides` serves other bytes (or an HTTP status) at a path, to play a liar."""

    signer: NoteSigner = SIGNER
    entries: list[bytes] = field(default_factory=list)
    tiles: dict[tuple[int, int], Tile] = field(default_factory=dict)
    note: str = ""
    overrides: dict[str, bytes | int] = field(default_factory=dict)
    requests: list[str] = field(default_factory=list)
    api_key: str | None = None
    gzip_paths: set[str] = field(default_factory=set)

    def append(self, entries: list[bytes]) -> MemoryLog:
        hashes = [merkle.leaf_hash(e) for e in entries]
        self.tiles.update(grow(len(self.entries), hashes, lambda *key: self.tiles[key]))
        self.entries.extend(entries)
        return self

    def publish(self) -> Checkpoint:
        leaves = [merkle.leaf_hash(e) for e in self.entries]
        checkpoint = Checkpoint(self.signer.name, len(leaves), merkle.root_hash(leaves))
        self.note = signed(checkpoint, self.signer)
        return checkpoint

    def resource(self, path: str) -> bytes | int:
        if path in self.overrides:
            return self.overrides[path]
        if path == "checkpoint":
            return self.note.encode()
        try:
            address = parse_path(path)
        except TileError:
            return 404
        if address.is_entries:
            start = address.index * 256
            if start + address.width > len(self.entries):
                return 404
            return bundle_entries(self.entries[start : start + address.width])
        tile = self.tiles.get((address.level, address.index))
        if tile is None or tile.width < address.width:
            return 404
        return b"".join(tile.levels[0][: address.width])


PREFIX = "/logs/acme/"


@contextlib.contextmanager
def serving(log: MemoryLog) -> Iterator[str]:
    """The log on a real HTTP server on loopback; yields its base URL."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            log.requests.append(self.path)
            if log.api_key is not None and self.headers["Authorization"] != f"Bearer {log.api_key}":
                self._reply(401, b"")
                return
            if not self.path.startswith(PREFIX):
                self._reply(404, b"")
                return
            path = self.path[len(PREFIX) :]
            body = log.resource(path)
            if isinstance(body, int):
                self._reply(body, b"")
            elif path in log.gzip_paths:
                self._reply(200, gzip.compress(body), {"Content-Encoding": "gzip"})
            else:
                self._reply(200, body)

        def _reply(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
            self.send_response(status)
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # keep the test output clean

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}{PREFIX.rstrip('/')}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def log_of(size: int) -> MemoryLog:
    log = MemoryLog().append([entry(n) for n in range(size)])
    log.publish()
    return log


@pytest.mark.parametrize("size", [0, 1, 255, 256, 257, 600])
def test_verify_log_checks_every_entry_and_the_root(size: int) -> None:
    log = log_of(size)
    with serving(log) as url:
        report = verify_log(url, [VKEY])
    assert report.checkpoint.size == report.entries == size
    assert report.note == log.note
    bundles = -(-size // 256)
    assert len(log.requests) == 1 + 2 * bundles  # checkpoint, then a bundle and a tile each


def test_verify_log_accepts_a_log_that_grew_from_the_previous_checkpoint() -> None:
    log = log_of(300)
    previous = log.publish()
    log.append([entry(n) for n in range(300, 700)]).publish()
    with serving(log) as url:
        report = verify_log(url, [VKEY], previous)
    assert (report.previous, report.checkpoint.size) == (previous, 700)
    for earlier in (0, 1, 256, 512, 699, 700):
        leaves = [merkle.leaf_hash(entry(n)) for n in range(earlier)]
        with serving(log) as url:
            verify_log(url, [VKEY], Checkpoint(ORIGIN, earlier, merkle.root_hash(leaves)))


def test_verify_log_catches_a_rollback() -> None:
    big, small = log_of(700), log_of(300)
    with serving(small) as url, pytest.raises(CheckpointError, match="rolled back"):
        verify_log(url, [VKEY], big.publish())


@pytest.mark.parametrize("previous_size", [300, 256, 600])
def test_verify_log_catches_a_fork(previous_size: int) -> None:
    """The vendor rewrote history and signed it: the old prefix no longer hashes to its root."""
    honest = log_of(previous_size)
    rewritten = MemoryLog().append([entry(n + 1_000_000) for n in range(600)])
    rewritten.publish()
    with serving(rewritten) as url, pytest.raises(CheckpointError, match="forked"):
        verify_log(url, [VKEY], honest.publish())


def test_verify_log_catches_an_entry_that_does_not_match_its_tile() -> None:
    log = log_of(300)
    tampered = log.entries.copy()
    tampered[260] = b'{"event": "forged"}'
    log.overrides[entries_path(1, 44)] = bundle_entries(tampered[256:300])
    with serving(log) as url, pytest.raises(TileError, match="entry 260 does not hash"):
        verify_log(url, [VKEY])


def test_verify_log_catches_data_that_does_not_match_the_signed_root() -> None:
    log = log_of(300)
    forged = [*log.entries[:256], b"forged", *log.entries[257:300]]
    # Bundle and tile agree with each other, but not with what was signed.
    log.overrides[entries_path(1, 44)] = bundle_entries(forged[256:300])
    log.overrides[tile_path(0, 1, 44)] = b"".join(merkle.leaf_hash(e) for e in forged[256:300])
    with serving(log) as url, pytest.raises(CheckpointError, match="do not hash to its"):
        verify_log(url, [VKEY])


def test_verify_log_refuses_a_checkpoint_signed_by_another_key() -> None:
    log = MemoryLog(signer=NoteSigner(ORIGIN, Ed25519PrivateKey.generate())).append([b"a"])
    log.publish()
    with serving(log) as url, pytest.raises(NoteError, match="no signature from a trusted key"):
        verify_log(url, [VKEY])


def test_verify_log_checks_the_origin() -> None:
    with serving(log_of(3)) as url, pytest.raises(CheckpointError, match="not the expected"):
        verify_log(url, [VKEY], origin="example.com/someone-else")


def test_verify_log_refuses_malformed_tiles_and_bundles() -> None:
    log = log_of(10)
    log.overrides[tile_path(0, 0, 10)] = bytes(32 * 9)
    with serving(log) as url, pytest.raises(TileError, match="not 10 hashes"):
        verify_log(url, [VKEY])
    log = log_of(10)
    log.overrides[entries_path(0, 10)] = bundle_entries([b"x"] * 9)
    with serving(log) as url, pytest.raises(TileError, match="holds 9 entries"):
        verify_log(url, [VKEY])
    log.overrides[entries_path(0, 10)] = b"\x00\x05ab"
    with serving(log) as url, pytest.raises(TileError, match="truncated"):
        verify_log(url, [VKEY])


def test_verify_log_sends_the_api_key() -> None:
    log = log_of(3)
    log.api_key = "vp_secret"
    with serving(log) as url:
        with pytest.raises(LogFetchError, match="HTTP 401"):
            verify_log(url, [VKEY])
        verify_log(url, [VKEY], headers={"Authorization": "Bearer vp_secret"})


def test_gzip_replies_are_inflated_within_a_bound() -> None:
    log = log_of(300)
    log.gzip_paths = {entries_path(0), tile_path(0, 0), "checkpoint"}
    with serving(log) as url:
        verify_log(url, [VKEY])
    log.overrides[tile_path(0, 1, 1)] = bytes(100_000)
    log.gzip_paths.add(tile_path(0, 1, 1))
    with serving(log) as url, pytest.raises(LogFetchError, match="exceeds 32 bytes"):
        TileLog(url).tile(0, 1, 1)


def test_http_failures_are_log_fetch_errors() -> None:
    log = log_of(3)
    log.overrides["checkpoint"] = 500
    with serving(log) as url, pytest.raises(LogFetchError, match="HTTP 500"):
        verify_log(url, [VKEY])
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    with pytest.raises(LogFetchError, match=f"127.0.0.1:{port}/checkpoint"):
        verify_log(f"http://127.0.0.1:{port}", [VKEY])
    for url in ("file:///etc/passwd", "ftp://example.com/log", "not a url"):
        with pytest.raises(LedgerError, match="not an http"):
            TileLog(url)


def test_redirects_stay_within_the_log_origin() -> None:
    log = log_of(3)
    with serving(log) as url:
        port = url.split(":")[2].split("/")[0]

        class Redirect(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(302)
                self.send_header("Location", f"http://localhost:{port}/logs/acme/checkpoint")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        redirector = ThreadingHTTPServer(("127.0.0.1", 0), Redirect)
        thread = threading.Thread(target=redirector.serve_forever, args=(0.02,), daemon=True)
        thread.start()
        try:
            elsewhere = f"http://127.0.0.1:{redirector.server_address[1]}"
            with pytest.raises(LogFetchError, match="redirected to another origin"):
                TileLog(elsewhere, {"Authorization": "Bearer vp_secret"}).checkpoint()
        finally:
            redirector.shutdown()
            redirector.server_close()
            thread.join(timeout=10)
    assert log.requests == []  # the key never reached the other origin


def test_a_deleted_partial_tile_is_read_from_the_full_one() -> None:
    log = log_of(600)
    log.overrides[tile_path(0, 1, 44)] = 404
    log.overrides[entries_path(1, 44)] = 404
    with serving(log) as url:
        tiles = TileLog(url)
        assert tiles.tile(0, 1, 44) == [merkle.leaf_hash(entry(n)) for n in range(256, 300)]
        assert tiles.entries(1, 44) == [entry(n) for n in range(256, 300)]


@pytest.fixture(scope="module")
def built_big_log() -> MemoryLog:
    """A log of 256**2 + 5 entries: full tiles on two levels, partial ones on three."""
    return log_of(65541)


@pytest.fixture
def big_log(built_big_log: MemoryLog) -> MemoryLog:
    built_big_log.overrides.clear()
    built_big_log.requests.clear()
    return built_big_log


@pytest.mark.parametrize("index", [0, 1000, 65535, 65536, 65540])
def test_verify_log_entry_builds_a_proof_from_a_few_tiles(big_log: MemoryLog, index: int) -> None:
    with serving(big_log) as url:
        report = verify_log_entry(url, [VKEY], index)
    assert report.entry == entry(index)
    assert report.checkpoint.size == 65541
    tiles_fetched = [r for r in big_log.requests if "/tile/" in r and "/entries/" not in r]
    assert len(tiles_fetched) <= 4, tiles_fetched  # of the 258 tiles the log serves
    verify_inclusion_proof(report.checkpoint, index, report.proof, entry=entry(index))


@pytest.mark.parametrize("index", [-1, 65541])
def test_verify_log_entry_refuses_an_index_outside_the_log(big_log: MemoryLog, index: int) -> None:
    with serving(big_log) as url, pytest.raises(ProofError, match="is not in a log"):
        verify_log_entry(url, [VKEY], index)


def test_verify_log_entry_catches_a_lying_tile(big_log: MemoryLog) -> None:
    hashes = [merkle.leaf_hash(entry(n)) for n in range(256)]
    hashes[7] = merkle.leaf_hash(b"forged")
    big_log.overrides[tile_path(0, 0)] = b"".join(hashes)
    with serving(big_log) as url, pytest.raises(ProofError):
        verify_log_entry(url, [VKEY], 3)


# What the verifier may import


def test_the_verifier_loads_only_the_standard_library_and_cryptography() -> None:
    # Only what the import itself loads: site's start-up (a .pth hook such as setuptools'
    # _distutils_hack) is the interpreter's, not the verifier's.
    code = (
        "import sys; before = set(sys.modules); import valueproof.ledger.verifier; "
        "print(' '.join(sorted(set(sys.modules) - before)))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.split()
    roots = {name.split(".")[0] for name in loaded}
    for heavy in ("sqlalchemy", "fastapi", "pydantic", "orjson", "numpy", "typer", "rich"):
        assert heavy not in roots
    native = {"__main__", "cryptography", "_cffi_backend", "_openssl"}  # cryptography's own
    assert roots - set(sys.stdlib_module_names) - native == {"valueproof"}
    ours = {name for name in loaded if name.startswith("valueproof")}
    assert ours <= set(CUSTOMER_MODULES) | {"valueproof", "valueproof.ledger"}


CUSTOMER_MODULES = [
    "valueproof.errors",
    "valueproof.ledger.errors",
    "valueproof.ledger.merkle",
    "valueproof.ledger.tiles",
    "valueproof.ledger.notes",
    "valueproof.ledger.checkpoints",
    "valueproof.ledger.tilelog",
    "valueproof.ledger.verifier",
]


def test_the_copied_files_verify_on_their_own(tmp_path: Path) -> None:
    """docs/verify.md tells customers to copy these files: they must work with nothing else."""
    for module in CUSTOMER_MODULES:
        relative = Path(*module.split(".")).with_suffix(".py")
        (tmp_path / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / "src" / relative, tmp_path / relative)
    (tmp_path / "valueproof" / "__init__.py").write_text("")
    (tmp_path / "valueproof" / "ledger" / "__init__.py").write_text("")
    vectors = json.loads(
        (Path(__file__).parent / "vectors" / "checkpoint_vectors.json").read_text("utf-8")
    )["sumdb"]
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]);"
        "from valueproof.ledger import verifier;"
        "assert verifier.__file__.startswith(sys.argv[1]), verifier.__file__;"
        "print(verifier.verify_checkpoint(sys.argv[2], [sys.argv[3]], key_name=sys.argv[4]).size)"
    )
    result = subprocess.run(
        [sys.executable, "-I", "-c", code, str(tmp_path), *_sumdb_arguments(vectors)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(vectors["size"])


def _sumdb_arguments(vectors: dict[str, Any]) -> list[str]:
    return [vectors["note"], vectors["vkey"], vectors["key_name"]]
