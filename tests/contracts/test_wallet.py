"""Tests for contracts/wallet.py: worked examples of prepaid credits drawn down period by period,
then properties of the draw-down over random grants, periods and recurring rules, then the inputs
it refuses.

Examples that reproduce a published one name its URL; the others apply a rule a source states
(or the module's docstring) to numbers of our own, and say so.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from decimal import Decimal
from random import Random
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from valueproof.contracts.wallet import (
    EXPIRED,
    ROLLOVER_CAP,
    Draw,
    Expiry,
    Grant,
    PeriodDrawdown,
    Recurring,
    WalletPeriod,
    draw_down,
)
from valueproof.periods import format_rfc3339

D = Decimal
FIRST_MONTH = datetime(2026, 1, 1, tzinfo=UTC)


def at(year: int, month: int, day: int = 1, hour: int = 0) -> datetime:
    return datetime(year, month, day, hour, tzinfo=UTC)


def month_start(offset: int, first: datetime = FIRST_MONTH) -> datetime:
    years, month = divmod(first.month - 1 + offset, 12)
    return first.replace(year=first.year + years, month=month + 1)


def months(*charges: str | int | Decimal, first: datetime = FIRST_MONTH) -> list[WalletPeriod]:
    """Consecutive calendar months from `first`, one per charge."""
    return [
        WalletPeriod(month_start(i, first), month_start(i + 1, first), D(charge))
        for i, charge in enumerate(charges)
    ]


def recurring_id(start: datetime) -> str:
    return f"recurring:{format_rfc3339(start)}"


def summary(result: PeriodDrawdown) -> tuple[object, ...]:
    """A period's outcome as plain tuples, for examples that state every number."""
    return (
        [(draw.grant, draw.amount) for draw in result.draws],
        result.covered,
        result.overage,
        [(expiry.grant, expiry.amount, expiry.reason) for expiry in result.expired],
        list(result.balances),
    )


JAN, FEB, MAR = (recurring_id(month_start(i)) for i in range(3))


# One-off grants


def test_one_grant_drawn_month_by_month_until_exhausted_then_overage() -> None:
    # Constructed from Lago's stated rule: without an expiration date, prepaid credits "are carried
    # over to the next billing period until the wallet balance is zero"
    # (https://getlago.com/docs/guide/wallet-and-prepaid-credits/overview); the numbers are ours.
    grant = Grant("prepaid", D(1_000), at(2026, 1), None)
    results = draw_down([grant], months(300, 400, 500, 200))
    assert [summary(result) for result in results] == [
        ([("prepaid", D(300))], D(300), D(0), [], [("prepaid", D(700))]),
        ([("prepaid", D(400))], D(400), D(0), [], [("prepaid", D(300))]),
        ([("prepaid", D(300))], D(300), D(200), [], []),
        ([], D(0), D(200), [], []),
    ]


def test_kong_credit_then_invoice_example() -> None:
    # Kong Metering & Billing, "credit then invoice": a 100 USD charge against a 40 USD balance
    # consumes 40 and invoices the remaining 60
    # (https://developer.konghq.com/metering-and-billing/credits/consumption-and-expiration/).
    grant = Grant("balance", D(40), at(2026, 1), None)
    [result] = draw_down([grant], months(100))
    assert (result.covered, result.overage, result.balances) == (D(40), D(60), ())


def test_no_grants_bills_every_charge_as_overage() -> None:
    results = draw_down([], months("0", "12.34", "10000"))
    assert [(r.draws, r.covered, r.overage, r.expired, r.balances) for r in results] == [
        ((), D(0), D(0), (), ()),
        ((), D(0), D("12.34"), (), ()),
        ((), D(0), D(10_000), (), ()),
    ]


def test_no_periods_no_results() -> None:
    assert draw_down([Grant("g", D(5), at(2026, 1), None)], []) == []


