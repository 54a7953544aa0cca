"""Request bodies read with a size limit, and the `{"<key>": [...]}` shape of batch requests."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import Request

from valueproof.errors import InvalidInput, PayloadTooLarge


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


def batch_items(body: bytes, key: str) -> list[Any]:
    """The items of a JSON batch `{"<key>": [...]}`; InvalidInput for any other shape."""
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError as error:
        raise InvalidInput("(body)", f"malformed JSON: {error}") from None
    if not isinstance(document, dict) or not isinstance(document.get(key), list):
        raise InvalidInput(key, f'send a JSON object {{"{key}": [...]}}')
    items: list[Any] = document[key]
    return items


def json_object(body: bytes, empty_ok: bool = False) -> dict[str, Any]:
    """A JSON object body (`{}` for an empty one when `empty_ok`); InvalidInput otherwise."""
    if empty_ok and not body.strip():
        return {}
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError as error:
        raise InvalidInput("(body)", f"malformed JSON: {error}") from None
    if not isinstance(document, dict):
        raise InvalidInput("(body)", "send a JSON object")
    return document
