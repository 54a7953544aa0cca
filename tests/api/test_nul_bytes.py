"""A NUL byte anywhere a request carries text is a 422 naming the field, on SQLite as on
PostgreSQL (which cannot store one), and nothing is stored."""

from __future__ import annotations

import httpx
import pytest

from valueproof.documents import nul_field


def _refused(answer: httpx.Response, field: str) -> None:
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert [error["field"] for error in answer.json()["errors"]] == [field]
    assert "NUL" in answer.json()["errors"][0]["reason"]


@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("/v1/accounts/ac%00me", "external_id"),
        ("/v1/meters/m%00", "key"),
        ("/v1/outcomes/claims/c%001", "claim_id"),
        ("/v1/accounts/acme/success-plan/actions/a%00/history", "action"),
    ],
)
def test_a_nul_in_a_path_parameter_is_refused_naming_it(
    http: httpx.Client, path: str, field: str
) -> None:
    _refused(http.get(path), field)


def test_a_nul_in_a_query_parameter_is_refused_naming_it(http: httpx.Client) -> None:
    _refused(http.get("/v1/accounts", params={"after": "a\0"}), "after")
    _refused(http.get("/v1/ledger/proofs/inclusion", params={"event_id": "e\0"}), "event_id")
    _refused(http.get("/v1/usage?meter=calls%00&from=x&to=y"), "meter")


def test_a_nul_in_a_json_body_is_refused_naming_it_and_nothing_is_stored(
    http: httpx.Client,
) -> None:
    _refused(http.post("/v1/accounts", json={"external_id": "a\0", "name": "A"}), "external_id")
    event = {"id": "e1", "type": "call", "account": "ac\0me", "timestamp": "2026-01-01T00:00:00Z"}
    _refused(http.post("/v1/events", json={"events": [event]}), "events[0].account")
    keyed = http.post(
        "/v1/accounts", json={"external_id": "b", "name": "B", "attributes": {"\0": 1}}
    )
    _refused(keyed, "attributes.\\0")
    assert http.get("/v1/accounts").json()["accounts"] == []


def test_a_nul_in_a_yaml_document_is_refused_naming_it(http: httpx.Client) -> None:
    document = 'key: "c\\0"\naccount: acme\n'
    answer = http.post(
        "/v1/contracts", content=document, headers={"content-type": "application/yaml"}
    )
    assert answer.status_code == 422
    assert answer.json()["errors"][0]["field"] == "key"


def test_text_that_only_spells_a_backslash_u_is_taken(http: httpx.Client) -> None:
    # `\\u0000` in JSON is the six characters \u0000, not a NUL: it is no reason to refuse.
    answer = http.post("/v1/accounts", json={"external_id": "c", "name": "\\u0000"})
    assert answer.status_code == 201, answer.text


def test_nul_field_names_the_first_path_holding_one() -> None:
    assert nul_field({"a": [1, {"b": "x\0"}]}) == "a[1].b"
    assert nul_field("x\0", "(body)") == "(body)"
    assert nul_field({"a": "b", "c": [None, 2.5, True]}) is None