def test_orb_draw_order_example() -> None:
    # Orb support, "If a customer has multiple credit blocks which block will be drawn down from
    # first?":
    # https://support.withorb.com/articles/3370528775-how-are-multiple-credit-blocks-used-when-added-on-the-same-day
    # Blocks A (created August 1st, expiring September 30th),
    # B (August 3rd, September 15th), C (August 5th, September 15th) and D (August 2nd, October 1st)
    # are used in the order B, C, A, D: soonest expiry first, then earliest creation. The article
    # gives neither year nor amounts: 2024, 100 credits a block and 250 of charges are ours, and a
    # date is read as midnight UTC.
    blocks = [
        Grant("A", D(100), at(2024, 8, 1), at(2024, 9, 30)),
        Grant("B", D(100), at(2024, 8, 3), at(2024, 9, 15)),
        Grant("C", D(100), at(2024, 8, 5), at(2024, 9, 15)),
        Grant("D", D(100), at(2024, 8, 2), at(2024, 10, 1)),
    ]
    august, september = draw_down(blocks, months(250, 0, first=at(2024, 8)))
    assert summary(august) == (
        [("B", D(100)), ("C", D(100)), ("A", D(50))],
        D(250),
        D(0),
        [],
        [("A", D(50)), ("D", D(100))],
    )
    # Ours: A (September 30th) and D (October 1st, September's end) both expire in September.
    assert summary(september) == (
        [],
        D(0),
        D(0),
        [("A", D(50), EXPIRED), ("D", D(100), EXPIRED)],
        [],
    )


def test_soonest_expiry_first_and_grants_without_expiry_last() -> None:
    # Constructed from Metronome's rule that of two credit grants of the same priority "the one that
    # expires sooner is consumed first"
    # (https://docs.metronome.com/invoicing/how-billing-works/manage-credits/); numbers are ours.
    grants = [
        Grant("forever", D(500), at(2025, 12), None),  # granted first, still drawn last
        Grant("june", D(200), at(2026, 1, 10), at(2026, 6)),
        Grant("march", D(100), at(2026, 1, 20), at(2026, 3)),
    ]
    january, february = draw_down(grants, months(250, 400))
    assert [(d.grant, d.amount) for d in january.draws] == [("march", D(100)), ("june", D(150))]
    assert january.balances == (("june", D(50)), ("forever", D(500)))
    assert [(d.grant, d.amount) for d in february.draws] == [("june", D(50)), ("forever", D(350))]
    assert february.balances == (("forever", D(150)),)


def test_equal_expiries_go_by_grant_time_then_id() -> None:
    # Metronome's prioritization rules break a tie on ending_before by starting_on, earlier first
    # (https://docs.metronome.com/pricing-packaging/apply-credits-commits/prioritization-rules);
    # the id is this module's last tie-break. Numbers are ours.
    grants = [
        Grant("b", D(10), at(2026, 1, 5), at(2026, 4)),
        Grant("a", D(10), at(2026, 1, 5), at(2026, 4)),
        Grant("0-later", D(10), at(2026, 1, 9), at(2026, 4)),
        Grant("z-earlier", D(10), at(2026, 1, 2), at(2026, 4)),
    ]
    [result] = draw_down(grants, months(35))
    assert [d.grant for d in result.draws] == ["z-earlier", "a", "b", "0-later"]
    assert result.balances == (("0-later", D(5)),)


def test_grant_expiring_mid_period_pays_that_period_then_loses_its_balance() -> None:
    # Lago voids the remaining credits when the expiration date is reached
    # (https://getlago.com/docs/guide/wallet-and-prepaid-credits/overview). Here a period's charges
    # are drawn at its end from grants not expired at its start, so a grant expiring on March 15th
    # still pays March and its remainder expires at March's end. Numbers are ours.
    grant = Grant("promo", D(500), at(2026, 1), at(2026, 3, 15))
    results = draw_down([grant], months(100, 100, 100, 100))
    assert [summary(result) for result in results] == [
        ([("promo", D(100))], D(100), D(0), [], [("promo", D(400))]),
        ([("promo", D(100))], D(100), D(0), [], [("promo", D(300))]),
        ([("promo", D(100))], D(100), D(0), [("promo", D(200), EXPIRED)], []),
        ([], D(0), D(100), [], []),
    ]


def test_grant_expiring_at_a_period_end_pays_that_period() -> None:
    grant = Grant("q1", D(500), at(2026, 1), at(2026, 4))  # April 1st: March's end
    results = draw_down([grant], months(100, 100, 100, 100))
    assert [r.covered for r in results] == [D(100)] * 3 + [D(0)]
    assert results[2].expired == (Expiry("q1", D(200), EXPIRED),)


