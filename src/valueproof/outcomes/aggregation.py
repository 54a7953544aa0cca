"""A metric's value at an instant from its sources' readings: one agreed source, or the median of
several that must agree; when the rule cannot give a number it gives a Flag saying why."""

from __future__ import annotations

import decimal
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum

from valueproof.errors import InvalidInput
from valueproof.metering.definitions import KEY_PATTERN

__all__ = ["Flag", "MetricRule", "MetricValue", "Observation", "Rule", "value_at"]

_KEY = re.compile(KEY_PATTERN)
_HALF = Decimal("0.5")


class Rule(StrEnum):
    """How the readings of a metric's sources make its value."""

    SINGLE = "single"  # one source both parties agreed on is the authority
    MEDIAN = "median"  # several sources: the median of the current readings, if they agree


@dataclass(frozen=True, slots=True)
class MetricRule:
    """A metric's sources and rule. `min_sources` and `tolerance` apply to MEDIAN only; a reading
    counts at `at` only if at - max_age <= as_of <= at."""

    metric: str
    rule: Rule
    sources: tuple[str, ...]
    min_sources: int = 1
    tolerance: Decimal | None = None  # the widest spread (max - min) that still gives a number
    max_age: timedelta = timedelta(days=1)

    def __post_init__(self) -> None:
        if not isinstance(self.metric, str) or _KEY.fullmatch(self.metric) is None:
            raise InvalidInput("metric", f"is not a key (it must match {KEY_PATTERN})")
        try:
            object.__setattr__(self, "rule", Rule(self.rule))
        except ValueError:
            raise InvalidInput("rule", f"must be one of {', '.join(Rule)}") from None
        self._check_sources()
        self._check_limits()

    def _check_sources(self) -> None:
        if isinstance(self.sources, str):
            raise InvalidInput("sources", "must be a list of source keys, not one string")
        object.__setattr__(self, "sources", tuple(self.sources))
        if not self.sources:
            raise InvalidInput("sources", "must name at least one source")
        for index, source in enumerate(self.sources):
            if not isinstance(source, str) or _KEY.fullmatch(source) is None:
                raise InvalidInput(f"sources[{index}]", "is not a source key")
            if source in self.sources[:index]:
                raise InvalidInput(f"sources[{index}]", f"lists {source!r} twice")
        if self.rule is Rule.SINGLE and len(self.sources) != 1:
            raise InvalidInput("sources", "a single-source rule names exactly one source")

    def _check_limits(self) -> None:
        count = len(self.sources)
        if isinstance(self.min_sources, bool) or not isinstance(self.min_sources, int):
            raise InvalidInput("min_sources", "must be an integer")
        if not 1 <= self.min_sources <= count:
            raise InvalidInput("min_sources", f"must be from 1 to the {count} sources listed")
        tolerance = self.tolerance
        if tolerance is not None and not (
            isinstance(tolerance, Decimal) and tolerance.is_finite() and tolerance >= 0
        ):
            raise InvalidInput("tolerance", "must be a finite Decimal, zero or more")
        if self.max_age < timedelta(0):
            raise InvalidInput("max_age", "must not be negative")


@dataclass(frozen=True, slots=True)
class Observation:
    """One stored reading of the metric: its source, value, time and place on the ledger."""

    source: str
    value: Decimal
    as_of: datetime
    leaf_index: int | None


@dataclass(frozen=True, slots=True)
class MetricValue:
    """The metric's value at an instant, as of its newest reading used, and the readings used."""

    metric: str
    value: Decimal
    as_of: datetime
    used: tuple[Observation, ...]


@dataclass(frozen=True, slots=True)
class Flag:
    """Why the rule gives no value at an instant, and the current readings it had."""

    metric: str
    reason: str
    used: tuple[Observation, ...]


def value_at(
    rule: MetricRule, observations: Iterable[Observation], at: datetime
) -> MetricValue | Flag:
    """The metric's value at `at` by its rule, or a Flag; the order of `observations` is free."""
    current = _current(rule, observations, at)
    if rule.rule is Rule.SINGLE:
        if not current:
            return Flag(rule.metric, f"no current reading from {rule.sources[0]}", ())
        (only,) = current
        return MetricValue(rule.metric, only.value, only.as_of, current)
    return _median(rule, current)


def _current(
    rule: MetricRule, observations: Iterable[Observation], at: datetime
) -> tuple[Observation, ...]:
    """Each source's latest observation at `at`, if not older than max_age, in the rule's order."""
    latest: dict[str, Observation] = {}
    for observation in observations:
        if observation.source not in rule.sources or observation.as_of > at:
            continue
        held = latest.get(observation.source)
        if held is None or _recency(observation) > _recency(held):
            latest[observation.source] = observation
    oldest = at - rule.max_age
    return tuple(
        latest[source]
        for source in rule.sources
        if source in latest and latest[source].as_of >= oldest
    )


def _recency(observation: Observation) -> tuple[datetime, bool, int, Decimal]:
    """Later as_of wins, then the later leaf (none lowest), then, in a tie no ledger makes, the
    larger value: so the order of the observations never matters."""
    index = observation.leaf_index
    return (observation.as_of, index is not None, index or 0, observation.value)


def _median(rule: MetricRule, current: tuple[Observation, ...]) -> MetricValue | Flag:
    if len(current) < rule.min_sources:
        return Flag(rule.metric, _shortfall(len(current), rule.min_sources), current)
    values = sorted(observation.value for observation in current)
    context = _exact_context(values)
    spread = context.subtract(values[-1], values[0])
    if rule.tolerance is not None and spread > rule.tolerance:
        reason = f"readings disagree: spread {spread:f} exceeds tolerance {rule.tolerance:f}"
        return Flag(rule.metric, reason, current)
    middle = len(values) // 2
    if len(values) % 2:
        median = values[middle]
    else:
        median = context.multiply(context.add(values[middle - 1], values[middle]), _HALF)
    newest = max(observation.as_of for observation in current)
    return MetricValue(rule.metric, median, newest, current)


def _shortfall(have: int, needed: int) -> str:
    sources = "source" if needed == 1 else "sources"
    verb = "has" if have == 1 else "have"
    return f"{have} of the {needed} {sources} needed {verb} a current reading"


def _exact_context(values: Sequence[Decimal]) -> decimal.Context:
    """A context wide enough that sums, differences and halves of `values` are exact; the default
    28 digits would round two 30-digit readings. Inexact is trapped, should that ever fail."""
    top = max(value.adjusted() for value in values)
    bottom = min(_exponent(value) for value in values)
    return decimal.Context(
        prec=max(1, top - bottom + 3),  # + carry of a sum, + the digit a half adds, + a margin
        rounding=decimal.ROUND_HALF_EVEN,
        Emax=decimal.MAX_EMAX,
        Emin=decimal.MIN_EMIN,
        traps=[decimal.Inexact, decimal.InvalidOperation, decimal.Overflow],
    )


def _exponent(value: Decimal) -> int:
    exponent = value.as_tuple().exponent
    if not isinstance(exponent, int):
        raise ValueError(f"a reading's value is a finite number, not {value}")
    return exponent
