"""After finalization: void and regenerate, paid, uncollectible, credit notes, taxes, the lock."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tests.billing.conftest import Billing, cn, inv, utc
from tests.contracts.conftest import call, contract_document
from valueproof.billing import writes
from valueproof.billing.credit_notes import CreditLine, CreditRequest
from valueproof.billing.errors import ClosedPeriodLocked, CreditNoteInvalid, InvoiceStateConflict
from valueproof.billing.invoice import Customer, invoice_document
from valueproof.billing.invoice_store import balance, credit_notes_of
from valueproof.billing.records import invoice_leaf
from valueproof.billing.settings import BillingProfile
from valueproof.contracts.service import rate_period
from valueproof.contracts.validation import parse_contract
from valueproof.ledger import log
from valueproof.ledger.leaves import parse_leaf
from valueproof.store import read


def _november(billing: Billing) -> str:
    billing.contract(term={"start": "2026-11-01", "end": "2027-01-01"})
    billing.priced.ingest([call(n) for n in range(50)])
    billing.close(utc(2026, 12, 5))
    number = billing.invoices()[0].number
    assert number is not None
    return number


def test_void_takes_a_reason_and_the_replacement_names_the_voided_invoice(
    billing: Billing,
) -> None:
    number = _november(billing)
    voided, replacement = writes.void(
        billing.engine, billing.tenant_id, number, "wrong address", billing.policy
    )
    assert voided.status == "void"
    assert replacement is not None and replacement.number == inv(2)
    assert replacement.document["replaces"] == number
    with read(billing.engine) as connection:
        size = log.log_size(connection, billing.tenant_id)
        leaves = [parse_leaf(log.entry(connection, billing.tenant_id, i)) for i in range(size)]
    voids = [leaf.record for leaf in leaves if leaf.record_type == "invoice_status"]
    assert voids == [
        {
            "invoice": number,
            "status": "void",
            "reason": "wrong address",
            "at": voids[0]["at"],
            "reference": None,
        }
    ]


def test_a_voided_invoice_cannot_be_finalized_paid_or_voided_again(billing: Billing) -> None:
    number = _november(billing)
    writes.void(billing.engine, billing.tenant_id, number, "duplicate", billing.policy, False)
    with pytest.raises(InvoiceStateConflict, match="only a draft can be finalized"):
        writes.finalize(billing.engine, billing.tenant_id, number, billing.policy)
    with pytest.raises(InvoiceStateConflict, match="cannot become paid"):
        writes.mark(billing.engine, billing.tenant_id, number, "paid", "wire", billing.policy)
    with pytest.raises(InvoiceStateConflict):
        writes.void(billing.engine, billing.tenant_id, number, "again", billing.policy)


def test_paid_is_a_leaf_and_a_paid_invoice_is_corrected_by_credit_note(billing: Billing) -> None:
    number = _november(billing)
    paid = writes.mark(
        billing.engine, billing.tenant_id, number, "paid", "wire", billing.policy, "tr_1"
    )
    assert paid.status == "paid"
    with pytest.raises(InvoiceStateConflict, match="credit note, not voided"):
        writes.void(billing.engine, billing.tenant_id, number, "oops", billing.policy)


def test_a_partial_credit_note_to_the_balance_is_drawn_by_the_next_invoice(
    billing: Billing,
) -> None:
    number = _november(billing)
    platform = 0  # the flat fee's line
    note = writes.credit(
        billing.engine,
        billing.tenant_id,
        number,
        CreditRequest("outage on the 3rd", (CreditLine(platform, Decimal("25.00")),), "balance"),
        billing.policy,
    )
    assert note.number == cn(1) and note.total == Decimal("25.00")
    assert note.document["lines"][0]["invoice_line"] == platform
    with read(billing.engine) as connection:
        assert balance(connection, billing.tenant_id, note.account_id, "USD") == Decimal("25.00")
    billing.close(utc(2027, 1, 5))
    december = billing.invoices()[0]
    drawn = [line for line in december.document["lines"] if line["kind"] == "balance"]
    assert drawn[0]["amount"] == "-25.00"
    assert december.total == Decimal("75.00")
    with read(billing.engine) as connection:
        assert balance(connection, billing.tenant_id, note.account_id, "USD") == 0


def test_a_credit_note_larger_than_its_line_is_refused_and_takes_no_number(
    billing: Billing,
) -> None:
    number = _november(billing)
    request = CreditRequest("goodwill", (CreditLine(1, Decimal("5.00")),))
    with pytest.raises(CreditNoteInvalid) as refused:
        writes.credit(billing.engine, billing.tenant_id, number, request, billing.policy)
    assert refused.value.problems[0][0] == "lines[0].amount"
    assert "more than the 0.10 left" in refused.value.problems[0][1]
    whole = writes.credit(
        billing.engine, billing.tenant_id, number, CreditRequest("cancelled"), billing.policy
    )
    assert whole.number == cn(1)  # the refused one used no number
    assert whole.total == Decimal("100.10")
    with pytest.raises(CreditNoteInvalid, match="nothing is left"):
        writes.credit(
            billing.engine, billing.tenant_id, number, CreditRequest("again"), billing.policy
        )
    with read(billing.engine) as connection:
        assert len(credit_notes_of(connection, billing.tenant_id)) == 1


def test_exclusive_taxes_add_one_rounded_line_per_rate(billing: Billing) -> None:
    billing.contract(term={"start": "2026-11-01", "end": "2027-01-01"})
    profile = BillingProfile(
        tax_id="DE123456789",
        jurisdiction="DE",
        tax_rates={"VAT": Decimal("0.19"), "Levy": Decimal("0.005")},
    )
    writes.set_profile(billing.engine, billing.tenant_id, "acme", profile)
    billing.priced.ingest([call(n) for n in range(7)])
    billing.close(utc(2026, 12, 5))
    document = billing.invoices()[0].document
    assert document["subtotal"] == "100.01"  # 100 + 7 x 0.002 = 100.014 -> 100.01
    assert [(t["name"], t["amount"]) for t in document["taxes"]] == [
        ("Levy", "0.50"),
        ("VAT", "19.00"),
    ]
    assert document["total"] == "119.51"
    assert document["customer"]["tax_id"] == "DE123456789"


def test_inclusive_and_exempt_taxes(billing: Billing) -> None:
    billing.contract(term={"start": "2026-11-01", "end": "2027-01-01"})
    inclusive = BillingProfile(tax_rates={"VAT": Decimal("0.25")}, tax_inclusive=True)
    writes.set_profile(billing.engine, billing.tenant_id, "acme", inclusive)
    billing.close(utc(2026, 12, 5))
    document = billing.invoices()[0].document
    assert document["taxes"][0]["amount"] == "20.00"  # 100 * 0.25 / 1.25
    assert document["total"] == "100.00"
    exempt = BillingProfile(tax_rates={"VAT": Decimal("0.25")}, tax_exempt=True)
    writes.set_profile(billing.engine, billing.tenant_id, "acme", exempt)
    billing.close(utc(2027, 1, 5))
    december = billing.invoices()[0].document
    assert december["taxes"] == [] and december["tax_exempt"] is True


def test_an_amendment_dated_into_a_billed_period_is_refused_naming_the_invoice(
    billing: Billing,
) -> None:
    number = _november(billing)
    changed = contract_document(
        term={"start": "2026-11-01", "end": "2027-01-01"},
        components=[{"id": "platform", "type": "flat", "amount": "150.00"}],
    )
    with pytest.raises(ClosedPeriodLocked, match=f"finalized invoice {number}") as refused:
        writes.apply_contract(
            billing.engine, billing.tenant_id, parse_contract(changed), billing.policy
        )
    assert "on or after 2026-12-01T00:00:00Z" in str(refused.value)
    later = {**changed, "effective_from": "2026-12-01T00:00:00Z"}
    applied = writes.apply_contract(
        billing.engine, billing.tenant_id, parse_contract(later), billing.policy
    )
    assert applied.status != "unchanged"
    assert billing.invoice(number).document["total"] == "100.10"


def test_the_same_ledger_gives_the_same_invoice_bytes(billing: Billing) -> None:
    number = _november(billing)
    original = billing.invoice(number)
    _, replacement = writes.void(billing.engine, billing.tenant_id, number, "typo", billing.policy)
    assert replacement is not None
    assert replacement.document["lines"] == original.document["lines"]
    with read(billing.engine) as connection:
        first = rate_period(
            connection, billing.tenant_id, "acme", utc(2026, 11, 30), utc(2027, 1, 1)
        )
        second = rate_period(
            connection, billing.tenant_id, "acme", utc(2026, 11, 30), utc(2027, 1, 1)
        )
    customer = Customer("acme", "acme")
    assert invoice_leaf(invoice_document(first, customer, number="X")) == invoice_leaf(
        invoice_document(second, customer, number="X")
    )
