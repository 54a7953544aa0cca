"""Dashboard sessions (tenancy/session_store.py): a random token whose digest alone is stored,
standing for the key it was opened with until it expires, is ended, or the key is revoked."""

from __future__ import annotations

import hashlib

import pytest
from sqlalchemy import Engine, select

from valueproof.errors import Unauthenticated
from valueproof.store import read, write
from valueproof.tenancy.accounts import AccountCreate, create_account
from valueproof.tenancy.keys import (
    IssuedKey,
    Principal,
    Scope,
    authenticate,
    create_api_key,
    revoke_api_key,
)
from valueproof.tenancy.session_store import end_session, open_session, session_principal
from valueproof.tenancy.tables import web_sessions
from valueproof.tenancy.tenants import Tenant, create_tenant

HOUR = 3_600_000_000
NOW = 1_800_000_000_000_000


def issue(engine: Engine, tenant: Tenant, scopes: frozenset[Scope] = frozenset(Scope)) -> IssuedKey:
    with write(engine) as connection:
        return create_api_key(connection, tenant.id, scopes)


def sign_in(engine: Engine, key: str, now: int = NOW) -> str:
    with write(engine) as connection:
        who = authenticate(connection, key)
        return open_session(connection, who, HOUR, now).token


def principal_at(engine: Engine, token: str, now: int = NOW) -> Principal:
    with read(engine) as connection:
        return session_principal(connection, token, now)


def test_a_session_stands_for_its_key_and_stores_only_its_digest(
    engine: Engine, tenant: Tenant
) -> None:
    issued = issue(engine, tenant)
    token = sign_in(engine, issued.token)
    who = principal_at(engine, token)
    assert (who.tenant_id, who.key_id, who.scopes) == (tenant.id, issued.key_id, issued.scopes)
    with read(engine) as connection:
        row = connection.execute(
            select(web_sessions).where(web_sessions.c.tenant_id == tenant.id)
        ).one()
    stored = " ".join(str(value) for value in row)
    assert token not in stored and issued.token not in stored
    assert row.token_sha256 == hashlib.sha256(token.encode()).hexdigest()
    assert row.expires_us == NOW + HOUR


def test_a_session_ends_when_it_expires(engine: Engine, tenant: Tenant) -> None:
    token = sign_in(engine, issue(engine, tenant).token)
    assert principal_at(engine, token, NOW + HOUR - 1).tenant_id == tenant.id
    with pytest.raises(Unauthenticated, match="expired"):
        principal_at(engine, token, NOW + HOUR)


def test_ending_a_session_is_for_good_and_once_is_enough(engine: Engine, tenant: Tenant) -> None:
    token = sign_in(engine, issue(engine, tenant).token)
    with write(engine) as connection:
        end_session(connection, token, NOW + 1)
        end_session(connection, token, NOW + 2)  # already ended: nothing to do
        end_session(connection, "vps_never-opened", NOW + 2)
    with pytest.raises(Unauthenticated, match="ended"):
        principal_at(engine, token)


def test_revoking_or_deleting_the_key_ends_its_sessions(engine: Engine, tenant: Tenant) -> None:
    kept, revoked = issue(engine, tenant), issue(engine, tenant)
    kept_session, revoked_session = sign_in(engine, kept.token), sign_in(engine, revoked.token)
    with write(engine) as connection:
        revoke_api_key(connection, tenant.id, revoked.key_id)
    with pytest.raises(Unauthenticated, match="revoked"):
        principal_at(engine, revoked_session)
    assert principal_at(engine, kept_session).key_id == kept.key_id


def test_a_customer_keys_session_keeps_its_account(engine: Engine, tenant: Tenant) -> None:
    with write(engine) as connection:
        account = create_account(connection, tenant.id, AccountCreate(external_id="acme", name="A"))
        issued = create_api_key(connection, tenant.id, frozenset({Scope.CUSTOMER}), "", account.id)
    who = principal_at(engine, sign_in(engine, issued.token))
    assert (who.account_external_id, who.scopes) == ("acme", frozenset({Scope.CUSTOMER}))


def test_sessions_stay_in_their_tenant(engine: Engine, tenant: Tenant) -> None:
    with write(engine) as connection:
        other = create_tenant(connection, f"{tenant.slug}-other")
    mine = sign_in(engine, issue(engine, tenant).token)
    theirs = sign_in(engine, issue(engine, other).token)
    assert principal_at(engine, mine).tenant_id == tenant.id
    assert principal_at(engine, theirs).tenant_id == other.id


def test_opening_a_session_forgets_the_tenants_ended_ones(engine: Engine, tenant: Tenant) -> None:
    key = issue(engine, tenant).token
    expired, ended = sign_in(engine, key, NOW - 2 * HOUR), sign_in(engine, key)
    with write(engine) as connection:
        end_session(connection, ended, NOW)
    live = sign_in(engine, key, NOW + 1)
    with read(engine) as connection:
        digests = connection.execute(
            select(web_sessions.c.token_sha256).where(web_sessions.c.tenant_id == tenant.id)
        ).scalars()
        assert list(digests) == [hashlib.sha256(live.encode()).hexdigest()]
    for gone in (expired, ended):
        with pytest.raises(Unauthenticated):
            principal_at(engine, gone)


@pytest.mark.parametrize("token", ["", "vp_abc_def", "vps_", "vps_unknown", "x" * 300])
def test_anything_else_is_no_session(engine: Engine, token: str) -> None:
    with pytest.raises(Unauthenticated):
        principal_at(engine, token)
