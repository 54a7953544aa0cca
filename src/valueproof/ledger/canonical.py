"""RFC 8785 canonical JSON for ledger leaves, with a fast path for the shapes leaves usually take.

The `rfc8785` package is the reference encoder; it costs ~50 µs for a usage event, more than the
rest of ingest per event. orjson with sorted keys writes the same bytes when every key is ASCII
(UTF-16 and code-point order agree) and numbers are integers in the I-JSON range; floats are
spliced in as the reference encoder formats them. Anything else goes to the reference encoder, and
a property test holds the two to the same bytes.
"""

from __future__ import annotations

import math
from typing import Any

import orjson
import rfc8785

from valueproof.ledger.errors import CanonicalizationError

__all__ = ["CanonicalizationError", "canonical_json"]

_SAFE_INTEGER = 2**53 - 1  # RFC 8785 §3.2.2.3 / I-JSON: integers beyond this lose precision


class _NeedsReference(Exception):
    """The fast path cannot vouch for this value: hand it to the reference encoder."""


def canonical_json(value: Any) -> bytes:
    """The RFC 8785 encoding of a JSON value (dicts with str keys, lists, str, int, float, ...)."""
    try:
        # Most leaves hold no float: then the value goes to orjson as it is, without a copy.
        plain = value if _is_plain(value) else _prepared(value)
        return orjson.dumps(plain, option=orjson.OPT_SORT_KEYS)
    except (_NeedsReference, orjson.JSONEncodeError):
        pass
    try:
        return rfc8785.dumps(value)
    except (rfc8785.CanonicalizationError, TypeError, ValueError) as error:
        raise CanonicalizationError(str(error)) from error


def _is_plain(value: Any) -> bool:
    """True when orjson's sorted output of `value` is canonical as it is; False when it holds a
    float (for `_prepared` to format); _NeedsReference when only the reference encoder will do."""
    kind = type(value)
    if kind is dict:
        for key in value:
            if type(key) is not str or not key.isascii():
                raise _NeedsReference
        items = value.values()
    elif kind is list or kind is tuple:
        items = value
    else:
        items = (value,)
    for item in items:
        item_kind = type(item)
        if item_kind is str or item_kind is bool or item is None:
            continue
        if item_kind is int:
            if -_SAFE_INTEGER <= item <= _SAFE_INTEGER:
                continue
            raise _NeedsReference
        if item_kind is dict or item_kind is list or item_kind is tuple:
            if not _is_plain(item):
                return False
            continue
        if item_kind is float:
            return False
        raise _NeedsReference
    return True


def _prepared(value: Any) -> Any:
    kind = type(value)
    if kind is str or kind is bool or value is None:
        return value
    if kind is int:
        if -_SAFE_INTEGER <= value <= _SAFE_INTEGER:
            return value
        raise _NeedsReference
    if kind is float:
        if not math.isfinite(value):
            raise _NeedsReference  # so NaN and Infinity fail as CanonicalizationError too
        # The reference encoder's ECMAScript number formatting, spliced in as raw JSON.
        return orjson.Fragment(rfc8785.dumps(value))
    if kind is dict:
        prepared = {}
        for key, item in value.items():
            if type(key) is not str or not key.isascii():
                raise _NeedsReference
            # Strings dominate leaves: pass them through without a call per value.
            prepared[key] = item if type(item) is str else _prepared(item)
        return prepared
    if kind is list or kind is tuple:
        return [_prepared(item) for item in value]
    raise _NeedsReference
