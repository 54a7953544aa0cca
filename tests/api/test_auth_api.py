"""Keys, scopes and tenancy over real HTTP: a key never reaches another tenant's data."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import Engine

from valueproof.store import write
from valueproof.tenancy.keys import Scope, create_api_key, revoke_api_key
from valueproof.tenancy.tenants import Tenant, create_tenant


def key_for(engine: Engine, tenant: Tenant, *scopes: Scope) -> tuple[str, str]:
    with write(engine) as connection:
        issued = create_api_key(connection, tenant.id, frozenset(scopes))
    return issued.key_id, issued.token


def client(server: str, token: str) -> httpx.Client:
    return httpx.Client(base_url=server, headers={"Authorization": f"Bearer {token}"})


@pytest.mark.parametrize("header", [None, "Bearer nope", "Bearer vp_unknown_secret", "Basic abc"])
def test_requests_without_a_valid_key_are_401(server: str, header: str | None) -> None:
    headers = {"Authorization": header} if header else {}
    answer = httpx.get(f"{server}/v1/accounts", headers=headers)
    assert answer.status_code == 401
    assert answer.headers["www-authenticate"] == "Bearer"
    assert answer.headers["content-type"] == "application/problem+json"


def test_a_wrong_secret_for_a_real_key_id_is_refused(
    server: str, engine: Engine, tenant: Tenant
) -> None:
    key_id, _token = key_for(engine, tenant, Scope.READ)
    with client(server, f"vp_{key_id}_wrong-secret") as http:
        assert http.get("/v1/accounts").status_code == 401


def test_scopes_are_enforced(server: str, engine: Engine, tenant: Tenant) -> None:
    _, reader = key_for(engine, tenant, Scope.READ)
    _, ingester = key_for(engine, tenant, Scope.INGEST)
    with client(server, reader) as http:
        assert http.get("/v1/accounts").status_code == 200
        refused = http.post("/v1/events", json={"events": []})
        assert refused.status_code == 403
        assert "'ingest' scope" in refused.json()["detail"]
        assert http.post("/v1/accounts", json={"external_id": "x", "name": "X"}).status_code == 403
    with client(server, ingester) as http:
        assert http.get("/v1/accounts").status_code == 403
        # Past the scope check: what is refused now is the empty batch itself.
        assert http.post("/v1/events", json={"events": []}).status_code == 422


def test_revoked_keys_stop_working(server: str, engine: Engine, tenant: Tenant) -> None:
    key_id, token = key_for(engine, tenant, Scope.READ)
    with client(server, token) as http:
        assert http.get("/v1/accounts").status_code == 200
        with write(engine) as connection:
            revoke_api_key(connection, tenant.id, key_id)
        assert http.get("/v1/accounts").status_code == 401


def test_a_key_never_reaches_another_tenants_data(
    server: str, engine: Engine, tenant: Tenant
) -> None:
    with write(engine) as connection:
        other = create_tenant(connection, f"{tenant.slug}-rival")
    _, mine = key_for(engine, tenant, Scope.ADMIN)
    _, theirs = key_for(engine, other, Scope.ADMIN)
    with client(server, mine) as http:
        assert (
            http.post("/v1/accounts", json={"external_id": "secret-co", "name": "S"}).status_code
            == 201
        )
    with client(server, theirs) as http:
        assert http.get("/v1/accounts").json()["accounts"] == []
        assert http.get("/v1/accounts/secret-co").status_code == 404
        assert http.patch("/v1/accounts/secret-co", json={"name": "pwned"}).status_code == 404
        assert http.delete("/v1/accounts/secret-co").status_code == 404
        same_id = http.post("/v1/accounts", json={"external_id": "secret-co", "name": "Theirs"})
        assert same_id.status_code == 201
    with client(server, mine) as http:
        assert http.get("/v1/accounts/secret-co").json()["name"] == "S"


def test_keys_are_stored_hashed(engine: Engine, tenant: Tenant) -> None:
    from sqlalchemy import select

    from valueproof.tenancy.tables import api_keys

    key_id, token = key_for(engine, tenant, Scope.READ)
    with engine.connect() as connection:
        stored = connection.execute(select(api_keys).where(api_keys.c.key_id == key_id)).one()
    secret = token.split("_", 2)[2]
    assert secret not in "".join(str(value) for value in stored)
