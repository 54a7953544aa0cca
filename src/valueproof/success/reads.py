"""What the last refresh found, as the API, the CLI and the dashboard show it: each account's
latest health score with its breakdown and trend, and its seasonal profile per meter."""

from __future__ import annotations

from typing import Any

import orjson
from sqlalchemy import Connection, func, select

from valueproof.errors import InvalidInput
from valueproof.periods import format_micros
from valueproof.success.tables import success_health, success_profiles
from valueproof.tenancy.tables import accounts

__all__ = ["health_of", "health_table", "profiles_of"]


def _latest(tenant_id: int) -> Any:
    t = success_health.c
    return (
        select(t.account_id, func.max(t.scored_us).label("at"))
        .where(t.tenant_id == tenant_id)
        .group_by(t.account_id)
        .subquery()
    )


def _json(row: Any) -> dict[str, Any]:
    breakdown = orjson.loads(row.breakdown)
    return {
        "account": row.external_id,
        "scored": format_micros(row.scored_us),
        "score": None if row.score is None else round(row.score, 2),
        "band": row.band,
        "scorecard": row.scorecard,
        "trend": breakdown["trend"],
        "measures": breakdown["measures"],
        "reason": breakdown["reason"],
    }


def health_table(
    connection: Connection, tenant_id: int, band: str | None = None, account_id: int | None = None
) -> list[dict[str, Any]]:
    """Each account's latest score (lowest first), optionally only those in `band`."""
    t = success_health.c
    latest = _latest(tenant_id)
    query = (
        select(success_health, accounts.c.external_id)
        .join(latest, (latest.c.account_id == t.account_id) & (latest.c.at == t.scored_us))
        .join(accounts, accounts.c.id == t.account_id)
        .where(t.tenant_id == tenant_id)
    )
    if band is not None:
        query = query.where(t.band == band)
    if account_id is not None:
        query = query.where(t.account_id == account_id)
    rows = connection.execute(query.order_by(t.score.is_(None), t.score, accounts.c.external_id))
    return [_json(row) for row in rows]


def health_of(connection: Connection, tenant_id: int, account_id: int) -> dict[str, Any]:
    """The account's latest score; InvalidInput until a refresh has scored it."""
    found = health_table(connection, tenant_id, account_id=account_id)
    if not found:
        raise InvalidInput("account", "not scored yet: run a refresh")
    return found[0]


def profiles_of(connection: Connection, tenant_id: int, account_id: int) -> list[dict[str, Any]]:
    """The account's seasonal profile per meter: candidate periods with their strengths, and the
    recent days against the baseline's interval."""
    t = success_profiles.c
    rows = connection.execute(
        select(t.meter, t.document, t.computed_us)
        .where(t.tenant_id == tenant_id, t.account_id == account_id)
        .order_by(t.meter)
    )
    return [
        {
            "meter": row.meter,
            "computed": format_micros(row.computed_us),
            **orjson.loads(row.document),
        }
        for row in rows
    ]
