"""Outcome definitions and claims in the store, both backends: the seed's 100 leads end to end,
idempotency, malformed items, verdict leaves without personal data, per-outcome rating, audit."""

from __future__ import annotations

import base64
import hashlib
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Engine, select, update

from valueproof.contracts.registry import apply_contract
from valueproof.contracts.service import rate_accounts, rate_period
from valueproof.contracts.validation import parse_contract
from valueproof.ledger import log as ledger_log
from valueproof.ledger.audit import audit
from valueproof.ledger.canonical import canonical_json
from valueproof.ledger.leaves import parse_leaf
from valueproof.metering.registry import load_catalog
from valueproof.outcomes.claim_intake import submit_claims
from valueproof.outcomes.claim_records import ClaimResult, commitment, stored_claim
from valueproof.outcomes.claims_source import OutcomeDefinitionSource, OutcomeVerdictSource
from valueproof.outcomes.definition_store import apply_definition, definitions
from valueproof.outcomes.definitions import parse_definition
from valueproof.outcomes.disputes import billable_outcomes
from valueproof.outcomes.tables import outcome_claims, outcome_definitions
from valueproof.periods import format_rfc3339
from valueproof.store import read, tenant_lock, write
from valueproof.tenancy.accounts import AccountCreate, account_id, create_account
from valueproof.tenancy.tenants import Tenant

NOW = datetime(2026, 11, 20, 12, tzinfo=UTC)
SOURCES = (OutcomeDefinitionSource(), OutcomeVerdictSource())
DEFINITION: dict[str, Any] = {
    "contract": "acme-leads",
    "outcome": "qualified_lead",
    "attributes": {
        "email": {"type": "string", "required": True, "personal": True},
        "company": {"type": "string", "required": True},
        "industry": {"type": "string", "required": True},
        "employees": {"type": "integer", "required": True},
    },
    "criteria": [
        {"name": "industry", "expression": 'claim.industry in ["saas", "fintech"]'},
        {"name": "size", "expression": "claim.employees >= 50"},
    ],
    "dedupe_key": "lower(claim.email)",
    "verification_window_days": 30,
    "dispute_window_days": 14,
}


def lead(n: int, **attributes: Any) -> dict[str, Any]:
    values = {
        "email": f"lead{n}@example.com",
        "company": f"Co {n}",
        "industry": "saas",
        "employees": 120,
        **attributes,
    }
    return {
        "id": f"c{n}",
        "account": "acme",
        "contract": "acme-leads",
        "outcome": "qualified_lead",
        "occurred_at": format_rfc3339(NOW - timedelta(days=2)),
        "attributes": values,
    }


def seed_claims() -> list[dict[str, Any]]:
    """The seed: 100 leads, 20 off the agreed profile, 20 repeating an earlier lead's email."""
    claims = []
    for n in range(100):
        if n % 5 == 1:
            claims.append(lead(n, industry="retail") if n % 2 else lead(n, employees=12))
        elif n % 5 == 2:  # the lead of n - 2 again, the address written otherwise
            claims.append(lead(n, email=f"LEAD{n - 2}@example.com"))
        else:
            claims.append(lead(n))
    return claims


def submit(engine: Engine, tenant: Tenant, items: list[Any], now: datetime = NOW) -> Any:
    with write(engine) as connection:
        tenant_lock(connection, tenant.id)
        return submit_claims(connection, tenant.id, items, now)


@pytest.fixture
def acme(engine: Engine, tenant: Tenant) -> Tenant:
    with write(engine) as connection:
        tenant_lock(connection, tenant.id)
        create_account(connection, tenant.id, AccountCreate(external_id="acme", name="Acme"))
        apply_definition(connection, tenant.id, parse_definition(DEFINITION), 1)
    return tenant


def test_a_definition_is_a_new_version_and_leaf_only_when_it_changes(
    engine: Engine, tenant: Tenant
) -> None:
    changed = parse_definition({**DEFINITION, "verification_window_days": 60})
    with write(engine) as connection:
        tenant_lock(connection, tenant.id)
        first = apply_definition(connection, tenant.id, parse_definition(DEFINITION), 1)
        again = apply_definition(connection, tenant.id, parse_definition(DEFINITION), 2)
        second = apply_definition(connection, tenant.id, changed, 3)
    with read(engine) as connection:
        [latest] = definitions(connection, tenant.id)
        every = definitions(connection, tenant.id, every_version=True)
        leaf = parse_leaf(ledger_log.entry(connection, tenant.id, latest.leaf_index))
        assert ledger_log.log_size(connection, tenant.id) == 2
        assert audit(connection, tenant.id, SOURCES, ()).ok
    assert (first, again, second) == ("created", "unchanged", "updated")
    assert (latest.version, latest.definition.verification_window_days) == (2, 60)
    assert [d.version for d in every] == [1, 2]
    assert (leaf.record_type, leaf.record["version"]) == ("outcome_definition", 2)