def test_grant_already_expired_at_the_first_period_start_pays_nothing() -> None:
    grant = Grant("old", D(80), at(2025, 12), at(2026, 1))  # expires as January starts
    [january] = draw_down([grant], months(50))
    assert (january.draws, january.overage) == ((), D(50))
    assert january.expired == (Expiry("old", D(80), EXPIRED),)


def test_grant_granted_at_or_after_a_period_end_waits_for_a_later_period() -> None:
    late = Grant("late", D(100), at(2026, 2), None)  # granted as January ends
    just_in_time = Grant("in-time", D(30), at(2026, 1, 31, 23), None)
    january, february = draw_down([late, just_in_time], months(50, 50))
    assert january.draws == (Draw("in-time", D(30)),)
    assert (january.overage, january.balances) == (D(20), ())
    assert february.draws == (Draw("late", D(50)),)
    assert february.balances == (("late", D(50)),)


def test_grant_after_the_last_period_never_appears() -> None:
    [january] = draw_down([Grant("future", D(100), at(2026, 3), None)], months(40))
    assert (january.draws, january.overage, january.balances) == ((), D(40), ())


# Recurring credits


def test_recurring_credits_capped_at_50() -> None:
    # 100 a month, at most 50 carried over; constructed from the module's rules, numbers ours.
    # Metronome's credit grant rollover settings likewise cap the amount rolled over
    # (rollover_amount: RolloverAmountMaxAmount or RolloverAmountMaxPercentage):
    # https://www.rubydoc.info/gems/metronome-sdk/MetronomeSDK/Models/V1/CreditGrantCreateParams/RolloverSettings
    rule = Recurring(D(100), rollover_cap=D(50))
    january, february, march = draw_down([], months(30, 20, 200), rule)
    assert summary(january) == (
        [(JAN, D(30))],
        D(30),
        D(0),
        [(JAN, D(20), ROLLOVER_CAP)],
        [(JAN, D(50))],
    )
    # The older recurring grant is drawn first; the cap trims the newer one, drawn last.
    assert summary(february) == (
        [(JAN, D(20))],
        D(20),
        D(0),
        [(FEB, D(80), ROLLOVER_CAP)],
        [(JAN, D(30)), (FEB, D(20))],
    )
    assert summary(march) == (
        [(JAN, D(30)), (FEB, D(20)), (MAR, D(100))],
        D(150),
        D(50),
        [],
        [],
    )


def test_autumn_rollover_example() -> None:
    # Autumn, "Rollovers": on a plan with 1,000 credits a month (rollover max 2,000), a customer who
    # uses 600 in January has 400 carried over, "giving them 1,400 credits available in February"
    # (https://docs.useautumn.com/documentation/modelling-pricing/rollovers).
    rule = Recurring(D(1_000), rollover_cap=D(2_000))
    january, february = draw_down([], months(600, 1_400), rule)
    assert january.balances == ((JAN, D(400)),)
    assert (february.covered, february.overage, february.balances) == (D(1_400), D(0), ())


def test_rollover_cap_zero_is_use_it_or_lose_it() -> None:
    rule = Recurring(D(100), rollover_cap=D(0))
    january, february, march = draw_down([], months(30, 150, 0), rule)
    assert (january.expired, january.balances) == ((Expiry(JAN, D(70), ROLLOVER_CAP),), ())
    assert (february.covered, february.overage, february.expired) == (D(100), D(50), ())
    assert march.expired == (Expiry(MAR, D(100), ROLLOVER_CAP),)


def test_uncapped_recurring_credits_accumulate() -> None:
    results = draw_down([], months(0, 0, 250), Recurring(D(100), rollover_cap=None))
    assert [r.balances for r in results[:2]] == [((JAN, D(100)),), ((JAN, D(100)), (FEB, D(100)))]
    assert (results[2].draws, results[2].balances) == (
        (Draw(JAN, D(100)), Draw(FEB, D(100)), Draw(MAR, D(50))),
        ((MAR, D(50)),),
    )


