"""Customer keys and the known set over real HTTP: a customer key reaches its own account's
preview, claims and known set, nothing else; the secret is sealed and never returned; claims the
customer already knew are `already_known`."""

from __future__ import annotations

import base64
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, select

from valueproof.api.app import create_app
from valueproof.config import Settings
from valueproof.outcomes.knownset import known_hash, known_hashes, new_secret, secret_text
from valueproof.outcomes.tables import known_set_secrets
from valueproof.store import read, write
from valueproof.tenancy.accounts import get_account
from valueproof.tenancy.keys import Scope, create_api_key
from valueproof.tenancy.tenants import Tenant

CONTRACT = (
    Path(__file__).resolve().parents[1] / "contracts" / "fixtures" / "per_unit.yaml"
).read_text()
EVENT_TYPE = {"key": "api.call", "properties": {"region": {"type": "string"}}}
METER = {"key": "calls", "event_type": "api.call", "aggregation": "count"}
DEFINITION: dict[str, Any] = {
    "contract": "acme-leads",
    "outcome": "qualified_lead",
    "attributes": {
        "email": {"type": "string", "required": True, "personal": True},
        "industry": {"type": "string", "required": True},
    },
    "criteria": [{"name": "industry", "expression": 'claim.industry in ["saas", "fintech"]'}],
    "dedupe_key": "lower(claim.email)",
    "known_key": "claim.email",
    "verification_window_days": 30,
    "dispute_window_days": 14,
}


def lead(n: int, email: str | None = None, account: str = "acme") -> dict[str, Any]:
    return {
        "id": f"c{n}",
        "account": account,
        "contract": "acme-leads",
        "outcome": "qualified_lead",
        "occurred_at": (datetime.now(UTC) - timedelta(days=1)).isoformat(),
        "attributes": {"email": email or f"lead{n}@example.com", "industry": "saas"},
    }


def customer_key(engine: Engine, tenant: Tenant, external_id: str) -> str:
    with write(engine) as connection:
        account = get_account(connection, tenant.id, external_id)
        return create_api_key(
            connection, tenant.id, frozenset({Scope.CUSTOMER}), "portal", account.id
        ).token


def file_holds(path: Path, needles: tuple[bytes, ...]) -> bool:
    """Whether the file's raw bytes hold any needle, read by another process: closing a file
    descriptor on a SQLite database drops every POSIX lock this process's connections hold on
    it (sqlite.org/howtocorrupt.html, 2.2), which corrupts the shared test database."""
    script = (
        "import pathlib, sys\n"
        "path = pathlib.Path(sys.argv[1])\n"
        "content = path.read_bytes() if path.exists() else b''\n"
        "needles = [bytes.fromhex(n) for n in sys.argv[2:]]\n"
        "sys.exit(1 if any(n in content for n in needles) else 0)\n"
    )
    run = subprocess.run(
        [sys.executable, "-c", script, str(path), *(n.hex() for n in needles)], check=False
    )
    assert run.returncode in (0, 1)
    return run.returncode == 1


def as_key(server: str, token: str) -> httpx.Client:
    return httpx.Client(base_url=server, headers={"Authorization": f"Bearer {token}"}, timeout=60)


@pytest.fixture
def vendor(http: httpx.Client) -> httpx.Client:
    """The admin client, with accounts acme and globex and a definition with a known_key."""
    for name in ("acme", "globex"):
        assert http.post("/v1/accounts", json={"external_id": name, "name": name}).is_success
    created = http.put("/v1/outcomes/definitions/acme-leads/qualified_lead", json=DEFINITION)
    assert created.status_code == 201, created.text
    return http


@pytest.fixture
def acme(
    server: str, engine: Engine, tenant: Tenant, vendor: httpx.Client
) -> Iterator[httpx.Client]:
    """acme's customer key."""
    with as_key(server, customer_key(engine, tenant, "acme")) as client:
        yield client


