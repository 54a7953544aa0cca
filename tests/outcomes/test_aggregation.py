"""Tests for outcomes/aggregation.py: a metric's value from one source or the median of several."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from valueproof.errors import InvalidInput
from valueproof.outcomes.aggregation import (
    Flag,
    MetricRule,
    MetricValue,
    Observation,
    Rule,
    value_at,
)

AT = datetime(2026, 11, 23, 12, tzinfo=UTC)
DAY = timedelta(days=1)
SINGLE = MetricRule("nrr", Rule.SINGLE, ("bi",))
THREE = MetricRule("nrr", Rule.MEDIAN, ("a", "b", "c"), min_sources=2)


def seen(source: str, value: str, hours_ago: float = 1, leaf: int | None = None) -> Observation:
    return Observation(source, Decimal(value), AT - timedelta(hours=hours_ago), leaf)


def median_of(*values: str, **rule: Any) -> MetricValue | Flag:
    sources = tuple(f"s{index}" for index in range(len(values)))
    median = MetricRule("nrr", Rule.MEDIAN, sources, **rule)
    return value_at(median, [seen(s, v) for s, v in zip(sources, values, strict=True)], AT)


# One agreed source


def test_a_single_source_gives_its_reading() -> None:
    reading = seen("bi", "108.50", hours_ago=2, leaf=7)
    result = value_at(SINGLE, [reading], AT)
    assert result == MetricValue("nrr", Decimal("108.50"), AT - timedelta(hours=2), (reading,))


def test_a_single_source_without_a_current_reading_is_a_flag() -> None:
    assert value_at(SINGLE, [], AT) == Flag("nrr", "no current reading from bi", ())
    stale = seen("bi", "100", hours_ago=25)
    assert value_at(SINGLE, [stale], AT) == Flag("nrr", "no current reading from bi", ())


def test_readings_after_the_instant_do_not_count() -> None:
    before, after = seen("bi", "100", hours_ago=3), seen("bi", "200", hours_ago=-1)
    result = value_at(SINGLE, [before, after], AT)
    assert isinstance(result, MetricValue)
    assert result.value == Decimal("100")


def test_the_window_is_inclusive_at_both_ends() -> None:
    oldest = Observation("bi", Decimal("1"), AT - DAY, None)
    assert value_at(SINGLE, [oldest], AT) == MetricValue("nrr", Decimal("1"), AT - DAY, (oldest,))
    now = Observation("bi", Decimal("2"), AT, None)
    assert value_at(SINGLE, [now], AT) == MetricValue("nrr", Decimal("2"), AT, (now,))
    too_old = Observation("bi", Decimal("3"), AT - DAY - timedelta(microseconds=1), None)
    assert isinstance(value_at(SINGLE, [too_old], AT), Flag)


def test_the_latest_reading_of_a_source_wins() -> None:
    older, newer = seen("bi", "100", hours_ago=5, leaf=9), seen("bi", "101", hours_ago=1, leaf=3)
    for order in ([older, newer], [newer, older]):
        result = value_at(SINGLE, order, AT)
        assert isinstance(result, MetricValue)
        assert result.used == (newer,)


def test_ties_on_as_of_go_to_the_later_leaf() -> None:
    unledgered = seen("bi", "1", leaf=None)
    first, second = seen("bi", "2", leaf=0), seen("bi", "3", leaf=4)
    for order in ([second, first, unledgered], [unledgered, first, second]):
        result = value_at(SINGLE, order, AT)
        assert isinstance(result, MetricValue)
        assert result.value == Decimal("3")
    result = value_at(SINGLE, [first, unledgered], AT)
    assert isinstance(result, MetricValue)
    assert result.value == Decimal("2")  # leaf 0 beats no leaf


def test_other_sources_are_ignored() -> None:
    result = value_at(SINGLE, [seen("rogue", "999", hours_ago=0)], AT)
    assert result == Flag("nrr", "no current reading from bi", ())


def test_a_stale_reading_is_not_replaced_by_an_older_one() -> None:
    # The latest reading at `at` is what counts; a still older one cannot stand in for it.
    result = value_at(SINGLE, [seen("bi", "1", hours_ago=30), seen("bi", "2", hours_ago=40)], AT)
    assert isinstance(result, Flag)


# The median of several sources


def test_median_of_three() -> None:
    result = median_of("1", "5", "3")
    assert isinstance(result, MetricValue)
    assert result.value == Decimal("3")


def test_median_of_four_is_the_exact_mean_of_the_middle_two() -> None:
    for values in (("1", "2", "4", "10"), ("10", "4", "2", "1")):
        result = median_of(*values)
        assert isinstance(result, MetricValue)
        assert result.value == Decimal("3")
    halves = median_of("108.5", "108.51", "0", "200")
    assert isinstance(halves, MetricValue)
    assert halves.value == Decimal("108.505")


def test_the_median_of_30_digit_readings_is_exact() -> None:
    # The default 28-digit context would round this mean.
    result = median_of("123456789012345678901234567891", "123456789012345678901234567892")
    assert isinstance(result, MetricValue)
    assert result.value == Decimal("123456789012345678901234567891.5")
    small = median_of("0.000000000000000000000000000001", "100000000000000000000000000000")
    assert isinstance(small, MetricValue)
    assert small.value == Decimal("50000000000000000000000000000.0000000000000000000000000000005")


def test_the_median_is_as_of_its_newest_reading() -> None:
    observations = [seen("a", "1", hours_ago=3), seen("b", "2", hours_ago=1), seen("c", "3", 2)]
    result = value_at(THREE, observations, AT)
    assert isinstance(result, MetricValue)
    assert result.as_of == AT - timedelta(hours=1)
    assert result.used == tuple(observations)


def test_fewer_current_sources_than_needed_is_a_flag() -> None:
    rule = MetricRule("nrr", Rule.MEDIAN, ("a", "b", "c", "d"), min_sources=3)
    two = [seen("a", "1"), seen("b", "2")]
    assert value_at(rule, two, AT) == Flag(
        "nrr", "2 of the 3 sources needed have a current reading", tuple(two)
    )
    one = value_at(THREE, [seen("c", "1")], AT)
    assert isinstance(one, Flag)
    assert one.reason == "1 of the 2 sources needed has a current reading"


def test_disagreement_beyond_tolerance_is_a_flag_with_the_spread() -> None:
    result = median_of("100.0", "103.2", "101", tolerance=Decimal("1.0"))
    assert isinstance(result, Flag)
    assert result.reason == "readings disagree: spread 3.2 exceeds tolerance 1.0"
    assert [observation.value for observation in result.used] == [
        Decimal("100.0"),
        Decimal("103.2"),
        Decimal("101"),
    ]


def test_a_spread_equal_to_the_tolerance_is_agreement() -> None:
    result = median_of("100", "101", "100.5", tolerance=Decimal("1"))
    assert isinstance(result, MetricValue)
    assert result.value == Decimal("100.5")


def test_a_stale_source_is_ignored() -> None:
    observations = [seen("a", "10"), seen("b", "12"), seen("c", "1000", hours_ago=48)]
    rule = MetricRule("nrr", Rule.MEDIAN, ("a", "b", "c"), min_sources=2, tolerance=Decimal(5))
    result = value_at(rule, observations, AT)
    assert isinstance(result, MetricValue)
    assert result.value == Decimal("11")
    assert result.used == tuple(observations[:2])


def test_the_latest_reading_per_source_counts_in_the_median() -> None:
    observations = [seen("a", "1", 5), seen("a", "9", 1), seen("b", "9"), seen("c", "8", 2)]
    result = value_at(THREE, observations, AT)
    assert isinstance(result, MetricValue)
    assert result.value == Decimal("9")


# Rules that cannot be applied


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"metric": "net retention"}, "metric"),
        ({"rule": "mean"}, "rule"),
        ({"sources": ()}, "sources"),
        ({"sources": "abc"}, "sources"),
        ({"sources": ("a", "a b")}, "sources[1]"),
        ({"sources": ("a", "b", "a")}, "sources[2]"),
        ({"min_sources": 0}, "min_sources"),
        ({"min_sources": 4}, "min_sources"),
        ({"min_sources": True}, "min_sources"),
        ({"tolerance": Decimal(-1)}, "tolerance"),
        ({"tolerance": Decimal("NaN")}, "tolerance"),
        ({"max_age": timedelta(seconds=-1)}, "max_age"),
    ],
)
def test_bad_rules_name_the_field(changes: dict[str, Any], field: str) -> None:
    fields: dict[str, Any] = {"metric": "nrr", "rule": Rule.MEDIAN, "sources": ("a", "b", "c")}
    with pytest.raises(InvalidInput) as refused:
        MetricRule(**{**fields, **changes})
    assert refused.value.field == field


def test_a_single_source_rule_names_one_source() -> None:
    with pytest.raises(InvalidInput) as refused:
        MetricRule("nrr", Rule.SINGLE, ("a", "b"))
    assert refused.value.field == "sources"


def test_rules_read_from_text() -> None:
    rule = MetricRule("nrr", "median", ["a", "b"])  # type: ignore[arg-type]
    assert rule.rule is Rule.MEDIAN
    assert rule.sources == ("a", "b")


# Properties

SOURCES = ("a", "b", "c", "d", "e")
observations = st.builds(
    Observation,
    st.sampled_from([*SOURCES, "other"]),
    st.builds(
        lambda units, places: Decimal(units).scaleb(-places),
        st.integers(-(10**9), 10**9),
        st.integers(0, 6),
    ),
    st.integers(-120, 60 * 30).map(lambda minutes: AT - timedelta(minutes=minutes)),
    st.none() | st.integers(0, 50),
)
rules = st.builds(
    lambda count, tolerance: MetricRule(
        "nrr", Rule.MEDIAN, SOURCES, min_sources=count, tolerance=tolerance
    ),
    st.integers(1, len(SOURCES)),
    st.none() | st.decimals(0, 10**6, places=2),
)


@given(st.lists(observations, max_size=30))
def test_the_median_lies_between_the_values_used(found: list[Observation]) -> None:
    result = value_at(MetricRule("nrr", Rule.MEDIAN, SOURCES), found, AT)
    if isinstance(result, MetricValue):
        used = [observation.value for observation in result.used]
        assert min(used) <= result.value <= max(used)
        assert result.as_of == max(observation.as_of for observation in result.used)
        assert len({observation.source for observation in result.used}) == len(result.used)
    else:
        assert result.used == ()


@given(rules, st.lists(observations, max_size=30), st.randoms(use_true_random=False))
def test_the_result_does_not_depend_on_the_order_of_observations(
    rule: MetricRule, found: list[Observation], random: Any
) -> None:
    shuffled = list(found)
    random.shuffle(shuffled)
    assert value_at(rule, shuffled, AT) == value_at(rule, found, AT)
    assert value_at(rule, reversed(found), AT) == value_at(rule, found, AT)
