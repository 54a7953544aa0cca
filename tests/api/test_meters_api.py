"""`/v1/event-types` and `/v1/meters` over real HTTP: definitions refused with the field path."""

from __future__ import annotations

import httpx
import pytest

SHIPMENT = {
    "key": "shipment.delivered",
    "properties": {
        "mode": {"type": "string", "required": True},
        "weight_kg": {"type": "number", "required": True},
        "note": {"type": "string"},
    },
}


@pytest.fixture
def shipments(http: httpx.Client) -> httpx.Client:
    assert http.put("/v1/event-types/shipment.delivered", json=SHIPMENT).status_code == 201
    return http


@pytest.mark.parametrize(
    ("meter", "field"),
    [
        ({"aggregation": "sum", "value_property": "mode"}, "value_property"),
        ({"aggregation": "sum", "value_property": "note"}, "value_property"),
        ({"aggregation": "count", "group_by": ["weight_kg"]}, "group_by[0]"),
        ({"aggregation": "count", "group_by": ["colour"]}, "group_by[0]"),
        (
            {"aggregation": "count", "filters": [{"property": "x", "op": "eq", "value": 1}]},
            "filters[0].property",
        ),
        (
            {"aggregation": "count", "filters": [{"property": "mode", "op": "in", "value": 1}]},
            "filters.0",
        ),
        ({"aggregation": "median"}, "aggregation"),
        ({"aggregation": "unique_count"}, "(body)"),
    ],
)
def test_bad_meters_are_refused_with_the_field(
    shipments: httpx.Client, meter: dict, field: str
) -> None:
    answer = shipments.post(
        "/v1/meters", json={"key": "m", "event_type": "shipment.delivered", **meter}
    )
    assert answer.status_code == 422, answer.text
    assert answer.json()["errors"][0]["field"].startswith(field)
    assert shipments.get("/v1/meters").json()["meters"] == []


def test_meter_on_unknown_event_type(http: httpx.Client) -> None:
    answer = http.post(
        "/v1/meters", json={"key": "m", "event_type": "ghost", "aggregation": "count"}
    )
    assert answer.json()["errors"][0] == {
        "field": "event_type",
        "reason": "unknown event type 'ghost'",
    }


def test_replacing_a_meter_rebuilds_its_rollups(shipments: httpx.Client) -> None:
    shipments.post("/v1/accounts", json={"external_id": "ups", "name": "UPS"})
    meter = {
        "key": "kg",
        "event_type": "shipment.delivered",
        "aggregation": "sum",
        "value_property": "weight_kg",
    }
    assert shipments.post("/v1/meters", json=meter).status_code == 201
    assert shipments.post("/v1/meters", json=meter).status_code == 409
    events = [
        {
            "id": f"s{i}",
            "account": "ups",
            "type": "shipment.delivered",
            "timestamp": "2026-01-01T00:00:00Z",
            "properties": {"mode": mode, "weight_kg": kg},
        }
        for i, (mode, kg) in enumerate([("TL", 1000), ("LTL", 150), ("TL", 500)])
    ]
    assert shipments.post("/v1/events", json={"events": events}).status_code == 200
    window = {"meter": "kg", "from": "2026-01-01T00:00:00Z", "to": "2026-01-02T00:00:00Z"}
    assert shipments.get("/v1/usage", params=window).json()["rows"][0]["value"] == "1650"
    tl_only = {**meter, "filters": [{"property": "mode", "op": "eq", "value": "TL"}]}
    replaced = shipments.put("/v1/meters/kg", json=tl_only)
    assert replaced.status_code == 200
    assert replaced.json()["events_folded"] == 3  # every event of the type is read again
    assert shipments.get("/v1/usage", params=window).json()["rows"][0]["value"] == "1500"
    assert shipments.delete("/v1/meters/kg").status_code == 204
    assert shipments.get("/v1/meters/kg").status_code == 404


def test_an_event_type_in_use_cannot_go(shipments: httpx.Client) -> None:
    shipments.post(
        "/v1/meters", json={"key": "n", "event_type": "shipment.delivered", "aggregation": "count"}
    )
    answer = shipments.delete("/v1/event-types/shipment.delivered")
    assert answer.status_code == 409
    narrowed = {**SHIPMENT, "properties": {"mode": SHIPMENT["properties"]["mode"]}}
    still_fits = shipments.put("/v1/event-types/shipment.delivered", json=narrowed)
    assert still_fits.status_code == 200
