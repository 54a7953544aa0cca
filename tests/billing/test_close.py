"""Period close: due after the grace window, idempotent, gapless numbers, invoices on the ledger."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tests.billing.conftest import YEAR, Billing, inv, utc
from tests.contracts.conftest import call, contract_document
from valueproof.billing import writes
from valueproof.billing.errors import PeriodClosed
from valueproof.billing.invoice_store import credit_notes_of
from valueproof.billing.records import invoice_leaf
from valueproof.ledger import log
from valueproof.ledger.leaves import parse_leaf
from valueproof.metering.writes import delete_meter
from valueproof.store import read


def test_a_period_closes_only_after_its_grace_window(billing: Billing) -> None:
    billing.contract()
    billing.priced.ingest([call(n) for n in range(10)])
    # November ends on 1 December; 72 hours of grace by default.
    early = billing.close(utc(2026, 12, 3, 23))
    # January to October: November is still in its grace window
    assert early.finalized == [inv(n) for n in range(1, 11)]
    report = billing.close(utc(2026, 12, 4))
    assert len(report.finalized) == 1
    november = billing.invoices()[0]
    assert november.document["period"]["start"] == "2026-11-01T00:00:00Z"
    lines = {line["component"]: line for line in november.document["lines"]}
    assert lines["api"]["quantity"] == "10"
    assert lines["api"]["unit_price"] == "0.002"
    assert lines["api"]["amount"] == "0.02"
    assert november.total == Decimal("100.02")


def test_numbers_are_gapless_and_a_second_close_does_nothing(billing: Billing) -> None:
    billing.contract()
    billing.settings(invoice_prefix="ACME-{year}-")
    first = billing.close(utc(2026, 12, 10))
    again = billing.close(utc(2026, 12, 10))
    assert again.finalized == [] and again.drafted == []
    numbers = sorted(i.number or "" for i in billing.invoices())
    assert numbers == [f"ACME-{YEAR}-{n:06d}" for n in range(1, 12)]
    assert sorted(first.finalized) == numbers


def test_a_finalized_invoice_is_its_leaf_on_the_ledger(billing: Billing) -> None:
    billing.contract()
    billing.priced.ingest([call(n) for n in range(3)])
    billing.close(utc(2026, 12, 10))
    invoice = billing.invoices()[0]
    assert invoice.leaf_index is not None
    with read(billing.engine) as connection:
        entry = log.entry(connection, billing.tenant_id, invoice.leaf_index)
    assert entry == invoice_leaf(invoice.document)
    leaf = parse_leaf(entry)
    assert leaf.record_type == "invoice"
    assert leaf.record["number"] == invoice.number
    assert leaf.record["ledger_size"] <= invoice.leaf_index


def test_held_drafts_are_rerated_by_late_usage_then_finalized(billing: Billing) -> None:
    billing.contract(term={"start": "2026-11-01", "end": "2027-01-01"})
    billing.settings(auto_finalize=False)
    billing.priced.ingest([call(n) for n in range(4)])
    report = billing.close(utc(2026, 12, 5))
    assert report.finalized == [] and len(report.drafted) == 1
    draft = billing.invoices()[0]
    assert draft.status == "draft" and draft.number is None
    billing.priced.ingest([call(n) for n in range(4, 9)])  # late, before approval
    rerun = billing.close(utc(2026, 12, 6))
    assert len(rerun.rerated) == 1
    rerated = billing.invoice(draft.id)
    api = next(line for line in rerated.document["lines"] if line["component"] == "api")
    assert api["quantity"] == "9"
    done = writes.finalize(billing.engine, billing.tenant_id, str(draft.id), billing.policy)
    assert done.status == "finalized" and done.number == inv(1)


def test_late_usage_after_finalization_goes_on_the_next_invoice(billing: Billing) -> None:
    billing.contract(term={"start": "2026-10-01", "end": "2027-01-01"})
    billing.priced.ingest([call(n) for n in range(5)])  # November
    billing.close(utc(2026, 12, 4))
    november = next(i for i in billing.invoices() if i.document["period"]["start"][:7] == "2026-11")
    billing.priced.ingest([call(n) for n in range(5, 12)])  # November, late
    billing.close(utc(2027, 1, 4))
    december = billing.invoices()[0]
    assert december.document["period"]["start"][:7] == "2026-12"
    late = [line for line in december.document["lines"] if line["kind"] == "correction"]
    assert len(late) == 1
    assert late[0]["description"].startswith("Late usage for 2026-11")
    assert late[0]["corrects"]["invoice"] == november.number
    assert late[0]["quantity"] == "7" and late[0]["amount"] == "0.01"
    assert billing.invoice(november.id).document == november.document  # never changes
    ranges = late[0]["sources"][0]["leaves"]
    assert ranges and all(first >= november.ledger_size for first, _ in ranges)


def test_closing_a_closed_period_is_refused_with_its_invoice(billing: Billing) -> None:
    billing.contract()
    billing.close(utc(2026, 12, 10))
    with pytest.raises(PeriodClosed, match=inv(11)):
        writes.close_period(
            billing.engine, billing.tenant_id, "acme", utc(2026, 11, 15), billing.policy
        )


def _void(number: int) -> dict[str, object]:
    original = call(number)
    return {**original, "id": f"void-{number}", "voids": original["id"]}


def test_voided_usage_in_a_finalized_period_is_a_negative_correction(billing: Billing) -> None:
    billing.contract(term={"start": "2026-11-01", "end": "2027-01-01"})
    billing.priced.ingest([call(n) for n in range(10)])
    billing.close(utc(2026, 12, 4))
    billing.priced.ingest([_void(n) for n in range(4)])
    billing.close(utc(2027, 1, 4))
    december = billing.invoices()[0]
    fix = [line for line in december.document["lines"] if line["kind"] == "correction"]
    assert [(line["quantity"], line["amount"]) for line in fix] == [("-4", "-0.01")]
    assert fix[0]["description"].startswith("Correction for 2026-11")


def test_reductions_become_credit_notes_when_the_tenant_says_so(billing: Billing) -> None:
    billing.contract(term={"start": "2026-11-01", "end": "2027-01-01"})
    billing.settings(corrections="credit_note")
    billing.priced.ingest([call(n) for n in range(10)])
    billing.close(utc(2026, 12, 4))
    november = billing.invoices()[0]
    billing.priced.ingest([_void(n) for n in range(4)])
    billing.close(utc(2027, 1, 4))
    december = billing.invoices()[0]
    assert all(line["kind"] != "correction" for line in december.document["lines"])
    with read(billing.engine) as connection:
        notes = credit_notes_of(connection, billing.tenant_id, november.id)
    assert len(notes) == 1 and notes[0].document["corrects"] is True
    assert notes[0].total == Decimal("0.01") and notes[0].disposition == "balance"
    # the credit is drawn by the same close's invoice, and never corrected twice
    assert december.total == Decimal("99.99")
    billing.close(utc(2027, 1, 4))
    with read(billing.engine) as connection:
        assert len(credit_notes_of(connection, billing.tenant_id, november.id)) == 1


def test_an_account_that_cannot_be_rated_is_named_and_the_others_close(billing: Billing) -> None:
    billing.contract(term={"start": "2026-11-01", "end": "2027-01-01"})
    billing.priced.apply(
        contract_document(
            "globex-2026",
            "globex",
            term={"start": "2026-11-01", "end": "2027-01-01"},
            components=[
                {"id": "users", "type": "per_unit", "meter": "active_users", "unit_price": "1.00"}
            ],
        )
    )
    delete_meter(billing.engine, billing.tenant_id, "active_users")
    report = billing.close(utc(2026, 12, 4))
    assert report.finalized == [inv(1)]
    assert [(f["account"], f["period"]) for f in report.failed] == [
        ("globex", "2026-11-01T00:00:00Z")
    ]
    assert "active_users" in report.failed[0]["reason"]
