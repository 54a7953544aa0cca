"""Tests for contracts/fees.py: proration, fair-billing seats, per-outcome caps and gain-share."""

from __future__ import annotations

import decimal
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from valueproof.contracts.fees import (
    Direction,
    GainMode,
    GainTier,
    Improvement,
    gain_share,
    per_outcome,
    prorate,
    seats,
)
from valueproof.money import Rounding, currency

USD = currency("USD")
NOVEMBER = (datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 12, 1, tzinfo=UTC))  # 30 days
# shared/seeds/performance-economy.txt (Dan Steinman's reply): nothing below 5 points of net
# retention improvement, 5% of the gain from 5 points, 10% from 10 points (the promise).
SEED_TIERS = (GainTier(Decimal(5), Decimal("0.05")), GainTier(Decimal(10), Decimal("0.10")))
POINT = Decimal(10_000)  # what a point of net retention is worth, as the contract would agree

money = st.decimals(min_value=0, max_value=10**9, places=2, allow_nan=False, allow_infinity=False)
shares = st.decimals(min_value=0, max_value=1, places=4, allow_nan=False, allow_infinity=False)
kpi = st.decimals(min_value=-500, max_value=500, places=3, allow_nan=False, allow_infinity=False)


def day(number: int) -> datetime:
    """Midnight UTC starting the given day of November 2026."""
    return datetime(2026, 11, number, tzinfo=UTC)


# Proration


def test_term_starting_on_the_10th_of_a_30_day_month_covers_21_30() -> None:
    proration = prorate(Decimal(300), *NOVEMBER, day(10), datetime(2027, 11, 10, tzinfo=UTC))
    assert proration.fraction == Decimal(21) / Decimal(30) == Decimal("0.7")
    assert proration.amount == Decimal(210)


def test_slack_fair_billing_member_added_10_days_into_a_30_day_period() -> None:
    # Slack Help Center, "Fair Billing policy" (get.slack.help/hc/en-us/articles/218915077):
    # $8 per member per month, a member added 10 days in with 20 days left: 8 / 30 * 20 = $5.33.
    proration = prorate(Decimal(8), *NOVEMBER, day(11), NOVEMBER[1])
    assert USD.round(proration.amount, Rounding.HALF_EVEN) == Decimal("5.33")


def test_slack_fair_billing_pound_example_is_exact() -> None:
    # The same page in en-GB: £6.30 per member, 20 of 30 days remaining: £4.20.
    assert prorate(Decimal("6.30"), *NOVEMBER, day(11), NOVEMBER[1]).amount == Decimal("4.20")


@pytest.mark.parametrize(
    ("covered", "fraction"),
    [
        (NOVEMBER, Decimal(1)),
        ((datetime(2026, 10, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC)), Decimal(1)),
        ((datetime(2026, 10, 1, tzinfo=UTC), day(1)), Decimal(0)),  # ends as the period starts
        ((NOVEMBER[1], datetime(2027, 1, 1, tzinfo=UTC)), Decimal(0)),
        ((day(5), day(5)), Decimal(0)),  # empty window
        ((day(1), day(1) + timedelta(hours=18)), Decimal("0.025")),  # 18 hours of 720
    ],
)
def test_covered_window_is_clipped_to_the_period(
    covered: tuple[datetime, datetime], fraction: Decimal
) -> None:
    assert prorate(Decimal(30), *NOVEMBER, *covered).fraction == fraction


@pytest.mark.parametrize(
    ("arguments", "reason"),
    [
        ((Decimal(-1), *NOVEMBER, *NOVEMBER), "amount must be >= 0"),
        ((Decimal(1), NOVEMBER[1], NOVEMBER[0], *NOVEMBER), "period must end after it starts"),
        ((Decimal(1), NOVEMBER[0], NOVEMBER[0], *NOVEMBER), "period must end after it starts"),
        ((Decimal(1), *NOVEMBER, day(9), day(3)), "covered window must end after it starts"),
        ((Decimal(1), datetime(2026, 11, 1), *NOVEMBER[1:], *NOVEMBER), "aware"),
        ((Decimal("NaN"), *NOVEMBER, *NOVEMBER), "finite"),
    ],
)
def test_prorate_refuses(
    arguments: tuple[Decimal, datetime, datetime, datetime, datetime], reason: str
) -> None:
    with pytest.raises(ValueError, match=reason):
        prorate(*arguments)


