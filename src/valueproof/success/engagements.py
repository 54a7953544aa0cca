"""What a CSM records and supplies per account: engagements (calls, meetings, business reviews),
whose recency health measures, and driver series (the customer's own business volumes, daily)
that purchase-driver analysis explains usage with."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, Literal, get_args

from sqlalchemy import Connection, delete, func, insert, select

from valueproof.errors import InvalidInput
from valueproof.metering.definitions import KEY_PATTERN
from valueproof.periods import format_micros
from valueproof.success.tables import success_drivers, success_engagements

__all__ = [
    "KINDS",
    "Engagement",
    "driver_series",
    "engagement_json",
    "engagements",
    "last_engagements",
    "put_driver_series",
    "record_engagement",
]

Kind = Literal["call", "meeting", "email", "business_review", "training", "other"]
KINDS: tuple[str, ...] = get_args(Kind)
_EPOCH = date(1970, 1, 1)
_MAX_POINTS = 20_000
_MAX_NOTE = 4_000


@dataclass(frozen=True, slots=True)
class Engagement:
    id: int
    at_us: int
    kind: str
    by: str
    note: str


def record_engagement(
    connection: Connection,
    tenant_id: int,
    account_id: int,
    at_us: int,
    kind: str,
    by: str,
    note: str,
) -> Engagement:
    """Record one engagement; `kind` is one of KINDS, `by` who engaged (a CSM's name)."""
    if kind not in KINDS:
        raise InvalidInput("kind", f"must be one of {', '.join(KINDS)}")
    if not by.strip() or len(by) > 200:
        raise InvalidInput("by", "must be a name of 1 to 200 characters")
    if len(note) > _MAX_NOTE:
        raise InvalidInput("note", f"{len(note)} characters; at most {_MAX_NOTE}")
    created = connection.execute(
        insert(success_engagements)
        .values(
            tenant_id=tenant_id, account_id=account_id, at_us=at_us, kind=kind, by=by, note=note
        )
        .returning(success_engagements.c.id)
    ).scalar_one()
    return Engagement(int(created), at_us, kind, by, note)


def engagements(
    connection: Connection, tenant_id: int, account_id: int, limit: int = 100
) -> list[Engagement]:
    """The account's latest engagements, newest first."""
    t = success_engagements.c
    rows = connection.execute(
        select(t.id, t.at_us, t.kind, t.by, t.note)
        .where(t.tenant_id == tenant_id, t.account_id == account_id)
        .order_by(t.at_us.desc(), t.id.desc())
        .limit(limit)
    )
    return [Engagement(r.id, r.at_us, r.kind, r.by, r.note) for r in rows]


def last_engagements(
    connection: Connection, tenant_id: int, as_of_us: int, only: Sequence[int] | None = None
) -> dict[int, int]:
    """Account id -> its last engagement at or before `as_of_us`, for every engaged account
    (or those of `only`)."""
    t = success_engagements.c
    query = select(t.account_id, func.max(t.at_us)).where(
        t.tenant_id == tenant_id, t.at_us <= as_of_us
    )
    if only is not None:
        query = query.where(t.account_id.in_(list(only)))
    rows = connection.execute(query.group_by(t.account_id))
    return {int(row[0]): int(row[1]) for row in rows}


def engagement_json(item: Engagement) -> dict[str, Any]:
    return {
        "id": item.id,
        "at": format_micros(item.at_us),
        "kind": item.kind,
        "by": item.by,
        "note": item.note,
    }


def put_driver_series(
    connection: Connection,
    tenant_id: int,
    account_id: int,
    driver: str,
    points: Sequence[Any],
) -> int:
    """Replace the account's `driver` series with `points` ([{"day": "YYYY-MM-DD", "value": n}]);
    the number of points stored. Refused whole, naming the point, on any bad one."""
    if not re.fullmatch(KEY_PATTERN, driver):
        raise InvalidInput("driver", "must be a key: lowercase letters, digits, _ . -")
    if len(points) > _MAX_POINTS:
        raise InvalidInput("points", f"{len(points)} points; at most {_MAX_POINTS}")
    rows: dict[int, float] = {}
    for number, point in enumerate(points):
        where = f"points[{number}]"
        if not isinstance(point, dict) or set(point) != {"day", "value"}:
            raise InvalidInput(where, 'must be {"day": "YYYY-MM-DD", "value": number}')
        try:
            day = date.fromisoformat(str(point["day"]))
        except ValueError:
            raise InvalidInput(f"{where}.day", "must be an ISO date (YYYY-MM-DD)") from None
        value = point["value"]
        if isinstance(value, bool) or not isinstance(value, int | float) or value != value:
            raise InvalidInput(f"{where}.value", "must be a finite number")
        if abs(value) > 1e15:
            raise InvalidInput(f"{where}.value", "out of range")
        ordinal = (day - _EPOCH).days
        if ordinal in rows:
            raise InvalidInput(f"{where}.day", f"{day.isoformat()} appears twice")
        rows[ordinal] = float(value)
    t = success_drivers.c
    connection.execute(
        delete(success_drivers).where(
            t.tenant_id == tenant_id, t.account_id == account_id, t.driver == driver
        )
    )
    if rows:
        connection.execute(
            insert(success_drivers),
            [
                {
                    "tenant_id": tenant_id,
                    "account_id": account_id,
                    "driver": driver,
                    "day": d,
                    "value": v,
                }
                for d, v in sorted(rows.items())
            ],
        )
    return len(rows)


def driver_series(
    connection: Connection, tenant_id: int, account_id: int
) -> dict[str, dict[date, float]]:
    """Every driver series of the account: driver -> {day: value}."""
    t = success_drivers.c
    rows = connection.execute(
        select(t.driver, t.day, t.value)
        .where(t.tenant_id == tenant_id, t.account_id == account_id)
        .order_by(t.driver, t.day)
    )
    found: dict[str, dict[date, float]] = {}
    for row in rows:
        found.setdefault(row.driver, {})[_EPOCH + timedelta(days=row.day)] = float(row.value)
    return found
