"""Every error leaves the API as an RFC 9457 problem document, mapped here and nowhere else."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response

from valueproof.errors import InvalidInput, ValueproofError

PROBLEM_JSON = "application/problem+json"


def problem(status: int, title: str, detail: str, **extra: Any) -> Response:
    """A problem+json response."""
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail, **extra}
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return Response(
        orjson.dumps(body), status_code=status, media_type=PROBLEM_JSON, headers=headers
    )


def install(app: FastAPI) -> None:
    """Register the handlers that turn our errors and FastAPI's into problems."""

    @app.exception_handler(ValueproofError)
    async def _ours(_request: Request, error: ValueproofError) -> Response:
        extra = {"errors": _field_errors(error)} if isinstance(error, InvalidInput) else {}
        return problem(error.status, error.title, error.detail, **extra)

    @app.exception_handler(RequestValidationError)
    async def _validation(_request: Request, error: RequestValidationError) -> Response:
        errors = [
            {
                "field": ".".join(str(part) for part in item["loc"] if part != "body") or "(body)",
                "reason": item["msg"],
            }
            for item in error.errors()
        ]
        detail = "; ".join(f"{e['field']}: {e['reason']}" for e in errors)
        return problem(422, "Invalid input", detail, errors=errors)


def _field_errors(error: InvalidInput) -> list[dict[str, str]]:
    """Every (field, reason) the error carries: one, or each problem of a document."""
    return [{"field": field, "reason": reason} for field, reason in error.problems]
