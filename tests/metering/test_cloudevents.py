"""Tests for metering/cloudevents.py: CloudEvents 1.0 structured and batch mode mapping."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from valueproof.metering.cloudevents import (
    from_cloudevent,
    read_cloudevent_structured,
    read_cloudevents_batch,
)
from valueproof.metering.formats import ParseFailure

EVENT = {
    "id": "e-1",
    "account": "acme",
    "type": "api_call",
    "timestamp": "2024-05-01T12:30:00Z",
    "properties": {"region": "eu", "tokens": 12},
}


# --- CloudEvents --------------------------------------------------------------------------------

CLOUDEVENT: dict[str, Any] = {
    "specversion": "1.0",
    "id": "ce-1",
    "source": "/billing/api",
    "type": "api_call",
    "time": "2024-05-01T12:30:00Z",
    "subject": "acme",
    "datacontenttype": "application/json",
    "data": {"region": "eu", "tokens": 12},
}


def test_cloudevent_maps_onto_the_wire_event() -> None:
    assert from_cloudevent(CLOUDEVENT, "body") == EVENT | {"id": "ce-1"}


def test_cloudevent_account_extension_wins_over_subject_and_extensions_map() -> None:
    ce = CLOUDEVENT | {"account": "globex", "value": "2.5", "voids": "ce-0", "amends": "ce-00"}
    event = from_cloudevent(ce, "body")
    assert isinstance(event, dict)
    assert event["account"] == "globex"
    assert (event["value"], event["voids"], event["amends"]) == ("2.5", "ce-0", "ce-00")


def test_cloudevent_without_data_or_content_type_has_empty_properties() -> None:
    ce = {k: v for k, v in CLOUDEVENT.items() if k not in ("data", "datacontenttype")}
    event = from_cloudevent(ce, "body")
    assert isinstance(event, dict)
    assert event["properties"] == {}


@pytest.mark.parametrize(
    "content_type",
    [
        "application/json",
        "application/json; charset=utf-8",
        "application/vnd.acme+json",
        "Application/JSON",
    ],
)
def test_cloudevent_accepts_json_content_types(content_type: str) -> None:
    assert isinstance(from_cloudevent(CLOUDEVENT | {"datacontenttype": content_type}, "x"), dict)


def _without(*names: str) -> dict[str, Any]:
    return {k: v for k, v in CLOUDEVENT.items() if k not in names}


@pytest.mark.parametrize(
    ("ce", "field", "reason"),
    [
        (_without("specversion"), "specversion", "must be '1.0', got None"),
        (CLOUDEVENT | {"specversion": "0.3"}, "specversion", "must be '1.0', got '0.3'"),
        (_without("id"), "id", "required: a non-empty string"),
        (CLOUDEVENT | {"id": ""}, "id", "required: a non-empty string"),
        (CLOUDEVENT | {"id": 7}, "id", "required: a non-empty string"),
        (_without("source"), "source", "required: a non-empty string"),
        (_without("type"), "type", "required: a non-empty string"),
        (_without("time"), "time", "required by valueproof: the usage time"),
        (CLOUDEVENT | {"time": 1714566600}, "time", "must be an RFC 3339 string"),
        (
            CLOUDEVENT | {"datacontenttype": "text/plain"},
            "datacontenttype",
            "must be application/json or */*+json, got 'text/plain'",
        ),
        (
            _without("data") | {"data_base64": "AAEC"},
            "data_base64",
            "binary data is not supported",
        ),
        (CLOUDEVENT | {"data": [1, 2]}, "data", "must be a JSON object, got array"),
        (CLOUDEVENT | {"data": "text"}, "data", "must be a JSON object, got string"),
        (
            _without("subject"),
            "account",
            "required: an `account` extension attribute or a `subject`",
        ),
    ],
)
def test_cloudevent_failures(ce: dict[str, Any], field: str, reason: str) -> None:
    assert from_cloudevent(ce, "[4]") == ParseFailure("[4]", field, reason)


def test_cloudevent_that_is_not_an_object() -> None:
    assert from_cloudevent([CLOUDEVENT], "[0]") == ParseFailure(
        "[0]", "(item)", "expected a JSON object, got array"
    )


def test_cloudevents_batch_maps_each_element() -> None:
    body = orjson.dumps([CLOUDEVENT, 5, _without("time")])
    assert list(read_cloudevents_batch(body)) == [
        EVENT | {"id": "ce-1"},
        ParseFailure("[1]", "(item)", "expected a JSON object, got number"),
        ParseFailure("[2]", "time", "required by valueproof: the usage time"),
    ]


@pytest.mark.parametrize("body", [b"", b"[{", orjson.dumps(CLOUDEVENT), b'"x"'])
def test_cloudevents_batch_body_that_is_not_an_array_raises_at_once(body: bytes) -> None:
    with pytest.raises(ValueError, match=r"\(body\): "):
        read_cloudevents_batch(body)


def test_cloudevent_structured() -> None:
    assert read_cloudevent_structured(orjson.dumps(CLOUDEVENT)) == EVENT | {"id": "ce-1"}
    assert read_cloudevent_structured(orjson.dumps(_without("id"))) == ParseFailure(
        "body", "id", "required: a non-empty string"
    )


@pytest.mark.parametrize("body", [b"{", b"[]", b"null"])
def test_cloudevent_structured_bad_body_raises(body: bytes) -> None:
    with pytest.raises(ValueError, match=r"\(body\): "):
        read_cloudevent_structured(body)
