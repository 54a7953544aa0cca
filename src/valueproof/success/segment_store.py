"""Put every account in its segments: the tenant's rule-based segment (its `segments` setting,
CEL over the account's attributes and usage features) and a data-driven one (k-means on usage
features, explained in words), each stored with its explanation. Per-segment scorecards read
the rule-based segment.

Usage features come from one meter: the one named, or the additive meter with the most usage.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import numpy as np
import orjson
from sqlalchemy import Connection, delete, insert, select

from valueproof.errors import InvalidInput
from valueproof.metering.registry import load_catalog
from valueproof.periods import to_micros
from valueproof.success.clusters import cluster_accounts
from valueproof.success.daily import DAILY, DailyUsage, daily_usage, own_histories
from valueproof.success.features import usage_features
from valueproof.success.seasonality import detect_seasonality_batch
from valueproof.success.segments import assign_segment, compile_segment_rules
from valueproof.success.settings import SEGMENTS, load_setting
from valueproof.success.tables import success_segments
from valueproof.tenancy.tables import accounts

if TYPE_CHECKING:
    # pandas is imported where tables are built: it takes a second to import, which every
    # module above this one (`success.refresh`, the CLI) would pay at start-up.
    import pandas as pd

__all__ = ["SegmentReport", "rule_segments", "segment_accounts", "segment_report_json"]

HISTORY_DAYS = 730
_MIN_DAYS = 56  # two 28-day blocks: less is too little to say anything of a usage pattern


@dataclass(frozen=True, slots=True)
class SegmentReport:
    """What a segmentation did: the meter, how many accounts, and each usage cluster."""

    meter: str | None
    accounts: int
    clusters: tuple[tuple[str, int, str], ...]  # (segment, size, description)
    rules: bool
    notes: tuple[str, ...]


def segment_accounts(
    connection: Connection,
    tenant_id: int,
    now: datetime,
    meter: str | None = None,
    k: int | None = None,
) -> SegmentReport:
    """Segment every account with usage (and, by rule, every account), in the caller's
    transaction; the segments replace the previous ones."""
    import pandas as pd

    people = {
        int(row.id): row
        for row in connection.execute(
            select(
                accounts.c.id, accounts.c.external_id, accounts.c.name, accounts.c.attributes
            ).where(accounts.c.tenant_id == tenant_id)
        )
    }
    ids = sorted(people)
    last = now.astimezone(UTC).date() - timedelta(days=1)
    usage = _usage(connection, tenant_id, meter, ids, last)
    features = _features(usage, [people[a].external_id for a in usage.accounts]) if usage else None
    now_us = to_micros(now)
    rows: list[dict[str, Any]] = []
    clusters: tuple[tuple[str, int, str], ...] = ()
    notes: tuple[str, ...] = ()
    if features is not None and len(features) >= 2:
        found = cluster_accounts(features, k=k)
        notes = found.notes
        clusters = tuple((f"usage-{c.label + 1}", c.size, c.description) for c in found.clusters)
        by_id = {p.external_id: a for a, p in people.items()}
        for external_id, label, words in zip(
            found.accounts, found.labels.tolist(), found.descriptions, strict=True
        ):
            rows.append(
                _row(tenant_id, by_id[external_id], "usage", f"usage-{label + 1}", words, now_us)
            )
    rules = load_setting(connection, tenant_id, "segments", SEGMENTS)
    if rules is not None:
        compiled = compile_segment_rules(rules)
        table = features if features is not None else pd.DataFrame()
        for account in ids:
            person = people[account]
            context = _account_context(person)
            values = (
                table.loc[person.external_id].dropna().to_dict()
                if person.external_id in table.index
                else {}
            )
            assigned = assign_segment(compiled, context, {}, values)
            why = f"rule {assigned.rule}" if assigned.rule else "no rule matched: the default"
            rows.append(_row(tenant_id, account, "rule", assigned.segment, why, now_us))
    connection.execute(delete(success_segments).where(success_segments.c.tenant_id == tenant_id))
    if rows:
        connection.execute(insert(success_segments), rows)
    return SegmentReport(
        usage.meter if usage else None,
        0 if features is None else len(features),
        clusters,
        rules is not None,
        notes,
    )


def rule_segments(
    connection: Connection, tenant_id: int, only: Sequence[int] | None = None
) -> dict[int, str]:
    """Account id -> its rule-based segment as last stored (of every account, or `only`)."""
    t = success_segments.c
    query = select(t.account_id, t.segment).where(t.tenant_id == tenant_id, t.kind == "rule")
    if only is not None:
        query = query.where(t.account_id.in_(list(only)))
    rows = connection.execute(query)
    return {int(row.account_id): row.segment for row in rows}


def _usage(
    connection: Connection,
    tenant_id: int,
    meter: str | None,
    ids: list[int],
    last: Any,
) -> DailyUsage | None:
    catalog = load_catalog(connection, tenant_id)
    if meter is not None:
        compiled = catalog.meters_by_key.get(meter)
        if compiled is None or compiled.meter.aggregation not in DAILY:
            raise InvalidInput("meter", f"no meter {meter!r} with daily totals")
        choices = [compiled]
    else:
        choices = [
            catalog.meters_by_key[key]
            for key in sorted(catalog.meters_by_key)
            if catalog.meters_by_key[key].meter.aggregation in DAILY
        ]
    first = last - timedelta(days=HISTORY_DAYS - 1)
    best: DailyUsage | None = None
    for compiled in choices:
        found = daily_usage(connection, tenant_id, compiled, first, last, ids)
        if best is None or found.values.sum() > best.values.sum():
            best = found
    if best is None or not best.values.any():
        return None
    keep = np.flatnonzero(best.values.any(axis=1))
    return DailyUsage(
        best.meter,
        best.first,
        best.last,
        tuple(best.accounts[i] for i in keep),
        best.values[keep],
    )


def _features(usage: DailyUsage, names: list[str]) -> pd.DataFrame | None:
    """Features of the accounts with at least `_MIN_DAYS` of history, each on its own history."""
    import pandas as pd

    parts = []
    for rows, size in own_histories(usage.values):
        if size < _MIN_DAYS:
            continue
        values = usage.values[rows, -size:]
        table = detect_seasonality_batch(values)
        parts.append(usage_features(values, usage.last, [names[i] for i in rows], table))
    return pd.concat(parts) if parts else None


def _account_context(person: Any) -> dict[str, Any]:
    return {
        "id": person.external_id,
        "name": person.name,
        "attributes": orjson.loads(person.attributes),
    }


def _row(
    tenant_id: int, account: int, kind: str, segment: str, explanation: str, now_us: int
) -> dict[str, Any]:
    return {
        "tenant_id": tenant_id,
        "account_id": account,
        "kind": kind,
        "segment": segment,
        "explanation": explanation,
        "computed_us": now_us,
    }


def segment_report_json(report: SegmentReport) -> dict[str, Any]:
    """A segmentation's report as the API and `--json` print it."""
    return {
        "meter": report.meter,
        "accounts": report.accounts,
        "clusters": [
            {"segment": name, "size": size, "description": words}
            for name, size, words in report.clusters
        ],
        "rules": report.rules,
        "notes": list(report.notes),
    }
