"""The alert rules, pure: decline and surge only past the seasonal prediction interval for the
configured run of days (a trough inside the interval never alerts), quiet accounts, commitments
at risk, credit that runs out, and rules documents that name their bad field."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from valueproof.errors import InvalidInput
from valueproof.success.alerts import (
    AlertRules,
    commitment_signals,
    credit_signals,
    idle_chance,
    interval_signals,
    low_volume,
    parse_rules,
    quiet_signal,
)
from valueproof.success.utilization import CommitmentUse, CreditUse

RULES = AlertRules()
START = date(2026, 11, 1)


def days(n: int) -> list[date]:
    return [START + timedelta(days=i) for i in range(n)]


@given(
    st.lists(
        st.tuples(
            st.floats(0, 1e6, allow_nan=False),
            st.floats(0, 1, allow_nan=False),
            st.floats(0, 1, allow_nan=False),
        ),
        min_size=1,
        max_size=60,
    )
)
def test_usage_inside_the_interval_never_alerts_however_deep_the_trough(
    rows: list[tuple[float, float, float]],
) -> None:
    expected = [center for center, _, _ in rows]
    lower = [center * (1 - low) for center, low, _ in rows]
    upper = [center * (1 + high) for center, _, high in rows]
    actual = [lo + (up - lo) * 0.5 for lo, up in zip(lower, upper, strict=True)]
    assert interval_signals("calls", days(len(rows)), actual, lower, upper, expected, RULES) == []


@given(run=st.integers(0, 10), need=st.integers(1, 10))
def test_a_decline_needs_the_configured_run_of_days_at_the_end(run: int, need: int) -> None:
    rules = parse_rules({"decline": {"days": need}})
    n = 14
    expected, lower, upper = [100.0] * n, [80.0] * n, [120.0] * n
    actual = [100.0] * (n - run) + [50.0] * run
    found = interval_signals("calls", days(n), actual, lower, upper, expected, rules)
    assert [s.type for s in found] == (["decline"] if run >= need else [])


def test_a_decline_carries_the_numbers_that_triggered_it() -> None:
    actual = [100.0] * 7 + [40.0, 50.0, 60.0]
    found = interval_signals(
        "calls", days(10), actual, [80.0] * 10, [120.0] * 10, [100.0] * 10, RULES
    )
    [decline] = found
    assert (decline.type, decline.reason, decline.severity) == ("decline", "calls", "warning")
    assert decline.numbers == {
        "meter": "calls",
        "days": 3,
        "since": "2026-11-08",
        "actual": 150.0,
        "expected": 300.0,
        "bound": 240.0,
        "change": -0.5,
    }
    assert "3 days in a row below the seasonal range (-50%" in decline.message
    # An early dip that recovered does not count: only the trailing run does.
    recovered = [40.0] * 5 + [100.0] * 5
    assert (
        interval_signals(
            "calls", days(10), recovered, [80.0] * 10, [120.0] * 10, [100.0] * 10, RULES
        )
        == []
    )


def test_a_surge_takes_two_days_by_default_and_rules_can_switch_it_off() -> None:
    actual = [100.0] * 8 + [200.0, 210.0]
    bounds = ([80.0] * 10, [120.0] * 10, [100.0] * 10)
    [surge] = interval_signals("calls", days(10), actual, *bounds, RULES)
    assert (surge.type, surge.severity, surge.numbers["days"]) == ("surge", "info", 2)
    off = parse_rules({"surge": {"enabled": False}})
    assert interval_signals("calls", days(10), actual, *bounds, off) == []
    with pytest.raises(ValueError, match="differ in length"):
        interval_signals("calls", days(3), [1.0], [1.0], [1.0], [1.0], RULES)


def test_quiet_after_the_configured_days_and_never_for_an_account_that_never_used() -> None:
    today = date(2026, 11, 20)
    assert quiet_signal(None, today, RULES) is None
    assert quiet_signal(today - timedelta(days=6), today, RULES) is None
    quiet = quiet_signal(today - timedelta(days=7), today, RULES)
    assert quiet is not None and quiet.numbers == {
        "last_used": "2026-11-13",
        "idle_days": 7,
        "chance": 0.0,
    }
    assert quiet.severity == "critical"


@given(
    habit=st.lists(st.floats(0.0, 1.0), min_size=7, max_size=7),
    idle=st.integers(1, 120),
)
def test_quiet_waits_until_the_idle_run_is_rare_by_the_accounts_own_habit(
    habit: list[float], idle: int
) -> None:
    # idle on each day d by chance with 1 - p_d: the run's chance is their product
    today = date(2026, 11, 20)
    last = today - timedelta(days=idle)
    found = quiet_signal(last, today, RULES, habit=habit)
    by_chance = math.prod(1.0 - habit[(last + timedelta(days=k)).weekday()] for k in range(1, idle))
    fires = idle >= RULES.quiet.days and by_chance <= RULES.quiet.rarity
    if abs(by_chance - RULES.quiet.rarity) > 1e-9:
        assert (found is not None) == fires


def test_a_weekday_habit_does_not_count_its_weekends_and_a_rare_one_waits() -> None:
    today = date(2026, 11, 23)  # a Monday
    weekdays_only = [0.98] * 5 + [0.02, 0.02]
    # last used on Friday the 13th: ten idle days, six of them weekdays: 0.02^6 * 0.98^4
    quiet = quiet_signal(date(2026, 11, 13), today, RULES, habit=weekdays_only)
    assert quiet is not None and "by its habit, a chance under 1 in 10,000" in quiet.message
    rarely = [0.1] * 7  # one day in ten: ten idle days happen a third of the time
    assert quiet_signal(date(2026, 11, 13), today, RULES, habit=rarely) is None
    assert idle_chance(date(2026, 11, 13), today, rarely) == pytest.approx(0.9**9)
    assert quiet_signal(today - timedelta(days=45), today, RULES, habit=rarely) is None
    late = quiet_signal(today - timedelta(days=70), today, RULES, habit=rarely)
    assert late is not None  # 0.9^69 is under 0.1%


def test_a_range_that_starts_at_zero_raises_neither_decline_nor_surge() -> None:
    # a few events a day: zero is an ordinary day, so a day's range says nothing
    n = 14
    expected, lower, upper = [1.2] * n, [0.0] * n, [4.0] * n
    assert low_volume(lower, expected)
    assert interval_signals("calls", days(n), [0.0] * n, lower, upper, expected, RULES) == []
    assert interval_signals("calls", days(n), [9.0] * n, lower, upper, expected, RULES) == []
    assert not low_volume([80.0] * n, [100.0] * n)


def test_a_surge_forgives_no_day_inside_a_decline_one() -> None:
    n = 10
    bounds = ([80.0] * n, [120.0] * n, [100.0] * n)
    spikes = [100.0] * 7 + [200.0, 100.0, 200.0]  # two busy days with a normal one between
    assert interval_signals("calls", days(n), spikes, *bounds, RULES) == []
    dips = [100.0] * 6 + [50.0, 50.0, 100.0, 50.0]
    assert [s.type for s in interval_signals("calls", days(n), dips, *bounds, RULES)] == ["decline"]


def commitment(projected: str, minimum: str = "1000") -> CommitmentUse:
    return CommitmentUse(
        "minimum",
        Decimal(minimum),
        Decimal("100"),
        Decimal("0.1"),
        Decimal("0.4"),
        Decimal(projected),
        Decimal(projected) - Decimal(minimum),
    )


def test_a_commitment_is_at_risk_below_its_share_once_enough_of_the_period_has_gone() -> None:
    assert commitment_signals([commitment("400")], Decimal("0.2"), RULES) == []  # too early
    [risk] = commitment_signals([commitment("400")], Decimal("0.5"), RULES)
    assert (risk.type, risk.reason) == ("commitment_at_risk", "minimum")
    assert risk.numbers["shortfall"] == "600"
    assert commitment_signals([commitment("900")], Decimal("0.5"), RULES) == []  # 90%: on target
    assert commitment_signals([commitment("0", minimum="0")], Decimal("0.5"), RULES) == []


def test_credit_that_runs_out_before_the_period_ends_alerts() -> None:
    soon = datetime(2026, 11, 25, tzinfo=UTC)
    running = CreditUse("wallet", Decimal("10"), Decimal("2"), Decimal("5"), soon, True)
    lasting = CreditUse("wallet", Decimal("100"), Decimal("2"), Decimal("50"), soon, False)
    [runout] = credit_signals([running, lasting], RULES)
    assert runout.numbers["runs_out"].startswith("2026-11-25")
    assert credit_signals([running], parse_rules({"credit_runout": {"enabled": False}})) == []


def test_a_bad_rules_document_names_the_field() -> None:
    for document, field in (
        ({"decline": {"days": 0}}, "decline.days"),
        ({"quiet": {"weeks": 2}}, "quiet.weeks"),
        ({"commitment_at_risk": {"below": 2}}, "commitment_at_risk.below"),
    ):
        with pytest.raises(InvalidInput) as caught:
            parse_rules(document)
        assert caught.value.field == field


def test_one_day_back_inside_the_interval_does_not_hide_a_decline() -> None:
    # a 10% drop whose noise put one day inside the band: four of the last five days count
    actual = [100.0] * 7 + [85.0, 86.0, 95.0, 84.0, 85.0]
    found = interval_signals(
        "calls", days(12), actual, [90.0] * 12, [110.0] * 12, [100.0] * 12, RULES
    )
    [decline] = found
    assert decline.numbers["days"] == 4 and decline.numbers["since"] == "2026-11-08"
    assert "4 of the last 5 days below" in decline.message
    # two days back inside end the run
    healed = [100.0] * 7 + [85.0, 86.0, 95.0, 96.0, 85.0]
    assert (
        interval_signals("calls", days(12), healed, [90.0] * 12, [110.0] * 12, [100.0] * 12, RULES)
        == []
    )


def test_a_change_too_small_to_matter_never_alerts_however_narrow_the_band() -> None:
    # a flat, noise-free series: the band is 0.2% wide and usage 1% lower for two weeks
    n = 14
    expected, lower, upper = [247_423.0] * n, [246_928.0] * n, [247_918.0] * n
    actual = [244_949.0] * n
    assert interval_signals("seats", days(n), actual, lower, upper, expected, RULES) == []
    strict = parse_rules({"decline": {"min_change": 0.005}})
    [decline] = interval_signals("seats", days(n), actual, lower, upper, expected, strict)
    assert decline.numbers["change"] == pytest.approx(-0.01, abs=1e-5)


def test_a_partial_surge_block_keeps_the_surge_defaults() -> None:
    rules = parse_rules({"surge": {"enabled": False}})
    assert rules.surge.days == 2 and rules.decline.days == 3
