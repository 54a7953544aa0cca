"""Tests for ledger/checkpoints.py: C2SP tlog-checkpoint bodies, signed checkpoints, and how two
checkpoints of one log may relate."""

from __future__ import annotations

import base64
import contextlib
import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given
from hypothesis import strategies as st

from valueproof.ledger.checkpoints import (
    Checkpoint,
    check_rollback_and_fork,
    open_checkpoint,
    parse_checkpoint,
)
from valueproof.ledger.errors import CheckpointError, LedgerError, NoteError
from valueproof.ledger.merkle import leaf_hash
from valueproof.ledger.notes import NoteSigner, open_note, parse_note, parse_vkey, sign_note

VECTORS: dict[str, Any] = json.loads(
    (Path(__file__).parent / "vectors" / "checkpoint_vectors.json").read_text(encoding="utf-8")
)
SUMDB = VECTORS["sumdb"]
ROOT = leaf_hash(b"some root")
LOG = NoteSigner("example.com/log", Ed25519PrivateKey.generate())


def signer_from_skey(skey: str) -> NoteSigner:
    """A signer from Go's `PRIVATE+KEY+<name>+<id>+base64(0x01 || seed)` encoding."""
    _, _, name, _, encoded = skey.split("+", 4)
    return NoteSigner(name, Ed25519PrivateKey.from_private_bytes(base64.b64decode(encoded)[1:]))


# Published vectors


def test_a_real_sum_golang_org_checkpoint_verifies() -> None:
    checkpoint = open_checkpoint(
        SUMDB["note"], [parse_vkey(SUMDB["vkey"])], SUMDB["origin"], key_name=SUMDB["key_name"]
    )
    assert checkpoint.origin == SUMDB["origin"]
    assert checkpoint.size == SUMDB["size"]
    assert checkpoint.root_hash == base64.b64decode(SUMDB["root_hash"])
    assert checkpoint.body() == parse_note(SUMDB["note"]).text


def test_the_sumdb_checkpoint_fails_our_key_name_convention_unless_told() -> None:
    # Its key is named sum.golang.org, its origin "go.sum database tree": we require the two to
    # match unless the caller names the log's key.
    with pytest.raises(CheckpointError, match="no verified signature by the log's key"):
        open_checkpoint(SUMDB["note"], [parse_vkey(SUMDB["vkey"])])


def test_the_sumdb_checkpoint_for_another_origin_is_refused() -> None:
    with pytest.raises(CheckpointError, match="not the expected"):
        open_checkpoint(
            SUMDB["note"],
            [parse_vkey(SUMDB["vkey"])],
            "Go rocks but I might have the wrong ID",
            key_name=SUMDB["key_name"],
        )


def test_go_format_tree_vector_parses_to_the_leaf_hash_of_hello_world() -> None:
    vector = VECTORS["format_tree"]
    checkpoint = parse_checkpoint(vector["body"])
    assert checkpoint.size == vector["size"]
    assert checkpoint.root_hash == leaf_hash(vector["leaf"].encode())
    assert checkpoint.body() == vector["body"]


@pytest.mark.parametrize("body", VECTORS["format_tree"]["bad_bodies"])
def test_go_bad_tree_bodies_are_refused(body: str) -> None:
    with pytest.raises(CheckpointError):
        parse_checkpoint(body)


def test_the_c2sp_example_parses() -> None:
    example = VECTORS["c2sp_example"]
    checkpoint = parse_checkpoint(parse_note(example["note"]).text)
    assert (checkpoint.origin, checkpoint.size) == (example["origin"], example["size"])
    assert checkpoint.root_hash == base64.b64decode(example["root_hash"])


def test_the_formats_cosigning_cases() -> None:
    """transparency-dev/formats TestParseCheckpoint: the log's key must be among the verified."""
    keys = {name: signer_from_skey(k["skey"]) for name, k in _cosigning_keys().items()}
    for name, k in _cosigning_keys().items():
        assert keys[name].verifier.vkey == k["vkey"]
    body = Checkpoint("Log", 42, ROOT).body()
    trusted = [keys[name].verifier for name in ("Log", "Known", "KnownAgain")]
    for signers, verified in (
        (["Log"], 1),
        (["Log", "Known"], 2),
        (["Log", "Known", "Unknown"], 2),
        (["KnownAgain", "Log", "Known"], 3),
        (["Log", "Known", "KnownAgain", "Unknown"], 3),
    ):
        message = sign_note(body, [keys[name] for name in signers])
        assert open_checkpoint(message, trusted, "Log").size == 42, signers
        assert len(open_note(message, trusted).signatures) == verified
    with pytest.raises(CheckpointError, match="no verified signature by the log's key 'Log'"):
        open_checkpoint(sign_note(body, [keys["Known"], keys["KnownAgain"]]), trusted)
    with pytest.raises(NoteError):
        open_checkpoint(sign_note(body, [keys["Unknown"]]), trusted)
    with pytest.raises(CheckpointError):
        open_checkpoint(sign_note("if this is a valid checkpoint…\n", [keys["Log"]]), trusted)


def _cosigning_keys() -> dict[str, dict[str, str]]:
    return {k: v for k, v in VECTORS["cosigning_keys"].items() if k != "source"}


# Our rules


