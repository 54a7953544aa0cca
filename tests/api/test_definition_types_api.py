"""`PUT /v1/outcomes/definitions/...` over real HTTP on both backends: a criterion whose types
clash is a 422 naming the criterion and the line and column, and nothing is recorded."""

from __future__ import annotations

from typing import Any

import httpx

PATH = "/v1/outcomes/definitions/acme-leads/qualified_lead"
DEFINITION: dict[str, Any] = {
    "contract": "acme-leads",
    "outcome": "qualified_lead",
    "attributes": {
        "email": {"type": "string", "required": True},
        "industry": {"type": "string", "required": True},
        "employees": {"type": "integer"},
    },
    "criteria": [
        {"name": "size", "expression": "claim.employees >= 50"},
        {"name": "industry", "expression": "claim.industry >= 50"},
    ],
    "dedupe_key": "claim.email",
    "verification_window_days": 30,
    "dispute_window_days": 30,
}


def test_a_criterion_comparing_text_with_a_number_is_refused_where_it_clashes(
    http: httpx.Client,
) -> None:
    refused = http.put(PATH, json=DEFINITION)
    assert refused.status_code == 422, refused.text
    [error] = refused.json()["errors"]
    assert error["field"] == "criteria[1].expression"
    assert error["reason"].startswith("line 1, column 16: >= compares a string with an int")
    assert http.get("/v1/outcomes/definitions").json() == {"definitions": []}
    fixed = {
        **DEFINITION,
        "criteria": [{"name": "industry", "expression": "claim.industry == 'saas'"}],
    }
    assert http.put(PATH, json=fixed).status_code == 201
