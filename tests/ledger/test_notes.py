"""Tests for ledger/notes.py: C2SP signed notes, against Go's x/mod/sumdb/note vectors."""

from __future__ import annotations

import base64
import contextlib
import json
import re
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given
from hypothesis import strategies as st

from valueproof.ledger.errors import NoteError
from valueproof.ledger.notes import (
    MAX_SIGNATURES,
    Note,
    NoteSigner,
    Signature,
    VerifierKey,
    format_vkey,
    open_note,
    parse_note,
    parse_vkey,
    sign_note,
)

VECTORS: dict[str, Any] = json.loads(
    (Path(__file__).parent / "vectors" / "signed_note_vectors.json").read_text(encoding="utf-8")
)
TEXT: str = VECTORS["text"]
SIGNED: str = VECTORS["signed"]["message"]
COSIGNED: str = VECTORS["cosigned"]["message"]
PETER = parse_vkey(VECTORS["keys"]["PeterNeumann"]["vkey"])
ENOCH = parse_vkey(VECTORS["keys"]["EnochRoot"]["vkey"])


def signer_from_skey(skey: str) -> NoteSigner:
    """A signer from Go's `PRIVATE+KEY+<name>+<id>+base64(0x01 || seed)` encoding."""
    _, _, name, _, encoded = skey.split("+", 4)
    return NoteSigner(name, Ed25519PrivateKey.from_private_bytes(base64.b64decode(encoded)[1:]))


PETER_SIGNER = signer_from_skey(VECTORS["keys"]["PeterNeumann"]["skey"])


# Published vectors


def test_parse_vkey_reads_the_published_keys() -> None:
    assert PETER.name == "PeterNeumann"
    assert PETER.key_id == 0xC74F20A3
    assert PETER.vkey == VECTORS["keys"]["PeterNeumann"]["vkey"]
    assert ENOCH.key_id == 0xAF0CFE78
    assert format_vkey(ENOCH.name, ENOCH.public_key) == VECTORS["keys"]["EnochRoot"]["vkey"]


def test_signer_key_derives_the_published_verifier_key() -> None:
    assert PETER_SIGNER.verifier == PETER


def test_sign_note_reproduces_the_published_signed_note() -> None:
    # Ed25519 is deterministic: the same key and text give Go's exact bytes.
    assert sign_note(TEXT, [PETER_SIGNER]) == SIGNED


def test_open_note_returns_the_verified_signatures_only() -> None:
    peter_only = open_note(COSIGNED, [PETER])
    assert peter_only.text == TEXT
    assert [(s.name, s.key_id) for s in peter_only.signatures] == [("PeterNeumann", 0xC74F20A3)]
    both = open_note(COSIGNED.encode(), [PETER, ENOCH])
    assert [s.name for s in both.signatures] == ["PeterNeumann", "EnochRoot"]
    assert both.message == COSIGNED


def test_open_note_needs_a_signature_from_a_trusted_key() -> None:
    with pytest.raises(NoteError, match="no signature from a trusted key"):
        open_note(COSIGNED, [])
    with pytest.raises(NoteError, match="no signature from a trusted key"):
        open_note(SIGNED, [ENOCH])


def test_open_note_rejects_an_invalid_signature_from_a_known_key() -> None:
    case = VECTORS["malformed"]["invalid_signature"]
    with pytest.raises(NoteError, match=re.escape(case["error"])):
        open_note(case["message"], [PETER])


@pytest.mark.parametrize("message", VECTORS["malformed"]["messages"])
def test_open_note_rejects_go_malformed_notes(message: str) -> None:
    with pytest.raises(NoteError):
        open_note(message, [PETER])


def test_open_note_rejects_invalid_utf8() -> None:
    with pytest.raises(NoteError, match="UTF-8"):
        open_note(bytes.fromhex(VECTORS["malformed"]["invalid_utf8_hex"]), [PETER])


