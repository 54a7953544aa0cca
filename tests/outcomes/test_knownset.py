"""Tests for outcomes/knownset.py: the keyed-hash known set, its primitive, the protocol end to end.

Vectors: RFC 4231 §4.2 and §4.3 (test cases 1 and 2), HMAC-SHA-256 outputs, for the primitive.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from valueproof.outcomes.definitions import compile_definition, parse_definition
from valueproof.outcomes.errors import KnownSetInvalid, KnownSetUploadInvalid
from valueproof.outcomes.knownset import (
    SECRET_SIZE,
    hasher,
    keyed_hash,
    known_hash,
    known_hashes,
    new_secret,
    normalize,
    parse_known_hashes,
    parse_secret,
    secret_text,
)
from valueproof.outcomes.verification import Claim, verify

# RFC 4231 §4.2 (test case 1) and §4.3 (test case 2): key, data, HMAC-SHA-256.
RFC4231 = [
    (
        bytes([0x0B] * 20),
        b"Hi There",
        "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7",
    ),
    (
        b"Jefe",
        b"what do ya want for nothing?",
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
    ),
]

SECRET = bytes(range(SECRET_SIZE))


@pytest.mark.parametrize(("key", "data", "expected"), RFC4231)
def test_the_primitive_is_hmac_sha256_per_rfc_4231(key: bytes, data: bytes, expected: str) -> None:
    assert keyed_hash(key, data) == expected


def test_known_hash_is_hmac_over_the_normalized_utf8() -> None:
    expected = hmac.new(SECRET, b"ann@example.com", hashlib.sha256).hexdigest()
    assert known_hash(SECRET, "  Ann@EXAMPLE.com ") == expected
    assert len(expected) == 64


def test_normalization_makes_case_and_spacing_the_same_entry() -> None:
    assert known_hash(SECRET, "Ann@Example.com ") == known_hash(SECRET, "ann@example.com")
    assert normalize("  Acme \t Corp\n") == "acme corp"
    assert normalize("Straße") == "strasse"  # casefold, not lower
    assert normalize("\uff21\uff23\uff2d\uff25") == "acme"  # NFKC folds full-width letters
    assert normalize("\ufb01ne") == "fine"  # and ligatures


@given(st.text())
def test_normalize_is_idempotent(value: str) -> None:
    assert normalize(normalize(value)) == normalize(value)


@given(st.text(max_size=40))
def test_the_bound_hasher_is_known_hash(value: str) -> None:
    assert hasher(SECRET)(value) == known_hash(SECRET, value)


def test_secrets_are_fresh_and_round_trip_as_base64() -> None:
    first, second = new_secret(), new_secret()
    assert len(first) == SECRET_SIZE and first != second
    assert parse_secret(secret_text(first)) == first


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("not base64!", "not valid base64"),
        ("AAAA", "is 3 bytes"),
        ("", "is 0 bytes"),
        (base64.b64encode(bytes(15)).decode(), "is 15 bytes; it must be 16 to 1024 bytes"),
    ],
)
def test_parse_secret_refuses(text: str, reason: str) -> None:
    with pytest.raises(KnownSetInvalid, match=reason) as caught:
        parse_secret(text)
    assert caught.value.field == "secret"


def test_a_secret_of_the_wrong_size_is_refused() -> None:
    with pytest.raises(KnownSetInvalid, match="16 to 1024 bytes"):
        known_hash(b"short", "x")
    with pytest.raises(KnownSetInvalid):
        hasher(bytes(15))
    with pytest.raises(KnownSetInvalid):
        hasher(bytes(1025))


@pytest.mark.parametrize("size", [16, 25, 32, 64, 1024])
def test_a_customers_own_secret_of_16_bytes_or_more_hashes_as_hmac_does(size: int) -> None:
    # a customer that already hashed its list with a 25-byte secret keeps it: HMAC takes any key
    secret = bytes((7 * i + 3) % 256 for i in range(size))
    assert parse_secret(base64.b64encode(secret).decode()) == secret
    want = hmac.new(secret, normalize("Ada@Example.com").encode(), hashlib.sha256).hexdigest()
    assert known_hash(secret, "Ada@Example.com") == want


def test_parse_known_hashes_reads_one_per_line() -> None:
    one, two = known_hash(SECRET, "a@x.com"), known_hash(SECRET, "b@x.com")
    lines = [one + "\n", "\n", "  " + two.upper() + "  \n", one]
    assert parse_known_hashes(lines) == {one, two}


@pytest.mark.parametrize("bad", ["abc", "g" * 64, "0" * 63, "0" * 65, "ann@example.com"])
def test_parse_known_hashes_names_the_bad_line(bad: str) -> None:
    good = known_hash(SECRET, "a@x.com")
    with pytest.raises(KnownSetUploadInvalid, match="not a hash") as caught:
        parse_known_hashes([good, "", bad])
    assert caught.value.field == "line 3"


def test_every_bad_line_of_an_upload_is_named_at_once() -> None:
    good = known_hash(SECRET, "a@x.com")
    with pytest.raises(KnownSetUploadInvalid) as caught:
        parse_known_hashes(["abc", good, "", "ann@example.com", good.upper(), "0" * 63])
    assert [field for field, _ in caught.value.problems] == ["line 1", "line 4", "line 6"]
    with pytest.raises(KnownSetUploadInvalid) as listed:
        parse_known_hashes([good, 7, "", "nope"], json_list=True)
    assert [field for field, _ in listed.value.problems] == ["hashes[1]", "hashes[2]", "hashes[3]"]
    with pytest.raises(KnownSetUploadInvalid) as many:
        parse_known_hashes(["x"] * 150)
    assert len(many.value.problems) == 101 and many.value.problems[-1] == (
        "(more)",
        "50 more bad lines",
    )


# --- the protocol end to end -------------------------------------------------------------------

DEFINITION = compile_definition(
    parse_definition(
        {
            "contract": "acme-2026",
            "outcome": "qualified_lead",
            "attributes": {
                "email": {"type": "string", "required": True, "personal": True},
                "employees": {"type": "integer", "required": True},
            },
            "criteria": [{"name": "size", "expression": "claim.employees >= 50"}],
            "dedupe_key": "lower(claim.email)",
            "known_key": "lower(claim.email)",
            "verification_window_days": 30,
            "dispute_window_days": 14,
        }
    )
)
NOW = datetime(2026, 3, 1, tzinfo=UTC)


def lead(number: int, email: str) -> Claim:
    attributes = {"email": email, "employees": 100}
    return Claim(f"c{number}", "acme", "qualified_lead", NOW - timedelta(days=1), attributes, NOW)


def vendor_verdicts(secret: bytes, uploaded: set[str], claims: list[Claim]) -> dict[str, bool]:
    """The verifier's side: it holds the secret and the uploaded hashes, never the list."""
    hash_of = hasher(secret)
    return {
        claim.id: any(
            r.code == "already_known"
            for r in verify(
                DEFINITION,
                claim,
                is_known=uploaded.__contains__,
                earlier=lambda key: None,
                known_hash_of=hash_of,
            ).reasons
        )
        for claim in claims
    }


def test_end_to_end_the_vendor_flags_exactly_the_known_claims() -> None:
    secret = new_secret()
    customer_list = ["Ann@Example.com ", "bob@example.com", "Carol@Corp.io", "dave@corp.io"]
    upload = "\n".join(sorted(known_hashes(secret, customer_list))) + "\n"
    assert "example.com" not in upload.lower()  # only hashes leave the customer
    uploaded = parse_known_hashes(upload.splitlines())
    claims = [
        lead(1, "ann@example.com"),  # known, spelled differently
        lead(2, "erin@example.com"),
        lead(3, "CAROL@corp.io"),  # known
        lead(4, "frank@corp.io"),
    ]
    flagged = vendor_verdicts(secret, uploaded, claims)
    assert flagged == {"c1": True, "c2": False, "c3": True, "c4": False}


def test_end_to_end_another_secret_matches_nothing() -> None:
    customer_secret, other_secret = new_secret(), new_secret()
    uploaded = known_hashes(customer_secret, ["ann@example.com", "carol@corp.io"])
    claims = [lead(1, "ann@example.com"), lead(2, "carol@corp.io")]
    assert vendor_verdicts(other_secret, uploaded, claims) == {"c1": False, "c2": False}
