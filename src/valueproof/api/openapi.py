"""The OpenAPI document as the server behaves: bearer keys, and every refusal an RFC 9457 problem.

FastAPI writes the operations from the routes; this adds what it cannot see: the security
scheme, and the problem answers that `api/problems.py` gives. Every operation behind a key may
answer 401 (no or a bad key) and 403 (a key of the wrong kind or scope); one with parameters or a
body 422 (a field and the reason); one with a path parameter 404 (the resource it names is not
there); one with a body 413 (past the size limit). A route declares any other refusal (404,
409) itself, and its problem body is filled in here.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from valueproof.api.problems import PROBLEM_JSON

__all__ = ["PUBLIC_PATHS", "openapi_document"]

# Operations that answer without a key (their documents hold no tenant's data).
PUBLIC_PATHS = frozenset({"/v1/contracts/schema"})

_PROBLEM: dict[str, Any] = {
    "type": "object",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer", "minimum": 400, "maximum": 599},
        "detail": {"type": "string"},
        "errors": {
            "type": "array",
            "description": "Every (field, reason) of an invalid input.",
            "items": {
                "type": "object",
                "required": ["field", "reason"],
                "properties": {"field": {"type": "string"}, "reason": {"type": "string"}},
            },
        },
    },
}
_FASTAPI_422 = {"$ref": "#/components/schemas/HTTPValidationError"}
_WHY = {
    401: "No API key, or one that is not active.",
    403: "The key lacks the scope, or is a customer key where a vendor key is needed.",
    404: "What the path names does not exist for this tenant (or this customer key).",
    409: "The change contradicts what is on record.",
    413: "The body is larger than the configured limit.",
    422: "Invalid input: `errors` names each field and the reason.",
}


def openapi_document(app: FastAPI) -> dict[str, Any]:
    """The app's OpenAPI document (built once, then cached on the app)."""
    if app.openapi_schema is None:
        document = get_openapi(
            title=app.title,
            version=app.version,
            description=app.description,
            routes=app.routes,
        )
        _declare_problems(document)
        app.openapi_schema = document
    return app.openapi_schema


def _declare_problems(document: dict[str, Any]) -> None:
    components = document.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    schemas["Problem"] = _PROBLEM
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)
    components["securitySchemes"] = {
        "bearer": {"type": "http", "scheme": "bearer", "description": "An API key `vp_...`."}
    }
    document["security"] = [{"bearer": []}]
    for path, operations in document.get("paths", {}).items():
        for operation in operations.values():
            _declare_operation(path, operation)


def _declare_operation(path: str, operation: dict[str, Any]) -> None:
    responses: dict[str, Any] = operation.setdefault("responses", {})
    parameters = operation.get("parameters", [])
    has_body = "requestBody" in operation
    codes: set[int] = set()
    if path in PUBLIC_PATHS:
        operation["security"] = []
    else:
        codes |= {401, 403}
    if parameters or has_body:
        codes.add(422)
    if any(parameter.get("in") == "path" for parameter in parameters):
        codes.add(404)
    if has_body:
        codes.add(413)
    for code in codes:
        responses.setdefault(str(code), {"description": _WHY[code]})
    for key, response in responses.items():
        if key.isdigit() and int(key) >= 400:
            content = response.setdefault("content", {})
            if content.get("application/json", {}).get("schema") == _FASTAPI_422:
                del content["application/json"]  # FastAPI's own shape, which we never send
            content[PROBLEM_JSON] = {"schema": {"$ref": "#/components/schemas/Problem"}}
            if response.get("description") in ("Validation Error", None):
                response["description"] = _WHY.get(int(key), "Refused.")
    operation["responses"] = dict(sorted(responses.items()))