def test_body_round_trips_with_extensions() -> None:
    checkpoint = Checkpoint("example.com/log", 7, ROOT, ("ext one", "ext two"))
    body = checkpoint.body()
    assert body.endswith("\next two\n")
    assert parse_checkpoint(body) == checkpoint
    assert parse_checkpoint(body.encode()) == checkpoint


def test_open_checkpoint_checks_origin_and_key_name() -> None:
    message = sign_note(Checkpoint(LOG.name, 3, ROOT).body(), [LOG])
    assert open_checkpoint(message, [LOG.verifier], LOG.name).size == 3
    with pytest.raises(CheckpointError, match="not the expected"):
        open_checkpoint(message, [LOG.verifier], "example.com/other")
    # A trusted key of another log cannot vouch for this log's checkpoints.
    other = NoteSigner("example.com/other", Ed25519PrivateKey.generate())
    borrowed = sign_note(Checkpoint(LOG.name, 3, ROOT).body(), [other])
    with pytest.raises(CheckpointError, match="no verified signature by the log's key"):
        open_checkpoint(borrowed, [other.verifier])


ROOT_B64 = base64.b64encode(ROOT).decode()


@pytest.mark.parametrize(
    "body",
    [
        f"o\n01\n{ROOT_B64}\n",  # leading zero
        f"o\n+1\n{ROOT_B64}\n",
        f"o\n-1\n{ROOT_B64}\n",
        f"o\n 1\n{ROOT_B64}\n",
        f"o\n1 \n{ROOT_B64}\n",
        f"o\n1_000\n{ROOT_B64}\n",
        f"o\n\u0661\n{ROOT_B64}\n",  # an Arabic-Indic digit: int() would take it
        f"o\n18446744073709551616\n{ROOT_B64}\n",  # 2**64
        f"o\n\n{ROOT_B64}\n",
        "o\n1\n\n",
        f"o\n1\n{ROOT_B64[:-2]}\n",  # not padded
        f"o\n1\n{base64.b64encode(ROOT[:31]).decode()}\n",  # 31 bytes
        f"o\n1\n{base64.b64encode(ROOT + b'x').decode()}\n",  # 33 bytes
        f"o\n1\n{ROOT_B64}",  # no final newline
        f"o\n1\n{ROOT_B64}\n\n",  # an empty extension line
        f"\n1\n{ROOT_B64}\n",  # an empty origin
        "o\n1\n",
        "",
        f"o\r\n1\n{ROOT_B64}\n",
    ],
)
def test_malformed_bodies_are_refused(body: str) -> None:
    with pytest.raises(CheckpointError):
        parse_checkpoint(body)


def test_zero_is_the_empty_tree_size() -> None:
    assert parse_checkpoint(f"o\n0\n{ROOT_B64}\n").size == 0
    assert parse_checkpoint(f"o\n18446744073709551615\n{ROOT_B64}\n").size == 2**64 - 1


def test_checkpoint_values_are_checked_when_built() -> None:
    for origin, size, root in (
        ("", 1, ROOT),
        ("o", -1, ROOT),
        ("o", 1, ROOT[:5]),
        ("a\nb", 1, ROOT),
    ):
        with pytest.raises(CheckpointError):
            Checkpoint(origin, size, root)
    with pytest.raises(CheckpointError):
        Checkpoint("o", True, ROOT)  # type: ignore[arg-type]


def test_rollback_and_fork_are_named() -> None:
    seen = Checkpoint("o", 10, ROOT)
    with pytest.raises(CheckpointError, match="rolled back"):
        check_rollback_and_fork(seen, Checkpoint("o", 9, ROOT))
    with pytest.raises(CheckpointError, match="forked"):
        check_rollback_and_fork(seen, Checkpoint("o", 10, leaf_hash(b"other")))
    with pytest.raises(CheckpointError, match="two logs"):
        check_rollback_and_fork(seen, Checkpoint("p", 10, ROOT))
    check_rollback_and_fork(seen, seen)
    check_rollback_and_fork(seen, Checkpoint("o", 11, leaf_hash(b"grown")))


# Properties

lines = st.text(
    st.characters(blacklist_categories=["Cs"], blacklist_characters="\n", min_codepoint=0x20),
    min_size=1,
    max_size=20,
)


@given(lines, st.integers(0, 2**64 - 1), st.binary(min_size=32, max_size=32), st.lists(lines))
def test_any_checkpoint_round_trips(
    origin: str, size: int, root: bytes, extensions: list[str]
) -> None:
    checkpoint = Checkpoint(origin, size, root, tuple(extensions))
    assert parse_checkpoint(checkpoint.body()) == checkpoint


@given(st.binary(max_size=200))
def test_random_bytes_only_ever_raise_checkpoint_error(data: bytes) -> None:
    with contextlib.suppress(CheckpointError):
        parse_checkpoint(data)


@given(st.data())
def test_mutated_signed_checkpoints_only_ever_raise_ledger_errors(data: st.DataObject) -> None:
    message = bytearray(sign_note(Checkpoint(LOG.name, 12345, ROOT).body(), [LOG]).encode())
    for _ in range(data.draw(st.integers(1, 3))):
        at = data.draw(st.integers(0, len(message) - 1))
        message[at] = data.draw(st.integers(0, 255))
    try:
        checkpoint = open_checkpoint(bytes(message), [LOG.verifier])
    except LedgerError:
        return
    assert checkpoint == Checkpoint(LOG.name, 12345, ROOT)
