"""Tests for cli/verify.py: `valueproof verify` as a customer runs it, on files and on a log
served over real HTTP on loopback. Exit codes: 0 verified, 1 verification failed, 2 bad input."""

from __future__ import annotations

import base64
import contextlib
import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from typer.testing import CliRunner, Result

from valueproof.cli.main import app
from valueproof.ledger import merkle
from valueproof.ledger.checkpoints import Checkpoint
from valueproof.ledger.notes import NoteSigner, sign_note
from valueproof.ledger.tiles import bundle_entries, entries_path, grow, tile_path

ORIGIN = "example.com/tenants/acme"
# A fixed key: test ids and vectors stay the same across pytest-xdist workers.
SIGNER = NoteSigner(ORIGIN, Ed25519PrivateKey.from_private_bytes(bytes(range(32))))
VKEY = SIGNER.verifier.vkey


def entry(number: int) -> bytes:
    return json.dumps({"event": f"call-{number}"}).encode()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def reader(leaves: list[bytes]) -> merkle.HashReader:
    def read(coordinates: Any) -> list[bytes]:
        return [merkle.root_hash(leaves[i << level : (i + 1) << level]) for level, i in coordinates]

    return read


def signed_tree(size: int, offset: int = 0) -> tuple[list[bytes], str]:
    leaves = [merkle.leaf_hash(entry(n + offset)) for n in range(size)]
    note = sign_note(Checkpoint(ORIGIN, size, merkle.root_hash(leaves)).body(), [SIGNER])
    return leaves, note


@pytest.fixture
def verify(tmp_path: Path) -> Any:
    """Runs `valueproof verify ...` in-process; no database is touched."""

    def run(*args: str, env: dict[str, str] | None = None) -> Result:
        result = CliRunner().invoke(
            app,
            ["--database-url", f"sqlite:///{tmp_path / 'unused.db'}", "verify", *args],
            env=env,
        )
        assert result.exception is None or isinstance(result.exception, SystemExit), result.output
        assert "Traceback" not in result.output
        return result

    return run


def write(folder: Path, name: str, content: str | dict[str, Any]) -> str:
    path = folder / name
    path.write_text(content if isinstance(content, str) else json.dumps(content))
    return str(path)


# verify checkpoint


def test_checkpoint_verifies_a_note_file_or_json(verify: Any, tmp_path: Path) -> None:
    _, note = signed_tree(5)
    result = verify("checkpoint", "--vkey", VKEY, write(tmp_path, "cp.txt", note))
    assert result.exit_code == 0, result.output
    assert result.stdout == f"verified checkpoint of {ORIGIN} at size 5\n"
    for field in ("note", "checkpoint"):
        as_json = write(tmp_path, f"{field}.json", {field: note, "size": 5})
        result = verify("checkpoint", "--vkey", VKEY, "--origin", ORIGIN, as_json, "--json")
        assert result.exit_code == 0, result.output
        printed = json.loads(result.stdout)
        assert (printed["verified"], printed["origin"], printed["size"]) == (True, ORIGIN, 5)


def test_checkpoint_from_another_key_or_log_fails_with_1(verify: Any, tmp_path: Path) -> None:
    _, note = signed_tree(5)
    file = write(tmp_path, "cp.txt", note)
    stranger = NoteSigner(ORIGIN, Ed25519PrivateKey.generate()).verifier.vkey
    result = verify("checkpoint", "--vkey", stranger, file)
    assert result.exit_code == 1
    assert result.stderr.startswith("error: note has no signature from a trusted key")
    result = verify("checkpoint", "--vkey", VKEY, "--origin", "example.com/other", file)
    assert result.exit_code == 1
    assert "not the expected 'example.com/other'" in result.stderr
    tampered = write(tmp_path, "tampered.txt", note.replace("\n5\n", "\n6\n"))
    result = verify("checkpoint", "--vkey", VKEY, tampered)
    assert result.exit_code == 1
    assert "invalid signature" in result.stderr


def test_vkeys_may_come_from_a_file(verify: Any, tmp_path: Path) -> None:
    _, note = signed_tree(2)
    other = NoteSigner("example.com/other", Ed25519PrivateKey.generate()).verifier.vkey
    keys = write(tmp_path, "keys.txt", f"# the vendor's keys\n{other}\n\n  {VKEY}  \n")
    result = verify("checkpoint", "--vkey", f"@{keys}", write(tmp_path, "cp.txt", note))
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize(
    "vkey", ["nonsense", VKEY[:-4] + "AAAA", "@/no/such/file"], ids=["text", "key", "file"]
)
def test_a_bad_vkey_is_invalid_input(verify: Any, tmp_path: Path, vkey: str) -> None:
    _, note = signed_tree(2)
    result = verify("checkpoint", "--vkey", vkey, write(tmp_path, "cp.txt", note))
    assert result.exit_code == 2
    assert result.stderr.startswith("error: vkey: ")


