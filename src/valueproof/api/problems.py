"""Every error leaves the API as an RFC 9457 problem document, mapped here and nowhere else."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from http import HTTPStatus
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.exceptions import HTTPException
from starlette.routing import Match
from starlette.types import Scope

from valueproof.errors import InvalidInput, ValueproofError, validation_reason

PROBLEM_JSON = "application/problem+json"


def problem(
    status: int, title: str, detail: str, headers: dict[str, str] | None = None, **extra: Any
) -> Response:
    """A problem+json response."""
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail, **extra}
    if status == 401:
        headers = {**(headers or {}), "WWW-Authenticate": "Bearer"}
    return Response(
        orjson.dumps(body), status_code=status, media_type=PROBLEM_JSON, headers=headers
    )


def install(app: FastAPI) -> None:
    """Register the handlers that turn our errors and FastAPI's into problems."""

    @app.exception_handler(ValueproofError)
    async def _ours(_request: Request, error: ValueproofError) -> Response:
        if isinstance(error, InvalidInput):
            return problem(error.status, error.title, error.detail, errors=_field_errors(error))
        return problem(error.status, error.title, error.detail)

    @app.exception_handler(RequestValidationError)
    async def _validation(_request: Request, error: RequestValidationError) -> Response:
        errors = [
            {
                "field": ".".join(str(part) for part in item["loc"] if part != "body") or "(body)",
                "reason": validation_reason(item),
            }
            for item in error.errors()
        ]
        detail = "; ".join(f"{e['field']}: {e['reason']}" for e in errors)
        return problem(422, "Invalid input", detail, errors=errors)

    @app.exception_handler(HTTPException)
    async def _routing(request: Request, error: HTTPException) -> Response:
        # Starlette's own refusals: no such path (404), or a method the path lacks (405).
        headers = dict(error.headers or {})
        if error.status_code == 405:
            headers["Allow"] = ", ".join(allowed_methods(request.app, request.scope))
        title = HTTPStatus(error.status_code).phrase
        return problem(error.status_code, title, str(error.detail), headers)


def allowed_methods(app: FastAPI, scope: Scope) -> list[str]:
    """Every method some route answers at the scope's path (RFC 9110 §15.5.6: a 405's `Allow`).

    Starlette's own 405 names the methods of the first route whose path matched only, so a path
    served by several routes (GET, PATCH and DELETE of one account) would advertise too few."""
    methods: set[str] = set()
    for route, _ in matching_routes(app.router.routes, scope):
        methods |= getattr(route, "methods", None) or set()
    return sorted(methods)


def matching_routes(routes: Iterable[Any], scope: Scope) -> Iterator[tuple[Any, Scope]]:
    """Each route whose path matches the scope's, whatever its method, with its child scope
    (`path_params`). FastAPI nests included routers; they are walked through."""
    for route in routes:
        nested = getattr(route, "effective_candidates", None)
        if nested is not None:
            yield from matching_routes(nested(), scope)
            continue
        matched, child = route.matches({**scope, "method": "GET"})
        if matched != Match.NONE:
            yield route, child


def _field_errors(error: InvalidInput) -> list[dict[str, str]]:
    """Every (field, reason) the error carries: one, or each problem of a document."""
    return [{"field": field, "reason": reason} for field, reason in error.problems]
