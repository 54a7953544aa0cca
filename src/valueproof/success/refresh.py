"""The Customer Success refresh: for every account (or a few), read two years of daily usage per
meter, detect its seasonal periods, check the last days against its seasonal baseline, measure
its commitment, credit, outcomes, success plan and engagements, score its health, and bring its
alerts in line with what holds now. Run by `valueproof success refresh` and after ingest.

The heavy parts work on whole matrices (accounts x days) at once; what is per account is the
rating of those with a contract in force and the few store writes each account needs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np
import orjson
from sqlalchemy import Connection, delete, func, insert, select

from valueproof.contracts.registry import account_versions, in_force, tenant_versions
from valueproof.errors import InvalidInput
from valueproof.metering.registry import load_catalog
from valueproof.outcomes.tables import outcome_claims
from valueproof.periods import parse_instant_field, to_micros
from valueproof.success.alert_store import Reconciled, reconcile
from valueproof.success.alerts import (
    AlertRules,
    Signal,
    commitment_signals,
    credit_signals,
    interval_signals,
    low_volume,
    parse_rules,
    quiet_signal,
)
from valueproof.success.baseline import check_recent
from valueproof.success.daily import DAILY, DailyUsage, daily_usage, own_histories, usage_habit
from valueproof.success.engagements import last_engagements
from valueproof.success.health import HealthTable, compile_scorecards, score_accounts
from valueproof.success.plans import adherence
from valueproof.success.segment_store import rule_segments
from valueproof.success.settings import SCORECARD, load_setting
from valueproof.success.tables import success_health, success_plan_actions, success_profiles
from valueproof.success.utilization import utilization
from valueproof.tenancy.tables import accounts

__all__ = [
    "CHECK_DAYS",
    "HISTORY_DAYS",
    "MIN_HISTORY_DAYS",
    "MeterCheck",
    "RefreshReport",
    "check_meter",
    "refresh",
    "refresh_instant",
    "report_json",
]

# Two years and two weeks: whole weeks (105), and an account with two years of its own history
# still has the 730 days the yearly test needs after its history is cut to whole weeks.
HISTORY_DAYS = 735
CHECK_DAYS = 14  # the recent days checked against the baseline fitted before them
RATIO_DAYS = 7  # usage against the baseline over the last week, for health
_MIN_FIT = 2 * 28  # the baseline's level needs two of its 28-day windows before the check
MIN_HISTORY_DAYS = _MIN_FIT + CHECK_DAYS  # 70: the least own history that gets a baseline
_OUTCOME_DAYS = 90
_BLOCK = 7
_YEARLY_DAYS = 730  # the yearly period's minimum history (series.Candidate.min_history)
_FEW = 500  # up to this many accounts, per-account reads filter on them
# An as-of date's history reaches HISTORY_DAYS back; before this its days would precede 1970.
_EARLIEST = date(1972, 1, 1)


@dataclass(slots=True)
class RefreshReport:
    """What a refresh did."""

    accounts: int = 0
    scored: int = 0
    opened: int = 0
    updated: int = 0
    reopened: int = 0
    cleared: int = 0
    meters: list[str] = field(default_factory=list)

    def add(self, done: Reconciled) -> None:
        self.opened += done.opened
        self.updated += done.updated
        self.reopened += done.reopened
        self.cleared += done.cleared


def refresh(
    connection: Connection,
    tenant_id: int,
    now: datetime,
    only: Sequence[str] | None = None,
) -> RefreshReport:
    """Refresh the tenant's accounts (or those in `only`, by external id) as of `now`, in the
    caller's transaction (which holds the tenant lock)."""
    people = _accounts(connection, tenant_id, only)
    ids = sorted(people)
    report = RefreshReport(accounts=len(ids))
    if not ids:
        return report
    now_us = to_micros(now)
    last = now.astimezone(UTC).date() - timedelta(days=1)  # the last whole day
    first = last - timedelta(days=HISTORY_DAYS - 1)
    rules: AlertRules = load_setting(connection, tenant_id, "alerts", parse_rules)
    signals: dict[int, list[Signal]] = {account: [] for account in ids}
    checked: dict[int, set[str]] = {
        account: {"quiet", "commitment_at_risk", "credit_runout"} for account in ids
    }
    active = np.zeros((len(ids), HISTORY_DAYS), dtype=bool)
    ratio = np.full(len(ids), np.nan)
    catalog = load_catalog(connection, tenant_id)
    for key in sorted(catalog.meters_by_key):
        compiled = catalog.meters_by_key[key]
        if compiled.meter.aggregation not in DAILY:
            continue
        usage = daily_usage(connection, tenant_id, compiled, first, last, ids)
        used = usage.values > 0
        if not used.any():
            continue
        report.meters.append(key)
        active |= used
        _check(connection, tenant_id, usage, rules, signals, checked, ratio, now_us)
    last_used, habit = usage_habit(active, first)
    for row, account in enumerate(ids):
        day = None if last_used[row] < 0 else first + timedelta(days=int(last_used[row]))
        found = quiet_signal(day, last + timedelta(days=1), rules, habit=habit[row].tolist())
        if found is not None:
            signals[account].append(found)
    pace = _contracts(connection, tenant_id, people, ids, now, rules, signals)
    health = _health(connection, tenant_id, ids, now_us, ratio, pace)
    _store_health(connection, tenant_id, ids, health, now_us)
    report.scored = int(np.count_nonzero(~np.isnan(health.scores)))
    for account in ids:
        report.add(
            reconcile(connection, tenant_id, account, signals[account], checked[account], now_us)
        )
    return report