def test_recurring_credits_expire_after_periods() -> None:
    # Each month's 100 lasts that month and the next; the older is drawn first, as it expires first.
    rule = Recurring(D(100), rollover_cap=None, expires_after_periods=2)
    january, february, march = draw_down([], months(0, 50, 0), rule)
    assert (january.expired, january.balances) == ((), ((JAN, D(100)),))
    assert february.draws == (Draw(JAN, D(50)),)
    assert february.expired == (Expiry(JAN, D(50), EXPIRED),)
    assert february.balances == ((FEB, D(100)),)
    assert march.expired == (Expiry(FEB, D(100), EXPIRED),)
    assert march.balances == ((MAR, D(100)),)


def test_recurring_credits_lasting_one_period_expire_at_its_end() -> None:
    rule = Recurring(D(100), rollover_cap=D(1_000), expires_after_periods=1)
    january, february = draw_down([], months(40, 0), rule)
    assert (january.expired, january.balances) == ((Expiry(JAN, D(60), EXPIRED),), ())
    assert february.expired == (Expiry(FEB, D(100), EXPIRED),)


def test_expiry_then_cap() -> None:
    # At a period end grants that expire go first ("expired"), then the cap trims what is left.
    rule = Recurring(D(100), rollover_cap=D(30), expires_after_periods=2)
    january, february = draw_down([], months(0, 10), rule)
    assert january.expired == (Expiry(JAN, D(70), ROLLOVER_CAP),)
    # February: January's 30 pays 10 then expires with its 20; February's 100 is capped to 30.
    assert february.draws == (Draw(JAN, D(10)),)
    assert february.expired == (Expiry(JAN, D(20), EXPIRED), Expiry(FEB, D(70), ROLLOVER_CAP))
    assert february.balances == ((FEB, D(30)),)


def test_recurring_credits_go_after_grants_expiring_now_and_before_longer_ones() -> None:
    # The module's rule: a capped recurring grant ranks as though it expired just after the period's
    # end, behind grants that expire then, ahead of purchased credits that last longer.
    grants = [
        Grant("purchased", D(1_000), at(2026, 1), at(2026, 12)),
        Grant("ends-with-january", D(100), at(2026, 1), at(2026, 2)),
        Grant("never-expires", D(1_000), at(2025, 6), None),
    ]
    [january] = draw_down(grants, months(250), Recurring(D(100), rollover_cap=D(1_000)))
    assert january.draws == (
        Draw("ends-with-january", D(100)),
        Draw(JAN, D(100)),
        Draw("purchased", D(50)),
    )
    assert january.balances == (("purchased", D(950)), ("never-expires", D(1_000)))


def test_uncapped_lasting_recurring_credits_rank_with_grants_without_expiry() -> None:
    # Never lost, so ranked like any grant without expiry: by grant time, after expiring grants.
    grants = [
        Grant("purchased", D(100), at(2026, 1, 15), at(2026, 12)),
        Grant("older", D(100), at(2025, 6), None),
    ]
    [january] = draw_down(grants, months(250), Recurring(D(100), rollover_cap=None))
    assert january.draws == (Draw("purchased", D(100)), Draw("older", D(100)), Draw(JAN, D(50)))


def test_a_callers_grant_cannot_count_towards_the_rollover_cap() -> None:
    # The docstring: the cap takes the excess "from the grants that would be drawn last, so that
    # what carries over is exactly the credits the next period would draw first". That holds for
    # the rule's own grants; a caller's grant marked recurring with an expiry of its own would be
    # ranked by a guess in its first period and by its expiry in the next, so the cap could trim
    # the credit the next period draws first. Such a grant is refused.
    bonus = Grant("bonus", D(100), at(2026, 1, 15), at(2026, 3), recurring=True)
    rule = Recurring(D(100), rollover_cap=D(100))
    with pytest.raises(ValueError, match="recurring grants come from the Recurring rule"):
        draw_down([bonus], months(0, 0), rule)


def test_recurring_ids_name_the_period_start_in_utc() -> None:
    paris = timezone(timedelta(hours=1))
    period = WalletPeriod(datetime(2026, 1, 1, 1, tzinfo=paris), at(2026, 2), D(0))
    [result] = draw_down([], [period], Recurring(D(5), rollover_cap=None))
    assert result.balances == (("recurring:2026-01-01T00:00:00Z", D(5)),)


# Properties over random wallets
#
# Each test checks several properties of one generated wallet: generating wallets costs more than
# drawing them down, and the whole file should run in a few seconds.

