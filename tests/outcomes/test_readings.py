"""Tests for outcomes/readings.py: the signed reading protocol, its vector, and what it refuses.

Vectors: RFC 8032 §7.1 (TEST 1-3) for the Ed25519 primitive itself, and `reading_v1.json`, our own
example submission for other implementations of the protocol to check their signer against.
"""

from __future__ import annotations

import base64
import copy
import json
import operator
import string
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from hypothesis import assume, given
from hypothesis import strategies as st

from valueproof.errors import InvalidInput
from valueproof.ledger.canonical import canonical_json
from valueproof.outcomes.errors import ReadingRefused
from valueproof.outcomes.readings import (
    DOMAIN,
    FIELDS,
    Reading,
    check_fresh,
    duration_text,
    new_nonce,
    parse_public_key,
    parse_submission,
    public_key_text,
    reading_record,
    sign_reading,
    submission,
    verify_signature,
)

VECTORS = Path(__file__).parent / "vectors"
RFC8032 = json.loads((VECTORS / "rfc8032_ed25519.json").read_text("utf-8"))
READING_V1 = json.loads((VECTORS / "reading_v1.json").read_text("utf-8"))

KEY = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(READING_V1["private_key_seed_hex"]))
PUBLIC = KEY.public_key()
OTHER_KEY = Ed25519PrivateKey.from_private_bytes(bytes(32))
NOW = datetime(2026, 11, 23, 10, tzinfo=UTC)
DAY = timedelta(days=1)
MISSING = object()  # a field to leave out of a submission


def example(**changes: Any) -> Reading:
    """The first reading of the vector file, with some fields changed."""
    reading = Reading("acme-bi", "net_revenue_retention", Decimal("108.50"), NOW, "nonce-0001")
    return replace(reading, **changes)


LETTERS = string.ascii_letters
keys = st.builds(
    operator.add, st.sampled_from(LETTERS), st.text(LETTERS + string.digits + "_.:-", max_size=30)
)
values = st.builds(
    lambda sign, whole, fraction: Decimal(f"{sign}{whole}{'.' if fraction else ''}{fraction}"),
    st.sampled_from(["", "-"]),
    st.integers(0, 10**15),
    st.text(string.digits, max_size=12),
)
instants = st.datetimes(
    min_value=datetime(1970, 1, 1), max_value=datetime(2200, 1, 1), timezones=st.just(UTC)
)
nonces = st.text(LETTERS + string.digits + "_-", min_size=8, max_size=64)
readings = st.builds(Reading, keys, keys, values, instants, nonces)


# Published vectors: the primitive is standard Ed25519


def test_vector_files_name_their_source() -> None:
    assert RFC8032["source"]["url"].startswith("https://www.rfc-editor.org/rfc/rfc8032")
    assert "How this was made" in READING_V1["note"]


@pytest.mark.parametrize("case", RFC8032["cases"], ids=lambda case: case["name"])
def test_rfc8032_ed25519_vectors(case: dict[str, str]) -> None:
    private_key = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(case["secret_key"]))
    public_key = private_key.public_key()
    message, signature = bytes.fromhex(case["message"]), bytes.fromhex(case["signature"])
    assert public_key.public_bytes(Encoding.Raw, PublicFormat.Raw).hex() == case["public_key"]
    assert private_key.sign(message) == signature
    public_key.verify(signature, message)
    with pytest.raises(InvalidSignature):
        public_key.verify(signature, message + b"\x00")


# Our vector: what another implementation must reproduce byte for byte


def test_vector_key() -> None:
    assert public_key_text(PUBLIC) == READING_V1["public_key"]
    assert READING_V1["domain_prefix"].encode() == DOMAIN == b"valueproof-oracle-reading/v1\n"


@pytest.mark.parametrize("case", READING_V1["cases"], ids=lambda case: case["reading"]["metric"])
def test_reading_v1_vector(case: dict[str, Any]) -> None:
    reading, signature = parse_submission(case["submission"])
    assert reading.payload() == case["reading"]
    assert canonical_json(reading.payload()).decode() == case["canonical_json"]
    assert reading.signed_bytes().hex() == case["signed_bytes_hex"]
    assert signature.hex() == case["signature_hex"]
    assert sign_reading(KEY, reading).hex() == case["signature_hex"]
    assert submission(reading, signature) == case["submission"]
    verify_signature(parse_public_key(READING_V1["public_key"]), reading, signature)


