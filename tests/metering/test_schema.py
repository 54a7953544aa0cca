"""Tests for metering/schema.py: one event validated against its type, every problem named."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
import rfc8785
from hypothesis import given
from hypothesis import strategies as st

from valueproof.metering.definitions import EventType
from valueproof.metering.schema import FieldError, Limits, ValidEvent, validate_event

NOW = 1_800_000_000_000_000  # 2027-01-15
TYPES = {
    "ship": EventType(
        key="ship",
        properties={
            "mode": {"type": "string", "required": True},
            "kg": {"type": "number", "required": True},
            "pallets": {"type": "integer"},
            "hazmat": {"type": "boolean"},
        },
    )
}
LIMITS = Limits(now_us=NOW, max_future_us=300_000_000)
GOOD: dict[str, Any] = {
    "id": "e1",
    "account": "acme",
    "type": "ship",
    "timestamp": "2026-01-01T00:00:00Z",
    "properties": {"mode": "TL", "kg": 1200.5},
}


def errors_of(raw: Any, limits: Limits = LIMITS) -> list[FieldError]:
    checked = validate_event(raw, TYPES, limits)
    assert isinstance(checked, list), checked
    return checked


def test_valid_event_is_normalized() -> None:
    event = validate_event(GOOD, TYPES, LIMITS)
    assert isinstance(event, ValidEvent)
    assert event.ts_us == 1_767_225_600_000_000
    assert event.properties_json == '{"kg":1200.5,"mode":"TL"}'
    assert event.correction is None


@pytest.mark.parametrize(
    ("change", "field", "reason"),
    [
        ({"id": None}, "id", "is missing"),
        ({"id": ""}, "id", "non-empty string"),
        ({"account": 7}, "account", "non-empty string"),
        ({"type": "nope"}, "type", "unknown event type 'nope'"),
        ({"timestamp": "2026-01-01"}, "timestamp", "RFC 3339"),
        ({"timestamp": "2027-02-01T00:00:00Z"}, "timestamp", "in the future"),
        ({"properties": {"mode": "TL"}}, "properties.kg", "is missing"),
        ({"properties": {"mode": 3, "kg": 1}}, "properties.mode", "must be a string"),
        ({"properties": {"mode": "TL", "kg": "9"}}, "properties.kg", "must be a number"),
        ({"properties": {"mode": "TL", "kg": 1, "pallets": 1.5}}, "properties.pallets", "integer"),
        ({"properties": {"mode": "TL", "kg": 1, "hazmat": "yes"}}, "properties.hazmat", "boolean"),
        ({"properties": []}, "properties", "JSON object"),
        ({"value": -1}, "value", "must not be negative"),
        ({"value": "1.0000001"}, "value", "6 decimal places"),
        ({"voids": "e1"}, "voids", "cannot correct itself"),
        ({"voids": "a", "amends": "b"}, "voids", "not both"),
        ({"colour": "red"}, "colour", "unknown field"),
        ({"id": "a\x00b"}, "id", "NUL"),
        ({"account": "\x00"}, "account", "NUL"),
        ({"amends": "e\x000"}, "amends", "NUL"),
        (
            {"properties": {"mode": "TL", "kg": 1, "note": ["ok", "a\x00"]}},
            "properties.note[1]",
            "NUL",
        ),
        ({"properties": {"mode": "TL", "kg": 1, "n\x00te": "x"}}, "properties.n\\0te", "NUL"),
    ],
)
def test_each_problem_names_field_and_reason(
    change: dict[str, Any], field: str, reason: str
) -> None:
    raw = {**GOOD, **change}
    found = errors_of({k: v for k, v in raw.items() if v is not None})
    assert any(e.field == field and reason in e.reason for e in found), found


def test_a_backslash_before_u0000_is_text_not_a_nul() -> None:
    assert isinstance(
        validate_event(
            {**GOOD, "properties": {**GOOD["properties"], "note": "\\u0000"}}, TYPES, LIMITS
        ),
        ValidEvent,
    )


def test_every_problem_is_reported_not_just_the_first() -> None:
    found = errors_of({"id": "x", "type": "ship", "timestamp": "bad", "properties": {}})
    assert {e.field for e in found} == {"account", "timestamp", "properties.mode", "properties.kg"}


@pytest.mark.parametrize(
    "extra",
    [
        {"huge": 2**70},  # beyond any store column
        {"huge": 2**64},  # orjson would have read it as a float
        {"huge": 2**53},  # RFC 8785 (I-JSON) numbers are doubles: not exact on a leaf
        {"huge": -(2**53)},
        {"pallets": 2**53},  # declared integer
        {"pallets": 2**64},  # declared, and beyond any store column: named once
        {"kg": 2**60},  # declared number
    ],
)
def test_one_rule_for_integers_anywhere_in_properties(extra: dict[str, int]) -> None:
    [name] = extra
    found = errors_of({**GOOD, "properties": {**GOOD["properties"], **extra}})
    assert [e.field for e in found] == [f"properties.{name}"]
    assert "beyond ±9,007,199,254,740,991" in found[0].reason


def test_unsafe_integers_are_named_by_their_path_inside_undeclared_values() -> None:
    nested = {"a": [1, {"b": 2**64}], "c": -(2**60)}
    found = errors_of({**GOOD, "properties": {**GOOD["properties"], "extra": nested}})
    assert {e.field for e in found} == {"properties.extra.a[1].b", "properties.extra.c"}


def test_the_largest_safe_integer_is_kept_exact() -> None:
    safe = 2**53 - 1
    event = validate_event(
        {**GOOD, "properties": {**GOOD["properties"], "pallets": safe, "x": -safe}}, TYPES, LIMITS
    )
    assert isinstance(event, ValidEvent)
    assert (
        event.properties["pallets"] == safe
        and orjson.loads(event.leaf)["record"]["properties"]["x"] == -safe
    )


def test_the_leaf_is_the_normalized_event_in_canonical_json() -> None:
    event = validate_event({**GOOD, "value": "1.50"}, TYPES, LIMITS)
    assert isinstance(event, ValidEvent)
    leaf = orjson.loads(event.leaf)
    assert leaf["type"] == "usage_event" and leaf["v"] == 1
    assert leaf["record"]["value"] == "1.5"
    assert leaf["record"]["timestamp"].endswith("Z")
    assert event.leaf == rfc8785.dumps(leaf)


def test_not_an_object() -> None:
    assert errors_of([1, 2]) == [FieldError("(item)", "must be a JSON object, not list")]


def test_csv_strings_are_coerced_by_declared_type() -> None:
    limits = Limits(now_us=NOW, max_future_us=0, strings_as_values=True)
    raw = {**GOOD, "properties": {"mode": "LTL", "kg": "12.5", "pallets": "3", "hazmat": "true"}}
    event = validate_event(raw, TYPES, limits)
    assert isinstance(event, ValidEvent)
    assert event.properties == {"mode": "LTL", "kg": 12.5, "pallets": 3, "hazmat": True}
    assert errors_of({**raw, "properties": {"mode": "x", "kg": "lots"}}, limits)[0].field == (
        "properties.kg"
    )


METERED = Limits(now_us=NOW, max_future_us=0, metered_by={"ship": {"kg": "weight"}})


@pytest.mark.parametrize(
    ("kg", "reason"),
    [
        (0.1234567, "more than 6 decimal places"),
        (1e-7, "more than 6 decimal places"),
        (10_000_000_000_000, "out of range"),
        (-5, "must not be negative"),
        (-0.5, "must not be negative"),
    ],
)
def test_a_metered_property_is_a_quantity_like_value(kg: float, reason: str) -> None:
    raw = {**GOOD, "properties": {"mode": "TL", "kg": kg}}
    [error] = errors_of(raw, METERED)
    assert error.field == "properties.kg"
    assert reason in error.reason and "meter 'weight'" in error.reason
    # The same number is fine where no meter reads it as a quantity.
    assert isinstance(validate_event(raw, TYPES, LIMITS), ValidEvent)


def test_value_and_metered_properties_refuse_the_same_numbers() -> None:
    for number in (-5, 0.1234567, 10**13, 0, 12.5, 2**40):
        as_value = validate_event({**GOOD, "value": number}, TYPES, LIMITS)
        as_property = validate_event(
            {**GOOD, "properties": {"mode": "TL", "kg": number}}, TYPES, METERED
        )
        assert isinstance(as_value, ValidEvent) == isinstance(as_property, ValidEvent), number


@given(st.integers(min_value=-(2**53) + 1, max_value=2**53 - 1))
def test_a_whole_number_sent_as_float_is_one_event_with_its_integer_form(whole: int) -> None:
    as_int = validate_event({**GOOD, "properties": {"mode": "TL", "kg": whole}}, TYPES, LIMITS)
    as_float = validate_event(
        {**GOOD, "properties": {"mode": "TL", "kg": float(whole)}}, TYPES, LIMITS
    )
    assert isinstance(as_int, ValidEvent) and isinstance(as_float, ValidEvent)
    if float(whole) == whole:
        assert as_int.content_sha256 == as_float.content_sha256
        assert as_int.properties_json == as_float.properties_json


def test_the_digest_is_of_the_recorded_leaf() -> None:
    # Undeclared numbers are kept as sent, but the ledger writes 2.0 as 2: one record, one digest.
    sent = validate_event({**GOOD, "properties": {**GOOD["properties"], "x": 2}}, TYPES, LIMITS)
    again = validate_event({**GOOD, "properties": {**GOOD["properties"], "x": 2.0}}, TYPES, LIMITS)
    assert isinstance(sent, ValidEvent) and isinstance(again, ValidEvent)
    assert sent.leaf == again.leaf and sent.content_sha256 == again.content_sha256


@pytest.mark.parametrize("cell", [" 3 ", "1_000", "inf", "nan", "1e3", "+3"])
def test_csv_number_cells_must_be_plain_decimals(cell: str) -> None:
    limits = Limits(now_us=NOW, max_future_us=0, strings_as_values=True)
    [error] = errors_of({**GOOD, "properties": {"mode": "TL", "kg": cell}}, limits)
    assert error.field == "properties.kg" and "must be a number" in error.reason


def test_csv_whole_numbers_keep_every_digit() -> None:
    limits = Limits(now_us=NOW, max_future_us=0, strings_as_values=True)
    raw = {**GOOD, "properties": {"mode": "TL", "kg": "1", "pallets": str(2**53 - 1)}}
    event = validate_event(raw, TYPES, limits)
    assert isinstance(event, ValidEvent) and event.properties["pallets"] == 2**53 - 1
    [error] = errors_of({**raw, "properties": {"mode": "TL", "kg": str(2**53 + 1)}}, limits)
    assert error.field == "properties.kg" and "beyond" in error.reason


def test_value_required_by_a_meter() -> None:
    limits = Limits(now_us=NOW, max_future_us=0, value_required_by={"ship": "revenue"})
    assert errors_of(GOOD, limits) == [FieldError("value", "is missing; meter 'revenue' reads it")]


def test_a_void_need_not_repeat_the_properties() -> None:
    void = {
        "id": "v1",
        "voids": "e1",
        "account": "acme",
        "type": "ship",
        "timestamp": GOOD["timestamp"],
    }
    event = validate_event(void, TYPES, LIMITS)
    assert isinstance(event, ValidEvent)
    assert (event.correction, event.corrects) == ("void", "e1")


@given(
    st.dictionaries(
        st.sampled_from(["mode", "kg", "x"]),
        # text without NUL: an event holding one is refused (another test's subject)
        st.integers(min_value=-(2**53) + 1, max_value=2**53 - 1)
        | st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=5),
    )
)
def test_same_content_same_digest_other_content_other_digest(props: dict[str, Any]) -> None:
    limits = Limits(now_us=NOW, max_future_us=0)
    first = validate_event(
        {**GOOD, "properties": {**GOOD["properties"], "extra": props}}, TYPES, limits
    )
    again = validate_event(
        {**GOOD, "properties": {"extra": props, **GOOD["properties"]}}, TYPES, limits
    )
    other = validate_event(
        {**GOOD, "properties": {**GOOD["properties"], "extra": [props]}}, TYPES, limits
    )
    assert isinstance(first, ValidEvent) and isinstance(again, ValidEvent)
    assert isinstance(other, ValidEvent)
    assert first.content_sha256 == again.content_sha256 != other.content_sha256


def test_properties_nested_past_the_recursion_limit_are_refused_not_raised() -> None:
    deep: Any = 2**60
    for _ in range(2000):
        deep = [deep]
    found = errors_of({**GOOD, "properties": {**GOOD["properties"], "deep": deep}})
    assert [e.field for e in found] == ["properties.deep" + "[0]" * 2000]