def test_a_customer_key_is_refused_beyond_its_own_account(
    acme: httpx.Client, vendor: httpx.Client
) -> None:
    assert vendor.post(
        "/v1/outcomes/claims", json={"claims": [lead(1, account="globex")]}
    ).is_success
    refused = {
        "events ingest": acme.post("/v1/events", json={"events": []}),
        "usage": acme.get("/v1/usage", params={"meter": "calls"}),
        "checkpoint": acme.get("/v1/ledger/checkpoint"),
        "ledger keys": acme.get("/v1/ledger/keys"),
        "contracts": acme.get("/v1/contracts"),
        "accounts": acme.get("/v1/accounts"),
        "claims ingest": acme.post("/v1/outcomes/claims", json={"claims": [lead(2)]}),
        "definitions": acme.get("/v1/outcomes/definitions"),
    }
    assert {name: r.status_code for name, r in refused.items()} == dict.fromkeys(refused, 403)
    assert "customer API key" in refused["contracts"].json()["detail"]
    # Another account is answered as if it did not exist.
    hidden = {
        "preview": acme.get("/v1/accounts/globex/preview"),
        "known set": acme.get("/v1/accounts/globex/known-set"),
        "upload": acme.post(
            "/v1/accounts/globex/known-set", content="", headers={"content-type": "text/plain"}
        ),
        "secret": acme.put(
            "/v1/accounts/globex/known-set/secret", json={"secret": secret_text(new_secret())}
        ),
    }
    assert {name: r.status_code for name, r in hidden.items()} == dict.fromkeys(hidden, 404)
    assert hidden["preview"].json()["detail"] == acme.get("/v1/accounts/nobody/preview").json()[
        "detail"
    ].replace("nobody", "globex")
    other_claim = acme.get("/v1/outcomes/claims/c1")
    absent_claim = acme.get("/v1/outcomes/claims/c999")
    assert (other_claim.status_code, absent_claim.status_code) == (404, 404)
    assert other_claim.json()["detail"] == "no claim 'c1'"
    assert vendor.get("/v1/outcomes/claims/c1").status_code == 200


def test_a_customer_sees_its_own_preview_and_claims(
    acme: httpx.Client, vendor: httpx.Client
) -> None:
    assert vendor.post("/v1/outcomes/claims", json={"claims": [lead(1)]}).is_success
    mine = acme.get("/v1/outcomes/claims/c1")
    assert mine.status_code == 200 and mine.json()["account"] == "acme"
    # The contract of tests/contracts: the customer's preview is the vendor's, to the byte.
    assert vendor.put("/v1/event-types/api.call", json=EVENT_TYPE).status_code == 201
    assert vendor.post("/v1/meters", json=METER).status_code == 201
    contract = vendor.post(
        "/v1/contracts", content=CONTRACT, headers={"Content-Type": "application/yaml"}
    )
    assert contract.status_code == 201, contract.text
    at = {"at": "2024-05-11T00:00:00Z"}
    preview = acme.get("/v1/accounts/acme/preview", params=at)
    assert preview.status_code == 200, preview.text
    assert preview.content == vendor.get("/v1/accounts/acme/preview", params=at).content


def test_known_set_uploads_and_errors(
    acme: httpx.Client, vendor: httpx.Client, server: str, engine: Engine, tenant: Tenant
) -> None:
    secret = new_secret()
    hashes = sorted(known_hashes(secret, [f"lead{n}@example.com" for n in range(4)]))
    assert acme.get("/v1/accounts/acme/known-set").json() == {"count": 0, "secret_set": False}
    text = "\n".join([hashes[0].upper(), "", hashes[1], hashes[0]]) + "\n"
    first = acme.post(
        "/v1/accounts/acme/known-set", content=text, headers={"content-type": "text/plain"}
    )
    assert first.status_code == 200, first.text
    assert first.json() == {"received": 2, "added": 2, "count": 2, "secret_set": False}
    again = acme.post("/v1/accounts/acme/known-set", json={"hashes": hashes})
    assert again.json() == {"received": 4, "added": 2, "count": 4, "secret_set": False}
    bad = acme.post(
        "/v1/accounts/acme/known-set",
        content=f"{hashes[0]}\n\nnot-a-hash\n",
        headers={"content-type": "text/plain"},
    )
    assert bad.status_code == 422 and "line 3" in bad.json()["detail"]
    both = acme.post(
        "/v1/accounts/acme/known-set",
        content=f"oops\n{hashes[0]}\nnot-a-hash\n",
        headers={"content-type": "text/plain"},
    )
    assert [e["field"] for e in both.json()["errors"]] == ["line 1", "line 3"]  # all at once
    bad_json = acme.post("/v1/accounts/acme/known-set", json={"hashes": [hashes[0], 7]})
    assert bad_json.status_code == 422 and "hashes[1]" in bad_json.json()["detail"]
    for body in ({"secret": "c2hvcnQ="}, {"secret": 5}, {}):
        assert acme.put("/v1/accounts/acme/known-set/secret", json=body).status_code == 422
    stored = acme.put("/v1/accounts/acme/known-set/secret", json={"secret": secret_text(secret)})
    assert stored.status_code == 200, stored.text
    assert stored.json() == {"hashes_dropped": 0, "count": 4, "secret_set": True}
    assert secret_text(secret) not in stored.text
    # A vendor `read` key sees the count, never the secret; it cannot change the set.
    with write(engine) as connection:
        reader = create_api_key(connection, tenant.id, frozenset({Scope.READ})).token
    with as_key(server, reader) as read_only:
        assert read_only.get("/v1/accounts/acme/known-set").json() == {
            "count": 4,
            "secret_set": True,
        }
        assert read_only.post("/v1/accounts/acme/known-set", json={"hashes": []}).status_code == 403
    # A new secret drops the hashes made with the old one; the vendor's admin may set it too.
    replaced = vendor.put(
        "/v1/accounts/acme/known-set/secret", json={"secret": secret_text(new_secret())}
    )
    assert replaced.json() == {"hashes_dropped": 4, "count": 0, "secret_set": True}
    # A customer's own 25-byte secret is kept: HMAC takes any key of 16 bytes or more.
    own = bytes(range(25))
    kept = acme.put("/v1/accounts/acme/known-set/secret", json={"secret": secret_text(own)})
    assert kept.status_code == 200, kept.text
    fifteen = base64.b64encode(own[:15]).decode()
    short = acme.put("/v1/accounts/acme/known-set/secret", json={"secret": fifteen})
    assert short.status_code == 422 and "16 to 1024 bytes" in short.json()["detail"]