def test_the_first_vector_is_the_example_reading() -> None:
    first = READING_V1["cases"][0]
    reading, _ = parse_submission(first["submission"])
    assert reading == example(nonce=first["reading"]["nonce"])
    assert reading.value == Decimal("108.50")
    assert str(reading.value) == "108.50"


# Signing, verifying, tampering


@given(readings)
def test_round_trip(reading: Reading) -> None:
    signature = sign_reading(KEY, reading)
    sent = json.loads(json.dumps(submission(reading, signature)))
    parsed, received = parse_submission(sent)
    assert (parsed, received) == (reading, signature)
    assert parsed.payload() == reading.payload()
    verify_signature(PUBLIC, parsed, received)


def test_every_bit_flip_of_the_signature_fails() -> None:
    reading = example()
    signature = sign_reading(KEY, reading)
    verify_signature(PUBLIC, reading, signature)
    for bit in range(len(signature) * 8):
        flipped = bytearray(signature)
        flipped[bit // 8] ^= 1 << (bit % 8)
        with pytest.raises(ReadingRefused) as refused:
            verify_signature(PUBLIC, reading, bytes(flipped))
        assert refused.value.field == "signature"


@given(readings, st.integers(0, 511))
def test_a_flipped_bit_fails_for_any_reading(reading: Reading, bit: int) -> None:
    flipped = bytearray(sign_reading(KEY, reading))
    flipped[bit // 8] ^= 1 << (bit % 8)
    with pytest.raises(ReadingRefused, match="does not verify"):
        verify_signature(PUBLIC, reading, bytes(flipped))


def _changes(reading: Reading, field: str) -> st.SearchStrategy[Any]:
    if field in ("source", "metric"):
        return keys
    if field == "nonce":
        return nonces
    if field == "as_of":
        step = st.integers(-(10**12), 10**12).filter(bool)
        return step.map(lambda micros: reading.as_of + timedelta(microseconds=micros))
    text = reading.payload()["value"]
    # The same number with one more trailing zero is a different signed reading.
    padded = Decimal(text + ("0" if "." in text else ".0"))
    return st.one_of(st.just(padded), values)


@given(readings, st.data())
def test_any_change_to_any_field_fails(reading: Reading, data: st.DataObject) -> None:
    signature = sign_reading(KEY, reading)
    field = data.draw(st.sampled_from(FIELDS))
    changed = replace(reading, **{field: data.draw(_changes(reading, field))})
    assume(changed.payload()[field] != reading.payload()[field])
    with pytest.raises(ReadingRefused) as refused:
        verify_signature(PUBLIC, changed, signature)
    assert refused.value.field == "signature"


def test_trailing_zeros_are_signed() -> None:
    signature = sign_reading(KEY, example(value=Decimal("108.50")))
    verify_signature(PUBLIC, example(value=Decimal("108.50")), signature)
    with pytest.raises(ReadingRefused):
        verify_signature(PUBLIC, example(value=Decimal("108.5")), signature)


def test_another_key_does_not_verify() -> None:
    reading = example()
    with pytest.raises(ReadingRefused, match="does not verify with the source's key"):
        verify_signature(OTHER_KEY.public_key(), reading, sign_reading(KEY, reading))


def test_the_signature_covers_the_domain_prefix() -> None:
    reading = example()
    bare = KEY.sign(canonical_json(reading.payload()))  # the payload signed without the prefix
    with pytest.raises(ReadingRefused):
        verify_signature(PUBLIC, reading, bare)
    assert reading.signed_bytes() == DOMAIN + canonical_json(reading.payload())


def test_a_short_signature_does_not_verify() -> None:
    reading = example()
    with pytest.raises(ReadingRefused, match="does not verify"):
        verify_signature(PUBLIC, reading, sign_reading(KEY, reading)[:63])


def test_reading_record_can_be_reverified() -> None:
    reading = example()
    signature = sign_reading(KEY, reading)
    record = reading_record(reading, signature)
    assert record == {**reading.payload(), "signature": base64.b64encode(signature).decode()}
    rebuilt = {"reading": {name: record[name] for name in FIELDS}, "signature": record["signature"]}
    again, again_signature = parse_submission(rebuilt)
    verify_signature(PUBLIC, again, again_signature)


# Malformed submissions, each refused naming its field


def _patched(reading: dict[str, Any], top: dict[str, Any]) -> dict[str, Any]:
    item: dict[str, Any] = copy.deepcopy(READING_V1["cases"][0]["submission"])
    for target, patch in ((item["reading"], reading), (item, top)):
        for name, value in patch.items():
            if value is MISSING:
                del target[name]
            else:
                target[name] = value
    return item


def _canonical_signature() -> str:
    # The vector's signature: its base64 holds both "+" and "/".
    return str(READING_V1["cases"][0]["submission"]["signature"])


def _non_canonical_signature() -> str:
    text = _canonical_signature()
    # 64 bytes leave 4 unused bits in the last character before "==": set one of them.
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    last = alphabet[alphabet.index(text[-3]) | 1]
    return text[:-3] + last + "=="


MALFORMED = [
    ({}, {"reading": MISSING}, "reading", "missing reading"),
    ({}, {"signature": MISSING}, "signature", "missing signature"),
    ({}, {"note": "hi"}, "note", "extra top-level field"),
    ({}, {"reading": ["acme-bi"]}, "reading", "reading not an object"),
    ({"unit": "%"}, {}, "reading.unit", "extra reading field"),
    ({"nonce": MISSING}, {}, "reading.nonce", "missing nonce"),
    ({"source": MISSING}, {}, "reading.source", "missing source"),
    ({"value": 108.5}, {}, "reading.value", "value as a JSON float"),
    ({"value": 108}, {}, "reading.value", "value as a JSON integer"),
    ({"value": None}, {}, "reading.value", "value null"),
    ({"value": "1e3"}, {}, "reading.value", "value 1e3"),
    ({"value": "NaN"}, {}, "reading.value", "value NaN"),
    ({"value": "Infinity"}, {}, "reading.value", "value Infinity"),
    ({"value": ""}, {}, "reading.value", "value empty"),
    ({"value": "1."}, {}, "reading.value", "value 1."),
    ({"value": ".5"}, {}, "reading.value", "value .5"),
    ({"value": "+1"}, {}, "reading.value", "value +1"),
    ({"value": "1,5"}, {}, "reading.value", "value 1,5"),
    ({"value": " 1"}, {}, "reading.value", "value with a space"),
    ({"value": "1\n"}, {}, "reading.value", "value with a newline"),
    ({"value": "٣"}, {}, "reading.value", "value in Arabic-Indic digits"),
    ({"value": "007"}, {}, "reading.value", "value with leading zeros"),
    ({"value": "1" * 31}, {}, "reading.value", "value of 31 digits"),
    ({"value": "0." + "1" * 30}, {}, "reading.value", "value of 31 digits with a point"),
    ({"as_of": "2026-11-23T10:00:00"}, {}, "reading.as_of", "as_of without Z or offset"),
    ({"as_of": "2026-11-23T12:00:00+02:00"}, {}, "reading.as_of", "as_of with an offset"),
    ({"as_of": "2026-11-23T10:00:00+00:00"}, {}, "reading.as_of", "as_of +00:00, not Z"),
    ({"as_of": "2026-11-23T10:00:00.5Z"}, {}, "reading.as_of", "as_of one fractional digit"),
    ({"as_of": "2026-11-23T10:00:00.000000Z"}, {}, "reading.as_of", "as_of zero fraction"),
    ({"as_of": "2026-11-23T10:00:00.1234567Z"}, {}, "reading.as_of", "as_of seven digits"),
    ({"as_of": "2026-11-23t10:00:00z"}, {}, "reading.as_of", "as_of lowercase"),
    ({"as_of": "2026-11-23 10:00:00Z"}, {}, "reading.as_of", "as_of with a space"),
    ({"as_of": "2026-11-23"}, {}, "reading.as_of", "as_of a date"),
    ({"as_of": "2026-02-30T00:00:00Z"}, {}, "reading.as_of", "as_of no such day"),
    ({"as_of": "9999-12-31T23:00:00-02:00"}, {}, "reading.as_of", "as_of past year 9999"),
    ({"as_of": 1795000000}, {}, "reading.as_of", "as_of a number"),
    ({"nonce": "short"}, {}, "reading.nonce", "nonce too short"),
    ({"nonce": "n" * 129}, {}, "reading.nonce", "nonce too long"),
    ({"nonce": "has space"}, {}, "reading.nonce", "nonce with a space"),
    ({"nonce": "slash/nonce"}, {}, "reading.nonce", "nonce with a slash"),
    ({"nonce": 12345678}, {}, "reading.nonce", "nonce a number"),
    ({"source": "1acme"}, {}, "reading.source", "source starting with a digit"),
    ({"source": ""}, {}, "reading.source", "source empty"),
    ({"source": 5}, {}, "reading.source", "source a number"),
    ({"metric": "net retention"}, {}, "reading.metric", "metric with a space"),
    ({"metric": "nrr\n"}, {}, "reading.metric", "metric with a newline"),
    ({"metric": "m" * 201}, {}, "reading.metric", "metric too long"),
    ({}, {"signature": None}, "signature", "signature null"),
    ({}, {"signature": "not base64!"}, "signature", "signature bad base64"),
    ({}, {"signature": base64.b64encode(bytes(63)).decode()}, "signature", "63-byte signature"),
    ({}, {"signature": base64.b64encode(bytes(65)).decode()}, "signature", "65-byte signature"),
    ({}, {"signature": ""}, "signature", "signature empty"),
    ({}, {"signature": "A" * 10_000}, "signature", "signature very long"),
]


@pytest.mark.parametrize(
    ("reading", "top", "field"),
    [pytest.param(reading, top, field, id=name) for reading, top, field, name in MALFORMED],
)
def test_malformed_submissions_are_refused(
    reading: dict[str, Any], top: dict[str, Any], field: str
) -> None:
    with pytest.raises(ReadingRefused) as refused:
        parse_submission(_patched(reading, top))
    assert refused.value.field == field
    assert refused.value.reason
    assert refused.value.status == 422


@pytest.mark.parametrize(
    ("signature", "reason"),
    [
        (_non_canonical_signature, "not canonical"),
        (lambda: _canonical_signature().rstrip("="), "not valid base64"),
        (lambda: _canonical_signature().replace("+", "-").replace("/", "_"), "base64"),
    ],
    ids=["non-canonical bits", "no padding", "base64url alphabet"],
)
def test_only_the_one_spelling_of_a_signature(signature: Any, reason: str) -> None:
    with pytest.raises(ReadingRefused, match=reason) as refused:
        parse_submission(_patched({}, {"signature": signature()}))
    assert refused.value.field == "signature"


@pytest.mark.parametrize("item", [None, [], "reading", 5], ids=repr)
def test_a_submission_is_an_object(item: Any) -> None:
    with pytest.raises(ReadingRefused) as refused:
        parse_submission(item)
    assert refused.value.field == "submission"


def test_a_json_number_value_is_refused_with_the_reason() -> None:
    with pytest.raises(ReadingRefused, match="not a JSON number"):
        parse_submission(_patched({"value": 108.5}, {}))


def test_leading_zeros_name_the_signed_form() -> None:
    with pytest.raises(ReadingRefused, match=r"write '7\.50'"):
        parse_submission(_patched({"value": "007.50"}, {}))


def test_as_of_names_the_signed_form() -> None:
    with pytest.raises(ReadingRefused, match="'2026-11-23T10:00:00Z'"):
        parse_submission(_patched({"as_of": "2026-11-23T12:00:00+02:00"}, {}))


@pytest.mark.parametrize(
    "text", ["0", "-0", "0.000", "-0.5", "108.50", "1" * 30, "0." + "0" * 29, "-" + "9" * 30]
)
def test_well_formed_values_keep_their_text(text: str) -> None:
    reading, _ = parse_submission(_patched({"value": text}, {}))
    assert reading.payload()["value"] == text


# The Reading value type


def test_a_naive_as_of_is_refused() -> None:
    with pytest.raises(ReadingRefused) as refused:
        example(as_of=datetime(2026, 11, 23, 10))
    assert refused.value.field == "reading.as_of"


def test_as_of_is_held_in_utc() -> None:
    paris = timezone(timedelta(hours=1))
    reading = example(as_of=datetime(2026, 11, 23, 11, tzinfo=paris))
    assert reading.as_of.tzinfo is UTC
    assert reading.payload()["as_of"] == "2026-11-23T10:00:00Z"
    assert reading == example()


@pytest.mark.parametrize(
    ("value", "text"),
    [(Decimal("1E+3"), "1000"), (Decimal("0E+100"), "0"), (Decimal("1.5E-3"), "0.0015")],
)
def test_value_is_held_as_its_signed_text(value: Decimal, text: str) -> None:
    reading = example(value=value)
    assert reading.payload()["value"] == text
    assert str(reading.value) == text


@pytest.mark.parametrize(
    "value",
    [
        Decimal("NaN"),
        Decimal("Infinity"),
        Decimal("1E+31"),
        Decimal("1E-31"),
        Decimal("1E+999999999"),
        Decimal("0E-999999999"),
        108.5,
        108,
        "108.5",
    ],
    ids=repr,
)
def test_values_without_a_signed_text_are_refused(value: Any) -> None:
    with pytest.raises(ReadingRefused) as refused:
        example(value=value)
    assert refused.value.field == "reading.value"


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"source": "acme bi"}, "reading.source"),
        ({"metric": ""}, "reading.metric"),
        ({"nonce": "abc"}, "reading.nonce"),
        ({"as_of": "2026-11-23T10:00:00Z"}, "reading.as_of"),
    ],
)
def test_a_reading_checks_its_fields(changes: dict[str, Any], field: str) -> None:
    with pytest.raises(ReadingRefused) as refused:
        example(**changes)
    assert refused.value.field == field