def refresh_instant(field_name: str, text: str | None, now: datetime) -> datetime:
    """The instant a refresh runs as of: `text` (RFC 3339) or `now`; never after `now` (there is
    no usage yet to check) and never before the history a refresh reads could exist."""
    if text is None:
        return now
    moment = parse_instant_field(field_name, text)
    if moment > now:
        raise InvalidInput(field_name, "must not be in the future")
    if moment.astimezone(UTC).date() < _EARLIEST:
        raise InvalidInput(field_name, f"must be on or after {_EARLIEST.isoformat()}")
    return moment


def report_json(report: RefreshReport) -> dict[str, Any]:
    """A refresh's counts as the API and `--json` print them."""
    return {
        "accounts": report.accounts,
        "scored": report.scored,
        "meters": report.meters,
        "alerts": {
            "opened": report.opened,
            "updated": report.updated,
            "reopened": report.reopened,
            "cleared": report.cleared,
        },
    }


def _accounts(connection: Connection, tenant_id: int, only: Sequence[str] | None) -> dict[int, str]:
    query = select(accounts.c.id, accounts.c.external_id).where(accounts.c.tenant_id == tenant_id)
    if only is not None:
        query = query.where(accounts.c.external_id.in_(list(only)))
    return {int(row.id): row.external_id for row in connection.execute(query)}


@dataclass(slots=True)
class MeterCheck:
    """One meter's seasonal check of every account that used it, as of one day: the decline and
    surge signals, which accounts were checked, the last week's usage over its norm (NaN where
    there is no norm), and each account's profile document (with the reason when there is no
    baseline yet)."""

    signals: dict[int, list[Signal]] = field(default_factory=dict)
    checked: set[int] = field(default_factory=set)
    ratio: dict[int, float] = field(default_factory=dict)
    profiles: dict[int, dict[str, Any]] = field(default_factory=dict)


def check_meter(usage: DailyUsage, rules: AlertRules, profiles: bool = True) -> MeterCheck:
    """Seasonality and the baseline check of one meter's daily usage (pure): each account's own
    history, cut to whole weeks, is checked when it holds `MIN_HISTORY_DAYS`. Without
    `profiles` (a replay, which stores none) no profile document is built."""
    values = usage.values
    found = MeterCheck()
    for rows, size in own_histories(values, _BLOCK):
        if size < MIN_HISTORY_DAYS:
            if profiles:
                for row in rows.tolist():
                    found.profiles[usage.accounts[row]] = _too_short(size)
            continue
        _check_group(usage, values[rows, -size:], rows, rules, found, profiles)
    return found


def _too_short(size: int) -> dict[str, Any]:
    return {
        "periods": [],
        "history_days": size,
        "reason": (
            f"{size} days of usage history in whole weeks; a seasonal baseline needs "
            f"{MIN_HISTORY_DAYS} (the weekly period 14, the monthly 63, the yearly 730)"
        ),
    }


