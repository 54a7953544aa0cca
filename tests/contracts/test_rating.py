"""Rating, pure: each component on hand-built period data, the adjustments after it, provenance,
rounding once per line, and byte-identical output for identical inputs."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from valueproof.contracts.inputs import (
    MeterUsage,
    OutcomeCredit,
    OutcomeUsage,
    RatingInput,
    Reading,
)
from valueproof.contracts.rating import Charges, charges_bytes, charges_json, rate
from valueproof.contracts.validation import compile_contract, parse_contract
from valueproof.contracts.wallet import WalletPeriod
from valueproof.metering.totals import GroupTotal, Transaction
from valueproof.money import currency
from valueproof.periods import BillingPeriod, Cadence, billing_period_at

NOVEMBER = datetime(2026, 11, 15, tzinfo=UTC)


def contract(*components: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {
        "contract": "c",
        "account": "acme",
        "currency": "USD",
        "term": {"start": "2026-01-01", "end": "2027-01-01"},
        "components": list(components),
        **fields,
    }


def period_of(document: dict[str, Any], at: datetime = NOVEMBER) -> BillingPeriod:
    parsed = parse_contract(document)
    found = billing_period_at(
        parsed.term.start, parsed.term.end, Cadence(parsed.billing.period), 1, at
    )
    assert found is not None
    return found


def usage(meter: str, *groups: tuple[str, str | int, int, int], **extra: Any) -> MeterUsage:
    """A meter's usage: groups of (dims JSON, value, first leaf, last leaf)."""
    return MeterUsage(
        meter,
        tuple(
            GroupTotal(d, Decimal(v), last - first + 1, first, last) for d, v, first, last in groups
        ),
        **extra,
    )


def rated(document: dict[str, Any], at: datetime = NOVEMBER, **inputs: Any) -> Charges:
    terms = compile_contract(parse_contract(document))
    period = inputs.pop("period", None) or period_of(document, at)
    given_input = RatingInput(
        period=period, usage=inputs.pop("usage", {}), ledger_size=99, **inputs
    )
    return rate(terms, 1, 7, given_input)


def amounts(charges: Charges) -> dict[tuple[str, str], Decimal]:
    return {(line.component, line.kind): line.amount for line in charges.lines}


PER_CALL = {"id": "api", "type": "per_unit", "meter": "calls", "unit_price": "0.0015"}


def test_per_unit_counts_only_the_groups_its_filter_admits_and_names_their_leaves() -> None:
    document = contract({**PER_CALL, "filter": 'group.region == "eu"'})
    charges = rated(
        document,
        usage={
            "calls": usage(
                "calls", ('{"region":"eu"}', 1001, 10, 20), ('{"region":"us"}', 5, 30, 34)
            )
        },
    )
    [line] = charges.lines
    assert line.quantity == 1001
    assert line.exact == Decimal("1.5015")
    assert line.amount == Decimal("1.50")  # half-even: 1.5015 -> 1.50
    [source] = line.sources
    assert (source.kind, source.key, source.events, source.leaves) == (
        "meter",
        "calls",
        11,
        ((10, 20),),
    )
    assert charges.total == Decimal("1.50")
    assert charges.ledger_size == 99 and charges.version_leaf == 7


def test_the_rounding_rule_is_the_contracts() -> None:
    calls = {"calls": usage("calls", ("{}", 305, 0, 304))}  # 305 x 0.005 = 1.525, a tie
    expected = {"half_even": "1.52", "half_up": "1.53", "down": "1.52"}
    for rule, amount in expected.items():
        document = contract({**PER_CALL, "unit_price": "0.005"}, rounding=rule)
        assert rated(document, usage=calls).lines[0].amount == Decimal(amount), rule


def test_graduated_and_volume_tiers_show_their_breakdown() -> None:
    tiers = [
        {"up_to": 1000, "unit_price": "0.01"},
        {"up_to": 5000, "unit_price": "0.008", "flat_fee": "5.00"},
        {"up_to": None, "unit_price": "0.005"},
    ]
    document = contract(
        {"id": "g", "type": "graduated", "meter": "calls", "tiers": tiers},
        {"id": "v", "type": "volume", "meter": "calls", "tiers": tiers},
    )
    charges = rated(document, usage={"calls": usage("calls", ("{}", 6000, 0, 5999))})
    graduated, volume = charges.lines
    # 1000 x 0.01 + (4000 x 0.008 + 5) + 1000 x 0.005 = 10 + 37 + 5
    assert graduated.amount == Decimal("52.00")
    assert [t["quantity"] for t in graduated.detail["tiers"]] == [
        Decimal(1000),
        Decimal(4000),
        Decimal(1000),
    ]
    assert volume.amount == Decimal("30.00")  # 6000 x 0.005, the tier the quantity reaches
    assert len(volume.detail["tiers"]) == 1


