"""`/v1/accounts` CRUD over real HTTP."""

from __future__ import annotations

import httpx


def test_account_lifecycle(http: httpx.Client) -> None:
    created = http.post(
        "/v1/accounts",
        json={
            "external_id": "acme-1",
            "name": "Acme",
            "attributes": {"industry": "retail", "seats": 40},
        },
    )
    assert created.status_code == 201
    assert (
        http.post("/v1/accounts", json={"external_id": "acme-1", "name": "Again"}).status_code
        == 409
    )
    patched = http.patch(
        "/v1/accounts/acme-1", json={"attributes": {"industry": None, "region": "EMEA"}}
    )
    assert patched.json() == {
        "external_id": "acme-1",
        "name": "Acme",
        "attributes": {"region": "EMEA", "seats": 40},
    }
    assert http.get("/v1/accounts/acme-1").json() == patched.json()
    assert http.delete("/v1/accounts/acme-1").status_code == 204
    assert http.get("/v1/accounts/acme-1").status_code == 404


def test_listing_pages_by_external_id(http: httpx.Client) -> None:
    for index in range(5):
        http.post("/v1/accounts", json={"external_id": f"a{index}", "name": f"A{index}"})
    first = http.get("/v1/accounts", params={"limit": 3}).json()
    assert [a["external_id"] for a in first["accounts"]] == ["a0", "a1", "a2"]
    second = http.get("/v1/accounts", params={"limit": 3, "after": first["next_after"]}).json()
    assert [a["external_id"] for a in second["accounts"]] == ["a3", "a4"]
    assert second["next_after"] is None


def test_bad_account_input_names_the_field(http: httpx.Client) -> None:
    answer = http.post("/v1/accounts", json={"external_id": "has space", "name": ""})
    assert answer.status_code == 422
    fields = {error["field"] for error in answer.json()["errors"]}
    assert fields == {"external_id", "name"}
    unknown = http.post("/v1/accounts", json={"external_id": "ok", "name": "Ok", "plan": "gold"})
    assert unknown.json()["errors"][0]["field"] == "plan"


def test_an_account_with_usage_is_kept(http: httpx.Client) -> None:
    http.put("/v1/event-types/ping", json={"key": "ping"})
    http.post("/v1/accounts", json={"external_id": "busy", "name": "Busy"})
    sent = http.post(
        "/v1/events",
        json={
            "events": [
                {"id": "p1", "account": "busy", "type": "ping", "timestamp": "2026-01-01T00:00:00Z"}
            ]
        },
    )
    assert sent.status_code == 200
    refused = http.delete("/v1/accounts/busy")
    assert refused.status_code == 409
    assert "usage on record" in refused.json()["detail"]