SETTINGS = settings(max_examples=60, deadline=None)
money = st.decimals(places=2, min_value=0, max_value=10_000, allow_nan=False, allow_infinity=False)
BOUNDARIES = [month_start(i, at(2025, 12)) for i in range(12)]  # December 2025 .. November 2026
FAR = at(2100, 1)


def hours_after(start: datetime, first: int, last: int) -> st.SearchStrategy[datetime]:
    return st.integers(first, last).map(lambda hours: start + timedelta(hours=hours))


# Grant times and expiries hit period boundaries often, to exercise the edges of every rule.
instants = st.one_of(st.sampled_from(BOUNDARIES), hours_after(BOUNDARIES[0], 0, 24 * 330))
rules = st.one_of(
    st.none(),
    st.builds(
        Recurring,
        amount=money,
        rollover_cap=st.none() | money,
        expires_after_periods=st.none() | st.integers(1, 4),
    ),
)


@st.composite
def grant_lists(draw: st.DrawFn) -> list[Grant]:
    """Up to 6 grants around the periods (some before, some after), expiring on a period boundary,
    at any hour, or never; ids in an order unrelated to the grants'."""
    count = draw(st.integers(0, 6))
    ids = draw(st.permutations([f"g{i}" for i in range(count)]))
    grants = []
    for grant_id in ids:
        granted = draw(instants)
        expires = draw(
            st.one_of(
                st.none(),
                st.sampled_from([b for b in BOUNDARIES if b > granted] or [FAR]),
                hours_after(granted, 1, 24 * 150),
            )
        )
        grants.append(Grant(grant_id, draw(money), granted, expires))
    return grants


period_lists = st.lists(money, min_size=1, max_size=8).map(lambda charges: months(*charges))
Wallet = tuple[list[Grant], list[WalletPeriod], Recurring | None]
wallets: st.SearchStrategy[Wallet] = st.tuples(grant_lists(), period_lists, rules)


def issued(wallet: Wallet) -> dict[str, Decimal]:
    """Every grant that entered the wallet by the last period's end, with its amount."""
    grants, periods, rule = wallet
    amounts = {g.id: g.amount for g in grants if g.granted < periods[-1].end}
    if rule is not None:
        amounts.update({recurring_id(period.start): rule.amount for period in periods})
    return amounts


def recurring_index(grant_id: str, periods: list[WalletPeriod]) -> int:
    """The index of the period whose start a generated recurring grant is named after."""
    return [recurring_id(period.start) for period in periods].index(grant_id)


def usable_in(grant_id: str, index: int, wallet: Wallet) -> bool:
    """The docstring's rule: granted before the period's end and not expired at its start; a
    generated recurring grant from its own period through its last one."""
    grants, periods, rule = wallet
    period = periods[index]
    for grant in grants:
        if grant.id == grant_id:
            return grant.granted < period.end and (
                grant.expires is None or grant.expires > period.start
            )
    assert rule is not None
    first = recurring_index(grant_id, periods)
    lasts = rule.expires_after_periods
    return first <= index and (lasts is None or index <= first + lasts - 1)


def check_conservation(wallet: Wallet, results: list[PeriodDrawdown]) -> None:
    """Every credit granted (recurring grants included) is drawn, expired or still held."""
    amounts = issued(wallet)
    drawn: dict[str, Decimal] = defaultdict(Decimal)
    lost: dict[str, Decimal] = defaultdict(Decimal)
    for result in results:
        for draw in result.draws:
            drawn[draw.grant] += draw.amount
        for expiry in result.expired:
            lost[expiry.grant] += expiry.amount
    held = dict(results[-1].balances)
    assert set(drawn) | set(lost) | set(held) <= set(amounts)
    for grant_id, amount in amounts.items():
        assert amount == drawn[grant_id] + lost[grant_id] + held.get(grant_id, D(0)), grant_id
    assert sum(amounts.values(), D(0)) == (
        sum(drawn.values(), D(0)) + sum(lost.values(), D(0)) + sum(held.values(), D(0))
    )


