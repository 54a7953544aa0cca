"""Tenants: the vendors whose data valueproof keeps, each fully isolated from the others."""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import Connection, insert, select
from sqlalchemy.exc import IntegrityError

from valueproof.errors import AlreadyExists, InvalidInput, NotFound
from valueproof.tenancy.clock import now_us
from valueproof.tenancy.tables import tenants

_SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")


@dataclass(frozen=True, slots=True)
class Tenant:
    id: int
    slug: str
    name: str


def create_tenant(connection: Connection, slug: str, name: str | None = None) -> Tenant:
    """Create a tenant; `slug` is its stable short name (lowercase letters, digits, dashes)."""
    if not _SLUG.match(slug):
        raise InvalidInput("slug", "use 1-63 lowercase letters, digits or dashes")
    try:
        with connection.begin_nested():
            row = connection.execute(
                insert(tenants)
                .values(slug=slug, name=name or slug, created_us=now_us())
                .returning(tenants.c.id)
            ).one()
    except IntegrityError:
        raise AlreadyExists(f"tenant {slug!r} exists already") from None
    return Tenant(id=row.id, slug=slug, name=name or slug)


def get_tenant(connection: Connection, slug: str) -> Tenant:
    """The tenant with this slug, or NotFound."""
    row = connection.execute(select(tenants).where(tenants.c.slug == slug)).one_or_none()
    if row is None:
        raise NotFound(f"no tenant {slug!r}")
    return Tenant(id=row.id, slug=row.slug, name=row.name)


def list_tenants(connection: Connection) -> list[Tenant]:
    """Every tenant, by slug."""
    rows = connection.execute(select(tenants).order_by(tenants.c.slug))
    return [Tenant(id=row.id, slug=row.slug, name=row.name) for row in rows]