def test_reading_refused_is_invalid_input() -> None:
    refused = ReadingRefused("reading.value", "is bad")
    assert isinstance(refused, InvalidInput)
    assert (refused.status, refused.field, refused.reason) == (422, "reading.value", "is bad")


# Freshness


def test_a_current_reading_is_fresh() -> None:
    check_fresh(example(as_of=NOW - timedelta(hours=1)), NOW, DAY)


def test_freshness_edges_are_inclusive() -> None:
    check_fresh(example(as_of=NOW + timedelta(minutes=5)), NOW, DAY)
    check_fresh(example(as_of=NOW - DAY), NOW, DAY)
    check_fresh(example(as_of=NOW + timedelta(seconds=30)), NOW, DAY, skew=timedelta(seconds=30))


def test_a_reading_beyond_the_skew_is_in_the_future() -> None:
    just_past = NOW + timedelta(minutes=5, microseconds=1)
    with pytest.raises(ReadingRefused, match="in the future") as refused:
        check_fresh(example(as_of=just_past), NOW, DAY)
    assert refused.value.field == "reading.as_of"
    with pytest.raises(ReadingRefused, match="in the future"):
        check_fresh(example(as_of=NOW + timedelta(seconds=1)), NOW, DAY, skew=timedelta(0))


def test_a_reading_older_than_max_age_is_stale() -> None:
    with pytest.raises(ReadingRefused, match="stale: ") as refused:
        check_fresh(example(as_of=NOW - DAY - timedelta(microseconds=1)), NOW, DAY)
    assert refused.value.field == "reading.as_of"
    assert "is more than 1 day before" in refused.value.reason  # not "1 day, 0:00:00"
    assert "day, 0:00:00" not in refused.value.reason


