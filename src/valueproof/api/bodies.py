"""Request bodies read with a size limit, and the `{"<key>": [...]}` shape of batch requests."""

from __future__ import annotations

import json
from typing import Any

from fastapi import Request

from valueproof.errors import InvalidInput, PayloadTooLarge
from valueproof.strict_json import describe, loads_strict


async def read_body(request: Request, limit: int) -> bytes:
    """The raw body, refused as PayloadTooLarge past `limit` bytes (declared or streamed)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge("(body)", f"{declared} bytes; at most {limit}")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge("(body)", f"more than {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def json_body(body: bytes) -> Any:
    """A body's JSON, read strictly (`strict_json`): InvalidInput naming a duplicate key, a
    number beyond a double or where the JSON breaks."""
    try:
        return loads_strict(body)
    except json.JSONDecodeError as error:
        raise InvalidInput("(body)", describe(error)) from None


def batch_items(body: bytes, key: str) -> list[Any]:
    """The items of a JSON batch `{"<key>": [...]}`; InvalidInput for any other shape, and for
    an empty batch."""
    document = json_body(body)
    if not isinstance(document, dict) or not isinstance(document.get(key), list):
        raise InvalidInput(key, f'send a JSON object {{"{key}": [...]}}')
    items: list[Any] = document[key]
    if not items:
        raise InvalidInput(key, "is empty: send at least one item")
    return items


def json_object(body: bytes, empty_ok: bool = False) -> dict[str, Any]:
    """A JSON object body (`{}` for an empty one when `empty_ok`); InvalidInput otherwise."""
    if empty_ok and not body.strip():
        return {}
    document = json_body(body)
    if not isinstance(document, dict):
        raise InvalidInput("(body)", "send a JSON object")
    return document