def test_the_seed_100_leads_20_off_profile_20_duplicates_60_accepted(
    engine: Engine, acme: Tenant
) -> None:
    results: list[ClaimResult] = submit(engine, acme, seed_claims())
    assert [r.status for r in results] == ["accepted"] * 100  # every claim is on record
    accepted = [r for r in results if r.accepted]
    off = [r for r in results if r.reasons and r.reasons[0].code == "criterion_failed"]
    repeated = [r for r in results if r.reasons and r.reasons[0].code == "duplicate"]
    assert (len(accepted), len(off), len(repeated)) == (60, 20, 20)
    assert {r.id for r in off} == {f"c{n}" for n in range(1, 100, 5)}
    assert {reason.field for r in off for reason in r.reasons} == {
        "criteria.industry",
        "criteria.size",
    }
    for result in repeated:
        n = int(result.id[1:])
        assert [(x.code, x.field) for x in result.reasons] == [("duplicate", "dedupe_key")]
        assert f"claim c{n - 2} came earlier" in result.reasons[0].detail
    leaves = [r.leaf_index for r in results]
    assert len(set(leaves)) == 100 and None not in leaves
    with read(engine) as connection:
        assert ledger_log.log_size(connection, acme.id) == 101  # the definition, then 100
        assert audit(connection, acme.id, SOURCES, ()).ok


def test_verdict_leaves_commit_to_personal_values_without_showing_them(
    engine: Engine, acme: Tenant
) -> None:
    [result] = submit(engine, acme, [lead(7, industry="retail")])
    with read(engine) as connection:
        leaf_data = ledger_log.entry(connection, acme.id, result.leaf_index)
        claim = stored_claim(connection, acme.id, "c7")
    leaf = parse_leaf(leaf_data)
    assert leaf.record_type == "outcome_verdict"
    assert b"lead7@example.com" not in leaf_data
    assert b"salt" not in leaf_data and claim.salts["email"].encode() not in leaf_data
    record = leaf.record
    assert record["accepted"] is False and record["reasons"][0]["field"] == "criteria.industry"
    assert record["attributes"]["industry"] == "retail"  # not personal: in clear
    # The customer, shown the claim and its salt, recomputes the commitment.
    salt = base64.b64decode(claim.salts["email"])
    expected = hashlib.sha256(salt + canonical_json("lead7@example.com")).hexdigest()
    assert record["attributes"]["email"] == {"sha256": expected}
    assert commitment(salt, claim.attributes["email"]) == expected
    assert len(salt) == 16


def test_a_personal_value_echoed_in_a_reason_stays_off_the_ledger(
    engine: Engine, tenant: Tenant
) -> None:
    attributes = {**DEFINITION["attributes"], "born": {"type": "timestamp", "personal": True}}
    with write(engine) as connection:
        tenant_lock(connection, tenant.id)
        create_account(connection, tenant.id, AccountCreate(external_id="acme", name="Acme"))
        definition = parse_definition({**DEFINITION, "attributes": attributes})
        apply_definition(connection, tenant.id, definition, 1)
    [result] = submit(engine, tenant, [lead(1, born="1984-02-29 secret")])
    assert "1984-02-29" not in result.reasons[0].detail  # a personal value is never echoed
    assert "RFC 3339" in result.reasons[0].detail
    with read(engine) as connection:
        leaf_data = ledger_log.entry(connection, tenant.id, result.leaf_index)
        assert audit(connection, tenant.id, SOURCES, ()).ok
    assert b"1984-02-29" not in leaf_data
    assert parse_leaf(leaf_data).record["reasons"][0]["field"] == "attributes.born"


def test_a_repeat_is_a_duplicate_and_other_content_under_the_same_id_a_conflict(
    engine: Engine, acme: Tenant
) -> None:
    [first] = submit(engine, acme, [lead(1)])
    same = lead(1)
    same["occurred_at"] = same["occurred_at"].replace("Z", "+00:00")  # the same instant
    [again, other] = submit(engine, acme, [same, lead(1, company="Else")])
    assert (again.status, again.accepted, again.leaf_index) == ("duplicate", True, first.leaf_index)
    assert (other.status, other.errors[0].field) == ("conflict", "id")
    with read(engine) as connection:
        assert ledger_log.log_size(connection, acme.id) == 2
        assert stored_claim(connection, acme.id, "c1").attributes["company"] == "Co 1"


