"""The customer's known set: the records it already had, held by valueproof as keyed hashes only.

Protocol, version 1. The point is that a claimed outcome (a lead, say) can be checked against
what the customer already knew without the customer handing its list to the vendor.

1. Secret. The customer holds one secret per account: 32 random bytes (`new_secret`), written
   as standard base64 with padding (`secret_text`, read back by `parse_secret`).
2. Normalization. A value is normalized before hashing (`normalize`): Unicode NFKC, case folded
   (`str.casefold`, which also folds "ß" to "ss"), NFKC again (folding can leave a string
   that NFKC would still change), leading and trailing whitespace stripped and every inner run
   of whitespace collapsed to one space. So "Ann@Example.com " and "ann@example.com" are the
   same entry. The CEL function `normalize` in outcome definitions is this function.
3. Hash. An entry's hash is HMAC-SHA256 (RFC 2104, FIPS 180-4) keyed with the 32 raw secret
   bytes, over the UTF-8 bytes of the normalized value, written as 64 lowercase hex digits
   (`known_hash`). Any language's standard HMAC computes it:
   `hmac.new(secret, normalize(value).encode(), hashlib.sha256).hexdigest()`.
4. Upload. The customer hashes each value its own records give for the outcome definition's
   `known_key` (for `known_key: 'lower(claim.email)'`, each email it already had) and uploads
   only the hashes, one per line (`parse_known_hashes`: blank lines are ignored, upper-case hex
   is read as lower case, anything else is refused naming its line number).
5. Verification. The customer gives the secret to valueproof's verifier for that account (the
   store keeps it encrypted; no API ever returns it). For each claim, the verifier evaluates the
   definition's `known_key`, hashes it the same way (`hasher(secret)`), and the claim is
   `already_known` when that hash is in the uploaded set. The vendor's staff and the vendor's
   APIs see hashes only.

Honest limits:

- Whoever holds the secret can test guesses: hash a candidate value and look for it in the set.
  Emails, phone numbers and company names have little entropy, so a dictionary attack on them
  is practical for a holder of the secret. The secret is therefore kept by the customer and the
  verifier alone, encrypted at rest, and never shown to the vendor's staff or returned by an API.
- Without the secret the hashes reveal nothing about the values (HMAC is a pseudorandom
  function), beyond how many entries the set has and whether two uploads share an entry.
- The hash is an HMAC, not a plain SHA-256, so no one without the secret can precompute a table
  of hashed emails and match the set against it.
- Normalization decides what counts as the same value; values that differ after it (an email
  with a "+tag", say) are different entries unless the definition's `known_key` strips them.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import secrets
import unicodedata
from collections.abc import Callable, Iterable
from typing import Any

from valueproof.outcomes.errors import KnownSetInvalid, KnownSetUploadInvalid

__all__ = [
    "MAX_SECRET_SIZE",
    "MIN_SECRET_SIZE",
    "SECRET_SIZE",
    "hasher",
    "keyed_hash",
    "known_hash",
    "known_hashes",
    "new_secret",
    "normalize",
    "parse_known_hashes",
    "parse_secret",
    "secret_text",
]

SECRET_SIZE = 32  # the size of a secret valueproof makes
# HMAC takes a key of any length; under 16 bytes (128 bits) it is too easy to guess, and the
# upper bound only refuses what cannot be a key (HMAC-SHA256 hashes a key past 64 bytes anyway).
MIN_SECRET_SIZE = 16
MAX_SECRET_SIZE = 1024

_HASH = re.compile(r"[0-9a-f]{64}")


def new_secret() -> bytes:
    """A fresh per-account secret: 32 random bytes from the operating system's CSPRNG."""
    return secrets.token_bytes(SECRET_SIZE)


def secret_text(secret: bytes) -> str:
    """A secret as the customer copies it: standard base64 with padding."""
    _check_secret(secret)
    return base64.b64encode(secret).decode()


def parse_secret(text: str, field: str = "secret") -> bytes:
    """The secret `secret_text` wrote; KnownSetInvalid naming `field` for anything else."""
    if not isinstance(text, str) or len(text) > 4 * MAX_SECRET_SIZE:
        raise KnownSetInvalid(field, f"must be the base64 text of a secret of {_SIZES}")
    try:
        raw = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise KnownSetInvalid(field, "is not valid base64") from None
    if not MIN_SECRET_SIZE <= len(raw) <= MAX_SECRET_SIZE:
        raise KnownSetInvalid(field, f"is {len(raw)} bytes; it must be {_SIZES}")
    return raw


def normalize(value: str) -> str:
    """NFKC, case folded, NFKC again, stripped, inner whitespace collapsed to one space."""
    folded = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", value).casefold())
    return " ".join(folded.split())


def keyed_hash(key: bytes, message: bytes) -> str:
    """HMAC-SHA256 of `message` under `key`, as lowercase hex: the primitive of `known_hash`."""
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def known_hash(secret: bytes, value: str) -> str:
    """The hash of one known-set entry: HMAC-SHA256(secret, UTF-8 of normalize(value)), hex."""
    _check_secret(secret)
    return keyed_hash(secret, normalize(value).encode())


def known_hashes(secret: bytes, values: Iterable[str]) -> set[str]:
    """The customer's side: the hashes of its list, ready to upload one per line."""
    hash_of = hasher(secret)
    return {hash_of(value) for value in values}


def hasher(secret: bytes) -> Callable[[str], str]:
    """`known_hash` with the secret bound, keyed once (the verifier hashes one value per claim)."""
    _check_secret(secret)
    keyed = hmac.new(secret, digestmod=hashlib.sha256)

    def hash_of(value: str) -> str:
        state = keyed.copy()
        state.update(normalize(value).encode())
        return state.hexdigest()

    return hash_of


def parse_known_hashes(lines: Iterable[Any], json_list: bool = False) -> set[str]:
    """An uploaded known set, one hex hash per line (or per item of a JSON list); every bad
    line is named at once (`line 3`, or `hashes[2]` for a list), up to `_MAX_PROBLEMS` of them,
    in KnownSetUploadInvalid, and nothing is taken."""
    hashes: set[str] = set()
    problems: list[tuple[str, str]] = []
    for index, line in enumerate(lines):
        where = f"hashes[{index}]" if json_list else f"line {index + 1}"
        if not isinstance(line, str):
            problems.append((where, "must be a hash (64 hexadecimal digits)"))
            continue
        text = line.strip().lower()
        if not text:
            if json_list:
                problems.append((where, "is empty; it must be a hash (64 hexadecimal digits)"))
            continue
        if _HASH.fullmatch(text) is None:
            shown = line.strip()[:20]
            problems.append((where, f"{shown!r} is not a hash (64 hexadecimal digits)"))
            continue
        hashes.add(text)
    if problems:
        shown_problems = problems[:_MAX_PROBLEMS]
        if len(problems) > _MAX_PROBLEMS:
            shown_problems.append(("(more)", f"{len(problems) - _MAX_PROBLEMS} more bad lines"))
        raise KnownSetUploadInvalid(shown_problems)
    return hashes


_MAX_PROBLEMS = 100  # bad lines named in one answer; the count of the rest follows


_SIZES = f"{MIN_SECRET_SIZE} to {MAX_SECRET_SIZE} bytes"


def _check_secret(secret: bytes) -> None:
    if not isinstance(secret, bytes) or not MIN_SECRET_SIZE <= len(secret) <= MAX_SECRET_SIZE:
        raise KnownSetInvalid("secret", f"must be {_SIZES}")
