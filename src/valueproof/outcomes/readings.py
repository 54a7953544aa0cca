"""Signed oracle readings: the format a data source signs, and the checks a reading must pass.

Protocol, version 1. A data source (an "oracle": the customer's BI system reporting its net
revenue retention, say) holds an Ed25519 private key (RFC 8032); the vendor registers its public
key, the raw 32 bytes in standard base64. The source submits each reading as

    {"reading": {"source": "acme-bi", "metric": "nrr", "value": "108.50",
                 "as_of": "2026-11-23T10:00:00Z", "nonce": "q2Lw0yJd7dVZ0x1hQvXg4A"},
     "signature": "<standard base64 of the 64-byte Ed25519 signature>"}

and signs the bytes `b"valueproof-oracle-reading/v1\\n"` followed by the RFC 8785 canonical JSON
of exactly those five fields. The prefix separates domains: a signature over a reading cannot be
replayed as a signature over anything else. Every field is a JSON string in the one spelling this
module writes, so a receiver rebuilds the signed bytes from the parsed reading, and one reading
has one encoding:

- `source`, `metric`: keys, `^[A-Za-z][A-Za-z0-9_.:-]{0,199}$`.
- `value`: decimal text, `-?(0|[1-9][0-9]*)(\\.[0-9]+)?`, at most 30 digits; never a JSON number,
  whose text a float makes ambiguous. Trailing zeros are signed: "108.50" is not "108.5".
- `as_of`: when the value held, RFC 3339 in UTC with `Z`: `2026-11-23T10:00:00Z`, or with
  exactly six fractional digits (`10:00:00.250000Z`) when the microseconds are not zero.
- `nonce`: 8 to 128 characters of `[A-Za-z0-9_-]`, new for each reading, so the same value
  reported twice is two readings and a replayed submission is recognised by its nonce.

A receiver accepts a reading only if the signature verifies with its source's registered key and
`as_of` is current: no later than now plus a clock skew, no earlier than now minus a maximum age.
The ledger keeps the five fields and the signature, so a customer can re-verify every reading.
A worked example, signature included, for checking another implementation against:
tests/outcomes/vectors/reading_v1.json.
"""

from __future__ import annotations

import base64
import binascii
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from valueproof.errors import InvalidInput
from valueproof.ledger.canonical import canonical_json
from valueproof.metering.definitions import KEY_PATTERN
from valueproof.outcomes.errors import ReadingRefused
from valueproof.periods import format_rfc3339, parse_rfc3339

__all__ = [
    "DOMAIN",
    "FIELDS",
    "MAX_VALUE_DIGITS",
    "Reading",
    "check_fresh",
    "duration_text",
    "new_nonce",
    "parse_public_key",
    "parse_submission",
    "public_key_text",
    "reading_record",
    "sign_reading",
    "submission",
    "verify_signature",
]

DOMAIN = b"valueproof-oracle-reading/v1\n"
FIELDS = ("source", "metric", "value", "as_of", "nonce")
MAX_VALUE_DIGITS = 30

_SIGNATURE_SIZE = 64
_PUBLIC_KEY_SIZE = 32
_MAX_BASE64 = 256  # characters: far more than a key or a signature needs, and a bound on work
_KEY = re.compile(KEY_PATTERN)
_VALUE = re.compile(r"-?[0-9]+(\.[0-9]+)?")
_NONCE = re.compile(r"[A-Za-z0-9_-]{8,128}")


@dataclass(frozen=True, slots=True)
class Reading:
    """One value of a metric as a source reports it; checked on construction, `as_of` in UTC."""

    source: str
    metric: str
    value: Decimal
    as_of: datetime
    nonce: str

    def __post_init__(self) -> None:
        _check_key(self.source, "reading.source")
        _check_key(self.metric, "reading.metric")
        # Held as its signed text reads back, so value and payload never disagree (1E+3 -> 1000).
        object.__setattr__(self, "value", Decimal(_value_text(self.value)))
        object.__setattr__(self, "as_of", _utc(self.as_of))
        _check_nonce(self.nonce)

    def payload(self) -> dict[str, str]:
        """The five fields as the source signs them."""
        return {
            "source": self.source,
            "metric": self.metric,
            "value": format(self.value, "f"),
            "as_of": format_rfc3339(self.as_of),
            "nonce": self.nonce,
        }

    def signed_bytes(self) -> bytes:
        """The bytes the signature covers: the domain prefix, then the canonical JSON payload."""
        return DOMAIN + canonical_json(self.payload())