def _check(
    connection: Connection,
    tenant_id: int,
    usage: DailyUsage,
    rules: AlertRules,
    signals: dict[int, list[Signal]],
    checked: dict[int, set[str]],
    ratio: np.ndarray[Any, Any],
    now_us: int,
) -> None:
    """`check_meter`, its signals and ratios merged into the refresh's, its profiles stored."""
    found = check_meter(usage, rules)
    row_of = {account: row for row, account in enumerate(usage.accounts)}
    for account in found.checked:
        checked[account].update(("decline", "surge"))
    for account, more in found.signals.items():
        signals[account].extend(more)
    for account, value in found.ratio.items():
        if np.isnan(ratio[row_of[account]]):
            ratio[row_of[account]] = value
    if not found.profiles:
        return
    t = success_profiles.c
    connection.execute(
        delete(success_profiles).where(
            t.tenant_id == tenant_id,
            t.meter == usage.meter,
            t.account_id.in_(list(found.profiles)),
        )
    )
    connection.execute(
        insert(success_profiles),
        [
            {
                "tenant_id": tenant_id,
                "account_id": account,
                "meter": usage.meter,
                "computed_us": now_us,
                "document": orjson.dumps(document).decode(),
            }
            for account, document in found.profiles.items()
        ],
    )


def _check_group(
    usage: DailyUsage,
    values: np.ndarray[Any, Any],
    rows: np.ndarray[Any, Any],
    rules: AlertRules,
    found: MeterCheck,
    profiles: bool = True,
) -> None:
    """Check one group of equally long histories (`values`, rows `rows` of the meter's matrix)
    against their baselines: signals, the week's ratio to the norm, and each one's profile."""
    check = check_recent(values, CHECK_DAYS)
    days = usage.days[-CHECK_DAYS:]
    for i, row in enumerate(rows.tolist()):
        account = usage.accounts[row]
        found.checked.add(account)
        # the last day may be the one forgiven inside the interval, so look at the last two
        if bool(check.below[i, -2:].any() or check.above[i, -2:].any()):
            found.signals.setdefault(account, []).extend(
                interval_signals(
                    usage.meter,
                    days,
                    check.actual[i].tolist(),
                    check.lower[i].tolist(),
                    check.upper[i].tolist(),
                    check.expected[i].tolist(),
                    rules,
                )
            )
        expected = float(check.expected[i, -RATIO_DAYS:].sum())
        if expected > 0:
            found.ratio[account] = float(check.actual[i, -RATIO_DAYS:].sum()) / expected
        if profiles:
            found.profiles[account] = _profile(check, i, days, values.shape[1])


def _profile(check: Any, i: int, days: list[Any], history: int) -> dict[str, Any]:
    seasonality = check.seasonality.account(i)
    lower = check.lower[i]
    document: dict[str, Any] = {
        "periods": seasonality.json(),
        "history_days": history,
        "method": check.method[i] if check.method else None,
        "recent": {
            "days": [d.isoformat() for d in days],
            "actual": check.actual[i].round(4).tolist(),
            "expected": check.expected[i].round(4).tolist(),
            "lower": lower.round(4).tolist(),
            "upper": check.upper[i].round(4).tolist(),
        },
    }
    if low_volume(lower.tolist(), check.expected[i].tolist()):
        document["low_volume"] = True
    return document


def _contracts(
    connection: Connection,
    tenant_id: int,
    people: dict[int, str],
    ids: Sequence[int],
    now: datetime,
    rules: AlertRules,
    signals: dict[int, list[Signal]],
) -> np.ndarray[Any, Any]:
    """Commitment and credit signals of the accounts with a contract in force, and each one's
    commitment pace (NaN without a commitment)."""
    pace = np.full(len(ids), np.nan)
    if len(ids) <= _FEW:
        versions = {a: account_versions(connection, tenant_id, a) for a in ids}
    else:
        versions = tenant_versions(connection, tenant_id)
    for row, account in enumerate(ids):
        history = versions.get(account)
        if not history or in_force(history, now) is None:
            continue
        found = utilization(connection, tenant_id, people[account], now)
        signals[account].extend(commitment_signals(found.commitments, found.elapsed, rules))
        signals[account].extend(credit_signals(found.credits, rules))
        if found.commitments:
            pace[row] = float(min(c.pace for c in found.commitments))
    return pace