def test_flat_fee_prorates_a_partial_first_period() -> None:
    document = contract(
        {"id": "platform", "type": "flat", "amount": "300.00"},
        term={"start": "2026-11-10", "end": "2027-11-10"},
    )
    charges = rated(document)
    [line] = charges.lines
    assert line.detail["fraction"] == Decimal(21) / Decimal(30)
    assert line.amount == Decimal("210.00")
    assert charges.period.partial


def test_package_and_percentage_and_graduated_percentage() -> None:
    document = contract(
        {
            "id": "sms",
            "type": "package",
            "meter": "sms",
            "package_size": 100,
            "package_price": "5.00",
            "free_units": 50,
        },
        {
            "id": "pay",
            "type": "percentage",
            "meter": "payments",
            "percent": "2.9",
            "fixed_fee": "0.30",
        },
        {
            "id": "grad",
            "type": "graduated_percentage",
            "meter": "payments",
            "tiers": [{"up_to": 1000, "percent": 2}, {"up_to": None, "percent": 1}],
        },
    )
    charges = rated(
        document,
        usage={
            "sms": usage("sms", ("{}", 351, 0, 350)),  # 301 billable -> 4 packages
            "payments": usage("payments", ("{}", "2500.00", 0, 9)),  # 10 transactions
        },
    )
    found = amounts(charges)
    assert found[("sms", "package")] == Decimal("20.00")
    assert found[("pay", "percentage")] == Decimal("75.50")  # 2500 x 2.9% + 10 x 0.30
    assert found[("grad", "graduated_percentage")] == Decimal("35.00")  # 20 + 15


def test_a_per_transaction_minimum_prices_each_transaction() -> None:
    document = contract(
        {"id": "pay", "type": "percentage", "meter": "payments", "percent": 1, "minimum": "0.50"}
    )
    transactions = tuple(
        Transaction("{}", Decimal(amount), i) for i, amount in enumerate([10, 200])
    )
    charges = rated(
        document,
        usage={"payments": usage("payments", ("{}", 210, 0, 1), transactions=transactions)},
    )
    [line] = charges.lines
    assert line.amount == Decimal("2.50")  # max(0.10, 0.50) + max(2.00, 0.50)
    assert line.detail["minimum_applied"] == 1


def test_seats_are_credited_for_those_nobody_used() -> None:
    document = contract(
        {
            "id": "seats",
            "type": "seats",
            "seats": 20,
            "active_meter": "active_users",
            "unit_price": "15.00",
        }
    )
    charges = rated(document, usage={"active_users": usage("active_users", ("{}", 12, 3, 40))})
    found = amounts(charges)
    assert found[("seats", "seats")] == Decimal("300.00")
    assert found[("seats", "seat_credit")] == Decimal("-120.00")
    assert charges.total == Decimal("180.00")  # the 12 seats used


def test_per_outcome_caps_and_credits_voided_outcomes_under_the_cap_that_held() -> None:
    document = contract(
        {
            "id": "leads",
            "type": "per_outcome",
            "outcome": "qualified_lead",
            "unit_price": "40.00",
            "max_count": 50,
        }
    )
    october = (datetime(2024, 10, 1, tzinfo=UTC), datetime(2024, 11, 1, tzinfo=UTC))
    price, cap = Decimal("40.00"), 50
    # October billed 60 accepted, capped at 50. Voiding 2 leaves 58: still 50 billable, no
    # credit. Voiding 12 leaves 48: 2 fewer billable than were charged.
    credits = (
        OutcomeCredit(*october, 60, 58, price, cap, None, ((7, 7),)),
        OutcomeCredit(*october, 58, 48, price, cap, None, ((9, 9), (12, 12))),
    )
    outcomes = {"qualified_lead": OutcomeUsage("qualified_lead", 60, ((5, 90),), credits)}
    charges = rated(document, outcomes=outcomes)
    per_outcome, none_owed, two_owed = charges.lines
    assert per_outcome.amount == Decimal("2000.00") and per_outcome.detail["capped"] is True
    assert per_outcome.sources[0].leaves == ((5, 90),)
    assert (none_owed.kind, none_owed.amount, none_owed.quantity) == (
        "outcome_credit",
        Decimal("0.00"),
        Decimal(2),
    )
    assert (two_owed.amount, two_owed.quantity) == (Decimal("-80.00"), Decimal(10))
    assert two_owed.detail["period_start"] == "2024-10-01T00:00:00Z"
    assert two_owed.sources[0].leaves == ((9, 9), (12, 12))
    assert charges.total == Decimal("1920.00")