def check_charges_split(wallet: Wallet, results: list[PeriodDrawdown]) -> None:
    """Each period's charges are covered by its draws or billed as overage, never more."""
    periods = wallet[1]
    assert [(r.start, r.end, r.charges) for r in results] == [
        (p.start, p.end, p.charges) for p in periods
    ]
    for result in results:
        assert result.covered == sum((draw.amount for draw in result.draws), D(0))
        assert result.covered + result.overage == result.charges
        assert D(0) <= result.overage <= result.charges
        assert len({draw.grant for draw in result.draws}) == len(result.draws)


def check_running_ledger(wallet: Wallet, results: list[PeriodDrawdown]) -> None:
    """The balances after each period are what was granted less what was drawn and expired, never
    negative, and list exactly the grants with credits left."""
    grants, periods, rule = wallet
    amounts = issued(wallet)
    remaining: dict[str, Decimal] = {}
    for index, result in enumerate(results):
        entered = {g.id for g in grants if g.granted < result.end}
        if rule is not None:
            entered |= {recurring_id(p.start) for p in periods[: index + 1]}
        for grant_id in entered:
            remaining.setdefault(grant_id, amounts[grant_id])
        assert all(draw.amount > 0 for draw in result.draws)
        assert all(expiry.amount > 0 for expiry in result.expired)
        for draw in result.draws:
            remaining[draw.grant] -= draw.amount
        for expiry in result.expired:
            remaining[expiry.grant] -= expiry.amount
        assert all(balance >= 0 for balance in remaining.values())
        held = {grant_id: balance for grant_id, balance in remaining.items() if balance > 0}
        assert dict(result.balances) == held
        assert len(result.balances) == len(held)


def check_draws_while_usable(wallet: Wallet, results: list[PeriodDrawdown]) -> None:
    """No draw from a grant before it is granted, or after it has expired."""
    gone: set[str] = set()
    for index, result in enumerate(results):
        for draw in result.draws:
            assert usable_in(draw.grant, index, wallet), (index, draw)
            assert draw.grant not in gone
        assert not gone & {grant_id for grant_id, _ in result.balances}
        gone |= {expiry.grant for expiry in result.expired if expiry.reason == EXPIRED}


def check_expiry_reasons(wallet: Wallet, results: list[PeriodDrawdown]) -> None:
    """A grant expires at the end of the period its expiry falls in; the cap trims only grants that
    count towards it, and only down to the cap."""
    grants, periods, rule = wallet
    by_id = {grant.id: grant for grant in grants}
    counted = {g.id for g in grants if g.recurring}
    if rule is not None:
        counted |= {recurring_id(p.start) for p in periods}
    for index, result in enumerate(results):
        for expiry in result.expired:
            assert expiry.reason in (EXPIRED, ROLLOVER_CAP)
            if expiry.reason == ROLLOVER_CAP:
                assert rule is not None and rule.rollover_cap is not None
                assert expiry.grant in counted
            elif expiry.grant in by_id:
                expires = by_id[expiry.grant].expires
                assert expires is not None and expires <= result.end
            else:
                assert rule is not None and rule.expires_after_periods is not None
                first = recurring_index(expiry.grant, periods)
                assert index == first + rule.expires_after_periods - 1
        for grant_id, _ in result.balances:
            expires = by_id[grant_id].expires if grant_id in by_id else None
            assert expires is None or expires > result.end
        if rule is not None and rule.rollover_cap is not None:
            kept = sum((b for g, b in result.balances if g in counted), D(0))
            assert kept <= rule.rollover_cap


def check_no_credit_idle_during_overage(wallet: Wallet, results: list[PeriodDrawdown]) -> None:
    """Every draw but a period's last empties its grant, and overage is billed only once every
    usable credit is spent."""
    for index, result in enumerate(results):
        emptied = {expiry.grant for expiry in result.expired} | {g for g, _ in result.balances}
        assert not emptied & {draw.grant for draw in result.draws[:-1]}
        if result.overage > 0:
            assert result.balances == ()
            for expiry in result.expired:
                assert not usable_in(expiry.grant, index, wallet)


@SETTINGS
@given(wallets)
def test_credits_are_conserved_and_charges_split(wallet: Wallet) -> None:
    results = draw_down(*wallet)
    check_conservation(wallet, results)
    check_charges_split(wallet, results)
    check_running_ledger(wallet, results)