def test_without_a_passphrase_the_secret_is_refused_with_409(
    engine: Engine,
    tenant: Tenant,
    admin_key: str,
    serve: Callable[..., AbstractContextManager[str]],
) -> None:
    settings = Settings(database_url=str(engine.url), ledger_passphrase=None)
    with serve(create_app(engine, settings)) as url, as_key(url, admin_key) as client:
        assert client.post("/v1/accounts", json={"external_id": "acme", "name": "A"}).is_success
        answer = client.put(
            "/v1/accounts/acme/known-set/secret", json={"secret": secret_text(new_secret())}
        )
    assert answer.status_code == 409
    assert "VALUEPROOF_LEDGER_PASSPHRASE" in answer.json()["detail"]


def test_the_customers_known_leads_are_rejected_already_known(
    acme: httpx.Client, vendor: httpx.Client, engine: Engine, tenant: Tenant
) -> None:
    # The customer's side: a secret and the hashes of 20 leads it had, computed on its machine.
    secret = new_secret()
    had = [f"lead{n}@example.com" for n in range(0, 100, 5)]
    uploaded = "\n".join(sorted(known_hashes(secret, had)))
    assert acme.put(
        "/v1/accounts/acme/known-set/secret", json={"secret": secret_text(secret)}
    ).is_success
    assert acme.post(
        "/v1/accounts/acme/known-set", content=uploaded, headers={"content-type": "text/plain"}
    ).json() == {"received": 20, "added": 20, "count": 20, "secret_set": True}
    # The vendor's 100 claims, some of the known ones written otherwise.
    claims = [lead(n) for n in range(100)]
    claims[0] = lead(0, " LEAD0@example.com")
    claims[15] = lead(15, "Lead15@Example.COM  ")
    claims[40] = lead(40, "lead40@EXAMPLE.com")
    answer = vendor.post("/v1/outcomes/claims", json={"claims": claims})
    assert answer.status_code == 207, answer.text  # the known ones are rejected
    results = answer.json()["results"]
    knew = {
        r["id"]
        for r in results
        if any(x["code"] == "already_known" for x in r["verdict"]["reasons"])
    }
    assert knew == {f"c{n}" for n in range(0, 100, 5)}
    assert {r["id"] for r in results if r["verdict"]["accepted"]} == {
        f"c{n}" for n in range(100)
    } - knew
    assert known_hash(secret, claims[15]["attributes"]["email"]) in uploaded
    # The secret is nowhere in the database in clear, nor in its base64 text.
    needles = (secret, secret_text(secret).encode(), secret.hex().encode())
    with read(engine) as connection:
        rows = connection.execute(select(known_set_secrets)).all()
    assert rows
    raw = b"".join(
        bytes(value) if isinstance(value, bytes | memoryview) else str(value).encode()
        for row in rows
        for value in row
    )
    assert not any(needle in raw for needle in needles)
    if engine.url.get_backend_name() == "sqlite":
        database = Path(str(engine.url.database))
        for path in (database, database.with_name(database.name + "-wal")):
            assert not file_holds(path, needles), path
    assert base64.b64encode(secret).decode() == secret_text(secret)
