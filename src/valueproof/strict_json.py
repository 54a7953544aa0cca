"""Strict reading of the JSON clients send (event batches and files, claims, readings).

RFC 8259 leaves duplicate object keys, numbers beyond a double and lone surrogates to the
parser; each silently changes what a client meant (the last duplicate wins, 2**64 becomes a
float, NaN a null). This reader refuses them instead, and keeps every integer exact so the
validators can apply one rule to it. Errors are `json.JSONDecodeError`s (as orjson's are), so
a caller reports `msg` and `colno` alike whichever parser spoke.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

import orjson

__all__ = ["DuplicateKey", "JSONRefused", "describe", "loads_strict"]

# A \uD800-\uDFFF escape: a surrogate, lone or half of a pair; orjson tells the two apart.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


class JSONRefused(json.JSONDecodeError):
    """Well-formed JSON that this reader refuses, at no position worth naming."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason, "", 0)


class DuplicateKey(JSONRefused):
    """An object names a key twice; `key` is the key."""

    def __init__(self, key: str) -> None:
        super().__init__(f"duplicate key {key!r}")
        self.key = key


def describe(error: json.JSONDecodeError) -> str:
    """The reason a text was refused, as an error's `reason` says it."""
    if isinstance(error, JSONRefused):
        return error.msg
    return f"malformed JSON: {error.msg} at column {error.colno}"


def _unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    document = dict(pairs)
    if len(document) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise DuplicateKey(key)
            seen.add(key)
    return document


def _finite(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):
        raise JSONRefused(f"number {text[:40]} is beyond a double")
    return number


def _constant(name: str) -> Any:
    raise JSONRefused(f"{name} is not JSON")


_DECODER = json.JSONDecoder(
    object_pairs_hook=_unique, parse_float=_finite, parse_constant=_constant
)


def loads_strict(data: bytes | str) -> Any:
    """The JSON value of `data` (UTF-8 when bytes), integers exact; json.JSONDecodeError for
    malformed JSON, a duplicate key (`DuplicateKey`), a number beyond a double, NaN or
    Infinity, a lone surrogate, and nesting or digits past Python's limits."""
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8")
        except UnicodeDecodeError as error:
            orjson.loads(data)  # says where, as for any malformed JSON
            raise JSONRefused(f"invalid UTF-8 at byte {error.start}") from None
    try:
        document = _DECODER.decode(data)
    except RecursionError:
        raise JSONRefused("nested too deeply") from None
    except JSONRefused:
        raise
    except json.JSONDecodeError:
        orjson.loads(data)  # malformed: orjson's message says where, and more plainly
        raise
    except ValueError as error:  # int() past sys.get_int_max_str_digits()
        raise JSONRefused(f"a number is too long: {error}") from None
    if _SURROGATE_ESCAPE.search(data) is not None:
        orjson.loads(data)  # refuses a lone surrogate, which json lets through
    return document
