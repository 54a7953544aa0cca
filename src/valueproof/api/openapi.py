"""The OpenAPI document as the server behaves: bearer keys, and every refusal an RFC 9457 problem.

FastAPI writes the operations from the routes; this adds what it cannot see: the security
scheme, and the problem answers that `api/problems.py` gives. Every operation behind a key may
answer 401 (no or a bad key) and 403 (a key of the wrong kind or scope); one with parameters or a
body 422 (a field and the reason); one with a path parameter 404 (the resource it names is not
there); one with a body 413 (past the size limit). A route declares any other refusal (404,
409) itself, and its problem body is filled in here. A parameter described "RFC 3339..." is a
date-time. No text may hold a NUL byte (`api/nul_bytes.py`): every free string of a parameter or
a body says so with a pattern.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from valueproof.api.problems import PROBLEM_JSON

__all__ = ["CREATED", "NO_NUL", "PUBLIC_PATHS", "json_body", "openapi_document"]

# A PUT that creates answers 201, and 200 when it replaces or changes nothing.
CREATED: dict[int | str, dict[str, Any]] = {
    201: {
        "description": "Created (200: replaced, or unchanged).",
        "content": {"application/json": {"schema": {"type": "object"}}},
    }
}

NO_NUL = "^[^\\u0000]*$"  # ECMA-262 and Python alike: any text without U+0000


def json_body(schema: dict[str, Any]) -> dict[str, Any]:
    """A route's `openapi_extra` for a required JSON body of `schema`, for the routes that read
    their body themselves (so FastAPI cannot see its model)."""
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


# Operations that answer without a key (their documents hold no tenant's data, or they carry
# their own authentication).
# Stripe's webhook is authenticated by its signature instead (`api/routers/stripe.py`).
PUBLIC_PATHS = frozenset({"/v1/contracts/schema", "/v1/integrations/stripe/webhook"})

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
            for parameter in operation.get("parameters", []):
                _instant(parameter)
                _no_nul(parameter.get("schema", {}))
            for media in operation.get("requestBody", {}).get("content", {}).values():
                _no_nul(media.get("schema", {}))
    for name, schema in schemas.items():
        if name != "Problem":
            _no_nul(schema)


def _instant(parameter: dict[str, Any]) -> None:
    """A parameter the router describes as "RFC 3339..." is read by `periods.parse_instant_field`:
    declare its strings `format: date-time`."""
    if not str(parameter.get("description", "")).startswith("RFC 3339"):
        return
    schema = parameter.get("schema", {})
    for option in schema.get("anyOf", [schema]):
        if option.get("type") == "string":
            option["format"] = "date-time"


def _no_nul(schema: Any) -> None:
    """Give every string of `schema` without a pattern, format or enum the pattern that excludes
    NUL bytes, and every object's property names too."""
    if isinstance(schema, list):
        for item in schema:
            _no_nul(item)
        return
    if not isinstance(schema, dict):
        return
    if schema.get("type") == "string" and not schema.keys() & {"pattern", "format", "enum"}:
        schema["pattern"] = NO_NUL
    if schema.get("type") == "object" and "propertyNames" not in schema:
        schema["propertyNames"] = {"pattern": NO_NUL}
    for key, value in schema.items():
        if key not in ("pattern", "propertyNames", "enum", "const", "default", "examples"):
            _no_nul(value)


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
