"""Prepaid credits: grants of money in the contract currency that each period's charges draw down,
with expiry, recurring grants and a rollover cap; what the credits do not cover is overage.

The rules, applied period by period (periods are consecutive and given in order):

- A `Recurring` rule adds a grant `recurring:<period start, RFC 3339>` at each period's start; with
  `expires_after_periods` = n it expires at the end of the n-th period counted from that one.
- A period's charges are drawn at its end from the usable grants: granted before the period's end
  and not expired at its start.
- Draw order: soonest expiry first, grants without expiry last; ties by grant time, then by id.
  A recurring grant that outlives the period but can still be lost later (a later expiry, or a
  rollover cap) ranks as though it expired just after this period's end, behind grants that do
  expire then: its exact expiry is a period end not yet known when this period closes, and
  ranking it by a later period would let a later period rewrite an invoice already issued.
  Recurring credits, the included allowance, thus go before purchased credits that last longer.
- Charges left once every usable grant is exhausted are the overage, billed as usual.
- Then grants that expire at or before the period's end lose their balance ("expired"), then the
  balance of recurring grants above `rollover_cap` expires ("rollover_cap"), taken from the grants
  that would be drawn last, so that what carries over is exactly the credits the next period
  would draw first: the cap shortens the queue without reordering it.

Every result for a period depends only on that period and those before it.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from valueproof.periods import format_rfc3339

__all__ = [
    "EXPIRED",
    "ROLLOVER_CAP",
    "Draw",
    "Expiry",
    "Grant",
    "PeriodDrawdown",
    "Recurring",
    "WalletPeriod",
    "draw_down",
]

_ZERO = Decimal(0)
EXPIRED = "expired"  # an Expiry's reason: the grant reached its expiry
ROLLOVER_CAP = "rollover_cap"  # an Expiry's reason: recurring balance above the rollover cap


@dataclass(frozen=True, slots=True)
class Grant:
    """Credits granted to the wallet at `granted`, usable until `expires` (None: never)."""

    id: str
    amount: Decimal
    granted: datetime
    expires: datetime | None
    recurring: bool = False  # counts towards the rollover cap


@dataclass(frozen=True, slots=True)
class Recurring:
    """Credits granted at the start of every period."""

    amount: Decimal
    # At a period end, recurring balance above this expires (None: no cap; 0: use it or lose it).
    rollover_cap: Decimal | None
    expires_after_periods: int | None = None  # a grant lasts this many periods, its own included


@dataclass(frozen=True, slots=True)
class WalletPeriod:
    """A billing period and its charges that the credits apply to (already rounded money)."""

    start: datetime
    end: datetime
    charges: Decimal


@dataclass(frozen=True, slots=True)
class Draw:
    """Credits taken from one grant to pay a period's charges."""

    grant: str
    amount: Decimal


@dataclass(frozen=True, slots=True)
class Expiry:
    """Credits of one grant lost at a period end."""

    grant: str
    amount: Decimal
    reason: str  # "expired" or "rollover_cap"


@dataclass(frozen=True, slots=True)
class PeriodDrawdown:
    """What the credits paid in a period, what was left to bill, and what remains."""

    start: datetime
    end: datetime
    charges: Decimal
    draws: tuple[Draw, ...]
    covered: Decimal  # the sum of the draws
    overage: Decimal  # charges - covered: billed as usual
    expired: tuple[Expiry, ...]
    balances: tuple[tuple[str, Decimal], ...]  # grants with credits left, in draw order


@dataclass(frozen=True, slots=True)
class _Credit:
    """A grant in the wallet; `last_period` is the index of the period a generated recurring grant
    expires at the end of (its end instant may not be known yet)."""

    grant: Grant
    last_period: int | None


def draw_down(
    grants: Sequence[Grant], periods: Sequence[WalletPeriod], recurring: Recurring | None = None
) -> list[PeriodDrawdown]:
    """Apply the grants (and the recurring rule) to each period's charges, in order, by the rules
    in this module's docstring; the same input always gives the same result."""
    _check_periods(periods)
    _check_grants(grants, periods, recurring)
    pending = deque(sorted(grants, key=lambda grant: (grant.granted, grant.id)))
    capped = recurring is not None and recurring.rollover_cap is not None
    live: list[_Credit] = []
    balances: dict[str, Decimal] = {}
    results = []
    for index, period in enumerate(periods):
        if recurring is not None:
            live.append(_recurring_credit(recurring, index, period))
        while pending and pending[0].granted < period.end:
            live.append(_Credit(pending.popleft(), None))
        for credit in live:
            balances.setdefault(credit.grant.id, credit.grant.amount)
        live.sort(key=lambda credit: _rank(credit, index, period.end, capped))
        draws = _draw(live, period, balances)
        expired = _expire(live, index, period, balances)
        if recurring is not None and recurring.rollover_cap is not None:
            expired += _cut_to_cap(live, recurring.rollover_cap, balances)
        live = [credit for credit in live if balances[credit.grant.id] > 0]
        covered = sum((draw.amount for draw in draws), _ZERO)
        results.append(
            PeriodDrawdown(
                start=period.start,
                end=period.end,
                charges=period.charges,
                draws=tuple(draws),
                covered=covered,
                overage=period.charges - covered,
                expired=tuple(expired),
                balances=tuple((credit.grant.id, balances[credit.grant.id]) for credit in live),
            )
        )
    return results