@pytest.mark.parametrize(
    ("span", "text"),
    [
        (timedelta(days=1), "1 day"),
        (timedelta(hours=36), "36 hours"),
        (timedelta(minutes=90), "90 minutes"),
        (timedelta(seconds=61), "61 seconds"),
        (timedelta(seconds=1), "1 second"),
        (timedelta(days=2), "2 days"),
    ],
)
def test_durations_read_in_their_largest_whole_unit(span: timedelta, text: str) -> None:
    assert duration_text(span) == text


# Keys and nonces


def test_public_key_text_round_trips() -> None:
    text = public_key_text(PUBLIC)
    assert len(base64.b64decode(text)) == 32
    assert public_key_text(parse_public_key(text)) == text


@pytest.mark.parametrize(
    "text",
    [
        "not base64!",
        base64.b64encode(bytes(31)).decode(),
        base64.b64encode(bytes(33)).decode(),
        base64.b64encode(bytes(32)).decode().rstrip("="),
        "",
        None,
        "A" * 10_000,
    ],
    ids=["bad base64", "31 bytes", "33 bytes", "unpadded", "empty", "null", "very long"],
)
def test_bad_public_keys_name_the_field(text: Any) -> None:
    with pytest.raises(InvalidInput) as refused:
        parse_public_key(text, field="sources[0].public_key")
    assert refused.value.field == "sources[0].public_key"


def test_new_nonces_are_fresh_and_valid() -> None:
    made = {new_nonce() for _ in range(100)}
    assert len(made) == 100
    for nonce in made:
        assert len(nonce) == 22
        assert example(nonce=nonce).nonce == nonce


@given(readings, st.sampled_from(FIELDS))
def test_a_submission_has_exactly_the_five_fields(reading: Reading, field: str) -> None:
    item = submission(reading, sign_reading(KEY, reading))
    assert sorted(item["reading"]) == sorted(FIELDS)
    del item["reading"][field]
    with pytest.raises(ReadingRefused) as refused:
        parse_submission(item)
    assert refused.value.field == f"reading.{field}"
