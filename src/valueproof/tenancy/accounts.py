"""Accounts: the vendor's customers, named by the vendor's own external id, with free attributes."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

import orjson
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Connection, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from valueproof.errors import AlreadyExists, Conflict, InvalidInput, NotFound
from valueproof.tenancy.clock import now_us
from valueproof.tenancy.tables import accounts

AttributeValue = str | int | float | bool
EXTERNAL_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:@-]{0,199}$"


class AccountCreate(BaseModel):
    """A new account as a client sends it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    external_id: str = Field(pattern=EXTERNAL_ID_PATTERN, description="The vendor's own id.")
    name: str = Field(min_length=1, max_length=300)
    attributes: dict[str, AttributeValue] = Field(
        default_factory=dict, description="Industry, size, region or any key/value."
    )


class AccountPatch(BaseModel):
    """A partial update; `attributes` merges (RFC 7396): a null value removes that attribute."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str | None = Field(default=None, min_length=1, max_length=300)
    attributes: dict[str, AttributeValue | None] | None = None


@dataclass(frozen=True, slots=True)
class Account:
    id: int
    external_id: str
    name: str
    attributes: dict[str, Any]
    created_us: int
    updated_us: int


def _account(row: Any) -> Account:
    return Account(
        id=row.id,
        external_id=row.external_id,
        name=row.name,
        attributes=orjson.loads(row.attributes),
        created_us=row.created_us,
        updated_us=row.updated_us,
    )


def _dump(attributes: dict[str, Any]) -> str:
    return orjson.dumps(attributes, option=orjson.OPT_SORT_KEYS).decode()


def create_account(connection: Connection, tenant_id: int, new: AccountCreate) -> Account:
    """Create an account; its external id must be new for this tenant."""
    now = now_us()
    try:
        with connection.begin_nested():
            row = connection.execute(
                insert(accounts)
                .values(
                    tenant_id=tenant_id,
                    external_id=new.external_id,
                    name=new.name,
                    attributes=_dump(new.attributes),
                    created_us=now,
                    updated_us=now,
                )
                .returning(accounts)
            ).one()
    except IntegrityError:
        raise AlreadyExists(f"account {new.external_id!r} exists already") from None
    return _account(row)


def get_account(connection: Connection, tenant_id: int, external_id: str) -> Account:
    """The account with this external id, or NotFound."""
    row = connection.execute(
        select(accounts).where(
            accounts.c.tenant_id == tenant_id, accounts.c.external_id == external_id
        )
    ).one_or_none()
    if row is None:
        raise NotFound(f"no account {external_id!r}")
    return _account(row)


def list_accounts(
    connection: Connection, tenant_id: int, limit: int = 100, after: str | None = None
) -> list[Account]:
    """Accounts ordered by external id; pass the last one seen as `after` for the next page."""
    query = select(accounts).where(accounts.c.tenant_id == tenant_id)
    if after is not None:
        query = query.where(accounts.c.external_id > after)
    rows = connection.execute(query.order_by(accounts.c.external_id).limit(limit))
    return [_account(row) for row in rows]


def update_account(
    connection: Connection, tenant_id: int, external_id: str, patch: AccountPatch
) -> Account:
    """Apply a partial update and return the account as it now is."""
    current = get_account(connection, tenant_id, external_id)
    attributes = dict(current.attributes)
    for key, value in (patch.attributes or {}).items():
        if value is None:
            attributes.pop(key, None)
        else:
            attributes[key] = value
    row = connection.execute(
        update(accounts)
        .where(accounts.c.id == current.id)
        .values(
            name=patch.name if patch.name is not None else current.name,
            attributes=_dump(attributes),
            updated_us=now_us(),
        )
        .returning(accounts)
    ).one()
    return _account(row)


def delete_account(connection: Connection, tenant_id: int, external_id: str) -> None:
    """Delete an account that has no usage on record; one with usage is kept (Conflict)."""
    current = get_account(connection, tenant_id, external_id)
    try:
        with connection.begin_nested():
            connection.execute(delete(accounts).where(accounts.c.id == current.id))
    except IntegrityError:
        raise Conflict(
            f"account {external_id!r} has usage on record and cannot be deleted"
        ) from None


def account_id(connection: Connection, tenant_id: int, external_id: str) -> int:
    """The internal id of an account; an unknown one is InvalidInput naming `account`."""
    found = account_ids(connection, tenant_id, [external_id]).get(external_id)
    if found is None:
        raise InvalidInput("account", f"unknown account {external_id!r}")
    return found


def account_ids(
    connection: Connection, tenant_id: int, external_ids: Collection[str]
) -> dict[str, int]:
    """Map the given external ids to internal ids; unknown ones are simply absent."""
    found: dict[str, int] = {}
    wanted = list(external_ids)
    for start in range(0, len(wanted), 500):
        rows = connection.execute(
            select(accounts.c.external_id, accounts.c.id).where(
                accounts.c.tenant_id == tenant_id,
                accounts.c.external_id.in_(wanted[start : start + 500]),
            )
        )
        found.update({row.external_id: row.id for row in rows})
    return found


def account_json(account: Account) -> dict[str, Any]:
    return {
        "external_id": account.external_id,
        "name": account.name,
        "attributes": account.attributes,
    }
