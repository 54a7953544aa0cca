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
        ({"id": None}, "id", "is required"),
        ({"id": ""}, "id", "non-empty string"),
        ({"account": 7}, "account", "non-empty string"),
        ({"type": "nope"}, "type", "unknown event type 'nope'"),
        ({"timestamp": "2026-01-01"}, "timestamp", "RFC 3339"),
        ({"timestamp": "2027-02-01T00:00:00Z"}, "timestamp", "in the future"),
        ({"properties": {"mode": "TL"}}, "properties.kg", "is required"),
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
    ],
)
def test_each_problem_names_field_and_reason(
    change: dict[str, Any], field: str, reason: str
) -> None:
    raw = {**GOOD, **change}
    found = errors_of({k: v for k, v in raw.items() if v is not None})
    assert any(e.field == field and reason in e.reason for e in found), found


def test_every_problem_is_reported_not_just_the_first() -> None:
    found = errors_of({"id": "x", "type": "ship", "timestamp": "bad", "properties": {}})
    assert {e.field for e in found} == {"account", "timestamp", "properties.mode", "properties.kg"}


def test_numbers_no_column_can_hold_are_refused() -> None:
    found = errors_of({**GOOD, "properties": {**GOOD["properties"], "huge": 2**70}})
    assert [e.field for e in found] == ["properties"]


def test_integers_beyond_the_canonical_json_range_are_refused_by_name() -> None:
    # RFC 8785 (I-JSON) numbers are doubles: a leaf could not record 2**53 exactly.
    found = errors_of({**GOOD, "properties": {**GOOD["properties"], "big": 2**53}})
    assert [e.field for e in found] == ["properties"]
    assert "ledger" in found[0].reason and str(2**53) in found[0].reason


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


def test_value_required_by_a_meter() -> None:
    limits = Limits(now_us=NOW, max_future_us=0, value_required_by={"ship": "revenue"})
    assert errors_of(GOOD, limits) == [FieldError("value", "is required by meter 'revenue'")]


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
        st.integers(min_value=-(2**53) + 1, max_value=2**53 - 1) | st.text(max_size=5),
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
