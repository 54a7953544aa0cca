"""`POST /v1/events` and `GET /v1/usage` over real HTTP on loopback, on both backends."""

from __future__ import annotations

from typing import Any

import httpx
import orjson
import pytest

EVENT_TYPE = {
    "key": "message.sent",
    "properties": {"channel": {"type": "string", "required": True}},
}
METER = {
    "key": "messages",
    "event_type": "message.sent",
    "aggregation": "sum",
    "group_by": ["channel"],
    "unit": "message",
}
WINDOW = {"from": "2026-01-01T00:00:00Z", "to": "2026-01-02T00:00:00Z"}


def message(event_id: str, count: int = 1, account: str = "globex", **extra: Any) -> dict[str, Any]:
    return {
        "id": event_id,
        "account": account,
        "type": "message.sent",
        "timestamp": "2026-01-01T10:00:00Z",
        "properties": {"channel": "sms"},
        "value": count,
        **extra,
    }


@pytest.fixture
def catalog(http: httpx.Client) -> httpx.Client:
    assert http.put("/v1/event-types/message.sent", json=EVENT_TYPE).status_code == 201
    assert http.post("/v1/meters", json=METER).status_code == 201
    assert (
        http.post("/v1/accounts", json={"external_id": "globex", "name": "Globex"}).status_code
        == 201
    )
    return http


def test_batch_answers_every_item_and_status_tells_the_script(catalog: httpx.Client) -> None:
    answer = catalog.post("/v1/events", json={"events": [message("a", 2), message("b", 3)]})
    assert answer.status_code == 200
    assert answer.json()["accepted"] == 2
    retry = catalog.post("/v1/events", json={"events": [message("a", 2), message("b", 3)]})
    assert retry.status_code == 200
    assert [r["status"] for r in retry.json()["results"]] == ["duplicate", "duplicate"]
    mixed = catalog.post(
        "/v1/events",
        json={"events": [message("c"), message("d", account="nobody"), message("a", 9)]},
    )
    assert mixed.status_code == 207
    body = mixed.json()
    assert [r["status"] for r in body["results"]] == ["accepted", "rejected", "conflict"]
    assert body["results"][1]["errors"] == [
        {"field": "account", "reason": "unknown account 'nobody'"}
    ]
    none = catalog.post("/v1/events", json={"events": [{"id": "x"}]})
    assert none.status_code == 422
    usage = catalog.get("/v1/usage", params={"meter": "messages", **WINDOW, "group_by": "channel"})
    assert usage.status_code == 200
    assert usage.json()["rows"] == [
        {"from": WINDOW["from"], "to": WINDOW["to"], "group": {"channel": "sms"}, "value": "6"}
    ]


def test_cloudevents_structured_and_batch(catalog: httpx.Client) -> None:
    cloud = {
        "specversion": "1.0",
        "id": "ce-1",
        "source": "/billing",
        "type": "message.sent",
        "subject": "globex",
        "time": "2026-01-01T11:00:00Z",
        "data": {"channel": "email"},
        "value": 4,
    }
    single = catalog.post(
        "/v1/events",
        content=orjson.dumps(cloud),
        headers={"content-type": "application/cloudevents+json"},
    )
    assert single.status_code == 200, single.text
    batch = catalog.post(
        "/v1/events",
        content=orjson.dumps(
            [{**cloud, "id": "ce-2"}, {**cloud, "id": "ce-3", "specversion": "0.3"}]
        ),
        headers={"content-type": "application/cloudevents-batch+json"},
    )
    assert batch.status_code == 207
    assert batch.json()["results"][1]["errors"][0]["field"] == "specversion"
    usage = catalog.get("/v1/usage", params={"meter": "messages", **WINDOW, "group_by": "channel"})
    assert usage.json()["rows"][0] == {
        **usage.json()["rows"][0],
        "group": {"channel": "email"},
        "value": "8",
    }


@pytest.mark.parametrize(
    ("content", "content_type", "status", "field"),
    [
        (b"{not json", "application/json", 422, "(body)"),
        (b'{"items": []}', "application/json", 422, "events"),
        (b"[1]", "application/xml", 422, "content-type"),
        (b"{}", "application/cloudevents-batch+json", 422, "(body)"),
    ],
)
def test_malformed_requests_are_problems_naming_the_field(
    catalog: httpx.Client, content: bytes, content_type: str, status: int, field: str
) -> None:
    answer = catalog.post("/v1/events", content=content, headers={"content-type": content_type})
    assert answer.status_code == status
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["errors"][0]["field"] == field


def test_oversized_batch_is_refused_whole(catalog: httpx.Client) -> None:
    events = [message(f"big-{i}") for i in range(10_001)]
    answer = catalog.post("/v1/events", json={"events": events})
    assert answer.status_code == 413
    assert "at most 10000" in answer.json()["detail"]
    usage = catalog.get("/v1/usage", params={"meter": "messages", **WINDOW})
    assert usage.json()["rows"] == []


def test_usage_query_errors_name_the_parameter(catalog: httpx.Client) -> None:
    bad_time = catalog.get(
        "/v1/usage", params={"meter": "messages", "from": "yesterday", "to": WINDOW["to"]}
    )
    assert bad_time.status_code == 422
    assert bad_time.json()["errors"][0]["field"] == "from"
    unknown = catalog.get("/v1/usage", params={"meter": "nope", **WINDOW})
    assert unknown.json()["errors"][0] == {"field": "meter", "reason": "unknown meter 'nope'"}
    missing = catalog.get("/v1/usage", params=WINDOW)
    assert missing.status_code == 422
    assert missing.json()["errors"][0]["field"].endswith("meter")
