"""The backtest's replay on stored data: the decline, surge and quiet alerts the refresh would
have raised on each of a range of past days, scored against labels. Reads only.

Each additive meter's daily usage is read once, for the replay range and the `HISTORY_DAYS`
before it; a replay day `d` is the refresh run at the start of `d` (its last whole day `d - 1`),
on the slice of that matrix it would have read. commitment_at_risk and credit_runout are left
out: they need each day's contract rating.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import numpy as np
from sqlalchemy import Connection, select

from valueproof.errors import InvalidInput
from valueproof.metering.registry import load_catalog
from valueproof.success.alerts import AlertRules, parse_rules, quiet_signal
from valueproof.success.backtest import (
    GRACE_DAYS,
    REPLAYED,
    Episode,
    Label,
    TypeScore,
    episodes,
    score,
    score_json,
)
from valueproof.success.daily import DAILY, DailyUsage, daily_usage, usage_habit
from valueproof.success.refresh import HISTORY_DAYS, check_meter
from valueproof.success.settings import load_setting
from valueproof.tenancy.tables import accounts

__all__ = ["LEFT_OUT", "MAX_REPLAY_DAYS", "Backtest", "backtest", "backtest_json", "replay_days"]

LEFT_OUT = {
    "commitment_at_risk": "needs each replay day's contract rating",
    "credit_runout": "needs each replay day's contract rating",
}
MAX_REPLAY_DAYS = 3_660  # ten years of replay days: a bound on the work one request asks for

Held = dict[date, set[tuple[str, str, str]]]


@dataclass(frozen=True, slots=True)
class Backtest:
    """A replay over `days` of `accounts` (external ids) and its score per alert type."""

    first: date
    last: date
    every: int
    days: tuple[date, ...]
    accounts: tuple[str, ...]
    meters: tuple[str, ...]
    episodes: tuple[Episode, ...]
    scores: tuple[TypeScore, ...]


def replay_days(first: date, last: date, every: int) -> tuple[date, ...]:
    """Every `every`-th day from `first` to `last`; InvalidInput names a bad bound."""
    if every < 1:
        raise InvalidInput("every", "must be at least 1")
    if last < first:
        raise InvalidInput("to", f"{last} is before from ({first})")
    count = (last - first).days // every + 1
    if count > MAX_REPLAY_DAYS:
        raise InvalidInput("from", f"{count} replay days; at most {MAX_REPLAY_DAYS}")
    return tuple(first + timedelta(days=i * every) for i in range(count))


def backtest(
    connection: Connection,
    tenant_id: int,
    first: date,
    last: date,
    labels: Sequence[Label],
    every: int = 1,
    only: Sequence[str] | None = None,
) -> Backtest:
    """Replay the tenant's usage alerts on every `every`-th day of [first, last] for its accounts
    (or those in `only`, by external id) and score them against `labels`."""
    days = replay_days(first, last, every)
    people = _accounts(connection, tenant_id, only)
    ids = tuple(sorted(people))
    rules: AlertRules = load_setting(connection, tenant_id, "alerts", parse_rules)
    held: Held = {day: set() for day in days}
    # The matrix's first day is the first replay day's first day of history; its last the last
    # replay day's last whole day.
    start = days[0] - timedelta(days=HISTORY_DAYS)
    active = np.zeros((len(ids), (days[-1] - start).days), dtype=bool)
    meters = []
    catalog = load_catalog(connection, tenant_id)
    for key in sorted(catalog.meters_by_key):
        compiled = catalog.meters_by_key[key]
        if compiled.meter.aggregation not in DAILY or not ids:
            continue
        usage = daily_usage(connection, tenant_id, compiled, start, days[-1] - timedelta(1), ids)
        used = usage.values > 0
        if not used.any():
            continue
        meters.append(key)
        active |= used
        _replay_meter(usage, days, rules, people, held)
    _replay_quiet(active, start, days, rules, ids, people, held)
    found = episodes(held, days)
    replayed = tuple(people[a] for a in ids)
    return Backtest(
        first=first,
        last=last,
        every=every,
        days=days,
        accounts=replayed,
        meters=tuple(meters),
        episodes=tuple(found),
        scores=tuple(score(found, labels, first, last, set(replayed), GRACE_DAYS)),
    )


def _accounts(connection: Connection, tenant_id: int, only: Sequence[str] | None) -> dict[int, str]:
    query = select(accounts.c.id, accounts.c.external_id).where(accounts.c.tenant_id == tenant_id)
    if only is not None:
        query = query.where(accounts.c.external_id.in_(list(only)))
    people = {int(row.id): str(row.external_id) for row in connection.execute(query)}
    missing = sorted(set(only or ()) - set(people.values()))
    if missing:
        raise InvalidInput("account", f"no account {', '.join(map(repr, missing))}")
    return people


def _replay_meter(
    usage: DailyUsage, days: Sequence[date], rules: AlertRules, people: dict[int, str], held: Held
) -> None:
    """`check_meter` on each replay day's slice of one meter's matrix (HISTORY_DAYS to the day
    before), its decline and surge signals added to `held`."""
    for day in days:
        end = (day - usage.first).days  # exclusive: the column of `day` itself
        window = usage.values[:, end - HISTORY_DAYS : end]
        sliced = DailyUsage(
            usage.meter,
            day - timedelta(days=HISTORY_DAYS),
            day - timedelta(1),
            usage.accounts,
            window,
        )
        for account, signals in check_meter(sliced, rules, profiles=False).signals.items():
            held[day].update(
                (people[account], s.type, s.reason) for s in signals if s.type in REPLAYED
            )


def _replay_quiet(
    active: np.ndarray[Any, Any],
    start: date,
    days: Sequence[date],
    rules: AlertRules,
    ids: Sequence[int],
    people: dict[int, str],
    held: Held,
) -> None:
    """The quiet rule on each replay day, as the refresh applies it to the history it would have
    read (`active`: accounts x days from `start`, True where any meter was used)."""
    for day in days:
        end = (day - start).days  # exclusive: the column of `day` itself
        window = active[:, max(0, end - HISTORY_DAYS) : end]
        oldest = day - timedelta(days=window.shape[1])
        last_used, habit = usage_habit(window, oldest)
        for row, account in enumerate(ids):
            column = int(last_used[row])
            used = None if column < 0 else oldest + timedelta(days=column)
            signal = quiet_signal(used, day, rules, habit=habit[row].tolist())
            if signal is not None:
                held[day].add((people[account], signal.type, signal.reason))


def backtest_json(found: Backtest) -> dict[str, Any]:
    """A backtest as the API and `--json` print it."""
    return {
        "from": found.first.isoformat(),
        "to": found.last.isoformat(),
        "every": found.every,
        "replay_days": len(found.days),
        "accounts": len(found.accounts),
        "meters": list(found.meters),
        "grace_days": GRACE_DAYS,
        "types": score_json(found.scores),
        "left_out": LEFT_OUT,
        "episodes": [
            {
                "account": e.account,
                "type": e.type,
                "reason": e.reason,
                "start": e.start.isoformat(),
                "end": e.end.isoformat(),
            }
            for e in found.episodes
        ],
    }
