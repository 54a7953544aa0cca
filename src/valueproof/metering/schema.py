"""Validation of one incoming usage event against its declared event type.

Pure and fast: the ingest hot path calls it once per event. It reports every problem of an item,
each as a field path and a reason, and returns a `ValidEvent` only when there is none.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

import orjson

from valueproof.documents import NUL_REASON, nul_field
from valueproof.ledger.errors import CanonicalizationError
from valueproof.metering.definitions import EventType, PropertyType
from valueproof.metering.quantities import DECIMAL_TEXT, to_micros
from valueproof.metering.records import usage_event_leaf
from valueproof.periods import parse_rfc3339
from valueproof.periods import to_micros as instant_micros

MAX_ID_LENGTH = 200
MAX_STRING_LENGTH = 1000
MAX_PROPERTIES_BYTES = 16 * 1024
# RFC 8785 / I-JSON: the integers a JSON number keeps exactly, in any parser and on the ledger.
MAX_SAFE_INTEGER = 2**53 - 1
_UNSAFE_INTEGER = (
    f"is an integer beyond ±{MAX_SAFE_INTEGER:,} (2^53 - 1), which JSON cannot keep exact"
)
_NEGATIVE = "must not be negative (correct usage with voids/amends)"
_FIELDS = frozenset(
    {"id", "account", "type", "timestamp", "properties", "value", "voids", "amends"}
)


@dataclass(frozen=True, slots=True)
class FieldError:
    """One problem with an item: where (`field`, a path like `properties.mode`) and why."""

    field: str
    reason: str


class ValidEvent(NamedTuple):
    """An event that passed validation, normalized to the stored form.

    A NamedTuple rather than a frozen dataclass: it is built once per event on the hot path, and
    a tuple constructs several times faster.
    """

    event_id: str
    account: str
    type: str
    ts_us: int
    properties: dict[str, Any]
    properties_json: str
    value_micros: int | None
    correction: str | None  # "void" | "amend" | None
    corrects: str | None
    content_sha256: bytes  # of `leaf`: what is recorded, not the bytes that were sent
    leaf: bytes  # the canonical ledger leaf this event becomes once accepted


@dataclass(frozen=True, slots=True)
class Limits:
    """What the validator needs besides the event: the clock and what types require."""

    now_us: int
    max_future_us: int
    strings_as_values: bool = False  # CSV cells arrive as strings: coerce them by declared type
    value_required_by: Mapping[str, str] | None = None  # event type -> meter needing `value`
    # event type -> property -> the meter whose value it is: checked as a quantity, like `value`
    metered_by: Mapping[str, Mapping[str, str]] | None = None


def validate_event(
    raw: Any, types: Mapping[str, EventType], limits: Limits
) -> ValidEvent | list[FieldError]:
    """The normalized event, or every problem found in it."""
    if not isinstance(raw, dict):
        return [FieldError("(item)", f"must be a JSON object, not {type(raw).__name__}")]
    errors: list[FieldError] = []
    event_id = _text(raw, "id", errors)
    account = _text(raw, "account", errors)
    type_key = _text(raw, "type", errors)
    ts_us = _timestamp(raw.get("timestamp"), limits, errors)
    if not _FIELDS.issuperset(raw):
        errors.extend(FieldError(str(name), "unknown field") for name in raw.keys() - _FIELDS)
    properties = raw.get("properties", {})
    if not isinstance(properties, dict):
        errors.append(FieldError("properties", "must be a JSON object"))
        properties = {}
    event_type = types.get(type_key) if type_key is not None else None
    if type_key is not None and event_type is None:
        errors.append(FieldError("type", f"unknown event type {type_key!r}"))
    # A void only names what it cancels; its properties are not usage and are not checked.
    if event_type is not None and raw.get("voids") is None:
        metered = (limits.metered_by or {}).get(event_type.key, {})
        properties = _check_properties(properties, event_type, metered, limits, errors)
    value_micros = _value(raw, type_key, limits, errors)
    correction, corrects = (
        _correction(raw, errors) if "voids" in raw or "amends" in raw else (None, None)
    )
    try:
        properties_json = orjson.dumps(properties, option=orjson.OPT_SORT_KEYS).decode()
    except TypeError as error:  # integers beyond 64 bits, a lone surrogate
        unsafe = _unsafe_integers(properties) or [FieldError("properties", str(error))]
        errors.extend(problem for problem in unsafe if problem not in errors)
        properties_json = ""
    if len(properties_json) > MAX_PROPERTIES_BYTES:
        errors.append(FieldError("properties", f"larger than {MAX_PROPERTIES_BYTES} bytes"))
    if "\\u0000" in properties_json:  # JSON's NUL, or a backslash before "u0000": look closer
        field = nul_field({"properties": properties})
        if field is not None:
            errors.append(FieldError(field, NUL_REASON))
    if errors:
        return errors
    assert event_id is not None and account is not None and type_key is not None
    assert ts_us is not None
    try:
        leaf = usage_event_leaf(
            event_id, account, type_key, ts_us, properties, value_micros, correction, corrects
        )
    except CanonicalizationError as error:  # e.g. integers beyond ±2**53 (RFC 8785, I-JSON)
        return _unsafe_integers(properties) or [
            FieldError("properties", f"cannot be put on the ledger: {error}")
        ]
    return ValidEvent(
        event_id=event_id,
        account=account,
        type=type_key,
        ts_us=ts_us,
        properties=properties,
        properties_json=properties_json,
        value_micros=value_micros,
        correction=correction,
        corrects=corrects,
        content_sha256=hashlib.sha256(leaf).digest(),
        leaf=leaf,
    )


def _text(raw: dict[str, Any], field: str, errors: list[FieldError]) -> str | None:
    value = raw.get(field)
    if value is None:
        errors.append(FieldError(field, "is missing"))
        return None
    if not isinstance(value, str) or not value:
        errors.append(FieldError(field, "must be a non-empty string"))
        return None
    if len(value) > MAX_ID_LENGTH:
        errors.append(FieldError(field, f"longer than {MAX_ID_LENGTH} characters"))
        return None
    if "\x00" in value:  # PostgreSQL text cannot hold it: refused here, per item
        errors.append(FieldError(field, NUL_REASON))
        return None
    return value


def _timestamp(value: Any, limits: Limits, errors: list[FieldError]) -> int | None:
    if value is None:
        errors.append(FieldError("timestamp", "is missing"))
        return None
    if not isinstance(value, str):
        errors.append(FieldError("timestamp", "must be an RFC 3339 string"))
        return None
    try:
        micros = instant_micros(parse_rfc3339(value))
    except ValueError as error:
        errors.append(FieldError("timestamp", str(error)))
        return None
    if micros > limits.now_us + limits.max_future_us:
        seconds = limits.max_future_us // 1_000_000
        errors.append(FieldError("timestamp", f"more than {seconds} s in the future"))
        return None
    if micros < 0:
        errors.append(FieldError("timestamp", "before 1970 is not supported"))
        return None
    return micros


def _check_properties(
    properties: dict[str, Any],
    event_type: EventType,
    metered: Mapping[str, str],
    limits: Limits,
    errors: list[FieldError],
) -> dict[str, Any]:
    checked = dict(properties)
    for name, spec in event_type.properties.items():
        if name not in properties or properties[name] is None:
            if spec.required:
                errors.append(FieldError(f"properties.{name}", "is missing"))
            checked.pop(name, None)
            continue
        value = properties[name]
        if limits.strings_as_values and isinstance(value, str):
            value = _coerce(value, spec.type)
        reason = _type_problem(value, spec.type)
        if reason is None:
            value = _one_form(value, spec.type)
            if isinstance(value, int) and not -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER:
                reason = _UNSAFE_INTEGER
            elif name in metered:
                reason = _quantity_problem(value, metered[name])
        if reason is None:
            checked[name] = value
        else:
            errors.append(FieldError(f"properties.{name}", reason))
    return checked


def _one_form(value: Any, expected: PropertyType) -> Any:
    """One stored form per number: 3.0 and 3 are one integer (the ledger writes both as 3), so
    groups, distinct counts and a re-serialized retry agree."""
    if expected is PropertyType.INTEGER:
        return int(value)
    if (
        expected is PropertyType.NUMBER
        and isinstance(value, float)
        and value.is_integer()
        and -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER
    ):
        return int(value)
    return value


def _quantity_problem(value: int | float, meter: str) -> str | None:
    """Why a metered property is no quantity, as for the top-level `value`; None if it is."""
    try:
        micros = to_micros(value)
    except ValueError as error:
        return f"{error} (it is the value of meter {meter!r})"
    if micros < 0:
        return (
            f"must not be negative (it is the value of meter {meter!r};"
            " correct usage with voids/amends)"
        )
    return None


def _type_problem(value: Any, expected: PropertyType) -> str | None:
    if expected is PropertyType.STRING:
        if not isinstance(value, str):
            return f"must be a string, not {_kind(value)}"
        return None if len(value) <= MAX_STRING_LENGTH else "is too long"
    if expected is PropertyType.BOOLEAN:
        return None if isinstance(value, bool) else f"must be a boolean, not {_kind(value)}"
    if isinstance(value, bool) or not isinstance(value, int | float):
        return f"must be a number, not {_kind(value)}"
    if isinstance(value, float) and not math.isfinite(value):
        return "must be finite"
    if expected is PropertyType.INTEGER and not float(value).is_integer():
        return "must be an integer"
    return None


def _coerce(text: str, expected: PropertyType) -> Any:
    """A CSV cell as the declared type, or the text unchanged (the type check then names it).

    Numbers must be plain decimals (`DECIMAL_TEXT`): float() would also take " 3 ", "1_000" and
    "inf", and a whole number goes through int() so that no digit is lost."""
    if expected is PropertyType.BOOLEAN:
        return {"true": True, "false": False}.get(text.strip().lower(), text)
    if expected in (PropertyType.NUMBER, PropertyType.INTEGER):
        if len(text) > 100 or DECIMAL_TEXT.fullmatch(text) is None:
            return text
        return float(text) if "." in text else int(text)
    return text


def _unsafe_integers(properties: Any) -> list[FieldError]:
    """A FieldError for each integer beyond ±(2^53 - 1) in the properties, by its path.

    Iterative: the properties may nest deeper than Python's recursion limit."""
    found: list[FieldError] = []
    stack: list[tuple[str, Any]] = [("properties", properties)]
    while stack:
        path, value = stack.pop()
        if isinstance(value, dict):
            stack.extend((f"{path}.{name}", item) for name, item in value.items())
        elif isinstance(value, list):
            stack.extend((f"{path}[{index}]", item) for index, item in enumerate(value))
        elif isinstance(value, int) and not -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER:
            found.append(FieldError(path, _UNSAFE_INTEGER))
    return sorted(found, key=lambda error: error.field)