def test_bad_files_are_invalid_input(verify: Any, tmp_path: Path) -> None:
    missing = verify("checkpoint", "--vkey", VKEY, str(tmp_path / "missing.txt"))
    assert missing.exit_code == 2
    no_note = verify("checkpoint", "--vkey", VKEY, write(tmp_path, "x.json", {"size": 1}))
    assert no_note.exit_code == 2
    assert 'without a "note" or "checkpoint"' in no_note.stderr
    broken = verify("checkpoint", "--vkey", VKEY, write(tmp_path, "y.json", "{not json"))
    assert broken.exit_code == 2


# verify inclusion


def inclusion_proof(size: int, index: int, note: str | None) -> dict[str, Any]:
    leaves, _ = signed_tree(size)
    hashes = merkle.inclusion_proof(index, size, reader(leaves))
    return {
        "index": index,
        "size": size,
        "leaf_hash": b64(leaves[index]),
        "hashes": [b64(h) for h in hashes],
        "checkpoint": note,
    }


def test_inclusion_verifies_with_the_embedded_or_a_given_checkpoint(
    verify: Any, tmp_path: Path
) -> None:
    _, note = signed_tree(300)
    proof = write(tmp_path, "proof.json", inclusion_proof(300, 77, note))
    leaf = b64(merkle.leaf_hash(entry(77)))
    entry_file = write(
        tmp_path,
        "entry.json",
        {"index": 77, "leaf_hash": leaf, "entry": b64(entry(77)), "record": {"event": "call-77"}},
    )
    result = verify("inclusion", "--vkey", VKEY, "--proof", proof, "--entry", entry_file)
    assert result.exit_code == 0, result.output
    assert result.stdout == f"verified: entry 77 is in {ORIGIN} at size 300\n"
    bare = write(tmp_path, "bare.json", inclusion_proof(300, 77, None))
    checkpoint = write(tmp_path, "cp.txt", note)
    result = verify("inclusion", "--vkey", VKEY, "--proof", bare, "--checkpoint", checkpoint)
    assert result.exit_code == 0, result.output
    result = verify("inclusion", "--vkey", VKEY, "--proof", bare)
    assert result.exit_code == 2
    assert "give --checkpoint FILE" in result.stderr


def test_inclusion_fails_on_a_tampered_proof_or_entry(verify: Any, tmp_path: Path) -> None:
    _, note = signed_tree(300)
    document = inclusion_proof(300, 77, note)
    document["hashes"][3] = b64(merkle.leaf_hash(b"tampered"))
    result = verify("inclusion", "--vkey", VKEY, "--proof", write(tmp_path, "p.json", document))
    assert result.exit_code == 1
    assert "does not lead to the root" in result.stderr
    proof = write(tmp_path, "good.json", inclusion_proof(300, 77, note))
    forged = {"index": 77, "leaf_hash": document["leaf_hash"], "entry": b64(b"forged")}
    result = verify(
        "inclusion", "--vkey", VKEY, "--proof", proof, "--entry", write(tmp_path, "e.json", forged)
    )
    assert result.exit_code == 1
    assert "does not hash to the leaf hash" in result.stderr


def test_a_malformed_proof_is_invalid_input(verify: Any, tmp_path: Path) -> None:
    proof = write(tmp_path, "p.json", {"index": "seven"})
    result = verify("inclusion", "--vkey", VKEY, "--proof", proof)
    assert result.exit_code == 2
    assert result.stderr.startswith("error: proof: ")


# verify consistency


def test_consistency_verifies_and_catches_a_rollback(verify: Any, tmp_path: Path) -> None:
    leaves, new_note = signed_tree(600)
    _, old_note = signed_tree(256)
    hashes = [b64(h) for h in merkle.consistency_proof(256, 600, reader(leaves))]
    document = {"from": 256, "to": 600, "hashes": hashes}
    proof = write(tmp_path, "c.json", {**document, "old_checkpoint": None, "new_checkpoint": None})
    old, new = write(tmp_path, "old.txt", old_note), write(tmp_path, "new.txt", new_note)
    result = verify("consistency", "--vkey", VKEY, "--old", old, "--new", new, "--proof", proof)
    assert result.exit_code == 0, result.output
    assert result.stdout == f"verified: {ORIGIN} at size 600 extends size 256\n"
    embedded = write(
        tmp_path, "e.json", {**document, "old_checkpoint": old_note, "new_checkpoint": new_note}
    )
    assert verify("consistency", "--vkey", VKEY, "--proof", embedded).exit_code == 0
    swapped = verify("consistency", "--vkey", VKEY, "--old", new, "--new", old, "--proof", proof)
    assert swapped.exit_code == 1
    assert "rolled back" in swapped.stderr