def test_open_note_bounds_the_signatures() -> None:
    case = VECTORS["malformed"]["too_many_signatures"]
    message = TEXT + "\n" + case["signature"] * case["repeat"]
    assert case["repeat"] == MAX_SIGNATURES + 1
    with pytest.raises(NoteError, match="more than 100 signatures"):
        open_note(message, [PETER])
    # Repeated signatures by one key, within the bound, count once.
    opened = open_note(TEXT + "\n" + case["signature"] * MAX_SIGNATURES, [PETER])
    assert len(opened.signatures) == 1


def test_the_c2sp_example_parses_but_opens_only_with_its_key() -> None:
    example = VECTORS["c2sp_example"]
    note = parse_note(example["message"])
    assert note.text == example["text"]
    assert [s.name for s in note.signatures] == [example["key_name"]]
    assert note.message == example["message"]
    with pytest.raises(NoteError, match="no signature from a trusted key"):
        open_note(example["message"], [PETER])


@pytest.mark.parametrize("case", VECTORS["bad_vkeys"]["cases"], ids=lambda case: case["why"])
def test_parse_vkey_rejects_go_bad_keys(case: dict[str, str]) -> None:
    with pytest.raises(NoteError):
        parse_vkey(case["vkey"])


def test_parse_vkey_rejects_every_substring_and_every_byte_change() -> None:
    # As Go's TestNewVerifier: any proper substring, and any one character changed.
    vkey = VECTORS["keys"]["PeterNeumann"]["vkey"]
    for start in range(len(vkey) + 1):
        for end in range(start + 1, len(vkey) + 1):
            if (start, end) != (0, len(vkey)):
                with pytest.raises(NoteError):
                    parse_vkey(vkey[start:end])
    for at in range(len(vkey)):
        changed = vkey[:at] + chr(ord(vkey[at]) + 1) + vkey[at + 1 :]
        with pytest.raises(NoteError):
            parse_vkey(changed)


# Our rules


def test_unknown_keys_sharing_a_name_or_an_id_are_ignored() -> None:
    other = NoteSigner("PeterNeumann", Ed25519PrivateKey.generate())
    message = sign_note(TEXT, [other, PETER_SIGNER])
    opened = open_note(message, [PETER])
    assert [s.key_id for s in opened.signatures] == [PETER.key_id]
    # A forged line with Peter's id under another name is someone else's key: ignored too.
    forged = SIGNED.replace("PeterNeumann", "PeterNeumann2")
    with pytest.raises(NoteError, match="no signature from a trusted key"):
        open_note(forged, [PETER])


def test_a_bad_signature_from_a_known_key_rejects_even_a_verified_note() -> None:
    bad = Signature(PETER.name, PETER.key_id, bytes(64)).line
    with pytest.raises(NoteError, match="invalid signature for key PeterNeumann"):
        open_note(SIGNED + bad, [PETER])


def test_co_signing_with_an_old_and_a_new_key() -> None:
    old = NoteSigner("example.com/log", Ed25519PrivateKey.generate())
    new = NoteSigner("example.com/log", Ed25519PrivateKey.generate())
    message = sign_note(TEXT, [old, new])
    for trusted in ([old.verifier], [new.verifier], [old.verifier, new.verifier]):
        assert open_note(message, trusted).text == TEXT
    assert len(open_note(message, [old.verifier, new.verifier]).signatures) == 2


def test_sign_note_checks_the_text_and_the_signers() -> None:
    with pytest.raises(NoteError, match="end with a newline"):
        sign_note("abc", [PETER_SIGNER])
    with pytest.raises(NoteError, match="control character"):
        sign_note("a\tb\n", [PETER_SIGNER])
    with pytest.raises(NoteError, match="at least one signer"):
        sign_note(TEXT, [])
    with pytest.raises(NoteError, match="listed twice"):
        sign_note(TEXT, [PETER_SIGNER, PETER_SIGNER])
    with pytest.raises(NoteError, match="lone surrogate"):
        sign_note("\ud800\n", [PETER_SIGNER])