def test_prorate_refuses_floats() -> None:
    with pytest.raises(TypeError, match="Decimal"):
        prorate(8.0, *NOVEMBER, *NOVEMBER)  # type: ignore[arg-type]


seconds_in_november = int((NOVEMBER[1] - NOVEMBER[0]).total_seconds())
offsets = st.integers(min_value=-seconds_in_november, max_value=2 * seconds_in_november)


@given(money, offsets, offsets, offsets)
def test_proration_is_a_fraction_and_additive_over_a_split(
    amount: Decimal, first: int, second: int, third: int
) -> None:
    start, middle, end = (
        NOVEMBER[0] + timedelta(seconds=s) for s in sorted((first, second, third))
    )
    whole = prorate(amount, *NOVEMBER, start, end)
    left = prorate(amount, *NOVEMBER, start, middle)
    right = prorate(amount, *NOVEMBER, middle, end)
    assert 0 <= whole.fraction <= 1
    assert whole.amount <= amount
    # Exact when the ratios terminate; otherwise equal to 40 significant digits. The sums are
    # taken at a higher precision so that the test itself does not round.
    with decimal.localcontext(prec=100):
        assert abs(left.fraction + right.fraction - whole.fraction) <= Decimal("1e-39")
        assert abs(left.amount + right.amount - whole.amount) <= Decimal("1e-28")


# Seats (fair billing)


def test_slack_fair_billing_inactive_seats_are_credited() -> None:
    # Slack's Fair Billing Policy (slack.com/help/articles/218915077): a customer is billed only
    # for active members. 10 seats at $8 with 7 active: $80 charged, $24 credited back.
    charge = seats(Decimal(10), Decimal(7), Decimal(8))
    assert (charge.inactive, charge.amount, charge.credit) == (Decimal(3), Decimal(80), Decimal(24))
    assert charge.amount - charge.credit == 7 * Decimal(8)


def test_slack_prorated_credit_for_a_member_inactive_part_of_the_period() -> None:
    # Slack: "If someone you've already paid for becomes inactive, we'll add a prorated credit to
    # your account for the unused time". One of 10 $8 seats is unused for the last 20 of 30 days.
    unused = prorate(Decimal(1), *NOVEMBER, day(11), NOVEMBER[1]).fraction
    charge = seats(Decimal(10), Decimal(9), Decimal(8), inactive_credit=unused)
    assert USD.round(charge.credit, Rounding.HALF_EVEN) == Decimal("5.33")


@pytest.mark.parametrize(
    ("purchased", "active", "inactive", "credit"),
    [
        (Decimal(0), Decimal(0), Decimal(0), Decimal(0)),  # no seats
        (Decimal(5), Decimal(0), Decimal(5), Decimal(50)),  # nobody used it
        (Decimal(5), Decimal(5), Decimal(0), Decimal(0)),  # everyone did
        (Decimal(5), Decimal(8), Decimal(0), Decimal(0)),  # more users than seats: no credit
    ],
)
def test_seat_edge_cases(
    purchased: Decimal, active: Decimal, inactive: Decimal, credit: Decimal
) -> None:
    charge = seats(purchased, active, Decimal(10))
    assert (charge.inactive, charge.credit, charge.amount) == (inactive, credit, purchased * 10)


def test_partial_inactive_credit() -> None:
    assert seats(Decimal(4), Decimal(2), Decimal(10), Decimal("0.5")).credit == Decimal(10)