def _kind(value: Any) -> str:
    return "null" if value is None else type(value).__name__.replace("str", "string")


def _value(
    raw: dict[str, Any], type_key: str | None, limits: Limits, errors: list[FieldError]
) -> int | None:
    value = raw.get("value")
    if value is None:
        needed_by = (limits.value_required_by or {}).get(type_key or "")
        if needed_by is not None and raw.get("voids") is None:
            errors.append(FieldError("value", f"is missing; meter {needed_by!r} reads it"))
        return None
    try:
        micros = to_micros(value)
    except ValueError as error:
        errors.append(FieldError("value", str(error)))
        return None
    if micros < 0:
        errors.append(FieldError("value", _NEGATIVE))
        return None
    return micros


def _correction(raw: dict[str, Any], errors: list[FieldError]) -> tuple[str | None, str | None]:
    voids, amends = raw.get("voids"), raw.get("amends")
    if voids is not None and amends is not None:
        errors.append(FieldError("voids", "an event either voids or amends, not both"))
        return None, None
    for kind, target in (("void", voids), ("amend", amends)):
        if target is None:
            continue
        field = "voids" if kind == "void" else "amends"
        if not isinstance(target, str) or not target:
            errors.append(FieldError(field, "must be the id of an earlier event"))
            return None, None
        if "\x00" in target:
            errors.append(FieldError(field, NUL_REASON))
            return None, None
        if target == raw.get("id"):
            errors.append(FieldError(field, "an event cannot correct itself"))
            return None, None
        return kind, target
    return None, None