@SETTINGS
@given(wallets)
def test_credits_are_drawn_only_while_usable_and_expire_by_the_rules(wallet: Wallet) -> None:
    results = draw_down(*wallet)
    check_draws_while_usable(wallet, results)
    check_expiry_reasons(wallet, results)
    check_no_credit_idle_during_overage(wallet, results)


def queue_key(grant: Grant) -> tuple[bool, datetime, datetime, str]:
    """Draw order without a recurring rule: soonest expiry, none last, then grant time, then id."""
    return (grant.expires is None, grant.expires or FAR, grant.granted, grant.id)


@SETTINGS
@given(grant_lists(), period_lists)
def test_one_off_grants_are_drawn_in_expiry_order(
    grants: list[Grant], periods: list[WalletPeriod]
) -> None:
    wallet: Wallet = (grants, periods, None)
    results = draw_down(grants, periods)
    by_id = {grant.id: grant for grant in grants}
    remaining: dict[str, Decimal] = {}
    for index, result in enumerate(results):
        for grant in grants:
            if grant.granted < result.end:
                remaining.setdefault(grant.id, grant.amount)
        queue = sorted((by_id[g] for g, left in remaining.items() if left > 0), key=queue_key)
        usable = [g.id for g in queue if usable_in(g.id, index, wallet)]
        # The draws take the usable queue from its head, each in full but the last.
        assert [draw.grant for draw in result.draws] == usable[: len(result.draws)]
        for draw in result.draws[:-1]:
            assert draw.amount == remaining[draw.grant]
        held = [g for g, _ in result.balances]
        assert held == sorted(held, key=lambda g: queue_key(by_id[g]))
        for draw in result.draws:
            remaining[draw.grant] -= draw.amount
        for expiry in result.expired:
            remaining[expiry.grant] -= expiry.amount


@SETTINGS
@given(wallets, st.randoms(use_true_random=False))
def test_deterministic_in_any_grant_order_and_stable_under_later_periods(
    wallet: Wallet, random: Random
) -> None:
    grants, periods, rule = wallet
    results = draw_down(grants, periods, rule)
    shuffled = list(grants)
    random.shuffle(shuffled)
    assert draw_down(grants, periods, rule) == results
    assert draw_down(shuffled, periods, rule) == results
    assert draw_down(tuple(reversed(grants)), tuple(periods), rule) == results
    # The module's claim: a period's result depends only on it and the periods before it.
    for k in range(1, len(periods)):
        assert draw_down(grants, periods[:k], rule) == results[:k]


# Inputs refused

GOOD_GRANT = Grant("g", D(100), at(2026, 1), at(2026, 6))
GOOD_PERIODS = months(10, 20)
NAIVE = datetime(2026, 1, 1)


class NoOffset(tzinfo):
    """A tzinfo that does not know its offset: as unusable as none."""

    def utcoffset(self, moment: datetime | None) -> timedelta | None:
        return None

    def dst(self, moment: datetime | None) -> timedelta | None:
        return None

    def tzname(self, moment: datetime | None) -> str | None:
        return None