def parse_submission(item: Any) -> tuple[Reading, bytes]:
    """A submitted `{"reading": {...}, "signature": "<base64>"}` as a reading and its raw 64-byte
    signature, nothing verified yet; ReadingRefused naming the field for anything malformed."""
    fields = _object(item, "submission", "", ("reading", "signature"))
    raw = _object(fields["reading"], "reading", "reading.", FIELDS)
    text = {name: _string(raw[name], f"reading.{name}") for name in FIELDS}
    reading = Reading(
        source=text["source"],
        metric=text["metric"],
        value=_parse_value(text["value"]),
        as_of=_parse_as_of(text["as_of"]),
        nonce=text["nonce"],
    )
    signature = _decode_base64(fields["signature"], "signature", _SIGNATURE_SIZE, ReadingRefused)
    return reading, signature


def sign_reading(private_key: Ed25519PrivateKey, reading: Reading) -> bytes:
    """The source's 64-byte Ed25519 signature of a reading."""
    return private_key.sign(reading.signed_bytes())


def submission(reading: Reading, signature: bytes) -> dict[str, Any]:
    """The JSON item a source sends for a signed reading."""
    return {"reading": reading.payload(), "signature": base64.b64encode(signature).decode()}


def reading_record(reading: Reading, signature: bytes) -> dict[str, Any]:
    """The ledger record of a reading: its five signed fields and the signature, in base64."""
    return {**reading.payload(), "signature": base64.b64encode(signature).decode()}


def verify_signature(public_key: Ed25519PublicKey, reading: Reading, signature: bytes) -> None:
    """ReadingRefused unless `signature` is the key's signature of exactly this reading."""
    try:
        if len(signature) != _SIGNATURE_SIZE:
            raise InvalidSignature
        public_key.verify(signature, reading.signed_bytes())
    except InvalidSignature:
        raise ReadingRefused("signature", "does not verify with the source's key") from None


def check_fresh(
    reading: Reading, now: datetime, max_age: timedelta, skew: timedelta = timedelta(minutes=5)
) -> None:
    """ReadingRefused unless now - max_age <= as_of <= now + skew (both ends allowed)."""
    if reading.as_of > now + skew:
        raise ReadingRefused(
            "reading.as_of",
            f"is in the future: {format_rfc3339(reading.as_of)} is more than"
            f" {duration_text(skew)} after {format_rfc3339(now)}",
        )
    if reading.as_of < now - max_age:
        raise ReadingRefused(
            "reading.as_of",
            f"is stale: {format_rfc3339(reading.as_of)} is more than {duration_text(max_age)}"
            f" before {format_rfc3339(now)}",
        )


def duration_text(span: timedelta) -> str:
    """A span in the largest whole unit it is ("1 day", "36 hours", "90 seconds"), not
    Python's "1 day, 0:00:00"."""
    seconds = int(span.total_seconds())
    for unit, size in (("day", 86_400), ("hour", 3_600), ("minute", 60)):
        if seconds and seconds % size == 0:
            count = seconds // size
            return f"{count} {unit}{'' if count == 1 else 's'}"
    return f"{seconds} second{'' if seconds == 1 else 's'}"


def public_key_text(key: Ed25519PublicKey) -> str:
    """A public key as the vendor registers it: the raw 32 bytes in standard base64."""
    return base64.b64encode(key.public_bytes(Encoding.Raw, PublicFormat.Raw)).decode()


def parse_public_key(text: str, field: str = "public_key") -> Ed25519PublicKey:
    """The Ed25519 key `public_key_text` wrote; InvalidInput naming `field` otherwise."""
    raw = _decode_base64(text, field, _PUBLIC_KEY_SIZE, InvalidInput)
    try:
        return Ed25519PublicKey.from_public_bytes(raw)
    except ValueError:
        raise InvalidInput(field, "is not an Ed25519 public key") from None


