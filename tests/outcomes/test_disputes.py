"""Disputes in the store, both backends: the window, the parties' steps, each a leaf whose text
is committed by a salted hash, and what an upheld dispute does to the invoices: the outcome
stops counting in its own period if that period is still open, and is credited in the period
the dispute was upheld in if it was billed already, at the terms that billed it."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Engine, update

from valueproof.contracts.registry import apply_contract
from valueproof.contracts.service import rate_accounts, rate_period
from valueproof.contracts.validation import parse_contract
from valueproof.contracts.versions_source import ContractVersionSource
from valueproof.errors import Conflict, InvalidInput, NotFound
from valueproof.ledger import log as ledger_log
from valueproof.ledger.audit import audit
from valueproof.ledger.leaves import parse_leaf
from valueproof.metering.registry import load_catalog
from valueproof.outcomes.claim_intake import submit_claims
from valueproof.outcomes.claims_source import OutcomeDefinitionSource, OutcomeVerdictSource
from valueproof.outcomes.definition_store import apply_definition
from valueproof.outcomes.definitions import parse_definition
from valueproof.outcomes.disputes import (
    Dispute,
    answer_dispute,
    dispute,
    disputes,
    open_dispute,
    resolve_dispute,
)
from valueproof.outcomes.disputes_source import OutcomeDisputeSource
from valueproof.outcomes.tables import outcome_dispute_steps
from valueproof.periods import format_rfc3339, to_micros
from valueproof.store import read, tenant_lock, write
from valueproof.tenancy.accounts import AccountCreate, create_account
from valueproof.tenancy.tenants import Tenant

OCTOBER_SUBMIT = datetime(2026, 10, 20, tzinfo=UTC)
SOURCES = (
    ContractVersionSource(),
    OutcomeDefinitionSource(),
    OutcomeVerdictSource(),
    OutcomeDisputeSource(),
)
DEFINITION: dict[str, Any] = {
    "contract": "acme-leads",
    "outcome": "qualified_lead",
    "attributes": {
        "industry": {"type": "string", "required": True},
        "ref": {"type": "string", "required": True},
    },
    "criteria": [{"name": "industry", "expression": 'claim.industry == "saas"'}],
    "dedupe_key": "claim.ref",
    "verification_window_days": 30,
    "dispute_window_days": 14,
}
CONTRACT: dict[str, Any] = {
    "contract": "acme-leads",
    "account": "acme",
    "currency": "USD",
    "term": {"start": "2026-01-01", "end": "2027-01-01"},
    "components": [
        {"id": "leads", "type": "per_outcome", "outcome": "qualified_lead", "unit_price": "40.00"}
    ],
}


def at(day: str) -> int:
    return to_micros(datetime.fromisoformat(day).replace(tzinfo=UTC))


def lead(n: int, occurred: datetime, industry: str = "saas") -> dict[str, Any]:
    return {
        "id": f"c{n}",
        "account": "acme",
        "contract": "acme-leads",
        "outcome": "qualified_lead",
        "occurred_at": format_rfc3339(occurred),
        "attributes": {"industry": industry, "ref": f"r{n}"},
    }


@pytest.fixture
def acme(engine: Engine, tenant: Tenant) -> Tenant:
    """Five October leads and one off-profile, submitted on 20 October; a 40.00 per-lead
    contract for the year."""
    october = [lead(n, datetime(2026, 10, 15, tzinfo=UTC)) for n in range(1, 6)]
    with write(engine) as connection:
        tenant_lock(connection, tenant.id)
        create_account(connection, tenant.id, AccountCreate(external_id="acme", name="Acme"))
        apply_definition(connection, tenant.id, parse_definition(DEFINITION), 1)
        catalog = load_catalog(connection, tenant.id)
        apply_contract(connection, tenant.id, parse_contract(CONTRACT), catalog, 1)
        submitted = submit_claims(
            connection,
            tenant.id,
            [*october, lead(9, datetime(2026, 10, 15, tzinfo=UTC), "retail")],
            OCTOBER_SUBMIT,
        )
    assert [r.accepted for r in submitted] == [True] * 5 + [False]
    return tenant


def step(engine: Engine, tenant: Tenant, action: Any, *args: Any) -> Dispute:
    with write(engine) as connection:
        tenant_lock(connection, tenant.id)
        found: Dispute = action(connection, tenant.id, *args)
        return found


def rate(engine: Engine, tenant: Tenant, month: datetime, now: datetime) -> Any:
    with read(engine) as connection:
        return rate_period(connection, tenant.id, "acme", month, now)


def test_a_dispute_goes_opened_answered_resolved_each_step_a_leaf(
    engine: Engine, acme: Tenant
) -> None:
    opened = step(
        engine, acme, open_dispute, "c1", "We had this lead in our CRM.", at("2026-10-25")
    )
    assert (opened.status, [s.step for s in opened.steps]) == ("open", ["opened"])
    assert opened.steps[0].party == "customer"
    answered = step(engine, acme, answer_dispute, "c1", "It came via our form.", at("2026-10-26"))
    again = step(engine, acme, answer_dispute, "c1", "Form log attached.", at("2026-10-27"))
    assert (answered.status, len(again.steps)) == ("answered", 3)
    done = step(
        engine, acme, resolve_dispute, "c1", "upheld", "CRM record predates.", at("2026-10-28")
    )
    assert done.status == "upheld" and done.steps[-1].resolution == "upheld"
    assert [s.seq for s in done.steps] == [1, 2, 3, 4]
    with read(engine) as connection:
        leaves = [
            parse_leaf(ledger_log.entry(connection, acme.id, s.leaf_index)) for s in done.steps
        ]
        assert audit(connection, acme.id, SOURCES, ()).ok
        assert [d.claim.id for d in disputes(connection, acme.id, status="upheld")] == ["c1"]
        assert disputes(connection, acme.id, account="globex") == []
    assert {leaf.record_type for leaf in leaves} == {"outcome_dispute"}
    assert [leaf.record["step"] for leaf in leaves] == [
        "opened",
        "answered",
        "answered",
        "resolved",
    ]
    # The leaf commits to the text without holding it: salt + text open the commitment.
    for leaf, recorded in zip(leaves, done.steps, strict=True):
        assert recorded.text not in str(leaf.record)
        expected = hashlib.sha256(recorded.salt + recorded.text.encode()).hexdigest()
        assert leaf.record["text_sha256"] == expected
    assert leaves[-1].record["resolution"] == "upheld" and "resolution" not in leaves[0].record


def test_what_cannot_be_disputed_is_refused_and_nothing_is_recorded(
    engine: Engine, acme: Tenant
) -> None:
    with read(engine) as connection:
        size = ledger_log.log_size(connection, acme.id)
    refusals = {
        "rejected claim": (open_dispute, "c9", "Not ours.", at("2026-10-25")),
        "window closed": (open_dispute, "c2", "Late.", at("2026-11-03") + 1),
        "no claim": (open_dispute, "c404", "Who?", at("2026-10-25")),
        "empty reason": (open_dispute, "c2", "   ", at("2026-10-25")),
        "no dispute to answer": (answer_dispute, "c3", "Hm.", at("2026-10-25")),
    }
    errors = {}
    for name, (action, *args) in refusals.items():
        with pytest.raises((Conflict, InvalidInput, NotFound)) as caught:
            step(engine, acme, action, *args)
        errors[name] = caught.value
    assert isinstance(errors["rejected claim"], Conflict)
    assert "only an accepted outcome" in str(errors["rejected claim"])
    assert "closed at 2026-11-03T00:00:00Z" in str(errors["window closed"])
    assert isinstance(errors["no claim"], NotFound)
    assert isinstance(errors["empty reason"], InvalidInput)
    assert errors["empty reason"].field == "reason"  # type: ignore[attr-defined]
    assert isinstance(errors["no dispute to answer"], NotFound)
    # The last instant of the window is still inside it.
    step(engine, acme, open_dispute, "c2", "In time.", at("2026-11-03"))
    with pytest.raises(Conflict, match="disputed already"):
        step(engine, acme, open_dispute, "c2", "Again.", at("2026-11-03"))
    with pytest.raises(InvalidInput) as bad:
        step(engine, acme, resolve_dispute, "c2", "maybe", "Unsure.", at("2026-11-04"))
    assert bad.value.field == "resolution"
    step(engine, acme, resolve_dispute, "c2", "rejected", "Lead was new.", at("2026-11-04"))
    for action, *args in (
        (answer_dispute, "c2", "More."),
        (resolve_dispute, "c2", "upheld", "Changed my mind."),
    ):
        with pytest.raises(Conflict, match="resolved \\(rejected\\)"):
            step(engine, acme, action, *args, at("2026-11-05"))
    with read(engine) as connection:
        # Only the opening and the resolution of c2 were written.
        assert ledger_log.log_size(connection, acme.id) == size + 2
        assert dispute(connection, acme.id, "c2").status == "rejected"


def test_upheld_in_the_open_period_it_stops_counting_billed_already_it_is_credited_next(
    engine: Engine, acme: Tenant
) -> None:
    october, november = datetime(2026, 10, 10, tzinfo=UTC), datetime(2026, 11, 10, tzinfo=UTC)
    before = rate(engine, acme, october, datetime(2026, 10, 25, tzinfo=UTC))
    assert before.total == Decimal("200.00")  # five leads at 40.00
    # c2 upheld in October: October never bills it.
    step(engine, acme, open_dispute, "c2", "Known lead.", at("2026-10-26"))
    step(engine, acme, resolve_dispute, "c2", "upheld", "Agreed.", at("2026-10-28"))
    # c1 upheld in November, after October was billed with it: November credits it.
    step(engine, acme, open_dispute, "c1", "Known lead.", at("2026-10-30"))
    step(engine, acme, resolve_dispute, "c1", "upheld", "Agreed.", at("2026-11-02"))
    # c3 rejected in November: it stays billed, no credit.
    step(engine, acme, open_dispute, "c3", "Known lead?", at("2026-10-30"))
    resolved = step(engine, acme, resolve_dispute, "c3", "rejected", "New lead.", at("2026-11-03"))
    with write(engine) as connection:
        tenant_lock(connection, acme.id)
        submit_claims(connection, acme.id, [lead(20, november)], november + timedelta(days=1))
    later = datetime(2026, 12, 5, tzinfo=UTC)
    octobers = rate(engine, acme, october, later)
    novembers = rate(engine, acme, november, later)
    assert [(line.kind, line.amount) for line in octobers.lines] == [
        ("per_outcome", Decimal("160.00"))  # c1, c3, c4, c5: c1 was still standing then
    ]
    assert octobers.lines == rate(engine, acme, october, datetime(2026, 11, 1, tzinfo=UTC)).lines
    charge, credit = novembers.lines
    assert (charge.kind, charge.amount) == ("per_outcome", Decimal("40.00"))  # c20
    assert (credit.kind, credit.amount, credit.quantity) == ("outcome_credit", Decimal("-40.00"), 1)
    assert credit.detail["period_start"] == "2026-10-01T00:00:00Z"
    assert (credit.detail["billed"], credit.detail["standing"]) == (4, 3)
    resolution_leaf = next(leaf for leaf in _resolution_leaves(engine, acme) if leaf[0] == "c1")[1]
    assert credit.sources[0].leaves == ((resolution_leaf, resolution_leaf),)
    assert novembers.total == Decimal("0.00")
    assert resolved.status == "rejected"
    with read(engine) as connection:
        [run] = [c for c in rate_accounts(connection, acme.id, november, later)]
    assert run.lines == novembers.lines  # the month-end run credits the same way
    # December owes nothing more for October: the credit is given once.
    assert rate(engine, acme, datetime(2026, 12, 10, tzinfo=UTC), later).lines[1:] == ()


def _resolution_leaves(engine: Engine, tenant: Tenant) -> list[tuple[str, int]]:
    t = outcome_dispute_steps.c
    with read(engine) as connection:
        rows = connection.execute(
            outcome_dispute_steps.select().where(t.tenant_id == tenant.id, t.step == "resolved")
        )
        return [(row.claim_id, row.leaf_index) for row in rows]


def test_the_audit_finds_an_edited_dispute_text_and_a_forged_resolution(
    engine: Engine, acme: Tenant
) -> None:
    step(engine, acme, open_dispute, "c1", "Known lead.", at("2026-10-25"))
    step(engine, acme, resolve_dispute, "c1", "rejected", "New lead.", at("2026-10-26"))
    t = outcome_dispute_steps.c
    with write(engine) as connection:
        connection.execute(
            update(outcome_dispute_steps)
            .where(t.tenant_id == acme.id, t.claim_id == "c1", t.seq == 1)
            .values(text="Known lead, and the vendor agreed.")
        )
        connection.execute(
            update(outcome_dispute_steps)
            .where(t.tenant_id == acme.id, t.claim_id == "c1", t.seq == 2)
            .values(resolution="upheld")
        )
    with read(engine) as connection:
        report = audit(connection, acme.id, SOURCES, ())
    assert {(f.kind, f.record) for f in report.findings} == {("edited", "c1#1"), ("edited", "c1#2")}