def _recurring_credit(rule: Recurring, index: int, period: WalletPeriod) -> _Credit:
    grant = Grant(_recurring_id(period), rule.amount, period.start, None, recurring=True)
    last = None if rule.expires_after_periods is None else index + rule.expires_after_periods - 1
    return _Credit(grant, last)


def _recurring_id(period: WalletPeriod) -> str:
    return f"recurring:{format_rfc3339(period.start)}"


def _rank(
    credit: _Credit, index: int, period_end: datetime, capped: bool
) -> tuple[int, datetime, int, datetime, str]:
    """Draw-order key at the end of period `index`: (never lost, when lost, not certainly then,
    grant time, id); it reads no period after this one."""
    grant = credit.grant
    expires = grant.expires
    if credit.last_period is not None:
        expires = period_end if credit.last_period <= index else None
    if expires is not None and expires <= period_end:
        return (0, expires, 0, grant.granted, grant.id)
    if grant.recurring and (capped or credit.last_period is not None):
        return (0, period_end, 1, grant.granted, grant.id)
    if expires is not None:
        return (0, expires, 0, grant.granted, grant.id)
    return (1, period_end, 0, grant.granted, grant.id)


def _usable(credit: _Credit, period: WalletPeriod) -> bool:
    """Granted before the period's end (every live credit is) and not expired at its start."""
    expires = credit.grant.expires
    return credit.last_period is not None or expires is None or expires > period.start


def _draw(live: list[_Credit], period: WalletPeriod, balances: dict[str, Decimal]) -> list[Draw]:
    """Take the period's charges from the usable credits, in order, until paid or exhausted."""
    owed = period.charges
    draws = []
    for credit in live:
        if owed == 0:
            break
        if not _usable(credit, period):
            continue
        taken = min(balances[credit.grant.id], owed)
        if taken > 0:
            balances[credit.grant.id] -= taken
            owed -= taken
            draws.append(Draw(credit.grant.id, taken))
    return draws


def _expire(
    live: list[_Credit], index: int, period: WalletPeriod, balances: dict[str, Decimal]
) -> list[Expiry]:
    """Zero the credits whose grant expires at or before the period's end."""
    expired = []
    for credit in live:
        if credit.last_period is not None:
            ends = credit.last_period <= index
        else:
            ends = credit.grant.expires is not None and credit.grant.expires <= period.end
        if ends and balances[credit.grant.id] > 0:
            expired.append(Expiry(credit.grant.id, balances[credit.grant.id], EXPIRED))
            balances[credit.grant.id] = _ZERO
    return expired


def _cut_to_cap(live: list[_Credit], cap: Decimal, balances: dict[str, Decimal]) -> list[Expiry]:
    """Expire recurring balance above `cap`, from the credits that would be drawn last."""
    recurring = [credit for credit in live if credit.grant.recurring]
    excess = sum((balances[credit.grant.id] for credit in recurring), _ZERO) - cap
    cuts = []
    for credit in reversed(recurring):
        if excess <= 0:
            break
        cut = min(balances[credit.grant.id], excess)
        if cut > 0:
            balances[credit.grant.id] -= cut
            excess -= cut
            cuts.append(Expiry(credit.grant.id, cut, ROLLOVER_CAP))
    cuts.reverse()  # reported in draw order, like every other list here
    return cuts


def _check_periods(periods: Sequence[WalletPeriod]) -> None:
    for index, period in enumerate(periods):
        _aware(f"periods[{index}].start", period.start)
        _aware(f"periods[{index}].end", period.end)
        if period.end <= period.start:
            raise ValueError(f"periods[{index}] must end after it starts")
        _non_negative(f"periods[{index}].charges", period.charges)
        if index and period.start != periods[index - 1].end:
            raise ValueError(f"periods[{index}] must start where periods[{index - 1}] ends")


def _check_grants(
    grants: Sequence[Grant], periods: Sequence[WalletPeriod], recurring: Recurring | None
) -> None:
    seen: set[str] = set()
    for index, grant in enumerate(grants):
        _non_negative(f"grants[{index}].amount", grant.amount)
        _aware(f"grants[{index}].granted", grant.granted)
        if grant.expires is not None:
            _aware(f"grants[{index}].expires", grant.expires)
            if grant.expires <= grant.granted:
                raise ValueError(f"grants[{index}] must expire after it is granted")
        if grant.id in seen:
            raise ValueError(f"grants[{index}].id {grant.id!r} is used twice")
        # Only the rule's own grants count towards the cap: their place in the queue is the one
        # the cap keeps; a caller's grant marked recurring could be re-ranked a period later.
        if grant.recurring:
            raise ValueError(f"grants[{index}]: recurring grants come from the Recurring rule")
        seen.add(grant.id)
    if recurring is None:
        return
    _non_negative("recurring.amount", recurring.amount)
    if recurring.rollover_cap is not None:
        _non_negative("recurring.rollover_cap", recurring.rollover_cap)
    if recurring.expires_after_periods is not None and recurring.expires_after_periods < 1:
        raise ValueError("recurring.expires_after_periods must be at least 1")
    for period in periods:
        if _recurring_id(period) in seen:
            raise ValueError(f"grant id {_recurring_id(period)!r} is the recurring rule's")


def _aware(name: str, moment: datetime) -> None:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name} must be an aware datetime, got {moment.isoformat()}")


def _non_negative(name: str, value: Decimal) -> None:
    if not isinstance(value, Decimal):
        raise TypeError(f"{name} must be a Decimal, got {type(value).__name__}")
    if not value.is_finite() or value < 0:
        raise ValueError(f"{name} must be a finite amount >= 0, got {value}")