@given(
    accepted=st.integers(0, 200),
    voids=st.lists(st.integers(0, 30), max_size=5),
    cap=st.none() | st.integers(0, 150),
)
def test_outcome_credits_add_up_to_what_the_voids_took_off(
    accepted: int, voids: list[int], cap: int | None
) -> None:
    """However the voids fall across later periods, the credits sum to the earlier period's
    charge as billed minus its charge on what still stands, and never exceed it."""
    document = contract(
        {"id": "leads", "type": "per_outcome", "outcome": "qualified_lead", "unit_price": "40.00"}
    )
    price, standing, credited = Decimal("40.00"), accepted, Decimal(0)
    october = (datetime(2024, 10, 1, tzinfo=UTC), datetime(2024, 11, 1, tzinfo=UTC))
    for voided in voids:
        after = max(standing - voided, 0)
        credit = OutcomeCredit(*october, standing, after, price, cap)
        usage = {"qualified_lead": OutcomeUsage("qualified_lead", 0, (), (credit,))}
        [_, line] = rated(document, outcomes=usage).lines
        assert line.amount <= 0
        credited += line.amount
        standing = after
    full = accepted if cap is None else min(accepted, cap)
    left = standing if cap is None else min(standing, cap)
    assert -credited == (full - left) * price


GAIN = {
    "id": "nrr",
    "type": "gain_share",
    "metric": "net_retention",
    "baseline": {"as_of": "2026-01-01"},
    "value_per_unit": "10000.00",
    "tiers": [{"threshold": 5, "percent": 5}, {"threshold": 10, "percent": 10}],
}


def reading(value: str, day: datetime, leaf: int) -> Reading:
    return Reading("net_retention", Decimal(value), day, leaf)


def test_gain_share_pays_the_seeds_tiers_on_oracle_readings() -> None:
    document = contract(GAIN)
    baseline = reading("100", datetime(2025, 12, 31, tzinfo=UTC), 3)
    cases = {"104": Decimal("0.00"), "108": Decimal("4000.00"), "112": Decimal("12000.00")}
    for measured, owed in cases.items():
        readings = {"net_retention": [baseline, reading(measured, NOVEMBER, 40)]}
        [line] = rated(document, readings=readings).lines
        assert line.amount == owed, measured
        assert [s.leaves for s in line.sources] == [((3, 3),), ((40, 40),)]


def test_gain_share_without_a_reading_says_so_and_owes_only_its_floor() -> None:
    document = contract({**GAIN, "floor": "500.00"})
    [line] = rated(document).lines
    assert line.amount == Decimal("500.00")
    assert "no reading" in line.detail["missing"]


def test_a_commitment_bills_the_shortfall_prorated_in_a_partial_period() -> None:
    document = contract(
        PER_CALL,
        {"id": "min", "type": "commitment", "minimum": "300.00"},
        term={"start": "2026-11-16", "end": "2027-11-16"},
    )
    late_november = datetime(2026, 11, 20, tzinfo=UTC)
    charges = rated(
        document, late_november, usage={"calls": usage("calls", ("{}", 20000, 0, 19999))}
    )
    found = amounts(charges)
    assert found[("api", "per_unit")] == Decimal("30.00")
    assert found[("min", "true_up")] == Decimal("120.00")  # 300 x 15/30 - 30
    assert charges.total == Decimal("150.00")


