"""CloudEvents 1.0 (JSON format, structured and batch mode) mapped onto our wire events."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from valueproof.metering.errors import MalformedInput
from valueproof.metering.formats import (
    ParseFailure,
    RawItem,
    json_error,
    json_kind,
)
from valueproof.strict_json import loads_strict

__all__ = ["from_cloudevent", "read_cloudevent_structured", "read_cloudevents_batch"]

_CE_REQUIRED = ("id", "source", "type")
_CE_EXTENSIONS = ("value", "voids", "amends")


def read_cloudevents_batch(body: bytes) -> Iterator[RawItem]:
    """Events of an application/cloudevents-batch+json body; raises MalformedInput (a ValueError)
    at once when the body is not a JSON array."""
    events = _parse_body(body)
    if not isinstance(events, list):
        raise MalformedInput("(body)", f"expected a JSON array, got {json_kind(events)}")
    if not events:
        raise MalformedInput("(body)", "an empty batch: send at least one event")
    return (from_cloudevent(event, f"[{index}]") for index, event in enumerate(events))


def read_cloudevent_structured(body: bytes) -> RawItem:
    """The event of an application/cloudevents+json body; raises MalformedInput (a ValueError)
    when the body is not a JSON object."""
    event = _parse_body(body)
    if not isinstance(event, dict):
        raise MalformedInput("(body)", f"expected a JSON object, got {json_kind(event)}")
    return from_cloudevent(event, "body")


def _parse_body(body: bytes) -> Any:
    try:
        return loads_strict(body)
    except json.JSONDecodeError as error:
        raise MalformedInput("(body)", json_error(error)) from error


def from_cloudevent(ce: Any, location: str) -> RawItem:
    """Map one CloudEvent onto our wire event: time -> timestamp, data -> properties, and the
    account from the `account` extension or else `subject`."""
    if not isinstance(ce, dict):
        return ParseFailure(location, "(item)", f"expected a JSON object, got {json_kind(ce)}")
    problem = _cloudevent_problem(ce)
    if problem is not None:
        return ParseFailure(location, *problem)
    event: dict[str, Any] = {
        "id": ce["id"],
        "account": ce["account"] if ce.get("account") is not None else ce["subject"],
        "type": ce["type"],
        "timestamp": ce["time"],
        "properties": ce.get("data") or {},
    }
    event.update((name, ce[name]) for name in _CE_EXTENSIONS if ce.get(name) is not None)
    return event


def _cloudevent_problem(ce: dict[str, Any]) -> tuple[str, str] | None:
    """The first (attribute, reason) that keeps the CloudEvent from mapping, if any."""
    if ce.get("specversion") != "1.0":
        return "specversion", f"must be '1.0', got {ce.get('specversion')!r}"
    for name in _CE_REQUIRED:
        if not isinstance(ce.get(name), str) or not ce[name]:
            return name, "required: a non-empty string"
    if ce.get("time") is None:
        return "time", "required by valueproof: the usage time"
    if not isinstance(ce["time"], str):
        return "time", "must be an RFC 3339 string"
    if "datacontenttype" in ce and not _is_json_media_type(ce["datacontenttype"]):
        return (
            "datacontenttype",
            f"must be application/json or */*+json, got {ce['datacontenttype']!r}",
        )
    if "data_base64" in ce:
        return "data_base64", "binary data is not supported"
    if ce.get("data") is not None and not isinstance(ce["data"], dict):
        return "data", f"must be a JSON object, got {json_kind(ce['data'])}"
    if ce.get("account") is None and ce.get("subject") is None:
        return "account", "required: an `account` extension attribute or a `subject`"
    return None


def _is_json_media_type(value: object) -> bool:
    if not isinstance(value, str):
        return False
    media_type = value.split(";", 1)[0].strip().lower()
    return media_type == "application/json" or media_type.endswith("+json")
