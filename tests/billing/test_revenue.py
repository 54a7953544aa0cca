"""The revenue schedule: credit recognized as drawn, deferred while carried, broken when it
expires; commitments recognized as billed; and every sum adds up to what was granted and billed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.billing.conftest import Billing, utc
from tests.billing.test_exports import exported
from valueproof.billing.exports import Kind
from valueproof.billing.formats import Format
from valueproof.billing.invoice import Customer, invoice_document
from valueproof.billing.revenue import COMMITMENT, PREPAID_CREDIT, RevenueRow, revenue_rows
from valueproof.contracts.inputs import MeterUsage, RatingInput
from valueproof.contracts.rating import rate
from valueproof.contracts.validation import compile_contract, parse_contract
from valueproof.contracts.wallet import WalletPeriod
from valueproof.metering.totals import GroupTotal
from valueproof.periods import BillingPeriod

ZERO = Decimal(0)
START = datetime(2026, 1, 1, tzinfo=UTC)
MONTHS = [datetime(2026, month, 1, tzinfo=UTC) for month in range(1, 13)] + [
    datetime(2027, 1, 1, tzinfo=UTC)
]


def wallet_contract(grants: list[dict[str, Any]], recurring: dict[str, Any] | None) -> Any:
    wallet: dict[str, Any] = {"id": "wallet", "type": "prepaid_credits", "grants": grants}
    if recurring is not None:
        wallet["recurring"] = recurring
    return {
        "contract": "c",
        "account": "acme",
        "currency": "USD",
        "term": {"start": "2026-01-01", "end": "2027-01-01"},
        "components": [
            {"id": "api", "type": "per_unit", "meter": "calls", "unit_price": "1.00"},
            wallet,
            {"id": "min", "type": "commitment", "minimum": "20.00", "applies_to": ["api"]},
        ],
    }


def documents(contract: dict[str, Any], calls: list[int]) -> list[dict[str, Any]]:
    """The invoices of each month of `calls`, rated as a close rates them, one after another."""
    terms = compile_contract(parse_contract(contract))
    history: list[WalletPeriod] = []
    found = []
    for index, count in enumerate(calls):
        start, end = MONTHS[index], MONTHS[index + 1]
        period = BillingPeriod(index, start, end, start, end)
        usage = {"calls": MeterUsage("calls", (GroupTotal("{}", Decimal(count), count, 0, 0),))}
        inputs = RatingInput(period, usage, 1, wallet_history=tuple(history))
        charges = rate(terms, 1, 1, inputs)
        found.append(invoice_document(charges, Customer("acme", "Acme"), number=f"N{index}"))
        history.append(WalletPeriod(start, end, Decimal(count)))
    return found


def totals(rows: list[RevenueRow], kind: str) -> dict[str, Decimal]:
    chosen = [row for row in rows if row.kind == kind]
    return {
        name: sum((getattr(row, name) for row in chosen), ZERO)
        for name in ("granted", "billed", "recognized", "breakage")
    }


amounts = st.integers(min_value=0, max_value=5000).map(lambda cents: Decimal(cents) / 100)
grant_specs = st.lists(
    st.tuples(amounts, st.integers(0, 11), st.one_of(st.none(), st.integers(1, 14))),
    max_size=4,
)
recurring_specs = st.one_of(
    st.none(),
    st.tuples(amounts, st.one_of(st.none(), amounts), st.one_of(st.none(), st.integers(1, 4))),
)


@settings(max_examples=60, deadline=None)
@given(
    grants=grant_specs,
    recurring=recurring_specs,
    calls=st.lists(st.integers(0, 60), min_size=1, max_size=12),
)
def test_recognized_deferred_and_breakage_add_up_to_what_was_granted_and_billed(
    grants: list[tuple[Decimal, int, int | None]],
    recurring: tuple[Decimal, Decimal | None, int | None] | None,
    calls: list[int],
) -> None:
    specs = [
        {
            "id": f"g{n}",
            "amount": str(amount),
            "granted": (START + timedelta(days=30 * month)).date().isoformat(),
            **(
                {}
                if lasts is None
                else {"expires": (START + timedelta(days=30 * month + 9 * lasts)).isoformat()}
            ),
        }
        for n, (amount, month, lasts) in enumerate(grants)
    ]
    rule = None
    if recurring is not None:
        amount, cap, periods = recurring
        rule = {"amount": str(amount), "rollover_cap": None if cap is None else str(cap)}
        if periods is not None:
            rule["expires_after_periods"] = periods
    invoices = documents(wallet_contract(specs, rule), calls)
    rows = list(revenue_rows(invoices))
    for row in rows:  # each row rolls its deferred balance forward
        assert row.opening_deferred + row.granted + row.billed == (
            row.recognized + row.breakage + row.deferred
        )
    credit = [row for row in rows if row.kind == PREPAID_CREDIT]
    assert [row.opening_deferred for row in credit[1:]] == [row.deferred for row in credit[:-1]]
    sums = totals(rows, PREPAID_CREDIT)
    last_end = MONTHS[len(calls)]
    given_before_end = sum(
        (amount for amount, month, _ in grants if START + timedelta(days=30 * month) < last_end),
        ZERO,
    ) + (Decimal(rule["amount"]) * len(calls) if rule is not None else ZERO)
    assert sums["granted"] == given_before_end
    assert sums["recognized"] + sums["breakage"] + credit[-1].deferred == sums["granted"]
    drawn = sum((-Decimal(line["amount"]) for d in invoices for line in _credit(d)), ZERO)
    assert sums["recognized"] == drawn  # what the invoices took off, no more
    commitments = totals(rows, COMMITMENT)
    true_ups = sum((max(ZERO, 20 - Decimal(c)) for c in calls), ZERO)
    assert commitments["billed"] == commitments["recognized"] == true_ups


def _credit(document: dict[str, Any]) -> list[dict[str, Any]]:
    return [line for line in document["lines"] if line["kind"] == "credit"]


def test_late_usage_drawn_against_credit_is_recognized_when_billed() -> None:
    contract = wallet_contract([{"id": "p", "amount": "50.00", "granted": "2026-01-01"}], None)
    january, february = documents(contract, [10, 5])
    # 4 calls of January arrive after its invoice: February's invoice corrects it.
    late = {
        "component": "wallet",
        "kind": "correction",
        "amount": "-4.00",
        "corrects": {"kind": "credit", "invoice": "N0", "period": january["period"]},
    }
    rerated = documents(contract, [14, 5])[1]
    february = {**rerated, "lines": [*rerated["lines"], late]}
    first, second = (r for r in revenue_rows([january, february]) if r.kind == PREPAID_CREDIT)
    assert (first.granted, first.recognized, first.deferred) == (50, 10, 40)
    assert (second.opening_deferred, second.recognized, second.deferred) == (40, 9, 31)
    assert second.opening_deferred + second.granted == second.recognized + second.deferred


def test_the_schedule_of_closed_invoices(billing: Billing) -> None:
    """September to November: 10 calls, then 3, then none, against a 25.00 grant that expires
    on 1 November, 5.00 a month that must be used in its month, and a 20.00 minimum."""
    billing.contract(
        term={"start": "2026-09-01", "end": "2027-01-01"},
        components=[
            {"id": "api", "type": "per_unit", "meter": "calls", "unit_price": "1.00"},
            {
                "id": "wallet",
                "type": "prepaid_credits",
                "grants": [
                    {
                        "id": "p1",
                        "amount": "25.00",
                        "granted": "2026-09-01",
                        "expires": "2026-11-01",
                    }
                ],
                "recurring": {"amount": "5.00", "rollover_cap": "0"},
                "applies_to": ["api"],
            },
            {"id": "min", "type": "commitment", "minimum": "20.00", "applies_to": ["api"]},
        ],
    )
    events = [_call(n, "2026-09-05") for n in range(10)] + [
        _call(n, "2026-10-07") for n in range(3)
    ]
    billing.priced.ingest(events)
    billing.close(utc(2026, 12, 10))
    for fmt in Format:
        rows = exported(billing, Kind.REVENUE, fmt, ("2026-09-01", "2027-01-01"))
        found = {(r["month"], r["kind"]): r for r in rows}
        assert sorted(found) == [
            (month, kind)
            for month in ("2026-09", "2026-10", "2026-11")
            for kind in (COMMITMENT, PREPAID_CREDIT)
        ]
        september = found[("2026-09", PREPAID_CREDIT)]
        assert {k: Decimal(september[k]) for k in ("granted", "recognized", "deferred")} == {
            "granted": Decimal("30.00"),
            "recognized": Decimal("10.00"),
            "deferred": Decimal("20.00"),
        }
        october = found[("2026-10", PREPAID_CREDIT)]
        assert Decimal(october["recognized"]) == 3 and Decimal(october["breakage"]) == 22
        assert Decimal(october["deferred"]) == 0
        assert (Decimal(october["opening_deferred"]), Decimal(october["granted"])) == (20, 5)
        november = found[("2026-11", PREPAID_CREDIT)]
        assert [Decimal(november[k]) for k in ("granted", "recognized", "breakage")] == [5, 0, 5]
        billed = [
            Decimal(found[(m, COMMITMENT)]["billed"]) for m in ("2026-09", "2026-10", "2026-11")
        ]
        assert billed == [10, 17, 20]
    # The range picks rows by period end; earlier invoices still give the opening balance.
    [october_only] = [
        r
        for r in exported(billing, Kind.REVENUE, Format.JSONL, ("2026-10-02", "2026-11-02"))
        if r["kind"] == PREPAID_CREDIT
    ]
    assert (october_only["month"], october_only["opening_deferred"]) == ("2026-10", "20.00")


def _call(number: int, day: str) -> dict[str, Any]:
    return {
        "id": f"call-{day}-{number}",
        "account": "acme",
        "type": "api.call",
        "timestamp": f"{day}T{number:02d}:00:00Z",
        "properties": {"region": "eu"},
    }