def test_prepaid_credits_draw_down_after_earlier_periods() -> None:
    wallet = {
        "id": "wallet",
        "type": "prepaid_credits",
        "grants": [{"id": "p1", "amount": "100.00", "granted": "2026-01-01"}],
    }
    document = contract(PER_CALL, wallet)
    history = (
        WalletPeriod(
            datetime(2026, 10, 1, tzinfo=UTC), datetime(2026, 11, 1, tzinfo=UTC), Decimal("70.00")
        ),
    )
    charges = rated(
        document,
        usage={"calls": usage("calls", ("{}", 40000, 0, 39999))},  # 60.00
        wallet_history=history,
    )
    found = amounts(charges)
    assert found[("wallet", "credit")] == Decimal("-30.00")  # what October left
    assert charges.total == Decimal("30.00")  # the overage


def test_discounts_and_the_invoice_maximum() -> None:
    document = contract(
        {"id": "platform", "type": "flat", "amount": "1000.00"},
        PER_CALL,
        discounts=[
            {"id": "api10", "percent": 10, "applies_to": ["api"]},
            {"id": "loyal", "amount": "50.00"},
        ],
        invoice_maximum="1000.00",
    )
    charges = rated(document, usage={"calls": usage("calls", ("{}", 100000, 0, 9))})
    found = amounts(charges)
    assert found[("api10", "discount")] == Decimal("-15.00")
    assert found[("loyal", "discount")] == Decimal("-50.00")
    assert found[("invoice_maximum", "cap")] == Decimal("-85.00")  # 1150 - 15 - 50 -> 1000
    assert charges.total == Decimal("1000.00")


def test_when_decides_whether_a_component_applies() -> None:
    document = contract(
        {"id": "platform", "type": "flat", "amount": "100.00", "when": "usage.calls < 1000.0"},
        {**PER_CALL, "when": "period.index >= 3 && account.attributes.plan == 'pro'"},
    )
    few = rated(
        document,
        usage={"calls": usage("calls", ("{}", 10, 0, 9))},
        account={"attributes": {"plan": "pro"}},
    )
    assert [line.component for line in few.lines] == ["platform", "api"]
    many = rated(
        document,
        usage={"calls": usage("calls", ("{}", 5000, 0, 9))},
        account={"attributes": {"plan": "free"}},
    )
    assert many.lines == ()


def test_identical_inputs_give_identical_bytes() -> None:
    document = contract(
        {"id": "platform", "type": "flat", "amount": "100.00"},
        PER_CALL,
        {"id": "min", "type": "commitment", "minimum": "300.00"},
    )
    data = {"calls": usage("calls", ("{}", 12345, 0, 12344))}
    first, second = rated(document, usage=data), rated(document, usage=data)
    assert charges_bytes(first) == charges_bytes(second)
    assert charges_json(first)["total"] == "400.00"  # the flat fee is not usage: 100 + 300


quantities = st.decimals(
    min_value=0, max_value=10**7, places=6, allow_nan=False, allow_infinity=False
)
prices = st.decimals(min_value=0, max_value=100, places=4, allow_nan=False, allow_infinity=False)


@settings(max_examples=60, deadline=None)
@given(quantities, quantities, prices)
def test_per_unit_exact_amounts_add_over_disjoint_periods(
    first: Decimal, second: Decimal, price: Decimal
) -> None:
    document = contract({**PER_CALL, "unit_price": str(price)})

    def exact(quantity: Decimal) -> Decimal:
        return (
            rated(document, usage={"calls": usage("calls", ("{}", str(quantity), 0, 0))})
            .lines[0]
            .exact
        )

    assert exact(first) + exact(second) == exact(first + second)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(quantities, st.sampled_from(["eu", "us", "apac"])), max_size=6), prices)
def test_each_line_rounds_once_and_the_total_is_the_sum_of_lines(
    groups: list[tuple[Decimal, str]], price: Decimal
) -> None:
    document = contract(
        {**PER_CALL, "unit_price": str(price)},
        {"id": "min", "type": "commitment", "minimum": "25.00"},
        discounts=[{"id": "d", "percent": "12.5"}],
    )
    totals = [GroupTotal(f'{{"region":"{r}"}}', q, 1, i, i) for i, (q, r) in enumerate(groups)]
    charges = rated(document, usage={"calls": MeterUsage("calls", tuple(totals))})
    usd = currency("USD")
    for line in charges.lines:
        assert line.amount == usd.round(line.exact, parse_contract(document).rounding)
        assert abs(line.amount - line.exact) <= usd.minor_unit / 2
    assert charges.total == sum((line.amount for line in charges.lines), Decimal(0))
    assert charges.total >= Decimal("25.00") * Decimal("0.875") - usd.minor_unit
