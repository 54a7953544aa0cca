"""Alert rules and the signals they raise, pure: a CSM's early warnings for a consumption book.

- `decline` / `surge`: usage stayed below (above) the seasonal prediction interval for the last
  `days` days, one day back inside the interval forgiven (a 10% drop is not missed because one
  noisy day fell inside), and the change over those days is at least `min_change`. The interval
  comes from the account's own seasonal baseline, so a seasonal trough inside the interval
  never alerts, unlike a week-over-week drop.
- `quiet`: no usage for `days` days by an account that used the product before, and for long
  enough that its own weekly habit makes the idle run rare: an account that used the product on
  a share p_d of its recent weekdays d goes idle on those days by chance with probability
  prod(1 - p_d), and the alert waits until that is below `rarity` (0.1%: an account used every
  day is quiet after 7 days, every other day after 10, one day in ten after about 66; one used
  only on weekdays does not count its weekends).
- `commitment_at_risk`: past `min_elapsed` of the period, the charges projected at the run rate
  reach less than `below` of the minimum commitment.
- `credit_runout`: at the period's burn, prepaid credit runs out before the period ends.

A signal names its `type` and `reason` (the meter or component it is about): the store keeps at
most one live alert per account, type and reason, and updates it with each signal's numbers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from valueproof.errors import InvalidInput, field_path, validation_reason

__all__ = [
    "TYPES",
    "AlertRules",
    "Signal",
    "commitment_signals",
    "credit_signals",
    "idle_chance",
    "interval_signals",
    "low_volume",
    "parse_rules",
    "quiet_signal",
]

Severity = Literal["info", "warning", "critical"]
TYPES = ("decline", "surge", "quiet", "commitment_at_risk", "credit_runout")


class _Rule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = True


class IntervalRule(_Rule):
    days: int = Field(default=3, ge=1, le=90, description="Days outside the interval.")
    min_change: float = Field(
        default=0.05, ge=0, le=10, description="Least relative change over those days."
    )
    forgive: int = Field(
        default=1, ge=0, le=3, description="Days back inside the interval a run may hold."
    )


class SurgeRule(IntervalRule):
    # Its own class, so that a partial `surge` block keeps the surge defaults. A surge is news,
    # not a risk: it takes 15% above the norm, where a decline takes 5% below it.
    # A surge forgives no day back inside: two busy days with a normal one between are no run.
    days: int = Field(default=2, ge=1, le=90, description="Days outside the interval.")
    min_change: float = Field(
        default=0.15, ge=0, le=10, description="Least relative change over those days."
    )
    forgive: int = Field(
        default=0, ge=0, le=3, description="Days back inside the interval a run may hold."
    )


class QuietRule(_Rule):
    days: int = Field(default=7, ge=1, le=365, description="Days without usage.")
    rarity: float = Field(
        default=0.001,
        gt=0,
        le=1,
        description="How rare the idle days must be by the account's own habit (1: never mind).",
    )


class CommitmentRule(_Rule):
    min_elapsed: float = Field(default=0.25, ge=0, le=1, description="Share of the period.")
    below: float = Field(default=0.9, gt=0, le=1, description="Projected share of the minimum.")


class AlertRules(BaseModel):
    """A tenant's alert rules (`PUT /v1/success/settings/alerts`); every field has a default."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    decline: IntervalRule = IntervalRule()
    surge: SurgeRule = SurgeRule()
    quiet: QuietRule = QuietRule()
    commitment_at_risk: CommitmentRule = CommitmentRule()
    credit_runout: _Rule = _Rule()


def parse_rules(data: Any) -> AlertRules:
    """Validate an alert-rules document; InvalidInput names the first bad field."""
    try:
        return AlertRules.model_validate(data if data is not None else {})
    except ValidationError as error:
        first = error.errors()[0]
        raise InvalidInput(
            field_path(first["loc"]) or "(document)", validation_reason(first)
        ) from None


@dataclass(frozen=True, slots=True)
class Signal:
    """A condition that holds now, with the numbers that show it."""

    type: str
    reason: str
    severity: Severity
    message: str
    numbers: dict[str, Any] = field(default_factory=dict)


def _trailing(flags: Sequence[bool], forgive: int = 1) -> tuple[int, int]:
    """The flagged steps of the trailing run that may hold up to `forgive` unflagged steps, and
    that run's length from its earliest flagged step to the end: (flagged, length)."""
    flagged = length = pending = used = 0
    for flag in reversed(flags):
        if flag:
            flagged += 1
            length += pending + 1
            pending = 0
        elif used < forgive:
            used += 1
            pending += 1
        else:
            break
    return flagged, length


# A daily range whose lower bound is under this share of the expected usage on most days tells
# nothing a day can show: a fall of three quarters would be ordinary.
_READABLE: Final = 0.25


def low_volume(lower: Sequence[float], expected: Sequence[float] | None = None) -> bool:
    """A daily range too wide to read: on most of the days it starts at zero, or (given the
    expected usage) below a quarter of it, as for an account with a few events a day or a sum
    that a few large events make. Such a range shows no decline a CSM could act on, and its
    surges are single busy days; the quiet alert watches these accounts instead."""
    if not lower:
        return False
    wanted = expected if expected is not None else [0.0] * len(lower)
    unreadable = sum(
        1 for bound, mean in zip(lower, wanted, strict=True) if bound <= _READABLE * mean
    )
    return unreadable * 2 > len(lower)