@pytest.mark.parametrize(
    ("arguments", "reason"),
    [
        ((Decimal(-1), Decimal(0), Decimal(1)), "seats must be >= 0"),
        ((Decimal(1), Decimal(-1), Decimal(1)), "active must be >= 0"),
        ((Decimal(1), Decimal(0), Decimal(-1)), "unit_price must be >= 0"),
        ((Decimal(1), Decimal(0), Decimal(1), Decimal("1.5")), "between 0 and 1"),
    ],
)
def test_seats_refuse(arguments: tuple[Decimal, ...], reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        seats(*arguments)


counts = st.decimals(min_value=0, max_value=10**6, places=0, allow_nan=False)


@given(counts, counts, money)
def test_full_credit_leaves_exactly_the_active_seats(
    purchased: Decimal, active: Decimal, price: Decimal
) -> None:
    charge = seats(purchased, active, price)
    assert charge.credit >= 0
    assert charge.amount - charge.credit == min(active, purchased) * price


@given(counts, counts, money, shares)
def test_credit_never_exceeds_the_charge(
    purchased: Decimal, active: Decimal, price: Decimal, credit: Decimal
) -> None:
    charge = seats(purchased, active, price, credit)
    assert 0 <= charge.credit <= charge.amount


# Per outcome


def test_seed_leads_claimed_and_accepted() -> None:
    # shared/seeds/performance-economy.txt: 100 leads claimed, 20 already known to the customer
    # and 20 off the agreed profile: 60 accepted outcomes are billed.
    charge = per_outcome(60, Decimal(50))
    assert (charge.billable, charge.amount, charge.capped) == (60, Decimal(3000), False)


@pytest.mark.parametrize(
    ("accepted", "max_count", "max_amount", "billable", "amount", "capped"),
    [
        (0, None, None, 0, Decimal(0), False),
        (0, 0, Decimal(0), 0, Decimal(0), False),
        (60, 50, None, 50, Decimal(2500), True),
        (50, 50, None, 50, Decimal(2500), False),  # count cap reached exactly
        (60, None, Decimal(2000), 60, Decimal(2000), True),
        (40, None, Decimal(2000), 40, Decimal(2000), False),  # amount cap reached exactly
        (60, 50, Decimal(2000), 50, Decimal(2000), True),  # both; the lower one binds
        (60, 30, Decimal(2000), 30, Decimal(1500), True),
    ],
)
def test_caps(
    accepted: int,
    max_count: int | None,
    max_amount: Decimal | None,
    billable: int,
    amount: Decimal,
    capped: bool,
) -> None:
    charge = per_outcome(accepted, Decimal(50), max_count, max_amount)
    assert (charge.billable, charge.amount, charge.capped) == (billable, amount, capped)


@pytest.mark.parametrize(
    ("arguments", "error", "reason"),
    [
        ((-1, Decimal(1)), ValueError, "accepted must be >= 0"),
        ((1, Decimal(-1)), ValueError, "unit_price must be >= 0"),
        ((1, Decimal(1), -1), ValueError, "max_count must be >= 0"),
        ((1, Decimal(1), None, Decimal(-1)), ValueError, "max_amount must be >= 0"),
        ((True, Decimal(1)), TypeError, "accepted must be an int"),
        ((1.0, Decimal(1)), TypeError, "accepted must be an int"),
    ],
)
def test_per_outcome_refuses(
    arguments: tuple[object, ...], error: type[Exception], reason: str
) -> None:
    with pytest.raises(error, match=reason):
        per_outcome(*arguments)  # type: ignore[arg-type]


accepted_counts = st.integers(min_value=0, max_value=10**6)
optional_count = st.none() | accepted_counts
optional_money = st.none() | money


@given(accepted_counts, accepted_counts, money, optional_count, optional_money)
def test_per_outcome_respects_caps_and_is_monotone(
    fewer: int, more: int, price: Decimal, max_count: int | None, max_amount: Decimal | None
) -> None:
    fewer, more = sorted((fewer, more))
    low = per_outcome(fewer, price, max_count, max_amount)
    high = per_outcome(more, price, max_count, max_amount)
    assert low.amount <= high.amount
    assert low.billable <= high.billable <= more
    for charge in (low, high):
        assert max_count is None or charge.billable <= max_count
        assert max_amount is None or charge.amount <= max_amount
        assert charge.amount <= charge.billable * price


# Gain-share


@pytest.mark.parametrize(
    ("points", "tier", "share", "amount"),
    [
        (Decimal(-3), None, Decimal(0), Decimal(0)),  # retention fell: never a negative charge
        (Decimal(0), None, Decimal(0), Decimal(0)),
        (Decimal("4.99"), None, Decimal(0), Decimal(0)),  # below 5 points: nothing
        (Decimal(5), 0, Decimal("0.05"), Decimal(2_500)),  # 5% of 50,000
        (Decimal(8), 0, Decimal("0.05"), Decimal(4_000)),
        (Decimal("9.99"), 0, Decimal("0.05"), Decimal("4995")),
        (Decimal(10), 1, Decimal("0.10"), Decimal(10_000)),  # 10% of the whole gain
        (Decimal(12), 1, Decimal("0.10"), Decimal(12_000)),
    ],
)
def test_seed_gain_share_on_net_retention(
    points: Decimal, tier: int | None, share: Decimal, amount: Decimal
) -> None:
    result = gain_share(Decimal(100), Decimal(100) + points, POINT, SEED_TIERS)
    assert result.improvement == points
    assert result.gain == max(points, Decimal(0)) * POINT
    assert (result.tier, result.share, result.amount) == (tier, share, amount)
    assert not (result.floor_applied or result.cap_applied)


def test_seed_tiers_graduated() -> None:
    # 12 points: 5..10 at 5% and 10..12 at 10%; the first 5 points earn nothing.
    result = gain_share(Decimal(100), Decimal(112), POINT, SEED_TIERS, mode=GainMode.GRADUATED)
    assert result.amount == 5 * POINT * Decimal("0.05") + 2 * POINT * Decimal("0.10")
    assert (result.tier, result.share) == (1, Decimal("0.10"))


def test_lower_is_better() -> None:
    # Churn from 14% to 6%: 8 points of improvement.
    result = gain_share(
        Decimal(14), Decimal(6), POINT, SEED_TIERS, direction=Direction.LOWER_IS_BETTER
    )
    assert (result.improvement, result.amount) == (Decimal(8), Decimal(4_000))
    worse = gain_share(
        Decimal(6), Decimal(14), POINT, SEED_TIERS, direction=Direction.LOWER_IS_BETTER
    )
    assert (worse.improvement, worse.gain, worse.amount) == (Decimal(-8), 0, 0)


def test_percent_improvement() -> None:
    result = gain_share(
        Decimal(200), Decimal(230), Decimal(100), SEED_TIERS, improvement=Improvement.PERCENT
    )
    assert (result.improvement, result.gain, result.amount) == (
        Decimal(15),
        Decimal(1_500),
        Decimal(150),
    )


def test_percent_of_a_negative_baseline_keeps_the_sign_of_better() -> None:
    # A loss of -200 cut to -150 is a 25 percent improvement.
    result = gain_share(
        Decimal(-200), Decimal(-150), Decimal(1), SEED_TIERS, improvement=Improvement.PERCENT
    )
    assert result.improvement == Decimal(25)


def test_percent_with_a_zero_baseline_is_refused() -> None:
    with pytest.raises(ValueError, match="non-zero baseline"):
        gain_share(Decimal(0), Decimal(5), POINT, SEED_TIERS, improvement=Improvement.PERCENT)


def test_floor_above_the_gain_share() -> None:
    result = gain_share(Decimal(100), Decimal(105), POINT, SEED_TIERS, floor=Decimal(5_000))
    assert (result.amount, result.floor_applied, result.cap_applied) == (5_000, True, False)
    worse = gain_share(Decimal(100), Decimal(90), POINT, SEED_TIERS, floor=Decimal(1_000))
    assert (worse.amount, worse.floor_applied) == (1_000, True)  # whatever the improvement


def test_cap() -> None:
    result = gain_share(Decimal(100), Decimal(112), POINT, SEED_TIERS, cap=Decimal(10_000))
    assert (result.amount, result.cap_applied, result.floor_applied) == (10_000, True, False)


def test_cap_and_floor_reached_exactly_are_not_applied() -> None:
    at_cap = gain_share(Decimal(100), Decimal(112), POINT, SEED_TIERS, cap=Decimal(12_000))
    assert (at_cap.amount, at_cap.cap_applied) == (12_000, False)
    at_floor = gain_share(Decimal(100), Decimal(105), POINT, SEED_TIERS, floor=Decimal(2_500))
    assert (at_floor.amount, at_floor.floor_applied) == (2_500, False)


def test_zero_threshold_tier_pays_from_the_first_point() -> None:
    tiers = (GainTier(Decimal(0), Decimal("0.2")),)
    assert gain_share(Decimal(50), Decimal(51), Decimal(10), tiers).amount == 2
    assert gain_share(Decimal(50), Decimal(50), Decimal(10), tiers).tier == 0


def test_whole_mode_is_not_monotone_when_shares_fall() -> None:
    # Why the monotonicity property below asks for shares that never fall: a cliff downwards.
    tiers = (GainTier(Decimal(5), Decimal("0.10")), GainTier(Decimal(10), Decimal("0.05")))
    below = gain_share(Decimal(0), Decimal("9.9"), POINT, tiers).amount
    above = gain_share(Decimal(0), Decimal(10), POINT, tiers).amount
    assert below > above


@pytest.mark.parametrize(
    ("tiers", "options", "reason"),
    [
        ((), {}, "at least one tier"),
        ((GainTier(Decimal(5), Decimal("1.5")),), {}, "between 0 and 1"),
        ((GainTier(Decimal(-1), Decimal("0.1")),), {}, "threshold must be >= 0"),
        (tuple(reversed(SEED_TIERS)), {}, "above the previous tier"),
        ((SEED_TIERS[0], SEED_TIERS[0]), {}, "above the previous tier"),
        (SEED_TIERS, {"floor": Decimal(2), "cap": Decimal(1)}, "above cap"),
        (SEED_TIERS, {"cap": Decimal(-1)}, "cap must be >= 0"),
        (SEED_TIERS, {"floor": Decimal(-1)}, "floor must be >= 0"),
    ],
)
def test_gain_share_refuses(
    tiers: tuple[GainTier, ...], options: dict[str, Decimal], reason: str
) -> None:
    with pytest.raises(ValueError, match=reason):
        gain_share(Decimal(100), Decimal(110), POINT, tiers, **options)  # type: ignore[arg-type]


def test_gain_share_refuses_a_negative_value_per_unit() -> None:
    with pytest.raises(ValueError, match="value_per_unit"):
        gain_share(Decimal(100), Decimal(110), Decimal(-1), SEED_TIERS)


@st.composite
def rising_tiers(draw: st.DrawFn) -> tuple[GainTier, ...]:
    """1 to 4 tiers with rising thresholds and shares that never fall."""
    thresholds = draw(st.lists(st.integers(0, 60), min_size=1, max_size=4, unique=True))
    rates = sorted(draw(st.lists(shares, min_size=len(thresholds), max_size=len(thresholds))))
    return tuple(GainTier(Decimal(t), s) for t, s in zip(sorted(thresholds), rates, strict=True))


modes = st.sampled_from(GainMode)
directions = st.sampled_from(Direction)


@given(rising_tiers(), kpi, kpi, kpi, money, modes, directions)
def test_gain_share_is_monotone_in_improvement(
    tiers: tuple[GainTier, ...],
    baseline: Decimal,
    one: Decimal,
    other: Decimal,
    value: Decimal,
    mode: GainMode,
    direction: Direction,
) -> None:
    # WHOLE mode: gain and share both rise with improvement (shares never fall), so does their
    # product, despite the jump at each threshold. GRADUATED: a sum of non-negative slices.
    worse, better = sorted((one, other))
    if direction is Direction.LOWER_IS_BETTER:
        worse, better = better, worse
    low = gain_share(baseline, worse, value, tiers, direction=direction, mode=mode)
    high = gain_share(baseline, better, value, tiers, direction=direction, mode=mode)
    assert low.improvement <= high.improvement
    assert 0 <= low.amount <= high.amount


@given(rising_tiers(), kpi, kpi, money)
def test_graduated_never_exceeds_whole(
    tiers: tuple[GainTier, ...], baseline: Decimal, measured: Decimal, value: Decimal
) -> None:
    whole = gain_share(baseline, measured, value, tiers)
    graduated = gain_share(baseline, measured, value, tiers, mode=GainMode.GRADUATED)
    assert graduated.amount <= whole.amount <= whole.gain


@given(rising_tiers(), kpi, kpi, money, modes, optional_money, optional_money)
def test_gain_share_stays_within_floor_and_cap(
    tiers: tuple[GainTier, ...],
    baseline: Decimal,
    measured: Decimal,
    value: Decimal,
    mode: GainMode,
    floor: Decimal | None,
    cap: Decimal | None,
) -> None:
    assume(floor is None or cap is None or floor <= cap)
    result = gain_share(baseline, measured, value, tiers, mode=mode, floor=floor, cap=cap)
    assert floor is None or result.amount >= floor
    assert cap is None or result.amount <= cap
    assert not (result.floor_applied and result.cap_applied)
    assert result.gain >= 0
