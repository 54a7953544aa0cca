"""API keys: random, shown once, stored as a SHA-256 digest, each carrying scopes.

A key reads `vp_<key id>_<secret>`. The key id finds the row; the secret is compared in constant
time with its stored digest. A fast hash is enough (no bcrypt/argon2) because the secret is 256
random bits, not a password a person chose: there is nothing to brute-force.

Two kinds of key. A vendor key (no account) carries vendor scopes: `ingest`, `read`, `admin`. A
customer key belongs to one account and carries exactly the scope `customer`, which no vendor
scope check accepts: it opens only the routes that admit their own account's customer
(`Principal.require_account`), and to any other account it answers as if that did not exist.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sqlalchemy import Connection, Row, Select, insert, select, update

from valueproof.errors import Forbidden, InvalidInput, NotFound, Unauthenticated
from valueproof.tenancy.clock import now_us
from valueproof.tenancy.tables import accounts, api_keys, tenants


class Scope(StrEnum):
    INGEST = "ingest"
    READ = "read"
    ADMIN = "admin"
    # A customer's own key, bound to one account; never held together with a vendor scope.
    CUSTOMER = "customer"


VENDOR_SCOPES = frozenset({Scope.INGEST, Scope.READ, Scope.ADMIN})


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: a tenant and the scopes its key carries (`admin` implies every vendor
    scope); for a customer key, also the one account it belongs to."""

    tenant_id: int
    tenant_slug: str
    key_id: str
    scopes: frozenset[Scope]
    account_id: int | None = None
    account_external_id: str | None = None

    @property
    def is_customer(self) -> bool:
        return self.account_id is not None

    def require(self, scope: Scope) -> None:
        """Raise Forbidden unless this principal holds the vendor scope `scope`.

        A customer key holds only `customer`, so it fails every vendor scope check.
        """
        if scope not in VENDOR_SCOPES:
            raise ValueError(f"{scope.value!r} is not a vendor scope; use require_account")
        if self.is_customer:
            raise Forbidden("a customer API key reaches only its own account's routes")
        if scope not in self.scopes and Scope.ADMIN not in self.scopes:
            raise Forbidden(f"this API key lacks the {scope.value!r} scope")

    def require_account(self, external_id: str, scope: Scope) -> None:
        """Admit a vendor key holding `scope`, or a customer key of account `external_id`.

        A customer key asking for another account gets NotFound with the very message an absent
        account gives, so it cannot learn which other accounts exist.
        """
        if not self.is_customer:
            self.require(scope)
        elif self.account_external_id != external_id:
            raise NotFound(f"no account {external_id!r}")


@dataclass(frozen=True, slots=True)
class IssuedKey:
    """A newly created key. `token` is shown once and never stored."""

    key_id: str
    token: str
    scopes: frozenset[Scope]


def parse_scopes(values: list[str] | str) -> frozenset[Scope]:
    """Scopes from names (a list, or a comma-separated string)."""
    names = values.split(",") if isinstance(values, str) else values
    chosen: set[Scope] = set()
    for name in (n.strip() for n in names):
        try:
            chosen.add(Scope(name))
        except ValueError:
            allowed = ", ".join(s.value for s in Scope)
            raise InvalidInput("scopes", f"unknown scope {name!r}; use {allowed}") from None
    if not chosen:
        raise InvalidInput("scopes", "at least one scope is required")
    return frozenset(chosen)


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def create_api_key(
    connection: Connection,
    tenant_id: int,
    scopes: frozenset[Scope],
    name: str = "",
    account_id: int | None = None,
) -> IssuedKey:
    """Issue a key for a tenant. Only the digest of its secret is stored.

    With `account_id` (an account of this tenant) it is a customer key, whose scopes must be
    exactly {customer}. Without, `customer` is dropped from `scopes`: it means nothing on a
    vendor key (so `frozenset(Scope)` is a vendor key with every vendor scope).
    """
    if account_id is not None:
        if scopes != {Scope.CUSTOMER}:
            raise InvalidInput("scopes", "a customer key has exactly the scope 'customer'")
        owner = connection.execute(
            select(accounts.c.id).where(
                accounts.c.id == account_id, accounts.c.tenant_id == tenant_id
            )
        ).first()
        if owner is None:
            raise NotFound(f"no account with id {account_id}")
    else:
        scopes = scopes & VENDOR_SCOPES
        if not scopes:
            raise InvalidInput("scopes", "the 'customer' scope needs an account")
    key_id = secrets.token_hex(8)
    secret = secrets.token_urlsafe(32)
    connection.execute(
        insert(api_keys).values(
            tenant_id=tenant_id,
            key_id=key_id,
            secret_sha256=_digest(secret),
            scopes=",".join(sorted(s.value for s in scopes)),
            name=name,
            account_id=account_id,
            created_us=now_us(),
        )
    )
    return IssuedKey(key_id=key_id, token=f"vp_{key_id}_{secret}", scopes=scopes)


def revoke_api_key(connection: Connection, tenant_id: int, key_id: str) -> None:
    """Revoke a key of this tenant; later calls with it are refused."""
    result = connection.execute(
        update(api_keys)
        .where(api_keys.c.tenant_id == tenant_id, api_keys.c.key_id == key_id)
        .values(revoked_us=now_us())
    )
    if result.rowcount == 0:
        raise NotFound(f"no API key {key_id!r}")


def authenticate(connection: Connection, token: str) -> Principal:
    """The principal a bearer token stands for, or Unauthenticated."""
    parts = token.split("_", 2)
    if len(parts) != 3 or parts[0] != "vp":
        raise Unauthenticated("malformed API key")
    row = connection.execute(key_rows().where(api_keys.c.key_id == parts[1])).one_or_none()
    if row is None or not hmac.compare_digest(row.secret_sha256, _digest(parts[2])):
        raise Unauthenticated("unknown or revoked API key")
    return key_principal(row)


def key_rows() -> Select[Any]:
    """API key rows with what `key_principal` needs (their tenant's slug, their account's id)."""
    return (
        select(api_keys, tenants.c.slug, accounts.c.external_id)
        .join(tenants, tenants.c.id == api_keys.c.tenant_id)
        .outerjoin(
            accounts,
            (accounts.c.id == api_keys.c.account_id)
            & (accounts.c.tenant_id == api_keys.c.tenant_id),
        )
    )


def key_principal(row: Row[Any]) -> Principal:
    """The principal of a row of `key_rows`, or Unauthenticated if the key is revoked."""
    if row.revoked_us is not None:
        raise Unauthenticated("unknown or revoked API key")
    scopes = parse_scopes(row.scopes)
    # A row that mixes the kinds (written by hand, say) is refused rather than guessed at.
    if (row.account_id is None) != (Scope.CUSTOMER not in scopes) or (
        row.account_id is not None and (scopes != {Scope.CUSTOMER} or row.external_id is None)
    ):
        raise Unauthenticated("unknown or revoked API key")
    return Principal(
        tenant_id=row.tenant_id,
        tenant_slug=row.slug,
        key_id=row.key_id,
        scopes=scopes,
        account_id=row.account_id,
        account_external_id=row.external_id,
    )