def _health(
    connection: Connection,
    tenant_id: int,
    ids: Sequence[int],
    now_us: int,
    ratio: np.ndarray[Any, Any],
    pace: np.ndarray[Any, Any],
) -> HealthTable:
    """Every account's health from its measures, with the trend against its previous score."""
    scorecard = load_setting(connection, tenant_id, "scorecards", SCORECARD)
    compiled = compile_scorecards(scorecard)
    few = ids if len(ids) <= _FEW else None  # a few accounts: read only theirs
    engaged = last_engagements(connection, tenant_id, now_us, few)
    recency = [(now_us - engaged[a]) / 86_400e6 if a in engaged else np.nan for a in ids]
    accepted, decided = _outcomes(connection, tenant_id, now_us, few)
    planned = _planned(connection, tenant_id, few)
    acceptance = [accepted.get(a, 0) / decided[a] if decided.get(a) else np.nan for a in ids]
    adherence = [
        _adherence(connection, tenant_id, a, now_us) if a in planned else np.nan for a in ids
    ]
    values = {
        "plan_adherence": np.array(adherence, dtype=np.float64),
        "usage_vs_baseline": ratio,
        "commitment_pace": pace,
        "outcome_acceptance": np.array(acceptance, dtype=np.float64),
        "engagement_recency": np.array(recency, dtype=np.float64),
    }
    assigned = rule_segments(connection, tenant_id, few)
    segments = [assigned.get(a) for a in ids]
    return score_accounts(compiled, values, segments, _previous(connection, tenant_id, ids, few))


def _outcomes(
    connection: Connection, tenant_id: int, now_us: int, few: Sequence[int] | None
) -> tuple[dict[int, int], dict[int, int]]:
    t = outcome_claims.c
    since = now_us - _OUTCOME_DAYS * 86_400 * 1_000_000
    query = select(t.account_id, t.accepted, func.count()).where(
        t.tenant_id == tenant_id, t.submitted_at_us >= since
    )
    if few is not None:
        query = query.where(t.account_id.in_(list(few)))
    rows = connection.execute(query.group_by(t.account_id, t.accepted))
    accepted: dict[int, int] = {}
    decided: dict[int, int] = {}
    for account, was_accepted, count in rows:
        decided[account] = decided.get(account, 0) + int(count)
        if was_accepted:
            accepted[account] = int(count)
    return accepted, decided


def _planned(connection: Connection, tenant_id: int, few: Sequence[int] | None) -> set[int]:
    t = success_plan_actions.c
    query = select(t.account_id).where(t.tenant_id == tenant_id)
    if few is not None:
        query = query.where(t.account_id.in_(list(few)))
    rows = connection.execute(query.distinct())
    return {int(row.account_id) for row in rows}


def _adherence(connection: Connection, tenant_id: int, account: int, now_us: int) -> float:
    """Customer actions done on time over those due (NaN when none is due yet)."""
    found = adherence(connection, tenant_id, account, now_us)
    due = len(found.items)
    return found.count("on_time") / due if due else np.nan


def _previous(
    connection: Connection, tenant_id: int, ids: Sequence[int], few: Sequence[int] | None
) -> np.ndarray[Any, Any]:
    t = success_health.c
    query = select(t.account_id, func.max(t.scored_us).label("at")).where(t.tenant_id == tenant_id)
    if few is not None:
        query = query.where(t.account_id.in_(list(few)))
    latest = query.group_by(t.account_id).subquery()
    rows = connection.execute(
        select(t.account_id, t.score)
        .join(latest, (latest.c.account_id == t.account_id) & (latest.c.at == t.scored_us))
        .where(t.tenant_id == tenant_id)
    )
    before = {int(row.account_id): row.score for row in rows}
    return np.array([np.nan if before.get(a) is None else before[a] for a in ids])


def _store_health(
    connection: Connection, tenant_id: int, ids: Sequence[int], health: HealthTable, now_us: int
) -> None:
    rows = []
    for i, account in enumerate(ids):
        score = health.breakdown(i)
        rows.append(
            {
                "tenant_id": tenant_id,
                "account_id": account,
                "scored_us": now_us,
                "score": score.score,
                "band": score.band,
                "scorecard": score.segment or "default",
                "breakdown": orjson.dumps(
                    {
                        "measures": [
                            {
                                "key": m.key,
                                "raw": m.raw,
                                "points": m.points,
                                "weight": m.weight,
                                "effective_weight": m.effective_weight,
                            }
                            for m in score.measures
                        ],
                        "trend": None
                        if score.trend is None
                        else {
                            "previous": score.trend.previous,
                            "delta": score.trend.delta,
                            "direction": score.trend.direction,
                        },
                        "reason": score.reason,
                    }
                ).decode(),
            }
        )
    t = success_health.c
    connection.execute(
        delete(success_health).where(
            t.tenant_id == tenant_id, t.scored_us == now_us, t.account_id.in_(list(ids))
        )
    )
    connection.execute(insert(success_health), rows)
