"""A batch's answer over HTTP (events, claims, readings): the counts, every item's result in
order, and the status code of `valueproof.batches`; with its OpenAPI declaration."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson
from fastapi.responses import Response

from valueproof.batches import BATCH_STATUSES, BatchCounts, BatchStatus, batch_http_status

__all__ = ["BATCH_RESPONSES", "batch_answer"]

_ANSWER_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": [*BATCH_STATUSES, "results"],
    "properties": {
        **{status: {"type": "integer", "minimum": 0} for status in BATCH_STATUSES},
        "results": {
            "type": "array",
            "description": "Every item's result, in the order sent.",
            "items": {
                "type": "object",
                "required": ["index", "status", "errors"],
                "properties": {
                    "index": {"type": "integer", "minimum": 0},
                    "status": {"type": "string", "enum": list(BATCH_STATUSES)},
                    "errors": {"type": "array", "items": {"type": "object"}},
                },
            },
        },
    },
}
_ANSWER = {"application/json": {"schema": _ANSWER_SCHEMA}}

BATCH_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "Every item is on record (accepted now, or a duplicate).",
        "content": _ANSWER,
    },
    207: {
        "description": "Some items are on record, others rejected or in conflict.",
        "content": _ANSWER,
    },
    422: {
        "description": "No item is on record; or the body is not a batch (a problem).",
        "content": _ANSWER,
    },
}


def batch_answer(statuses: Sequence[BatchStatus], results: list[dict[str, Any]]) -> Response:
    """The JSON answer to a batch: the counts of each status, then `results`, with 200, 207 or
    422 by the one rule of `batch_http_status`."""
    counts = BatchCounts()
    counts.add(statuses)
    body = {**counts.as_json(), "results": results}
    return Response(
        orjson.dumps(body), status_code=batch_http_status(counts), media_type="application/json"
    )
