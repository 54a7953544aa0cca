"""API keys: random, shown once, stored as a SHA-256 digest, each carrying scopes.

A key reads `vp_<key id>_<secret>`. The key id finds the row; the secret is compared in constant
time with its stored digest. A fast hash is enough (no bcrypt/argon2) because the secret is 256
random bits, not a password a person chose: there is nothing to brute-force.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import Connection, insert, select, update

from valueproof.errors import Forbidden, InvalidInput, NotFound, Unauthenticated
from valueproof.tenancy.clock import now_us
from valueproof.tenancy.tables import api_keys, tenants


class Scope(StrEnum):
    INGEST = "ingest"
    READ = "read"
    ADMIN = "admin"


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: a tenant and the scopes its key carries (`admin` implies all)."""

    tenant_id: int
    tenant_slug: str
    key_id: str
    scopes: frozenset[Scope]

    def require(self, scope: Scope) -> None:
        """Raise Forbidden unless this principal holds `scope`."""
        if scope not in self.scopes and Scope.ADMIN not in self.scopes:
            raise Forbidden(f"this API key lacks the {scope.value!r} scope")


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
    connection: Connection, tenant_id: int, scopes: frozenset[Scope], name: str = ""
) -> IssuedKey:
    """Issue a key for a tenant. Only the digest of its secret is stored."""
    key_id = secrets.token_hex(8)
    secret = secrets.token_urlsafe(32)
    connection.execute(
        insert(api_keys).values(
            tenant_id=tenant_id,
            key_id=key_id,
            secret_sha256=_digest(secret),
            scopes=",".join(sorted(s.value for s in scopes)),
            name=name,
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
    row = connection.execute(
        select(api_keys, tenants.c.slug)
        .join(tenants, tenants.c.id == api_keys.c.tenant_id)
        .where(api_keys.c.key_id == parts[1])
    ).one_or_none()
    if row is None or row.revoked_us is not None:
        raise Unauthenticated("unknown or revoked API key")
    if not hmac.compare_digest(row.secret_sha256, _digest(parts[2])):
        raise Unauthenticated("unknown or revoked API key")
    return Principal(
        tenant_id=row.tenant_id,
        tenant_slug=row.slug,
        key_id=row.key_id,
        scopes=parse_scopes(row.scopes),
    )
