"""The demo vendor's catalogue: the event types its products emit and the meters priced on them."""

from __future__ import annotations

from typing import Any, Final


def _string(required: bool = True) -> dict[str, Any]:
    return {"type": "string", "required": required}


EVENT_TYPES: Final[list[dict[str, Any]]] = [
    {
        "key": "background_check.completed",
        "description": "A background check finished; one event per check.",
        "properties": {"package": _string(), "country": _string()},
    },
    {
        "key": "message.sent",
        "description": "Messages sent in one hour on one channel; `value` is how many.",
        "properties": {"channel": _string()},
    },
    {
        "key": "shipment.delivered",
        "description": "A shipment was delivered; one event per shipment (TL or LTL).",
        "properties": {
            "mode": _string(),
            "weight_kg": {"type": "number", "required": True},
            "lane": _string(),
        },
    },
]

METERS: Final[list[dict[str, Any]]] = [
    {
        "key": "background_checks",
        "event_type": "background_check.completed",
        "aggregation": "count",
        "value_property": None,
        "group_by": ["package"],
        "filters": [],
        "unit": "check",
    },
    {
        "key": "countries_checked",
        "event_type": "background_check.completed",
        "aggregation": "unique_count",
        "value_property": "country",
        "group_by": [],
        "filters": [],
        "unit": "country",
    },
    {
        "key": "messages",
        "event_type": "message.sent",
        "aggregation": "sum",
        "value_property": None,
        "group_by": ["channel"],
        "filters": [],
        "unit": "message",
    },
    {
        "key": "shipments",
        "event_type": "shipment.delivered",
        "aggregation": "count",
        "value_property": None,
        "group_by": ["mode"],
        "filters": [],
        "unit": "shipment",
    },
    {
        "key": "shipped_weight_kg",
        "event_type": "shipment.delivered",
        "aggregation": "sum",
        "value_property": "weight_kg",
        "group_by": ["mode"],
        "filters": [],
        "unit": "kg",
    },
]
