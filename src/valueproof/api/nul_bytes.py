"""Refuse a NUL byte in any string a request carries (a path parameter, a query parameter, a
JSON or form body) as a 422 naming the field, before any handler runs: PostgreSQL cannot store
one in text, and SQLite can, so without this the same request would differ by backend.

YAML bodies are read by `documents.load_document`, which refuses NUL bytes itself.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from valueproof.api.problems import matching_routes, problem
from valueproof.documents import NUL_REASON, nul_field

__all__ = ["RefuseNulBytes"]

_BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_FORM = "application/x-www-form-urlencoded"


class RefuseNulBytes:
    """ASGI middleware: a 422 problem for a NUL byte in the path, the query or the body.

    Bodies are buffered up to `limit` bytes to be inspected, then handed on unchanged; a larger
    one is handed on uninspected, for the handler's own limit to refuse (413)."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        field = _path_field(scope) or _query_field(scope)
        if field is None and scope["method"] in _BODY_METHODS:
            body, receive = await _buffered(receive, self.limit)
            if body is not None and _may_hold_nul(body):
                field = _body_field(_content_type(scope), body)
        if field is None:
            await self.app(scope, receive, send)
            return
        errors = [{"field": field, "reason": NUL_REASON}]
        answer = problem(422, "Invalid input", f"{field}: {NUL_REASON}", errors=errors)
        await answer(scope, receive, send)


def _path_field(scope: Scope) -> str | None:
    if "\0" not in scope["path"]:
        return None
    for _, child in matching_routes(scope["app"].router.routes, scope):
        for name, value in child.get("path_params", {}).items():
            if "\0" in str(value):
                return str(name)
    return "(path)"


def _query_field(scope: Scope) -> str | None:
    query = scope.get("query_string", b"").decode("latin-1")
    return _pairs_field(parse_qsl(query, keep_blank_values=True)) if query else None


def _pairs_field(pairs: list[tuple[str, str]]) -> str | None:
    for name, value in pairs:
        if "\0" in name or "\0" in value:
            return name.replace("\0", "\\0") or "(query)"
    return None


def _may_hold_nul(body: bytes) -> bool:
    # JSON spells NUL `\u0000`; a form `%00`; a raw NUL byte is malformed JSON either way.
    return b"\\u0000" in body or b"%00" in body or b"\0" in body


def _body_field(content_type: str, body: bytes) -> str | None:
    if content_type == _FORM:
        return _pairs_field(parse_qsl(body.decode("latin-1"), keep_blank_values=True))
    if content_type in ("", "application/json") or content_type.endswith("+json"):
        try:
            data: Any = orjson.loads(body)
        except orjson.JSONDecodeError:
            return None  # the handler refuses malformed JSON with its own reason
        return nul_field(data, "(body)")
    return None


def _content_type(scope: Scope) -> str:
    for name, value in scope["headers"]:
        if name == b"content-type":
            return str(value.decode("latin-1").split(";")[0].strip().lower())
    return ""


async def _buffered(receive: Receive, limit: int) -> tuple[bytes | None, Receive]:
    """The whole body (None past `limit` bytes or on a disconnect), and a `receive` that hands
    the messages read so far on to the app before reading further."""
    messages: list[Message] = []
    size, complete = 0, False
    while size <= limit:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request":
            break
        size += len(message.get("body", b""))
        if not message.get("more_body", False):
            complete = size <= limit
            break
    body = b"".join(m.get("body", b"") for m in messages) if complete else None

    async def replay() -> Message:
        return messages.pop(0) if messages else await receive()

    return body, replay