Call = Callable[[], object]
refusals: list[tuple[str, Call, str]] = [
    (
        "negative grant",
        lambda: draw_down([Grant("g", D("-0.01"), at(2026, 1), None)], GOOD_PERIODS),
        r"grants\[0\]\.amount must be a finite amount >= 0",
    ),
    (
        "NaN grant",
        lambda: draw_down([Grant("g", D("NaN"), at(2026, 1), None)], GOOD_PERIODS),
        r"grants\[0\]\.amount",
    ),
    (
        "infinite grant",
        lambda: draw_down([Grant("g", D("Infinity"), at(2026, 1), None)], GOOD_PERIODS),
        r"grants\[0\]\.amount",
    ),
    (
        "negative charges",
        lambda: draw_down([], months(10, "-5")),
        r"periods\[1\]\.charges must be a finite amount >= 0",
    ),
    (
        "negative recurring amount",
        lambda: draw_down([], GOOD_PERIODS, Recurring(D(-1), rollover_cap=None)),
        r"recurring\.amount",
    ),
    (
        "negative rollover cap",
        lambda: draw_down([], GOOD_PERIODS, Recurring(D(1), rollover_cap=D(-1))),
        r"recurring\.rollover_cap",
    ),
    (
        "recurring credits lasting no period",
        lambda: draw_down([], GOOD_PERIODS, Recurring(D(1), None, expires_after_periods=0)),
        r"recurring\.expires_after_periods must be at least 1",
    ),
    (
        "inverted period",
        lambda: draw_down([], [WalletPeriod(at(2026, 2), at(2026, 1), D(0))]),
        r"periods\[0\] must end after it starts",
    ),
    (
        "empty period",
        lambda: draw_down([], [WalletPeriod(at(2026, 2), at(2026, 2), D(0))]),
        r"periods\[0\] must end after it starts",
    ),
    (
        "gap between periods",
        lambda: draw_down([], [GOOD_PERIODS[0], months(0, 0, 0)[2]]),
        r"periods\[1\] must start where periods\[0\] ends",
    ),
    (
        "overlapping periods",
        lambda: draw_down([], [GOOD_PERIODS[0], WalletPeriod(at(2026, 1, 15), at(2026, 3), D(0))]),
        r"periods\[1\] must start where periods\[0\] ends",
    ),
    (
        "periods out of order",
        lambda: draw_down([], list(reversed(GOOD_PERIODS))),
        r"periods\[1\] must start where periods\[0\] ends",
    ),
    (
        "naive period start",
        lambda: draw_down([], [WalletPeriod(NAIVE, at(2026, 2), D(0))]),
        r"periods\[0\]\.start must be an aware datetime",
    ),
    (
        "naive period end",
        lambda: draw_down([], [WalletPeriod(at(2026, 1), datetime(2026, 2, 1), D(0))]),
        r"periods\[0\]\.end must be an aware datetime",
    ),
    (
        "period start without an offset",
        lambda: draw_down([], [WalletPeriod(NAIVE.replace(tzinfo=NoOffset()), at(2026, 2), D(0))]),
        r"periods\[0\]\.start must be an aware datetime",
    ),
    (
        "naive grant time",
        lambda: draw_down([GOOD_GRANT, Grant("h", D(1), NAIVE, None)], GOOD_PERIODS),
        r"grants\[1\]\.granted must be an aware datetime",
    ),
    (
        "naive expiry",
        lambda: draw_down([Grant("g", D(1), at(2026, 1), datetime(2026, 6, 1))], GOOD_PERIODS),
        r"grants\[0\]\.expires must be an aware datetime",
    ),
    (
        "expiry at the grant time",
        lambda: draw_down([Grant("g", D(1), at(2026, 1), at(2026, 1))], GOOD_PERIODS),
        r"grants\[0\] must expire after it is granted",
    ),
    (
        "expiry before the grant time",
        lambda: draw_down([Grant("g", D(1), at(2026, 2), at(2026, 1))], GOOD_PERIODS),
        r"grants\[0\] must expire after it is granted",
    ),
    (
        "duplicate grant id",
        lambda: draw_down([GOOD_GRANT, GOOD_GRANT], GOOD_PERIODS),
        r"grants\[1\]\.id 'g' is used twice",
    ),
    (
        "grant id taken by the recurring rule",
        lambda: draw_down(
            [Grant(FEB, D(1), at(2026, 1), None)], GOOD_PERIODS, Recurring(D(1), None)
        ),
        r"is the recurring rule's",
    ),
]


@pytest.mark.parametrize(
    ("call", "message"),
    [pytest.param(call, message, id=name) for name, call, message in refusals],
)
def test_refuses(call: Call, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call()


@pytest.mark.parametrize("amount", [1.5, 3, "5"], ids=["float", "int", "str"])
def test_amounts_must_be_decimals(amount: Any) -> None:
    with pytest.raises(TypeError, match=r"grants\[0\]\.amount must be a Decimal"):
        draw_down([Grant("g", amount, at(2026, 1), None)], [])
    with pytest.raises(TypeError, match=r"periods\[0\]\.charges must be a Decimal"):
        draw_down([], [WalletPeriod(at(2026, 1), at(2026, 2), amount)])
    with pytest.raises(TypeError, match=r"recurring\.amount must be a Decimal"):
        draw_down([], [], Recurring(amount, None))


def test_a_recurring_looking_id_is_fine_without_a_rule() -> None:
    [january] = draw_down([Grant(JAN, D(5), at(2026, 1), None)], months(2))
    assert january.balances == ((JAN, D(3)),)