def test_malformed_items_are_refused_naming_the_field_without_blocking_others(
    engine: Engine, acme: Tenant
) -> None:
    no_id = {k: v for k, v in lead(1).items() if k != "id"}
    items: list[Any] = [
        no_id,
        {**lead(2), "occurred_at": "yesterday"},
        {**lead(3), "account": "nobody"},
        {**lead(4), "outcome": "demo_booked"},
        {**lead(5), "extra": 1},
        {**lead(6), "attributes": []},
        "not an object",
        lead(8),
    ]
    results = submit(engine, acme, items)
    assert [(r.status, r.errors[0].field if r.errors else None) for r in results] == [
        ("rejected", "id"),
        ("rejected", "occurred_at"),
        ("rejected", "account"),
        ("rejected", "outcome"),
        ("rejected", "extra"),
        ("rejected", "attributes"),
        ("rejected", "(item)"),
        ("accepted", None),
    ]
    assert results[1].id == "c2" and results[7].accepted
    with read(engine) as connection:
        assert ledger_log.log_size(connection, acme.id) == 2


def test_a_claim_outside_the_window_is_on_record_but_not_accepted(
    engine: Engine, acme: Tenant
) -> None:
    [late] = submit(engine, acme, [lead(1)], now=NOW + timedelta(days=40))
    assert late.status == "accepted" and not late.accepted
    assert [r.code for r in late.reasons] == ["outside_window"]


def test_per_outcome_prices_accepted_verdicts_of_the_period(engine: Engine, acme: Tenant) -> None:
    submit(engine, acme, seed_claims())
    earlier = lead(500)
    earlier["occurred_at"] = "2026-10-15T00:00:00Z"  # last period: not billed in this one
    submit(engine, acme, [earlier], now=datetime(2026, 10, 20, tzinfo=UTC))
    document = {
        "contract": "acme-leads",
        "account": "acme",
        "currency": "USD",
        "term": {"start": "2026-01-01", "end": "2027-01-01"},
        "components": [
            {
                "id": "leads",
                "type": "per_outcome",
                "outcome": "qualified_lead",
                "unit_price": "40.00",
            },
        ],
    }
    with write(engine) as connection:
        tenant_lock(connection, acme.id)
        catalog = load_catalog(connection, acme.id)
        apply_contract(connection, acme.id, parse_contract(document), catalog, 1)
    with read(engine) as connection:
        charges = rate_period(connection, acme.id, "acme", NOW, NOW)
        internal = account_id(connection, acme.id, "acme")
        found = billable_outcomes(connection, acme.id, internal, "acme-leads", 0, 2**62, 0)
    with read(engine) as connection:
        [run] = list(rate_accounts(connection, acme.id, NOW, NOW))
    assert run.lines == charges.lines  # the month-end run rates outcomes the same way
    [line] = charges.lines
    assert line.amount == Decimal("2400.00")  # 60 accepted x 40.00; the 40 refused bill nothing
    assert line.detail["accepted"] == 60
    [(first, last)] = line.sources[0].leaves
    assert first >= 1 and last >= first
    assert found["qualified_lead"][0] == 61


def test_the_audit_finds_an_edited_verdict_and_an_edited_definition(
    engine: Engine, acme: Tenant
) -> None:
    submit(engine, acme, [lead(1, industry="retail"), lead(2)])
    with write(engine) as connection:
        connection.execute(
            update(outcome_claims)
            .where(outcome_claims.c.tenant_id == acme.id, outcome_claims.c.claim_id == "c1")
            .values(accepted=True, reasons="[]")
        )
    with read(engine) as connection:
        report = audit(connection, acme.id, SOURCES, ())
    assert [(f.kind, f.record) for f in report.findings] == [("edited", "c1")]
    with write(engine) as connection:
        row = connection.execute(
            select(outcome_definitions.c.id, outcome_definitions.c.definition).where(
                outcome_definitions.c.tenant_id == acme.id
            )
        ).one()
        connection.execute(
            update(outcome_definitions)
            .where(outcome_definitions.c.id == row.id)
            .values(definition=row.definition.replace("employees >= 50", "employees >= 5"))
        )
    with read(engine) as connection:
        report = audit(connection, acme.id, SOURCES, ())
    assert {(f.kind, f.record) for f in report.findings} == {
        ("edited", "c1"),
        ("edited", "acme-leads/qualified_lead@1"),
    }


def test_a_repeat_within_one_batch_is_a_duplicate_of_its_first_with_the_same_leaf(
    engine: Engine, acme: Tenant
) -> None:
    first, again, other = submit(engine, acme, [lead(7), lead(7), lead(7, company="Else")])
    assert (first.status, again.status, other.status) == ("accepted", "duplicate", "conflict")
    assert again.leaf_index == first.leaf_index is not None
    assert (again.accepted, again.reasons) == (first.accepted, first.reasons)
    with read(engine) as connection:
        assert ledger_log.log_size(connection, acme.id) == 2  # the definition and one verdict
