"""The known-set store (outcomes/knownset_store.py) and its use by claims, on both backends: the
secret is sealed at rest, opens only with the passphrase and for its own account, and claims
whose known_key the customer already had are `already_known`."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, select, update

from valueproof.outcomes import knownset_store
from valueproof.outcomes.claim_intake import submit_claims
from valueproof.outcomes.claim_records import ClaimResult
from valueproof.outcomes.definition_store import apply_definition
from valueproof.outcomes.definitions import parse_definition
from valueproof.outcomes.errors import KnownSetUnavailable
from valueproof.outcomes.knownset import known_hashes, new_secret
from valueproof.outcomes.tables import known_set_secrets
from valueproof.periods import format_rfc3339
from valueproof.store import read, tenant_lock, write
from valueproof.tenancy.accounts import AccountCreate, create_account
from valueproof.tenancy.tenants import Tenant

PASSPHRASE = "correct horse battery staple"
NOW = datetime(2026, 11, 20, 12, tzinfo=UTC)
DEFINITION: dict[str, Any] = {
    "contract": "acme-leads",
    "outcome": "qualified_lead",
    "attributes": {
        "email": {"type": "string", "required": True, "personal": True},
        "industry": {"type": "string", "required": True},
        "ref": {"type": "string", "required": True},
    },
    "criteria": [{"name": "industry", "expression": 'claim.industry in ["saas", "fintech"]'}],
    "known_key": "claim.email",
    "dedupe_key": "claim.ref",
    "verification_window_days": 30,
    "dispute_window_days": 14,
}


def lead(n: int, email: str | None = None, account: str = "acme") -> dict[str, Any]:
    return {
        "id": f"c{n}",
        "account": account,
        "contract": "acme-leads",
        "outcome": "qualified_lead",
        "occurred_at": format_rfc3339(NOW - timedelta(days=2)),
        "attributes": {
            "email": email or f"lead{n}@example.com",
            "industry": "saas",
            "ref": f"r{n}",
        },
    }


@pytest.fixture
def accounts(engine: Engine, tenant: Tenant) -> dict[str, int]:
    with write(engine) as connection:
        tenant_lock(connection, tenant.id)
        apply_definition(connection, tenant.id, parse_definition(DEFINITION), 1)
        return {
            name: create_account(
                connection, tenant.id, AccountCreate(external_id=name, name=name)
            ).id
            for name in ("acme", "globex")
        }


def submit(
    engine: Engine, tenant: Tenant, items: list[Any], passphrase: str | None = PASSPHRASE
) -> list[ClaimResult]:
    with write(engine) as connection:
        tenant_lock(connection, tenant.id)
        return submit_claims(connection, tenant.id, items, NOW, passphrase)


def test_the_secret_is_sealed_and_opens_only_with_the_passphrase_for_its_account(
    engine: Engine, tenant: Tenant, accounts: dict[str, int]
) -> None:
    secret = new_secret()
    with write(engine) as connection:
        knownset_store.set_secret(connection, tenant.id, accounts["acme"], secret, PASSPHRASE, 1)
    with read(engine) as connection:
        row = connection.execute(
            select(known_set_secrets).where(known_set_secrets.c.account_id == accounts["acme"])
        ).one()
        assert (
            knownset_store.open_secret(connection, tenant.id, accounts["acme"], PASSPHRASE)
            == secret
        )
        assert (
            knownset_store.open_secret(connection, tenant.id, accounts["globex"], PASSPHRASE)
            is None
        )
        with pytest.raises(KnownSetUnavailable, match="does not open"):
            knownset_store.open_secret(connection, tenant.id, accounts["acme"], "wrong")
        with pytest.raises(KnownSetUnavailable, match="VALUEPROOF_LEDGER_PASSPHRASE"):
            knownset_store.open_secret(connection, tenant.id, accounts["acme"], None)
    stored = b"".join(
        bytes(v) if isinstance(v, bytes | memoryview) else str(v).encode() for v in row
    )
    assert secret not in stored and base64.b64encode(secret) not in stored
    assert row.kdf == "scrypt-n32768-r8-p1" and len(row.ciphertext) == 48
    # The account ids are bound in: the sealed secret copied to another account does not open.
    with write(engine) as connection:
        knownset_store.set_secret(
            connection, tenant.id, accounts["globex"], new_secret(), PASSPHRASE, 2
        )
        connection.execute(
            update(known_set_secrets)
            .where(known_set_secrets.c.account_id == accounts["globex"])
            .values(salt=row.salt, nonce=row.nonce, ciphertext=row.ciphertext)
        )
    with read(engine) as connection, pytest.raises(KnownSetUnavailable):
        knownset_store.open_secret(connection, tenant.id, accounts["globex"], PASSPHRASE)


def test_hashes_are_added_once_and_a_new_secret_drops_them(
    engine: Engine, tenant: Tenant, accounts: dict[str, int]
) -> None:
    secret = new_secret()
    hashes = known_hashes(secret, [f"lead{n}@example.com" for n in range(5)])
    acme = accounts["acme"]
    with write(engine) as connection:
        tenant_lock(connection, tenant.id)
        assert knownset_store.set_secret(connection, tenant.id, acme, secret, PASSPHRASE, 1) == 0
        assert knownset_store.add_hashes(connection, tenant.id, acme, hashes, 1) == 5
        assert knownset_store.add_hashes(connection, tenant.id, acme, hashes, 2) == 0
        assert knownset_store.set_secret(connection, tenant.id, acme, secret, PASSPHRASE, 3) == 0
        assert knownset_store.known_set_status(
            connection, tenant.id, acme
        ) == knownset_store.KnownSetStatus(5, True)
        assert knownset_store.known_set_status(connection, tenant.id, accounts["globex"]).count == 0
        assert (
            knownset_store.set_secret(connection, tenant.id, acme, new_secret(), PASSPHRASE, 4) == 5
        )
        assert knownset_store.known_set_status(
            connection, tenant.id, acme
        ) == knownset_store.KnownSetStatus(0, True)
        with pytest.raises(KnownSetUnavailable):
            knownset_store.set_secret(connection, tenant.id, acme, secret, None, 5)


def test_exactly_the_known_leads_are_already_known(
    engine: Engine, tenant: Tenant, accounts: dict[str, int]
) -> None:
    secret = new_secret()
    had = [f"lead{n}@example.com" for n in range(0, 100, 5)]  # 20 the customer already had
    with write(engine) as connection:
        tenant_lock(connection, tenant.id)
        knownset_store.set_secret(connection, tenant.id, accounts["acme"], secret, PASSPHRASE, 1)
        knownset_store.add_hashes(
            connection, tenant.id, accounts["acme"], known_hashes(secret, had), 1
        )
    claims = [lead(n) for n in range(100)]
    claims[0] = lead(0, "  LEAD0@Example.COM ")  # normalization: the same entry
    claims[10] = lead(10, "Lead10@EXAMPLE.com")
    claims.append(lead(100, "lead5@example.com", account="globex"))  # not globex's known set
    results = submit(engine, tenant, claims)
    assert [r.status for r in results] == ["accepted"] * 101
    knew = {r.id for r in results if any(x.code == "already_known" for x in r.reasons)}
    assert knew == {f"c{n}" for n in range(0, 100, 5)}
    assert all(r.accepted for r in results if r.id not in knew)
    assert all(
        [(x.code, x.field) for x in r.reasons] == [("already_known", "known_key")]
        for r in results
        if r.id in knew
    )


def test_a_known_set_that_cannot_be_used_holds_its_claims_back(
    engine: Engine, tenant: Tenant, accounts: dict[str, int]
) -> None:
    secret = new_secret()
    with write(engine) as connection:
        tenant_lock(connection, tenant.id)
        knownset_store.add_hashes(
            connection, tenant.id, accounts["acme"], known_hashes(secret, ["lead1@example.com"]), 1
        )
    [no_secret, elsewhere] = submit(engine, tenant, [lead(1), lead(2, account="globex")])
    assert (no_secret.status, no_secret.errors[0].field) == ("rejected", "known_key")
    assert "no secret" in no_secret.errors[0].reason
    assert (elsewhere.status, elsewhere.accepted) == ("accepted", True)
    with write(engine) as connection:
        knownset_store.set_secret(connection, tenant.id, accounts["globex"], secret, PASSPHRASE, 1)
    [locked] = submit(engine, tenant, [lead(3, account="globex")], passphrase=None)
    assert (locked.status, locked.errors[0].field) == ("rejected", "known_key")
    assert "VALUEPROOF_LEDGER_PASSPHRASE" in locked.errors[0].reason
    [opened] = submit(engine, tenant, [lead(3, account="globex")])
    assert (opened.status, opened.accepted) == ("accepted", True)
