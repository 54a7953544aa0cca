"""Strict request bodies over real HTTP on loopback, on both backends: duplicate keys, empty
batches, lenient numbers and unsafe integers are refused naming the field or key; a bad metered
property rejects its item only; a re-serialized retry is a duplicate for events, claims and
readings."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from .test_oracles_api import signed
from .test_oracles_api import source as oracle_source
from .test_outcomes_api import DEFINITION, PATH, lead

STORAGE_TYPE = {
    "key": "storage",
    "properties": {"gb": {"type": "number", "required": True}},
}
GB_METER = {"key": "gb", "event_type": "storage", "aggregation": "sum", "value_property": "gb"}


def stored(event_id: str, gb: Any) -> dict[str, Any]:
    return {
        "id": event_id,
        "account": "globex",
        "type": "storage",
        "timestamp": "2026-01-01T10:00:00Z",
        "properties": {"gb": gb},
    }


@pytest.fixture
def storage(http: httpx.Client) -> httpx.Client:
    """Accounts globex and acme, and event type `storage` with no meter yet."""
    for name in ("globex", "acme"):
        assert http.post("/v1/accounts", json={"external_id": name, "name": name}).is_success
    assert http.put("/v1/event-types/storage", json=STORAGE_TYPE).status_code == 201
    return http


def post_raw(http: httpx.Client, path: str, text: str) -> httpx.Response:
    return http.post(path, content=text.encode(), headers={"content-type": "application/json"})


def problem(answer: httpx.Response) -> tuple[int, str, str]:
    assert answer.headers["content-type"] == "application/problem+json", answer.text
    error = answer.json()["errors"][0]
    return answer.status_code, error["field"], error["reason"]


def test_a_meter_over_bad_values_on_record_is_created_and_reports_them(
    storage: httpx.Client,
) -> None:
    before = storage.post(
        "/v1/events", json={"events": [stored("s1", 2), stored("s2", 1e-7), stored("s3", -5)]}
    )
    assert before.status_code == 200, before.text
    created = storage.post("/v1/meters", json=GB_METER)
    assert created.status_code == 201, created.text
    body = created.json()
    assert (body["events_folded"], body["events_unmetered"]) == (1, 2)
    assert [(u["id"], u["field"]) for u in body["unmetered"]] == [
        ("s2", "properties.gb"),
        ("s3", "properties.gb"),
    ]
    after = storage.post(
        "/v1/events",
        json={"events": [stored("s4", 1), stored("s5", 0.1234567), stored("s6", 10**13)]},
    )
    assert after.status_code == 207, after.text
    results = after.json()["results"]
    assert [r["status"] for r in results] == ["accepted", "rejected", "rejected"]
    assert {r["errors"][0]["field"] for r in results[1:]} == {"properties.gb"}


@pytest.mark.parametrize(
    ("value", "fine"), [(" 3 ", False), ("1_000", False), ("+3", False), ("3", True), (3, True)]
)
def test_a_value_is_a_json_number_or_a_strict_decimal_string(
    storage: httpx.Client, value: Any, fine: bool
) -> None:
    answer = storage.post("/v1/events", json={"events": [{**stored("v1", 1), "value": value}]})
    [result] = answer.json()["results"]
    if fine:
        assert result["status"] == "accepted", result
    else:
        assert result["status"] == "rejected" and result["errors"][0]["field"] == "value"


def test_integers_in_properties_follow_one_rule(storage: httpx.Client) -> None:
    text = (
        '{"events": ['
        '{"id": "i1", "account": "globex", "type": "storage", "timestamp": "2026-01-01T10:00:00Z",'
        ' "properties": {"gb": 1, "big": 18446744073709551616}},'
        '{"id": "i2", "account": "globex", "type": "storage", "timestamp": "2026-01-01T10:00:00Z",'
        ' "properties": {"gb": 1, "big": 9007199254740993}},'
        '{"id": "i3", "account": "globex", "type": "storage", "timestamp": "2026-01-01T10:00:00Z",'
        ' "properties": {"gb": 1, "big": 9007199254740991}}]}'
    )
    results = post_raw(storage, "/v1/events", text).json()["results"]
    assert [r["status"] for r in results] == ["rejected", "rejected", "accepted"]
    assert [r["errors"][0]["field"] for r in results[:2]] == ["properties.big"] * 2


def test_a_re_serialized_event_retry_is_a_duplicate(storage: httpx.Client) -> None:
    assert storage.post("/v1/meters", json=GB_METER).status_code == 201
    first = '{"events": [{"id": "r1", "account": "globex", "type": "storage", "timestamp": "2026-01-01T10:00:00Z", "properties": {"gb": 2, "note": "caf\\u00e9"}}]}'  # noqa: E501
    again = '{"events":[{"properties":{"note":"café","gb":2.0},"timestamp":"2026-01-01T10:00:00Z","type":"storage","account":"globex","id":"r1"}]}'  # noqa: E501
    assert post_raw(storage, "/v1/events", first).json()["results"][0]["status"] == "accepted"
    retry = post_raw(storage, "/v1/events", again)
    assert retry.status_code == 200 and retry.json()["results"][0]["status"] == "duplicate"


@pytest.mark.parametrize(
    ("path", "content_type", "text"),
    [
        (
            "/v1/events",
            "application/json",
            '{"events": [{"id": "d1", "id": "d2", "account": "globex"}]}',
        ),
        ("/v1/events", "application/cloudevents-batch+json", '[{"id": "a", "id": "b"}]'),
        ("/v1/events", "application/cloudevents+json", '{"id": "a", "data": {"x": 1, "x": 2}}'),
        ("/v1/outcomes/claims", "application/json", '{"claims": [{"id": "c1", "id": "c2"}]}'),
        ("/v1/oracles/readings", "application/json", '{"readings": [], "readings": [1]}'),
    ],
)
def test_duplicate_keys_are_refused_naming_the_key(
    storage: httpx.Client, path: str, content_type: str, text: str
) -> None:
    answer = storage.post(path, content=text.encode(), headers={"content-type": content_type})
    status, field, reason = problem(answer)
    assert status == 422 and field == "(body)" and "duplicate key" in reason
    assert json.loads(text.replace('"id": "d2"', '"x": 0')) is not None  # the rest is valid JSON
    assert reason.split("duplicate key ")[1].strip("'\"") in text


@pytest.mark.parametrize(
    ("path", "content_type", "text", "field"),
    [
        ("/v1/events", "application/json", '{"events": []}', "events"),
        ("/v1/events", "application/cloudevents-batch+json", "[]", "(body)"),
        ("/v1/outcomes/claims", "application/json", '{"claims": []}', "claims"),
        ("/v1/oracles/readings", "application/json", '{"readings": []}', "readings"),
        ("/v1/accounts/acme/known-set", "application/json", '{"hashes": []}', "hashes"),
        ("/v1/accounts/acme/known-set", "text/plain", "\n\n", "(body)"),
    ],
)
def test_an_empty_batch_is_refused_naming_the_field(
    storage: httpx.Client, path: str, content_type: str, text: str, field: str
) -> None:
    answer = storage.post(path, content=text.encode(), headers={"content-type": content_type})
    assert problem(answer)[:2] == (422, field)
    assert "empty" in answer.json()["errors"][0]["reason"]


def test_a_re_serialized_claim_retry_is_a_duplicate(http: httpx.Client) -> None:
    assert http.post("/v1/accounts", json={"external_id": "acme", "name": "Acme"}).is_success
    scored = {**DEFINITION, "attributes": {**DEFINITION["attributes"], "score": {"type": "number"}}}
    assert http.put(PATH, json=scored).status_code == 201
    claim = lead(1, score=2)
    first = http.post("/v1/outcomes/claims", json={"claims": [claim]})
    assert first.json()["results"][0]["status"] == "accepted", first.text
    attributes = {**claim["attributes"], "score": 2.0}
    again = {**dict(reversed(claim.items())), "attributes": dict(reversed(attributes.items()))}
    text = json.dumps({"claims": [again]}, ensure_ascii=True, indent=1)
    retry = post_raw(http, "/v1/outcomes/claims", text)
    assert retry.status_code == 200 and retry.json()["results"][0]["status"] == "duplicate"


def test_a_re_serialized_reading_retry_is_a_duplicate(http: httpx.Client) -> None:
    key = Ed25519PrivateKey.generate()
    assert http.put("/v1/oracles/sources/bi", json=oracle_source("bi", key, ["nrr"])).is_success
    item = signed(key, "bi", "108.50")
    assert http.post("/v1/oracles/readings", json={"readings": [item]}).status_code == 200
    reordered = {"signature": item["signature"], "reading": dict(reversed(item["reading"].items()))}
    text = json.dumps({"readings": [reordered]}, ensure_ascii=True, indent=2)
    text = text.replace('"nrr"', '"\\u006e\\u0072\\u0072"')
    retry = post_raw(http, "/v1/oracles/readings", text)
    assert retry.status_code == 200 and retry.json()["results"][0]["status"] == "duplicate"