def interval_signals(
    meter: str,
    days: Sequence[date],
    actual: Sequence[float],
    lower: Sequence[float],
    upper: Sequence[float],
    expected: Sequence[float],
    rules: AlertRules,
) -> list[Signal]:
    """`decline` or `surge` when the last days in a row fell outside the prediction interval."""
    if not (len(days) == len(actual) == len(lower) == len(upper) == len(expected)):
        raise ValueError("days, actual, lower, upper and expected differ in length")
    if low_volume(lower, expected):
        return []
    found = []
    checks = (
        ("decline", rules.decline, [a < lo for a, lo in zip(actual, lower, strict=True)]),
        ("surge", rules.surge, [a > up for a, up in zip(actual, upper, strict=True)]),
    )
    for kind, rule, outside in checks:
        run, length = _trailing(outside, rule.forgive)
        if not rule.enabled or run < rule.days:
            continue
        span = slice(len(days) - length, len(days))
        used, wanted = sum(actual[span]), sum(expected[span])
        change = (used - wanted) / wanted if wanted > 0 else None
        if change is not None and abs(change) < rule.min_change:
            continue
        if change is not None and (change < 0) != (kind == "decline"):
            continue  # outside on the days, but not in total: no direction to report
        percent = "" if change is None else f" ({change:+.0%} against {wanted:,.0f} expected)"
        side = "below" if kind == "decline" else "above"
        told = f"{run} days in a row" if run == length else f"{run} of the last {length} days"
        found.append(
            Signal(
                kind,
                meter,
                "warning" if kind == "decline" else "info",
                f"{meter}: {told} {side} the seasonal range{percent}",
                {
                    "meter": meter,
                    "days": run,
                    "since": days[span.start].isoformat(),
                    "actual": round(used, 6),
                    "expected": round(wanted, 6),
                    "bound": round(sum((lower if kind == "decline" else upper)[span]), 6),
                    "change": None if change is None else round(change, 6),
                },
            )
        )
    return found


def idle_chance(last_used: date, today: date, habit: Sequence[float] | None) -> float:
    """The chance that an account with this weekday `habit` (the share of each weekday, Monday
    first, on which it used the product) uses nothing on every day after `last_used` and before
    `today`, the days taken as independent; 0.0 without a habit (any idle day counts)."""
    if habit is None:
        return 0.0
    chance = 1.0
    for offset in range(1, (today - last_used).days):
        chance *= 1.0 - habit[(last_used + timedelta(days=offset)).weekday()]
        if chance == 0.0:
            break
    return chance


def _odds(chance: float) -> str:
    """A small chance in words: "a 0.08% chance", "under 1 in 10,000"."""
    if chance < 1e-4:
        return "a chance under 1 in 10,000"
    return f"a {chance:.2%} chance"


def quiet_signal(
    last_used: date | None,
    today: date,
    rules: AlertRules,
    reason: str = "usage",
    habit: Sequence[float] | None = None,
) -> Signal | None:
    """`quiet` when an account that used the product has not for `quiet.days` days, and (given
    its weekday `habit`) its idle days would come by chance less often than `quiet.rarity`."""
    if not rules.quiet.enabled or last_used is None:
        return None
    idle = (today - last_used).days
    if idle < rules.quiet.days:
        return None
    chance = idle_chance(last_used, today, habit)
    if chance > rules.quiet.rarity:
        return None
    usual = "" if habit is None else f"; by its habit, {_odds(chance)}"
    return Signal(
        "quiet",
        reason,
        "critical",
        f"no usage for {idle} days (last on {last_used.isoformat()}{usual})",
        {"last_used": last_used.isoformat(), "idle_days": idle, "chance": round(chance, 6)},
    )


def commitment_signals(
    commitments: Sequence[Any], elapsed: Decimal, rules: AlertRules
) -> list[Signal]:
    """`commitment_at_risk` for each commitment projected to land below `below` of its minimum,
    once `min_elapsed` of the period has gone (utilization.CommitmentUse values)."""
    rule = rules.commitment_at_risk
    if not rule.enabled or elapsed < Decimal(str(rule.min_elapsed)):
        return []
    found = []
    for item in commitments:
        if item.minimum <= 0 or item.projected >= item.minimum * Decimal(str(rule.below)):
            continue
        share = item.projected / item.minimum
        found.append(
            Signal(
                "commitment_at_risk",
                item.component,
                "warning",
                f"{item.component}: projected {item.projected} of the {item.minimum} minimum "
                f"({share:.0%}); shortfall {-item.projected_difference}",
                {
                    "minimum": str(item.minimum),
                    "committed_to_date": str(item.committed_to_date),
                    "projected": str(item.projected),
                    "shortfall": str(-item.projected_difference),
                    "pace": str(item.pace),
                },
            )
        )
    return found


def credit_signals(credits: Sequence[Any], rules: AlertRules) -> list[Signal]:
    """`credit_runout` for each wallet that runs out before the period ends at today's burn
    (utilization.CreditUse values)."""
    if not rules.credit_runout.enabled:
        return []
    found = []
    for item in credits:
        if not item.before_period_end or item.runs_out is None:
            continue
        found.append(
            Signal(
                "credit_runout",
                item.component,
                "warning",
                f"{item.component}: prepaid credit runs out around "
                f"{item.runs_out.date().isoformat()}, before the period ends",
                {
                    "balance": str(item.balance),
                    "burn_per_day": str(item.burn_per_day),
                    "days_left": None if item.days_left is None else str(item.days_left),
                    "runs_out": item.runs_out.isoformat(),
                },
            )
        )
    return found
