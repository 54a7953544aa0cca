"""Tenancy's writes, one transaction each: tenants, customer accounts, API keys and the
dashboard's sessions.

Each takes the engine, holds the tenant's write lock (a new tenant has none to hold yet) and
commits; the API and the CLI parse their input, call one of these, and render what it returns.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Engine

from valueproof.store import tenant_write, write
from valueproof.tenancy import accounts as service
from valueproof.tenancy import keys, tenants
from valueproof.tenancy.accounts import Account, AccountCreate, AccountPatch
from valueproof.tenancy.clock import now_us
from valueproof.tenancy.keys import IssuedKey, Scope, authenticate
from valueproof.tenancy.session_store import OpenedSession, end_session, open_session
from valueproof.tenancy.tenants import Tenant

__all__ = [
    "create_account",
    "create_api_key",
    "create_tenant",
    "delete_account",
    "import_accounts",
    "revoke_api_key",
    "sign_in",
    "sign_out",
    "update_account",
]


def create_tenant(engine: Engine, slug: str, name: str | None = None) -> Tenant:
    """Create a tenant; AlreadyExists when the slug is taken."""
    with write(engine) as connection:
        return tenants.create_tenant(connection, slug, name)


def create_account(engine: Engine, tenant_id: int, new: AccountCreate) -> Account:
    """Create an account; AlreadyExists when its external id is taken."""
    with tenant_write(engine, tenant_id) as connection:
        return service.create_account(connection, tenant_id, new)


def update_account(
    engine: Engine, tenant_id: int, external_id: str, patch: AccountPatch
) -> Account:
    """Change an account's name or attributes; attributes the patch does not name are kept."""
    with tenant_write(engine, tenant_id) as connection:
        return service.update_account(connection, tenant_id, external_id, patch)


def delete_account(engine: Engine, tenant_id: int, external_id: str) -> None:
    """Delete an account that has no usage on record."""
    with tenant_write(engine, tenant_id) as connection:
        service.delete_account(connection, tenant_id, external_id)


def import_accounts(
    engine: Engine, tenant_id: int, wanted: Sequence[AccountCreate]
) -> dict[str, int]:
    """Create missing accounts and bring existing ones up to date, all or none; attributes a
    row does not name are kept. Returns how many were created, updated and unchanged."""
    counts = {"created": 0, "updated": 0, "unchanged": 0}
    with tenant_write(engine, tenant_id) as connection:
        known = service.account_ids(connection, tenant_id, [a.external_id for a in wanted])
        for account in wanted:
            if account.external_id not in known:
                service.create_account(connection, tenant_id, account)
                counts["created"] += 1
                continue
            current = service.get_account(connection, tenant_id, account.external_id)
            merged = current.attributes | account.attributes
            if current.name == account.name and merged == current.attributes:
                counts["unchanged"] += 1
                continue
            patch = AccountPatch(name=account.name, attributes=dict(account.attributes))
            service.update_account(connection, tenant_id, account.external_id, patch)
            counts["updated"] += 1
    return counts


def create_api_key(
    engine: Engine,
    tenant_id: int,
    scopes: frozenset[Scope],
    name: str = "",
    account: str | None = None,
) -> IssuedKey:
    """Issue a key; with `account` (an external id) a customer key of that account."""
    with tenant_write(engine, tenant_id) as connection:
        owner = None if account is None else service.get_account(connection, tenant_id, account).id
        return keys.create_api_key(connection, tenant_id, scopes, name, owner)


def revoke_api_key(engine: Engine, tenant_id: int, key_id: str) -> None:
    """Revoke a key: calls made with it are refused from now on."""
    with tenant_write(engine, tenant_id) as connection:
        keys.revoke_api_key(connection, tenant_id, key_id)


def sign_in(engine: Engine, key: str, previous: str | None, lifetime_us: int) -> OpenedSession:
    """Open a dashboard session for a key that may read, ending the browser's `previous` one.

    Unauthenticated or Forbidden for any other key, and then nothing is written.
    """
    now = now_us()
    with write(engine) as connection:
        who = authenticate(connection, key)
        who.require(Scope.READ)
        if previous:
            end_session(connection, previous, now)
        return open_session(connection, who, lifetime_us, now)


def sign_out(engine: Engine, session: str) -> None:
    """End a dashboard session; ending one that has ended already changes nothing."""
    with write(engine) as connection:
        end_session(connection, session, now_us())