@pytest.mark.parametrize("name", ["", "a b", "a+b", "a\u00a0b", "tab\there", "x\u2003y"])
def test_key_names_refuse_spaces_and_plus(name: str) -> None:
    with pytest.raises(NoteError):
        VerifierKey(name, PETER.public_key)
    with pytest.raises(NoteError):
        NoteSigner(name, Ed25519PrivateKey.generate())


def test_open_note_refuses_an_ambiguous_trust_list() -> None:
    impostor = object.__new__(VerifierKey)
    for attribute, value in (("name", PETER.name), ("public_key", bytes(32))):
        object.__setattr__(impostor, attribute, value)
    object.__setattr__(impostor, "key_id", PETER.key_id)  # a 32-bit collision, made by hand
    with pytest.raises(NoteError, match="ambiguous trusted key"):
        open_note(SIGNED, [PETER, impostor])
    assert open_note(SIGNED, [PETER, PETER]).text == TEXT  # the same key twice is fine


def test_text_may_hold_blank_lines_and_the_last_one_separates() -> None:
    text = "first\n\nsecond\n\n"
    opened = open_note(sign_note(text, [PETER_SIGNER]), [PETER])
    assert opened.text == text


def test_non_canonical_base64_is_refused() -> None:
    # "…AM=" and "…AN=" decode to the same bytes; only the canonical spelling is a note.
    assert SIGNED.endswith("AM=\n")
    with pytest.raises(NoteError, match="canonical"):
        parse_note(SIGNED[: -len("M=\n")] + "N=\n")


def test_parse_note_accepts_bytes_and_text_alike() -> None:
    assert parse_note(SIGNED) == parse_note(SIGNED.encode())
    assert isinstance(parse_note(SIGNED), Note)


# Properties


def test_every_single_bit_flip_of_a_signed_note_fails_to_open() -> None:
    message = SIGNED.encode()
    for bit in range(len(message) * 8):
        mutated = bytearray(message)
        mutated[bit // 8] ^= 1 << (bit % 8)
        with pytest.raises(NoteError):
            open_note(bytes(mutated), [PETER])


@given(st.binary(max_size=400))
def test_random_bytes_only_ever_raise_note_error(data: bytes) -> None:
    with contextlib.suppress(NoteError):
        open_note(data, [PETER, ENOCH])


@given(st.text(max_size=200))
def test_random_text_only_ever_raises_note_error(data: str) -> None:
    for attempt in (data, data + "\n\n\u2014 PeterNeumann " + data + "\n"):
        with contextlib.suppress(NoteError):
            open_note(attempt, [PETER])
        with contextlib.suppress(NoteError):
            parse_vkey(attempt)


@st.composite
def mutations(draw: st.DrawFn) -> bytes:
    """A signed note with a few bytes replaced, inserted or deleted."""
    message = bytearray(COSIGNED.encode())
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(message) - 1))
        kind = draw(st.sampled_from(["replace", "insert", "delete"]))
        if kind == "replace":
            message[at] = draw(st.integers(0, 255))
        elif kind == "insert":
            message.insert(at, draw(st.integers(0, 255)))
        else:
            del message[at]
    return bytes(message)


@given(mutations())
def test_a_mutated_note_either_fails_or_still_says_exactly_what_was_signed(data: bytes) -> None:
    try:
        opened = open_note(data, [PETER, ENOCH])
    except NoteError:
        return
    # Only the signature lines can change without breaking a signature: dropping one of them.
    assert opened.text == TEXT
    assert opened.signatures


@given(st.text(min_size=0, max_size=100).map(lambda text: text + "\n"))
def test_whatever_we_sign_opens_to_the_same_text(text: str) -> None:
    try:
        message = sign_note(text, [PETER_SIGNER])
    except NoteError:
        return  # control characters or lone surrogates: not a note text
    assert open_note(message, [PETER]).text == text