def new_nonce() -> str:
    """A fresh nonce: 16 random bytes as 22 characters of unpadded base64url."""
    return base64.urlsafe_b64encode(secrets.token_bytes(16)).rstrip(b"=").decode()


def _object(value: Any, field: str, prefix: str, names: tuple[str, ...]) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ReadingRefused(field, f"must be a JSON object, not {_json_kind(value)}")
    for name in names:
        if name not in value:
            raise ReadingRefused(prefix + name, "is missing")
    extra = sorted(str(name) for name in value if name not in names)
    if extra:
        raise ReadingRefused(
            prefix + extra[0], f"is not a field here (expected: {', '.join(names)})"
        )
    return value


def _string(value: Any, field: str) -> str:
    if isinstance(value, str):
        return value
    if field == "reading.value" and isinstance(value, int | float) and not isinstance(value, bool):
        raise ReadingRefused(field, 'must be decimal text such as "108.5", not a JSON number')
    raise ReadingRefused(field, f"must be a string, not {_json_kind(value)}")


def _json_kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list | tuple):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def _check_key(value: object, field: str) -> None:
    if not isinstance(value, str) or _KEY.fullmatch(value) is None:
        raise ReadingRefused(field, f"is not a key (it must match {KEY_PATTERN})")


def _check_nonce(value: object) -> None:
    if not isinstance(value, str) or _NONCE.fullmatch(value) is None:
        raise ReadingRefused("reading.nonce", "must be 8 to 128 characters of A-Z a-z 0-9 _ -")


def _parse_value(text: str) -> Decimal:
    if _VALUE.fullmatch(text) is None:
        raise ReadingRefused(
            "reading.value", f"{text[:40]!r} is not decimal text (digits, an optional point)"
        )
    value = Decimal(text)
    canonical = _value_text(value)
    if canonical != text:
        # Only leading zeros get here: a Decimal cannot hold them, so they could not be re-signed.
        raise ReadingRefused("reading.value", f"has leading zeros: write {canonical!r}")
    return value


def _value_text(value: object) -> str:
    """The signed text of a decimal; ReadingRefused when it has none within the digit limit."""
    if not isinstance(value, Decimal) or not value.is_finite():
        raise ReadingRefused("reading.value", "must be a finite Decimal")
    exponent = value.as_tuple().exponent
    # Bound the exponent before formatting: Decimal("1E+999999") would print a million digits
    # (zero prints as "0" whatever its positive exponent).
    limit = MAX_VALUE_DIGITS
    if isinstance(exponent, int) and -limit <= exponent and (exponent <= limit or value.is_zero()):
        text = format(value, "f")
        if sum(character.isdigit() for character in text) <= limit:
            return text
    raise ReadingRefused("reading.value", f"has more than {MAX_VALUE_DIGITS} digits")


def _parse_as_of(text: str) -> datetime:
    try:
        moment = parse_rfc3339(text)
    except (ValueError, OverflowError) as error:
        raise ReadingRefused("reading.as_of", str(error)) from None
    canonical = format_rfc3339(moment)
    if canonical != text:
        raise ReadingRefused(
            "reading.as_of",
            f"is not in the signed form (UTC, Z, seconds or six fractional digits): {canonical!r}",
        )
    return moment


def _utc(value: object) -> datetime:
    if not isinstance(value, datetime) or value.utcoffset() is None:
        raise ReadingRefused("reading.as_of", "must be an aware datetime (naive times are refused)")
    return value.astimezone(UTC)


def _decode_base64(
    value: Any, field: str, size: int, error: type[InvalidInput] = ReadingRefused
) -> bytes:
    if not isinstance(value, str):
        raise error(field, f"must be base64 text, not {_json_kind(value)}")
    if len(value) > _MAX_BASE64:
        raise error(field, f"is {len(value)} characters: too long for {size} bytes of base64")
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise error(field, "is not valid base64") from None
    # One spelling per byte string: a ledger record must not have two valid encodings.
    if base64.b64encode(raw).decode() != value:
        raise error(field, "is not canonical standard base64 (with padding)")
    if len(raw) != size:
        raise error(field, f"is {len(raw)} bytes; it must be {size}")
    return raw