def test_consistency_catches_a_fork(verify: Any, tmp_path: Path) -> None:
    leaves, new_note = signed_tree(600)
    _, forked_note = signed_tree(256, offset=10_000)
    hashes = [b64(h) for h in merkle.consistency_proof(256, 600, reader(leaves))]
    proof = {"from": 256, "to": 600, "hashes": hashes}
    result = verify(
        "consistency",
        "--vkey",
        VKEY,
        "--old",
        write(tmp_path, "old.txt", forked_note),
        "--new",
        write(tmp_path, "new.txt", new_note),
        "--proof",
        write(tmp_path, "c.json", proof),
    )
    assert result.exit_code == 1
    assert "does not lead to both roots" in result.stderr


# verify log


class Log:
    """The files of a tlog-tiles log, served by path; `api_key` is required when set."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.api_key: str | None = None

    def publish(self, size: int, offset: int = 0) -> None:
        entries = [entry(n + offset) for n in range(size)]
        _, note = signed_tree(size, offset)
        tiles = grow(0, [merkle.leaf_hash(e) for e in entries], lambda *key: pytest.fail())
        self.files = {"checkpoint": note.encode()}
        for (level, index), tile in tiles.items():
            self.files[tile_path(level, index, tile.width)] = tile.served()
        for start in range(0, size, 256):
            chunk = entries[start : start + 256]
            self.files[entries_path(start // 256, len(chunk))] = bundle_entries(chunk)


@contextlib.contextmanager
def serving(log: Log) -> Iterator[str]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = log.files.get(self.path.removeprefix("/log/"))
            authorized = log.api_key is None or (
                self.headers["Authorization"] == f"Bearer {log.api_key}"
            )
            status = 401 if not authorized else 404 if body is None else 200
            self.send_response(status)
            self.send_header("Content-Length", str(len(body or b"") if status == 200 else 0))
            self.end_headers()
            if status == 200 and body is not None:
                self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/log"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def test_log_keeps_state_and_catches_rollback_and_fork(verify: Any, tmp_path: Path) -> None:
    log, state = Log(), tmp_path / "acme.checkpoint"
    with serving(log) as url:
        log.publish(300)
        first = verify("log", "--vkey", VKEY, "--url", url, "--state", str(state))
        assert first.exit_code == 0, first.output
        assert first.stdout == f"verified log {ORIGIN}: 300 entries\n"
        assert state.read_bytes() == log.files["checkpoint"]

        log.publish(700)
        grown = verify("log", "--vkey", VKEY, "--url", url, "--state", str(state), "--json")
        assert grown.exit_code == 0, grown.output
        assert json.loads(grown.stdout)["previous_size"] == 300
        kept = state.read_bytes()
        assert kept == log.files["checkpoint"]

        log.publish(500)
        rolled = verify("log", "--vkey", VKEY, "--url", url, "--state", str(state))
        assert rolled.exit_code == 1
        assert "rolled back: size 500 after size 700" in rolled.stderr
        assert state.read_bytes() == kept  # a failed run leaves the state alone

        log.publish(900, offset=5)
        forked = verify("log", "--vkey", VKEY, "--url", url, "--state", str(state))
        assert forked.exit_code == 1
        assert "forked" in forked.stderr
        assert state.read_bytes() == kept


def test_log_sends_the_api_key_from_the_environment(verify: Any) -> None:
    log = Log()
    log.publish(10)
    log.api_key = "vp_customer"
    with serving(log) as url:
        refused = verify("log", "--vkey", VKEY, "--url", url)
        assert refused.exit_code == 1
        assert "HTTP 401" in refused.stderr
        by_option = verify("log", "--vkey", VKEY, "--url", url, "--api-key", "vp_customer")
        assert by_option.exit_code == 0, by_option.output
        by_env = verify(
            "log", "--vkey", VKEY, "--url", url, env={"VALUEPROOF_API_KEY": "vp_customer"}
        )
        assert by_env.exit_code == 0, by_env.output


def test_log_with_a_corrupt_state_file_is_invalid_input(verify: Any, tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.write_text("not a checkpoint")
    log = Log()
    log.publish(3)
    with serving(log) as url:
        result = verify("log", "--vkey", VKEY, "--url", url, "--state", str(state))
    assert result.exit_code == 2
    assert result.stderr.startswith("error: state: ")


def test_log_unreachable_fails_with_1(verify: Any) -> None:
    log = Log()
    with serving(log) as url:
        pass  # the server is gone once the block ends
    result = verify("log", "--vkey", VKEY, "--url", url)
    assert result.exit_code == 1
    assert result.stderr.startswith(f"error: GET {url}/checkpoint: ")


def test_the_verify_commands_load_no_server_code() -> None:
    code = "import sys, valueproof.cli.verify; print(' '.join(sorted(sys.modules)))"
    loaded = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.split()
    roots = {name.split(".")[0] for name in loaded}
    assert not roots & {"sqlalchemy", "alembic", "psycopg", "fastapi", "pydantic", "numpy"}
    server = ("valueproof.store", "valueproof.api", "valueproof.tenancy", "valueproof.metering")
    assert not [name for name in loaded if name.startswith(server)]
